"""Static filters: whether a program can enter the corpus, and which of its inputs can.

The filters are a list (``program_filters``), each a named check run in order over one
``Program``; the first reject wins and names the filter that gave it (``rejected_by``), so
every drop is explained and counted per filter. A filter judges and changes nothing: the
``Program`` is frozen, and what a filter finds (the entry function, the inputs kept) is part of
its verdict, which ``run_filters`` hands on as ``Findings`` to the filters that declare they
need it (``Filter.needs``, checked) and to the outcome. Program-level reasons reject the whole
program; input-level reasons drop single inputs and are counted (a program left with too
few inputs is then rejected as ``too_few_inputs``, its detail naming what was dropped).
These checks read the AST only; nothing here runs the code. The sandbox (trace stage) is
the real defence against hostile code: a program that hides a capability from this scan
(``getattr`` tricks and the like) is still contained there.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import partial
from typing import Any

from tracepile.analysis import pyast
from tracepile.analysis.decontam import BenchmarkIndex
from tracepile.config import FilterConfig
from tracepile.vocab import SCRIPT_ENTRY, SCRIPT_MODES, DedupReason, InputDrop, RunMode

# Calls whose result differs from run to run, by resolved dotted name.
NONDETERMINISTIC_CALLS = frozenset(
    {
        "time.time", "time.time_ns", "time.perf_counter", "time.perf_counter_ns", "time.monotonic",
        "time.monotonic_ns", "time.process_time", "time.process_time_ns", "time.localtime",
        "time.gmtime", "time.ctime", "time.asctime", "time.strftime", "time.thread_time",
        "datetime.datetime.now", "datetime.datetime.today", "datetime.datetime.utcnow",
        "datetime.date.today", "uuid.uuid1", "uuid.uuid4", "os.urandom", "os.getrandom", "os.getpid",
        "random.SystemRandom",
    }
)  # fmt: skip
NONDETERMINISTIC_MODULES = frozenset({"secrets"})
SEEDED_RANDOM_MODULES = {"random": "random.seed", "numpy.random": "numpy.random.seed"}
# Constructors that are deterministic only when given a seed.
SEEDABLE_GENERATORS = frozenset({"random.Random", "numpy.random.default_rng", "numpy.random.RandomState"})
# Modules and calls that have no place in a pure function: network, processes, threads,
# files, foreign code, dynamic code that defeats this scan, interaction.
CAPABILITY_MODULES = frozenset(
    {
        "socket", "ssl", "urllib", "http", "requests", "httpx", "aiohttp", "ftplib", "smtplib",
        "telnetlib", "xmlrpc", "webbrowser", "subprocess", "multiprocessing", "threading", "_thread",
        "concurrent", "asyncio", "ctypes", "cffi", "shutil", "signal", "pty", "tempfile", "importlib",
        "pickle", "marshal", "shelve", "sqlite3", "mmap", "resource", "gc", "inspect", "builtins",
    }
)  # fmt: skip
CAPABILITY_CALLS = frozenset(
    {
        "open", "input", "eval", "exec", "compile", "__import__", "breakpoint", "globals", "vars",
        "os.system", "os.popen", "os.fork", "os.forkpty", "os.kill", "os.killpg", "os.remove",
        "os.unlink", "os.rmdir", "os.removedirs", "os.mkdir", "os.makedirs", "os.rename", "os.replace",
        "os.chmod", "os.chown", "os.chdir", "os.putenv", "os.unsetenv", "os.environ", "os.getenv",
        "os.open", "os.write", "os.truncate", "os.symlink", "os.link", "os.setsid", "os.abort",
        "os._exit", "sys.exit", "sys.settrace", "sys.setprofile",
        "sys.modules", "sys.stdin", "io.open", "pathlib.Path", "pathlib.PurePath",
    }
)  # fmt: skip
_OS_PREFIXES = ("os.exec", "os.spawn", "os.posix_spawn", "os.wait")
# What a script (run modes stdin and answer) may do that a function may not: read its standard
# input (``open(0)`` too, see ``_reads_stdin``) and end itself.
SCRIPT_CALLS = frozenset({"input", "sys.stdin", "sys.exit"})
SHUT_MODULE_PREFIXES = ("numpy.ctypeslib",)  # native-code doors of allowed packages
# Words that must appear in the code for any rule above to fire: a module (reached by
# ``import m`` or ``from m import f``, both of which name m) or a builtin; ``random`` also
# covers numpy's generators. Most programs contain none and skip the AST walk.
_TRIGGER_WORDS = frozenset(
    {name.split(".")[0] for name in NONDETERMINISTIC_CALLS | CAPABILITY_CALLS | SEEDABLE_GENERATORS}
    | NONDETERMINISTIC_MODULES
    | CAPABILITY_MODULES
    | {"random"}
    | {prefix.rsplit(".", 1)[-1] for prefix in SHUT_MODULE_PREFIXES}
) - {"numpy"}
_WORD = re.compile(r"[^\W\d]\w*")


class FilterName(StrEnum):
    """The filters, in the order they run (``analysed.rejected_by``)."""

    CODE_SIZE = "code_size"
    SYNTAX = "syntax"
    ENTRY_FUNCTION = "entry_function"
    CAPABILITIES = "capabilities"
    INPUTS = "inputs"
    DECONTAMINATION = "decontamination"


FILTER_NAMES = tuple(FilterName)


@dataclass(frozen=True)
class Program:
    """One program under check, as its record gives it; the filters read it and change nothing."""

    code: str
    parsed: ast.Module | str  # parse_program(code): parsed once for every use of the AST
    entry_point: str
    inputs: Sequence[dict[str, Any]]
    problem: str = ""
    run_mode: str = RunMode.CALL  # vocab.RunMode: a script reads stdin and prints its result
    # the code's tokens when the caller has lexed it; else the words of the code, comments
    # included, which only makes the capability scan run more often
    names: AbstractSet[str] | None = None

    @property
    def script(self) -> bool:
        return self.run_mode in SCRIPT_MODES

    @property
    def tree(self) -> ast.Module:
        """The AST, for the filters after ``syntax``."""
        assert isinstance(self.parsed, ast.Module), "the AST is read only after the syntax filter"
        return self.parsed


@dataclass(frozen=True)
class Findings:
    """What the filters that ran found, handed on by ``run_filters``."""

    function: ast.FunctionDef | None = None  # entry_function's (None: a script's top-level code)
    inputs: list[dict[str, Any]] = field(default_factory=list)  # the inputs filter's: those kept
    dropped: Counter[InputDrop] = field(default_factory=Counter)  # the inputs filter's: drop counts


@dataclass(frozen=True)
class Reject:
    reason: DedupReason
    detail: str
    found: Findings | None = None  # what the filter found before it rejected (too_few_inputs: the counts)


# A filter's verdict: a Reject, or a pass: None when it found nothing, else the findings it was
# given with its own added.
Verdict = Reject | Findings | None


@dataclass(frozen=True)
class Filter:
    """A named check of a program, given what earlier filters found; ``needs``: the filters
    whose findings it reads, which must run before it (``run_filters`` checks)."""

    name: FilterName
    check: Callable[[Program, Findings], Verdict]
    needs: tuple[FilterName, ...] = ()


@dataclass(frozen=True)
class FilterOutcome:
    """What the filters made of one program: the first reject and the filter that gave it
    (None when it passed), the inputs kept and the per-input drop counts (and the entry
    function, None for a script's top-level code or when no filter found it)."""

    rejected_by: FilterName | None
    reason: DedupReason | None
    detail: str
    inputs: list[dict[str, Any]]
    dropped: Counter[InputDrop]
    function: ast.FunctionDef | None = field(default=None, compare=False, repr=False)


def error_detail(exc: Exception) -> str:
    """The ``analysis_error`` detail of an exception."""
    return f"{type(exc).__name__}: {exc}"[:500]


def entry_function(tree: ast.Module, entry_point: str) -> ast.FunctionDef | None:
    """The last top-level ``def`` of that name (the one a call would reach)."""
    found = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            found = node
    return found


@dataclass(frozen=True)
class Signature:
    """What keyword inputs a function accepts: computed once per program, checked per input."""

    required: frozenset[str]
    accepted: frozenset[str]
    takes_any_keyword: bool
    positional_only: tuple[str, ...]

    @classmethod
    def of(cls, function: ast.FunctionDef) -> Signature:
        args = function.args
        named = [a.arg for a in args.args]
        optional = set(named[len(named) - len(args.defaults) :]) if args.defaults else set()
        required = {n for n in named if n not in optional}
        required |= {a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None}
        return cls(
            frozenset(required),
            frozenset(named) | {a.arg for a in args.kwonlyargs},
            args.kwarg is not None,
            tuple(a.arg for a in args.posonlyargs),
        )

    def problem(self, kwargs: dict[str, Any]) -> str | None:
        """Why ``function(**kwargs)`` would fail to bind, or None."""
        if self.positional_only:
            return f"positional-only parameters {list(self.positional_only)} cannot take keyword inputs"
        if missing := self.required - kwargs.keys():
            return f"missing {sorted(missing)}"
        if (unexpected := kwargs.keys() - self.accepted) and not self.takes_any_keyword:
            return f"unexpected {sorted(unexpected)}"
        return None


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _module_of(name: str, modules: frozenset[str]) -> str | None:
    head = name.split(".")[0]
    return head if head in modules else None


def _import_problem(module: str, what: str) -> Reject | None:
    if module.startswith(SHUT_MODULE_PREFIXES):
        return Reject(DedupReason.FORBIDDEN_CAPABILITY, f"{what} {module}")
    if found := _module_of(module, CAPABILITY_MODULES):
        return Reject(DedupReason.FORBIDDEN_CAPABILITY, f"{what} {found}")
    if found := _module_of(module, NONDETERMINISTIC_MODULES):
        return Reject(DedupReason.NONDETERMINISTIC, f"{what} {found}")
    return None


def _reads_stdin(name: str, call: ast.Call | None) -> bool:
    """``open(0)``: a script reading its standard input by descriptor, as contestants do."""
    return name == "open" and call is not None and bool(call.args) and _is_zero(call.args[0])


def _is_zero(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value == 0 and not isinstance(node.value, bool)


def scan_capabilities(tree: ast.Module, allowed: frozenset[str] = frozenset()) -> Reject | None:
    """The first non-deterministic or forbidden use, or None (``allowed``: calls a script may
    make, ``SCRIPT_CALLS``, with ``open(0)``).

    Names are resolved through the program's imports (``from time import time as t``
    makes ``t()`` a ``time.time`` call); a name the program binds itself (a parameter
    called ``input``) is the program's own and not a builtin.
    """
    aliases: dict[str, str] = {}
    bound: set[str] = set()
    references: list[ast.Attribute | ast.Name] = []
    calls: dict[int, ast.Call] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if problem := _import_problem(alias.name, "imports"):
                    return problem
                head = alias.name.split(".")[0]
                aliases[alias.asname or head] = alias.name if alias.asname else head
        elif isinstance(node, ast.ImportFrom) and node.module:
            if problem := _import_problem(node.module, "imports from"):
                return problem
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Name):
            references.append(node)
            if isinstance(node.ctx, ast.Store | ast.Del):
                bound.add(node.id)
        elif isinstance(node, ast.Attribute):
            references.append(node)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Call):
            calls[id(node.func)] = node
    local = bound - aliases.keys()
    used = [
        (name, node)
        for node in references
        if (name := _dotted(node, aliases)) is not None and name.split(".")[0] not in local
    ]
    seeded = {name for name, node in used if id(node) in calls and calls[id(node)].args}
    for name, node in used:
        if name in allowed or (allowed and _reads_stdin(name, calls.get(id(node)))):
            continue
        if name.startswith(SHUT_MODULE_PREFIXES):
            return Reject(DedupReason.FORBIDDEN_CAPABILITY, f"uses {name}")
        if name in CAPABILITY_CALLS or name.startswith(_OS_PREFIXES):
            return Reject(DedupReason.FORBIDDEN_CAPABILITY, f"uses {name}")
        if name in NONDETERMINISTIC_CALLS:
            return Reject(DedupReason.NONDETERMINISTIC, f"uses {name}")
        if name in SEEDABLE_GENERATORS:
            call = calls.get(id(node))
            if call is not None and not call.args and not call.keywords:
                return Reject(DedupReason.NONDETERMINISTIC, f"{name}() without a seed")
            continue
        for module, seed_call in SEEDED_RANDOM_MODULES.items():
            is_module_function = name.startswith(module + ".") and name.count(".") == module.count(".") + 1
            if is_module_function and name != seed_call and seed_call not in seeded:
                return Reject(DedupReason.NONDETERMINISTIC, f"uses {name} without {seed_call}(...)")
    return None


