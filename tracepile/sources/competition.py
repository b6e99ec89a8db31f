"""The `competition` source kind: one problem record -> one program per kept Python 3 solution.

Two record formats, recognised per record by their fields (``detect_format``):

- ``codecontests``: DeepMind CodeContests (HF ``deepmind/code_contests``, Parquet or JSONL).
  ``description``; ``public_tests``/``private_tests``/``generated_tests`` as
  ``{input: [str], output: [str]}``; ``solutions`` and ``incorrect_solutions`` as
  ``{language: [int], solution: [str]}`` (3 is PYTHON3); ``source`` and ``difficulty`` as int
  enums; ``cf_*``, ``time_limit {seconds, nanos}``, ``memory_limit_bytes``. The protobuf JSON
  shape of the same data (lists of ``{input, output}`` / ``{language, solution}``, enum names
  instead of numbers) is read too.
- ``apps``: APPS (HF ``codeparrot/apps``) and TACO (HF ``BAAI/TACO``, which has no
  ``problem_id``). ``question``; ``solutions``, a JSON string holding a list of Python sources;
  ``input_output``, a JSON string ``{inputs, outputs[, fn_name]}``. Without ``fn_name`` the tests
  are stdin/stdout text; with it the solution's function is called with each input's positional
  arguments.

Every kept program is a whole-verdict program (vocab.WHOLE_PROGRAM_VERDICT_KINDS): the dataset's
"correct" solutions are not trusted until they pass every test they are given in the sandbox.
Fields that only feed ``meta_json`` are kept when they have their documented type and left out
otherwise; fields the program is built from are checked, and a bad one rejects the problem.

A program's ``meta_json`` holds the record's identity and labels (``name``, ``problem_id`` or
TACO's ``problem_key``, ``site``, ``difficulty``, ``cf_*``, ``url``, limits), the problem's counts
(``solutions_total``, ``python3_solutions``, ``solutions_other_language``,
``solutions_duplicate``, ``solutions_skipped`` by reason, ``solutions_skipped_over_cap``: the
Python 3 solutions not looked at once the cap was reached, ``incorrect_solutions``,
``tests_total``, ``tests_dropped``, ``tests_duplicate``) and the solution's own
(``solution_index`` in the record's ``solutions``, ``tests_taken``, ``tests_unfit``). Never the
tests themselves: a problem's can run to megabytes.
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tracepile.analysis import pyast
from tracepile.analysis.hashing import canonical_json, content_id
from tracepile.config import CompetitionConfig
from tracepile.sources.records import Rejection, json_type_name
from tracepile.vocab import SCRIPT_ENTRY, Domain, IngestReason, RunMode, SourceKind

FORMAT_CODECONTESTS = "codecontests"
FORMAT_APPS = "apps"  # APPS and TACO
STDIN_REQUIREMENTS = "Reads standard input, writes standard output."

# CodeContests' enums (code_contests/contest_problem.proto), by number and by name
_PYTHON3 = 3
_LANGUAGES = ("UNKNOWN_LANGUAGE", "PYTHON", "CPP", "PYTHON3", "JAVA")  # PYTHON is Python 2
_SITES = ("unknown", "codechef", "codeforces", "hackerearth", "codejam", "atcoder", "aizu")
_DIFFICULTIES = (
    "UNKNOWN_DIFFICULTY", "EASY", "MEDIUM", "HARD", "HARDER", "HARDEST", "EXTERNAL",
    *"ABCDEFGHIJKLMNOPQRSTUV",  # Codeforces' problem letters, 7 to 28
)  # fmt: skip
_TEST_SPLITS = ("public_tests", "private_tests", "generated_tests")  # the order tests are taken in
# per-problem counts every program's meta carries (zero where nothing was counted)
_PROBLEM_COUNTS = (
    "solutions_total", "python3_solutions", "solutions_other_language", "solutions_duplicate",
    "solutions_skipped_over_cap", "incorrect_solutions", "tests_total", "tests_dropped",
    "tests_duplicate",
)  # fmt: skip

# Top-level statements that run nothing: a script made only of these prints nothing, whatever its
# stdin (TACO's GeeksforGeeks solutions are a bare ``class Solution`` and their tests are not stdin).
_DEFINITIONS = (
    ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
    ast.AnnAssign, ast.Pass,
)  # fmt: skip


@dataclass
class _Problem:
    """One record, validated and normalised, before its solutions are parsed."""

    source: str
    category: str
    statement: str
    fn_name: str | None  # set: call-based tests
    solutions: list[tuple[int, Any]]  # (index in the record's solutions, source) of Python 3 ones
    tests: list[tuple[Any, Any]]  # (input, expected output): stdin text, or positional args and value
    meta: dict[str, Any]  # the record's own fields worth keeping
    counts: Counter[str] = field(default_factory=Counter)


def _wrong_type(name: str, value: Any, expected: str) -> Rejection:
    return Rejection(IngestReason.WRONG_TYPE, f"{name} is {json_type_name(value)}, expected {expected}")


def detect_format(record: dict[str, Any]) -> str | None:
    """``codecontests`` or ``apps`` (APPS and TACO) by the record's fields; None for neither."""
    if not isinstance(record, dict):
        return None
    if "description" in record and "solutions" in record and any(s in record for s in _TEST_SPLITS):
        return FORMAT_CODECONTESTS
    if "question" in record and "input_output" in record:
        return FORMAT_APPS
    return None


