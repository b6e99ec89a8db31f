"""Static filters: every reason, on small programs written to trigger exactly one rule."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from tracepile.analysis.decontam import BenchmarkError, BenchmarkIndex
from tracepile.analysis.filters import (
    FILTER_NAMES,
    Filter,
    FilterName,
    Findings,
    Program,
    Reject,
    check_program,
    entry_function,
    parse_program,
    program_filters,
    run_filters,
)
from tracepile.config import FilterConfig

FIXTURE = Path(__file__).parent / "fixtures" / "benchmark_fixture.jsonl"


def _inputs(*kwargs: dict, output: object = 1) -> list[dict[str, str]]:
    return [{"input_json": json.dumps(k), "expected_output_json": json.dumps(output)} for k in kwargs]


def _check(code: str, inputs=None, limits: FilterConfig | None = None, entry: str = "main_solution"):
    inputs = _inputs({"n": 1}) if inputs is None else inputs
    return check_program(code, parse_program(code), entry, inputs, limits or FilterConfig())


PLAIN = "def main_solution(n):\n    return n + 1\n"


@pytest.mark.parametrize(
    ("code", "reason", "detail"),
    [
        ("def main_solution(n):\n  return (n\n", "syntax_error", "SyntaxError"),
        ("def other(n):\n    return n\n", "no_entry_function", "main_solution"),
        ("def main_solution(m):\n    return m\n", "signature_mismatch", "missing ['m']"),
        ("def main_solution(n, /):\n    return n\n", "signature_mismatch", "positional-only"),
        (
            "import random\ndef main_solution(n):\n    return random.randint(0, n)\n",
            "nondeterministic",
            "random.seed",
        ),
        (
            "from random import choice as pick\ndef main_solution(n):\n    return pick([n])\n",
            "nondeterministic",
            "random.choice",
        ),
        ("import time\ndef main_solution(n):\n    return time.time() + n\n", "nondeterministic", "time.time"),
        (
            "from datetime import datetime\ndef main_solution(n):\n    return datetime.now().year + n\n",
            "nondeterministic",
            "datetime.datetime.now",
        ),
        (
            "import uuid\ndef main_solution(n):\n    return str(uuid.uuid4())\n",
            "nondeterministic",
            "uuid.uuid4",
        ),
        ("import os\ndef main_solution(n):\n    return os.urandom(n)\n", "nondeterministic", "os.urandom"),
        (
            "import secrets\ndef main_solution(n):\n    return secrets.token_hex(n)\n",
            "nondeterministic",
            "secrets",
        ),
        (
            "import numpy as np\ndef main_solution(n):\n    return int(np.random.randint(n))\n",
            "nondeterministic",
            "numpy.random.randint",
        ),
        (
            "import numpy as np\ndef main_solution(n):\n    return np.random.default_rng().integers(n)\n",
            "nondeterministic",
            "default_rng() without a seed",
        ),
        ("import socket\ndef main_solution(n):\n    return n\n", "forbidden_capability", "imports socket"),
        (
            "from subprocess import run\ndef main_solution(n):\n    return n\n",
            "forbidden_capability",
            "subprocess",
        ),
        ("import threading\ndef main_solution(n):\n    return n\n", "forbidden_capability", "threading"),
        (
            "def main_solution(n):\n    return open('f', 'w').write(str(n))\n",
            "forbidden_capability",
            "uses open",
        ),
        ("def main_solution(n):\n    return input()\n", "forbidden_capability", "uses input"),
        (
            "import os\ndef main_solution(n):\n    return os.system('ls')\n",
            "forbidden_capability",
            "os.system",
        ),
        (
            "import os\ndef main_solution(n):\n    return os.environ['HOME']\n",
            "forbidden_capability",
            "os.environ",
        ),
        ("def main_solution(n):\n    return eval('n + 1')\n", "forbidden_capability", "uses eval"),
        (
            "import os as o\ndef main_solution(n):\n    o.execv('/bin/sh', [])\n",
            "forbidden_capability",
            "os.execv",
        ),
    ],
)
def test_each_rule_names_its_reason(code: str, reason: str, detail: str) -> None:
    outcome = _check(code)
    assert outcome.reason == reason
    assert detail in outcome.detail


@pytest.mark.parametrize(
    "code",
    [
        PLAIN,
        "import random\ndef main_solution(n):\n    random.seed(42)\n    return random.randint(0, n)\n",
        "import random\ndef main_solution(n):\n    return random.Random(7).randint(0, n)\n",
        "import numpy as np\ndef main_solution(n):\n    return int(np.random.default_rng(3).integers(9))\n",
        "def main_solution(n, input=3, open=None):\n    return n + input\n",  # own names, not the builtins
        "def main_solution(**kwargs):\n    return kwargs['n']\n",
        "def main_solution(n, *, k=2):\n    return n * k\n",
        "import sys\ndef main_solution(n):\n    sys.setrecursionlimit(10000)\n    return n\n",
    ],
)
def test_clean_programs_pass(code: str) -> None:
    outcome = _check(code)
    assert outcome.reason is None, outcome.detail
    assert len(outcome.inputs) == 1


def test_code_size_cap() -> None:
    code = PLAIN + "# " + "x" * 200 + "\n"
    assert _check(code, limits=FilterConfig(max_code_bytes=100)).reason == "code_too_large"


def test_oversized_repeated_and_surplus_inputs_are_dropped_and_counted() -> None:
    inputs = [
        *_inputs({"n": "s" * 101}),  # string over 100 chars
        *_inputs({"n": list(range(21))}),  # collection over 20 items
        *_inputs({"n": 1}, output="y" * 1100),  # output over 1 KB
        *_inputs(*({"n": i} for i in range(12))),  # 12 distinct, 10 kept
        *_inputs({"n": 3}),  # repeat of n=3
    ]
    outcome = _check(PLAIN, inputs)
    assert outcome.reason is None
    assert [json.loads(i["input_json"])["n"] for i in outcome.inputs] == list(range(10))
    assert outcome.dropped == {"input_too_large": 3, "input_over_limit": 2, "input_duplicate": 1}


def test_too_few_inputs_names_what_was_dropped() -> None:
    outcome = _check(PLAIN, _inputs({"n": "s" * 101}, {"n": 1}, {"n": 1}), FilterConfig(min_inputs=2))
    assert outcome.reason == "too_few_inputs"
    assert "1 usable of 3" in outcome.detail and "1 input_duplicate" in outcome.detail


def test_benchmark_overlap_in_problem_text_or_code() -> None:
    index = BenchmarkIndex.from_files([str(FIXTURE)], ngram_size=13)
    assert len(index) > 0
    leaked_problem = {
        "problem": "Our task: given a list of meeting intervals with start and end times, return the "
        "minimum number of conference rooms that are needed.",
        "code": PLAIN,
    }
    detail = index.overlap(leaked_problem)
    assert detail is not None and "benchmark_fixture.jsonl:2" in detail and detail.startswith("problem")
    leaked_code = {
        "problem": "Find palindromes.",
        "code": "def main_solution(text):\n"
        + (
            "    best = ''\n    for center in range(2 * len(text) - 1):\n"
            "        left, right = center // 2, (center + 1) // 2\n"
        ),
    }
    assert index.overlap(leaked_code).startswith("code shares")
    assert index.overlap({"problem": "What is the gcd of two numbers?", "code": PLAIN}) is None


def test_plain_text_benchmarks_and_unreadable_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("one two three four five six seven eight nine ten eleven twelve thirteen fourteen")
    index = BenchmarkIndex.from_files([str(text)], ngram_size=13)
    assert index.overlap(
        {"problem": "x one two three four five six seven eight nine ten eleven twelve thirteen"}
    )
    with pytest.raises(BenchmarkError, match=r"missing\.jsonl"):
        BenchmarkIndex.from_files([str(tmp_path / "missing.jsonl")], 13)


def test_an_input_that_is_not_keyword_arguments_is_a_signature_mismatch() -> None:
    outcome = _check(PLAIN, [{"input_json": "[1, 2]", "expected_output_json": "3"}])
    assert outcome.reason == "signature_mismatch" and "not an object" in outcome.detail


# The filters as a list: each one alone, the loop's order, and errors inside a filter.

LEAKED_PROBLEM = (
    "Our task: given a list of meeting intervals with start and end times, return the "
    "minimum number of conference rooms that are needed."
)


def _filters(limits: FilterConfig | None = None) -> dict[str, Filter]:
    index = BenchmarkIndex.from_files([str(FIXTURE)], ngram_size=13)
    return {f.name: f for f in program_filters(limits or FilterConfig(), index)}


def _program(code: str = PLAIN, inputs: list[dict[str, str]] | None = None, problem: str = "") -> Program:
    parsed = parse_program(code)
    return Program(code, parsed, "main_solution", _inputs({"n": 1}) if inputs is None else inputs, problem)


def _found(program: Program) -> Findings:
    """What the filters before the one under test would find."""
    if isinstance(program.parsed, str):
        return Findings()
    return Findings(function=entry_function(program.parsed, "main_solution"))


@pytest.mark.parametrize(
    ("name", "program", "reason", "detail"),
    [
        ("code_size", _program(PLAIN + "#" * 200), "code_too_large", "bytes (max 100)"),
        ("syntax", _program("def main_solution(n):\n  return (n\n"), "syntax_error", "SyntaxError"),
        ("entry_function", _program("def other(n):\n    return n\n"), "no_entry_function", "main_solution"),
        (
            "capabilities",
            _program("import socket\ndef main_solution(n):\n    return n\n"),
            "forbidden_capability",
            "imports socket",
        ),
        ("inputs", _program(inputs=_inputs({"m": 1})), "signature_mismatch", "input 0: missing ['n']"),
        ("decontamination", _program(problem=LEAKED_PROBLEM), "contaminated", "benchmark_fixture.jsonl:2"),
    ],
)
def test_each_filter_alone_rejects_what_it_is_for(
    name: str, program: Program, reason: str, detail: str
) -> None:
    reject = _filters(FilterConfig(max_code_bytes=100))[name].check(program, _found(program))
    assert isinstance(reject, Reject) and reject.reason == reason and detail in reject.detail


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_each_filter_alone_passes_a_plain_program(name: str) -> None:
    program = _program(problem="What is n plus one?")
    assert not isinstance(_filters()[name].check(program, _found(program)), Reject)


def test_the_entry_and_inputs_filters_pass_on_what_they_found() -> None:
    filters = _filters(FilterConfig(max_inputs=1))
    program = Program(PLAIN, parse_program(PLAIN), "main_solution", _inputs({"n": 1}, {"n": 2}, {"n": 1}))
    found = filters["entry_function"].check(program, Findings())
    assert isinstance(found, Findings) and found.function is not None
    assert found.function.name == "main_solution"
    selected = filters["inputs"].check(program, found)
    assert isinstance(selected, Findings) and selected.function is found.function
    assert selected.inputs == _inputs({"n": 1})
    assert selected.dropped == {"input_duplicate": 1, "input_over_limit": 1}
    assert run_filters(program, list(filters.values())).function is found.function


def test_a_filter_changes_nothing_in_the_program_it_judges() -> None:
    program = _program(inputs=_inputs({"n": 1}, {"n": 1}, {"n": 2}), problem=LEAKED_PROBLEM)
    filters = list(_filters(FilterConfig(max_inputs=1)).values())

    def snapshot() -> tuple:
        return (program.code, ast.dump(program.tree), program.entry_point, json.dumps(program.inputs),
                program.problem, program.run_mode, program.names)  # fmt: skip

    before = snapshot()
    outcome = run_filters(program, filters)
    assert outcome.rejected_by == "decontamination"
    assert outcome.dropped == {"input_duplicate": 1, "input_over_limit": 1}
    assert snapshot() == before
    assert run_filters(program, filters) == outcome  # judged again: the same verdict
    with pytest.raises(dataclasses.FrozenInstanceError):
        program.entry_point = "other"  # type: ignore[misc]


def test_a_filter_whose_needs_did_not_run_before_it_fails_loudly() -> None:
    filters = _filters()
    wrong_order = [filters["code_size"], filters["syntax"], filters["inputs"], filters["entry_function"]]
    with pytest.raises(ValueError, match=r"the inputs filter needs \['entry_function'\]"):
        run_filters(_program(), wrong_order)
    with pytest.raises(ValueError, match=r"the capabilities filter needs \['syntax'\]"):
        run_filters(_program("def main_solution(n):\n  return (n\n"), [filters["capabilities"]])


def test_the_list_runs_in_filter_name_order_and_decontamination_only_with_benchmarks() -> None:
    assert list(_filters()) == list(FILTER_NAMES)
    assert [f.name for f in program_filters(FilterConfig())] == list(FILTER_NAMES[:-1])


@pytest.mark.parametrize(
    ("code", "inputs", "rejected_by", "reason"),
    [
        # too large, no entry function and a forbidden import: the size check comes first
        ("import socket\n" + "#" * 200, _inputs({"n": 1}), "code_size", "code_too_large"),
        (
            "import socket\ndef other(n):\n    return n\n",
            _inputs({"n": 1}),
            "entry_function",
            "no_entry_function",
        ),
        ("import socket\n" + PLAIN, _inputs({"m": 1}), "capabilities", "forbidden_capability"),
        (PLAIN, _inputs({"m": 1}), "inputs", "signature_mismatch"),  # contaminated too, checked last
        (PLAIN, _inputs({"n": 1}), "decontamination", "contaminated"),
    ],
)
def test_the_first_reject_wins(
    code: str, inputs: list[dict[str, str]], rejected_by: str, reason: str
) -> None:
    program = Program(code, parse_program(code), "main_solution", inputs, LEAKED_PROBLEM)
    outcome = run_filters(program, list(_filters(FilterConfig(max_code_bytes=200)).values()))
    assert (outcome.rejected_by, outcome.reason) == (rejected_by, reason)


def test_a_passing_program_names_no_filter() -> None:
    outcome = run_filters(_program(), list(_filters().values()))
    assert outcome.rejected_by is None and outcome.reason is None and outcome.inputs == _inputs({"n": 1})


def test_a_filter_that_raises_rejects_as_analysis_error_under_its_own_name() -> None:
    # an input that is not JSON at all: the inputs filter's json.loads raises
    broken = [{"input_json": "{not json", "expected_output_json": "1"}]
    outcome = run_filters(_program(inputs=broken), list(_filters().values()))
    assert (outcome.rejected_by, outcome.reason) == ("inputs", "analysis_error")
    assert outcome.detail.startswith("JSONDecodeError: ")
    assert outcome.inputs == [] and not outcome.dropped  # no partial counts


def test_no_filter_runs_after_one_that_raises() -> None:
    ran: list[str] = []

    def failing(program: Program, found: Findings) -> Reject | None:
        raise ValueError("x" * 1000)

    def recording(program: Program, found: Findings) -> Reject | None:
        ran.append("after")
        return None

    filters = [Filter(FilterName.SYNTAX, failing), Filter(FilterName.CAPABILITIES, recording)]
    outcome = run_filters(_program(), filters)
    assert (outcome.rejected_by, outcome.reason) == ("syntax", "analysis_error")
    assert outcome.detail == ("ValueError: " + "x" * 1000)[:500] and ran == []


def _script(code: str, stdins=("1\n",), entry: str = "<module>", limits: FilterConfig | None = None,
            mode: str = "stdin", expected: str = "1"):  # fmt: skip
    inputs = [
        {"input_json": json.dumps({"stdin": s}), "expected_output_json": json.dumps(expected)} for s in stdins
    ]
    return check_program(code, parse_program(code), entry, inputs, limits or FilterConfig(), run_mode=mode)


@pytest.mark.parametrize(
    "code",
    [
        "n = int(input())\nprint(n)\n",
        "import sys\ninput = sys.stdin.readline\nprint(int(input()))\n",
        "import sys\ndata = sys.stdin.buffer.read().split()\nprint(len(data))\nsys.exit(0)\n",
        "print(sum(map(int, open(0).read().split())))\n",
    ],
)
def test_a_script_may_read_its_standard_input_and_end_itself(code: str) -> None:
    outcome = _script(code)
    assert outcome.reason is None, outcome.detail
    assert len(outcome.inputs) == 1


@pytest.mark.parametrize(
    ("code", "detail"),
    [
        ("print(open('/etc/passwd').read())\n", "uses open"),
        ("import subprocess\nprint(1)\n", "imports subprocess"),
        ("import numpy.ctypeslib\nprint(1)\n", "imports numpy.ctypeslib"),
        ("import numpy as np\nprint(np.ctypeslib.as_array)\n", "uses numpy.ctypeslib.as_array"),
    ],
)
def test_a_script_still_may_not_open_files_or_reach_native_code(code: str, detail: str) -> None:
    outcome = _check(code.replace("print(", "x = (") + "def main_solution(n):\n    return n\n")
    scripted = _script(code)
    assert (scripted.reason, scripted.detail) == ("forbidden_capability", detail)
    assert outcome.reason == "forbidden_capability"


def test_a_function_may_not_read_standard_input_even_as_open_0() -> None:
    for body in ("return input()", "return open(0).read()", "import sys\n    return sys.stdin.read()"):
        outcome = _check(f"def main_solution(n):\n    {body}\n")
        assert outcome.reason == "forbidden_capability", body


def test_a_script_with_main_needs_its_main_and_a_plain_script_needs_none() -> None:
    code = "def main():\n    print(int(input()) * 2)\n\nmain()\n"
    assert _script(code, entry="main").reason is None
    assert _script("print(int(input()) * 2)\n", entry="main").reason == "no_entry_function"
    assert _script("print(int(input()) * 2)\n").reason is None


def test_a_script_test_over_the_stdin_or_stdout_cap_is_dropped_and_counted() -> None:
    limits = FilterConfig(max_stdin_bytes=8, max_stdout_bytes=8)
    long_in, short = "1 " * 10, "1\n"
    outcome = _script("print(input())\n", stdins=(short, long_in, short), limits=limits)
    assert outcome.reason is None
    assert [json.loads(i["input_json"])["stdin"] for i in outcome.inputs] == [short]
    assert (outcome.dropped["input_too_large"], outcome.dropped["input_duplicate"]) == (1, 1)
    assert _script("print(input())\n", limits=limits, expected="9" * 20).reason == "too_few_inputs"


def test_a_script_input_must_be_its_standard_input() -> None:
    code = "print(input())\n"
    bad = [{"input_json": json.dumps({"n": 1}), "expected_output_json": None}]
    outcome = check_program(code, parse_program(code), "<module>", bad, FilterConfig(), run_mode="stdin")
    assert outcome.reason == "signature_mismatch"
    # an answer program runs on no input at all
    none = [{"input_json": "{}", "expected_output_json": json.dumps("4")}]
    assert check_program("print(2 + 2)\n", parse_program("print(2 + 2)\n"), "<module>", none, FilterConfig(),
                         run_mode="answer").reason is None  # fmt: skip