_UNPARSED = object()


def _too_large(text: str | None, limits: FilterConfig, value: Any = _UNPARSED) -> bool:
    """Whether an input or output (JSON ``text``; ``value`` if already parsed) breaks a size cap."""
    if text is None:
        return False
    if len(text) * 4 > limits.max_io_bytes and len(text.encode("utf-8")) > limits.max_io_bytes:
        return True
    # JSON of a string of n chars has >= n + 2 chars, of a collection of n items >= 2n + 1
    if len(text) < min(limits.max_string_chars + 2, 2 * limits.max_collection_items + 1):
        return False
    pending = [json.loads(text) if value is _UNPARSED else value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if len(item) > limits.max_string_chars:
                return True
        elif isinstance(item, list):
            if len(item) > limits.max_collection_items:
                return True
            pending.extend(item)
        elif isinstance(item, dict):
            if len(item) > limits.max_collection_items:
                return True
            pending.extend(item.keys())
            pending.extend(item.values())
    return False


def parse_program(code: str) -> ast.Module | str:
    """The AST, or the reason the code does not parse."""
    try:
        return pyast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:  # ValueError: NUL bytes
        return f"{type(exc).__name__}: {exc}"


def check_code_size(program: Program, found: Findings, limits: FilterConfig) -> Verdict:
    size = len(program.code.encode("utf-8"))
    if size > limits.max_code_bytes:
        return Reject(DedupReason.CODE_TOO_LARGE, f"{size} bytes (max {limits.max_code_bytes})")
    return None


def check_syntax(program: Program, found: Findings) -> Verdict:
    if isinstance(program.parsed, str):
        return Reject(DedupReason.SYNTAX_ERROR, program.parsed)
    return None


def find_entry_function(program: Program, found: Findings) -> Verdict:
    """The entry function, found for the filters after it. A script's traced unit is its own
    top-level code (no function), or a ``main()`` it defines."""
    if program.script and program.entry_point == SCRIPT_ENTRY:
        return None
    function = entry_function(program.tree, program.entry_point)
    if function is None:
        return Reject(DedupReason.NO_ENTRY_FUNCTION, f"no top-level def {program.entry_point}(...)")
    return replace(found, function=function)


def check_capabilities(program: Program, found: Findings) -> Verdict:
    words = _WORD.findall(program.code) if program.names is None else program.names
    if _TRIGGER_WORDS.isdisjoint(words):  # most programs: no rule can fire, skip the AST walk
        return None
    return scan_capabilities(program.tree, SCRIPT_CALLS if program.script else frozenset())


def check_inputs(program: Program, found: Findings, limits: FilterConfig) -> Verdict:
    """Drop oversized and repeated inputs, keep at most ``max_inputs``; reject on a bad signature
    (a script's inputs: its standard input, within ``max_stdin_bytes``, and its expected printed
    output, within ``max_stdout_bytes``: real tests are longer than a function's JSON inputs)."""
    if program.script:
        return _select_inputs(program, found, limits, partial(_script_input, limits=limits))
    assert found.function is not None, "the inputs filter is given the entry_function filter's function"
    read = partial(_call_input, signature=Signature.of(found.function), limits=limits)
    return _select_inputs(program, found, limits, read)


def _call_input(
    index: int, item: dict[str, Any], signature: Signature, limits: FilterConfig
) -> Reject | bool:
    """A bad input of a call (the program is rejected), or whether it breaks a size cap."""
    text = item["input_json"]
    kwargs = json.loads(text)
    if not isinstance(kwargs, dict):
        return Reject(DedupReason.SIGNATURE_MISMATCH, f"input {index} is not an object of keyword arguments")
    if problem := signature.problem(kwargs):
        return Reject(DedupReason.SIGNATURE_MISMATCH, f"input {index}: {problem}")
    return _too_large(text, limits, kwargs) or _too_large(item["expected_output_json"], limits)


def _script_input(index: int, item: dict[str, Any], limits: FilterConfig) -> Reject | bool:
    """A bad input of a script (not its standard input), or whether it breaks a size cap."""
    given = json.loads(item["input_json"])
    stdin = given.get("stdin", "") if isinstance(given, dict) else None
    if not isinstance(stdin, str) or given.keys() - {"stdin"}:
        return Reject(DedupReason.SIGNATURE_MISMATCH, f'input {index} is not a script\'s {{"stdin": text}}')
    expected = item["expected_output_json"]
    return len(stdin.encode("utf-8")) > limits.max_stdin_bytes or (
        expected is not None and len(expected.encode("utf-8")) > limits.max_stdout_bytes
    )


def _select_inputs(
    program: Program,
    found: Findings,
    limits: FilterConfig,
    read: Callable[[int, dict[str, Any]], Reject | bool],
) -> Reject | Findings:
    """Every input through ``read`` (a Reject, or whether it is oversized), then repeats and
    inputs over ``max_inputs`` dropped. The inputs kept and the drop counts are found only once
    every input is read, so a bad input part-way leaves no partial counts."""
    kept: list[dict[str, Any]] = []
    dropped: Counter[InputDrop] = Counter()
    seen: set[str] = set()
    for index, item in enumerate(program.inputs):
        oversized = read(index, item)
        if isinstance(oversized, Reject):
            return oversized
        text = item["input_json"]
        if oversized:
            dropped[InputDrop.TOO_LARGE] += 1
        elif text in seen:
            dropped[InputDrop.DUPLICATE] += 1
        elif len(kept) >= limits.max_inputs:
            dropped[InputDrop.OVER_LIMIT] += 1
        else:
            seen.add(text)
            kept.append(item)
    selected = replace(found, inputs=kept, dropped=dropped)
    if len(kept) < limits.min_inputs:
        named = ", ".join(f"{n} {why}" for why, n in sorted(dropped.items())) or "none dropped"
        detail = f"{len(kept)} usable of {len(program.inputs)} (min {limits.min_inputs}; {named})"
        return Reject(DedupReason.TOO_FEW_INPUTS, detail, selected)
    return selected


def check_decontamination(program: Program, found: Findings, benchmarks: BenchmarkIndex) -> Verdict:
    overlap = benchmarks.overlap({"problem": program.problem, "code": program.code})
    return None if overlap is None else Reject(DedupReason.CONTAMINATED, overlap)


def program_filters(limits: FilterConfig, benchmarks: BenchmarkIndex | None = None) -> list[Filter]:
    """Every static filter in the order of ``FilterName``; decontamination only when
    benchmarks are configured. ``needs``: the filters after ``syntax`` read the AST, and
    ``inputs`` binds each input to the signature of the function ``entry_function`` found."""
    filters = [
        Filter(FilterName.CODE_SIZE, partial(check_code_size, limits=limits)),
        Filter(FilterName.SYNTAX, check_syntax),
        Filter(FilterName.ENTRY_FUNCTION, find_entry_function, needs=(FilterName.SYNTAX,)),
        Filter(FilterName.CAPABILITIES, check_capabilities, needs=(FilterName.SYNTAX,)),
        Filter(FilterName.INPUTS, partial(check_inputs, limits=limits), needs=(FilterName.ENTRY_FUNCTION,)),
    ]
    if benchmarks is not None:
        filters.append(
            Filter(FilterName.DECONTAMINATION, partial(check_decontamination, benchmarks=benchmarks))
        )
    return filters


def _check_needs(filters: Sequence[Filter]) -> None:
    """Raises unless every filter comes after the filters it needs."""
    ran: set[FilterName] = set()
    for program_filter in filters:
        if missing := [name.value for name in program_filter.needs if name not in ran]:
            raise ValueError(f"the {program_filter.name} filter needs {missing} to run before it")
        ran.add(program_filter.name)


def run_filters(program: Program, filters: Sequence[Filter]) -> FilterOutcome:
    """Each filter in order until the first reject, each given what the filters before it
    found. A filter that raises rejects the program as ``analysis_error`` under its own name:
    one odd program must not fail the batch. A list with a filter before one it needs raises."""
    _check_needs(filters)
    found = Findings()
    for program_filter in filters:
        try:
            verdict = program_filter.check(program, found)
        except Exception as exc:
            verdict = Reject(DedupReason.ANALYSIS_ERROR, error_detail(exc))
        if isinstance(verdict, Reject):
            found = found if verdict.found is None else verdict.found
            return FilterOutcome(
                program_filter.name,
                verdict.reason,
                verdict.detail,
                found.inputs,
                found.dropped,
                found.function,
            )
        if verdict is not None:
            found = verdict
    return FilterOutcome(None, None, "", found.inputs, found.dropped, found.function)


def check_program(
    code: str,
    parsed: ast.Module | str,
    entry_point: str,
    inputs: Sequence[dict[str, Any]],
    limits: FilterConfig,
    names: AbstractSet[str] | None = None,
    run_mode: str = RunMode.CALL,
) -> FilterOutcome:
    """The static filters without decontamination, on one program (``parsed`` is
    ``parse_program(code)``; ``names`` as in ``Program``)."""
    program = Program(code, parsed, entry_point, inputs, run_mode=run_mode, names=names)
    return run_filters(program, program_filters(limits))