def _pairs(value: Any, name: str, first: str, second: str) -> list[tuple[Any, Any]] | Rejection:
    """``{first: [..], second: [..]}`` (the HF struct of lists) or ``[{first, second}, ..]`` (the
    protobuf JSON list of messages) as pairs; null or missing is no pairs."""
    if value is None:
        return []
    if isinstance(value, dict):
        firsts, seconds = value.get(first), value.get(second)
        firsts, seconds = [] if firsts is None else firsts, [] if seconds is None else seconds
        if not isinstance(firsts, list | tuple) or not isinstance(seconds, list | tuple):
            return _wrong_type(f"{name}.{first}/{second}", value, "arrays")
        if len(firsts) != len(seconds):
            detail = f"{name} has {len(firsts)} {first} and {len(seconds)} {second}"
            return Rejection(IngestReason.WRONG_TYPE, detail)
        return list(zip(firsts, seconds, strict=True))
    if isinstance(value, list | tuple):
        if not all(isinstance(item, dict) for item in value):
            return _wrong_type(f"{name}[]", next(i for i in value if not isinstance(i, dict)), "object")
        return [(item.get(first), item.get(second)) for item in value]
    return _wrong_type(name, value, f"object of {first} and {second} arrays")


def _enum_name(value: Any, names: tuple[str, ...]) -> str | None:
    """A CodeContests enum given as its number (HF) or its name (protobuf JSON)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return names[value]
    if isinstance(value, str) and value:
        return value
    return None


def _typed(record: dict[str, Any], spec: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """The fields of ``spec`` the record has with their documented type (they feed meta only)."""
    kept = {}
    for key, kind in spec.items():
        value = record.get(key)
        # bool is an int subclass: a flag is not a number, nor a number a flag
        if isinstance(value, kind) and (kind is bool) == isinstance(value, bool):
            kept[key] = value
    return kept


def _category(difficulty: str | None, tags: list[str]) -> str:
    """The raw category text: the dataset's difficulty and topic tags."""
    parts = [f"difficulty {difficulty}"] if difficulty else []
    return "; ".join([*parts, "tags " + ", ".join(tags)] if tags else parts)


def _codecontests_problem(record: dict[str, Any]) -> _Problem | Rejection:
    description = record.get("description")
    if not isinstance(description, str):
        return _wrong_type("description", description, "string")
    solutions = _pairs(record.get("solutions"), "solutions", "language", "solution")
    if isinstance(solutions, Rejection):
        return solutions
    incorrect = _pairs(record.get("incorrect_solutions"), "incorrect_solutions", "language", "solution")
    if isinstance(incorrect, Rejection):
        return incorrect
    counts: Counter[str] = Counter(solutions_total=len(solutions), incorrect_solutions=len(incorrect))
    python3: list[tuple[int, Any]] = []
    for index, (language, code) in enumerate(solutions):
        if _enum_name(language, _LANGUAGES) == _LANGUAGES[_PYTHON3]:
            python3.append((index, code))
        else:
            counts["solutions_other_language"] += 1
    counts["python3_solutions"] = len(python3)

    tests: list[tuple[Any, Any]] = []
    for split in _TEST_SPLITS:
        pairs = _pairs(record.get(split), split, "input", "output")
        if isinstance(pairs, Rejection):
            return pairs
        tests.extend(pairs)
    counts["tests_total"] = len(tests)

    site = _enum_name(record.get("source"), _SITES) or _SITES[0]
    difficulty = _enum_name(record.get("difficulty"), _DIFFICULTIES)
    tags = record.get("cf_tags")
    tags = [tag for tag in tags if isinstance(tag, str) and tag] if isinstance(tags, list | tuple) else []
    meta = _typed(
        record,
        {
            "name": str, "cf_contest_id": int, "cf_index": str, "cf_points": (int, float),
            "cf_rating": int, "memory_limit_bytes": int, "is_description_translated": bool,
        },
    )  # fmt: skip
    meta.update(site=site.lower(), difficulty=difficulty, cf_tags=tags)
    time_limit = record.get("time_limit")
    if isinstance(time_limit, dict):
        seconds, nanos = time_limit.get("seconds") or 0, time_limit.get("nanos") or 0
        if isinstance(seconds, int | float) and isinstance(nanos, int | float):
            meta["time_limit_seconds"] = seconds + nanos / 1e9
    # Problems that read and write named files (input.txt) rather than the standard streams:
    # kept, and marked, since their solutions fail on stdin tests and the trace drops them.
    files = _typed(record, {"input_file": str, "output_file": str})
    meta.update({key: name for key, name in files.items() if name})
    return _Problem(
        source=f"{FORMAT_CODECONTESTS}:{site.lower()}",
        category=_category(difficulty, tags),
        statement=description,
        fn_name=None,
        solutions=python3,
        tests=tests,
        meta=meta,
        counts=counts,
    )


def _json_field(record: dict[str, Any], name: str) -> tuple[Any, Rejection | None]:
    """An APPS field that holds JSON text: decoded (an already decoded value is taken as is);
    missing, null or blank is None."""
    value = record.get(name)
    if isinstance(value, str):
        if not value.strip():
            return None, None
        try:
            return json.loads(value), None
        except json.JSONDecodeError as exc:
            return None, Rejection(IngestReason.INVALID_JSON, f"{name}: col {exc.colno}: {exc.msg}")
        except RecursionError:
            return None, Rejection(IngestReason.INVALID_JSON, f"{name}: nested too deeply")
    return value, None


def _taco_tags(value: Any) -> list[str]:
    """TACO's ``tags`` is the Python repr of a list of strings (``"['Sorting', 'Math']"``)."""
    if not isinstance(value, str) or not value.startswith("["):
        return []
    try:
        with pyast.AST_LOCK:  # literal_eval builds an AST
            tags = ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return []
    return [tag for tag in tags if isinstance(tag, str) and tag] if isinstance(tags, list) else []


def _apps_problem(record: dict[str, Any]) -> _Problem | Rejection:
    question = record.get("question")
    if not isinstance(question, str):
        return _wrong_type("question", question, "string")
    solutions, error = _json_field(record, "solutions")
    if error:
        return error
    if solutions is not None and not isinstance(solutions, list):
        return _wrong_type("solutions", solutions, "array of Python sources")
    io, error = _json_field(record, "input_output")
    if error:
        return error
    if io is not None and not isinstance(io, dict):
        return _wrong_type("input_output", io, "object")
    io = io or {}
    if io and ("inputs" not in io or "outputs" not in io):
        return Rejection(IngestReason.MISSING_FIELD, "input_output.inputs/outputs")
    inputs, outputs = io.get("inputs") or [], io.get("outputs") or []
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        return _wrong_type("input_output.inputs/outputs", io, "arrays")
    fn_name = io.get("fn_name")
    if fn_name is not None and not (isinstance(fn_name, str) and fn_name.isidentifier()):
        return Rejection(IngestReason.WRONG_TYPE, f"input_output.fn_name {str(fn_name)[:80]!r} is not a name")

    solutions = solutions or []
    # Lists of unequal length: the extra inputs or outputs have no partner and are not tests.
    counts: Counter[str] = Counter(
        solutions_total=len(solutions),
        python3_solutions=len(solutions),  # APPS and TACO hold Python only (some of it Python 2)
        tests_total=max(len(inputs), len(outputs)),
        tests_dropped=abs(len(inputs) - len(outputs)),
    )
    dataset = "apps" if "problem_id" in record else "taco"
    difficulty = record.get("difficulty") if isinstance(record.get("difficulty"), str) else None
    tags = _taco_tags(record.get("tags"))
    meta = _typed(record, {"problem_id": int, "url": str, "name": str})
    meta.update(difficulty=difficulty)
    if dataset == "taco":
        # TACO has no id: its url where it has one, else the statement's hash
        url = record.get("url")
        meta["problem_key"] = url if isinstance(url, str) and url else content_id(question)
        meta["site"] = record.get("source") if isinstance(record.get("source"), str) else None
        meta["tags"] = tags
        meta["skill_types"] = _taco_tags(record.get("skill_types"))
        meta.update(_typed(record, {"time_limit": str, "memory_limit": str}))
    return _Problem(
        source=dataset,
        category=_category(difficulty, tags),
        statement=question,
        fn_name=fn_name,
        solutions=list(enumerate(solutions)),
        tests=list(zip(inputs, outputs, strict=False)),
        meta=meta,
        counts=counts,
    )


def _stdin_text(value: Any) -> str | None:
    """Test text: a string, or (APPS, TACO) a list of lines, joined as their evaluators join them."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "\n".join(value)
    return None


def _stdin_inputs(problem: _Problem) -> list[dict[str, str | None]]:
    """The problem's distinct stdin tests, in order, as program inputs (uncapped)."""
    taken: dict[str, dict[str, str | None]] = {}
    for raw_input, raw_output in problem.tests:
        text, expected = _stdin_text(raw_input), _stdin_text(raw_output)
        if text is None or expected is None:
            problem.counts["tests_dropped"] += 1
            continue
        input_json = canonical_json({"stdin": text})
        if input_json in taken:
            problem.counts["tests_duplicate"] += 1
            continue
        taken[input_json] = {"input_json": input_json, "expected_output_json": canonical_json(expected)}
    return list(taken.values())


def _int_keyed(value: Any) -> bool:
    """A dict whose keys all read as ints: APPS's evaluator turns such keys into ints before
    comparing (JSON cannot hold int keys), which a JSON-equal comparison cannot reproduce."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(key, str) and key.lstrip("-").isdigit() for key in value)
    )


def _call_tests(problem: _Problem) -> list[tuple[list[Any], Any]]:
    """The problem's distinct call-based tests, in order, as (positional arguments, expected value)."""
    outputs = [output for _, output in problem.tests]
    # APPS and TACO store each expected value wrapped in a one-element list, and their evaluator
    # accepts ``result == expected or result == expected[0]``. A JSON-equal comparison takes one
    # form, so when every output of the problem is wrapped the wrapper is removed; a problem whose
    # outputs are not all one-element lists keeps them as they are.
    if outputs and all(isinstance(output, list) and len(output) == 1 for output in outputs):
        outputs = [output[0] for output in outputs]
    tests: dict[str, tuple[list[Any], Any]] = {}
    for (args, _), expected in zip(problem.tests, outputs, strict=True):
        if not isinstance(args, list) or (args and _int_keyed(args[0])) or _int_keyed(expected):
            problem.counts["tests_dropped"] += 1
            continue
        key = canonical_json(args)
        if key in tests:
            problem.counts["tests_duplicate"] += 1
            continue
        tests[key] = (args, expected)
    return list(tests.values())


def _normalise_code(code: str) -> str:
    return code.removeprefix("\ufeff").replace("\r\n", "\n")


def _runs_something(module: ast.Module) -> bool:
    return any(
        not isinstance(node, _DEFINITIONS)
        and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        for node in module.body
    )


def _entry_function(module: ast.Module, name: str) -> ast.FunctionDef | Rejection:
    """The top-level ``def name``, callable with keyword arguments, or why not."""
    found = [node for node in module.body if isinstance(node, ast.FunctionDef) and node.name == name]
    if not found:
        methods = any(
            isinstance(node, ast.ClassDef)
            and any(isinstance(item, ast.FunctionDef) and item.name == name for item in node.body)
            for node in module.body
        )
        where = "a method (LeetCode-style class)" if methods else "not a top-level function"
        return Rejection(IngestReason.UNSUPPORTED_CALL_FORM, f"{name} is {where}")
    function = found[-1]  # the last definition is the one bound at run time
    args = function.args
    if args.posonlyargs or any(default is None for default in args.kw_defaults):
        return Rejection(IngestReason.UNSUPPORTED_CALL_FORM, f"{name} has parameters kwargs cannot fill")
    return function


def _kwargs_inputs(
    function: ast.FunctionDef, tests: list[tuple[list[Any], Any]]
) -> tuple[list[dict[str, str | None]], int]:
    """Positional test arguments named by the function's parameters, in order; and how many tests
    did not fit its parameters (too many or too few arguments)."""
    params = [arg.arg for arg in function.args.args]
    required = len(params) - len(function.args.defaults)
    inputs: list[dict[str, str | None]] = []
    for args, expected in tests:
        if required <= len(args) <= len(params):
            kwargs = dict(zip(params, args, strict=False))
            inputs.append(
                {"input_json": canonical_json(kwargs), "expected_output_json": canonical_json(expected)}
            )
    return inputs, len(tests) - len(inputs)


def _programs(problem: _Problem, settings: CompetitionConfig) -> Iterator[dict[str, Any] | Rejection]:
    counts = problem.counts
    if not problem.solutions:
        total = counts["solutions_total"]
        detail = f"{total} solutions, none in Python 3" if total else "no solutions"
        yield Rejection(IngestReason.NO_PYTHON_SOLUTION, detail)
        return
    stdin_inputs = _stdin_inputs(problem) if problem.fn_name is None else []
    call_tests = _call_tests(problem) if problem.fn_name is not None else []
    if not stdin_inputs and not call_tests:
        yield Rejection(IngestReason.NO_TESTS, f"{counts['tests_total']} tests, none usable")
        return

    skipped: Counter[str] = Counter()
    kept: list[tuple[int, dict[str, Any], int]] = []  # (solution index, content, tests unfit)
    seen: set[str] = set()
    for position, (index, code) in enumerate(problem.solutions):
        if len(kept) == settings.solutions_per_problem:
            counts["solutions_skipped_over_cap"] = len(problem.solutions) - position
            break
        built = _content(problem, code, stdin_inputs, call_tests, settings)
        if isinstance(built, Rejection):
            skipped[built.reason] += 1
            continue
        content, unfit = built
        key = content_id(content)
        if key in seen:
            counts["solutions_duplicate"] += 1
            continue
        seen.add(key)
        kept.append((index, content, unfit))

    if not kept:
        reason, _ = skipped.most_common(1)[0]
        if reason == IngestReason.SYNTAX_ERROR:  # "Python 3" solutions that are Python 2: no Python 3 one
            reason = IngestReason.NO_PYTHON_SOLUTION
        summary = ", ".join(f"{why} {n}" for why, n in skipped.most_common())
        yield Rejection(reason, f"{len(problem.solutions)} Python 3 solutions, none usable: {summary}")
        return
    for index, content, unfit in kept:
        meta = {
            **problem.meta,
            **{key: counts[key] for key in _PROBLEM_COUNTS},
            "solutions_skipped": dict(skipped),
            "solution_index": index,
            "tests_taken": len(content["inputs"]),
            "tests_unfit": unfit,
        }
        yield {
            "program_id": content_id(content),
            **content,
            "domain": Domain.COMPETITION.value,
            "meta_json": canonical_json(meta),
        }


def _content(
    problem: _Problem,
    code: Any,
    stdin_inputs: list[dict[str, str | None]],
    call_tests: list[tuple[list[Any], Any]],
    settings: CompetitionConfig,
) -> tuple[dict[str, Any], int] | Rejection:
    """One solution's program content (and its tests that did not fit it), or why it is skipped."""
    if not isinstance(code, str):
        return _wrong_type("solution", code, "string")
    code = _normalise_code(code)
    if not code.strip():
        return Rejection(IngestReason.EMPTY_CODE, "solution is blank")
    try:
        module = pyast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        # most often Python 2 (print statements) filed as Python 3
        return Rejection(IngestReason.SYNTAX_ERROR, f"{type(exc).__name__}: {exc}"[:200])

    unfit = 0
    if problem.fn_name is None:
        if not _runs_something(module):
            return Rejection(IngestReason.UNSUPPORTED_CALL_FORM, "script defines but runs nothing")
        defines_main = any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in module.body)
        entry_point = "main" if defines_main else SCRIPT_ENTRY
        run_mode, io_requirements = RunMode.STDIN, STDIN_REQUIREMENTS
        inputs = stdin_inputs[: settings.tests_per_solution]
    else:
        function = _entry_function(module, problem.fn_name)
        if isinstance(function, Rejection):
            return function
        all_inputs, unfit = _kwargs_inputs(function, call_tests)
        if not all_inputs:
            return Rejection(IngestReason.NO_TESTS, f"no test fits {problem.fn_name}'s parameters")
        inputs = all_inputs[: settings.tests_per_solution]
        entry_point, run_mode = problem.fn_name, RunMode.CALL
        io_requirements = (
            f"Defines {problem.fn_name}({ast.unparse(function.args)}), called with keyword "
            "arguments; its return value is the answer."
        )
    return {
        "source_kind": SourceKind.COMPETITION.value,
        "source": problem.source,
        "category": problem.category,
        "problem": problem.statement,
        "io_requirements": io_requirements,
        "code": code,
        "entry_point": entry_point,
        "run_mode": run_mode.value,
        "inputs": inputs,
    }, unfit


def parse_problem(record: Any, settings: CompetitionConfig) -> Iterator[dict[str, Any] | Rejection]:
    """The programs of one problem record (a dict decoded from a JSONL line or a Parquet row):
    one per kept Python 3 solution, the first ``settings.solutions_per_problem`` usable ones in
    dataset order, each with at most ``settings.tests_per_solution`` tests. A problem that gives
    no program gives exactly one Rejection; one that gives programs gives no Rejection (its
    skipped solutions are counted in each program's meta). Never raises on bad data."""
    if not isinstance(record, dict):
        yield Rejection(IngestReason.NOT_AN_OBJECT, f"record is {json_type_name(record)}")
        return
    fmt = detect_format(record)
    if fmt is None:
        fields = ", ".join(sorted(str(key) for key in record)[:12])
        yield Rejection(IngestReason.UNKNOWN_FORMAT, f"neither CodeContests nor APPS/TACO fields: {fields}")
        return
    problem = _codecontests_problem(record) if fmt == FORMAT_CODECONTESTS else _apps_problem(record)
    if isinstance(problem, Rejection):
        yield problem
        return
    yield from _programs(problem, settings)
