"""The sandbox's normal work: results, traces, the trace budget, determinism, expected outputs."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from tracepile.analysis.pyast import function_definitions
from tracepile.analysis.values import values_equal
from tracepile.config import SandboxLimits
from tracepile.udfs.sandbox import Sandbox, SandboxStartError

LOOP = """def helper(x):
    return x * 2

def main_solution(n):
    s = 0
    for i in range(n):
        s += helper(i)
    return s
"""


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


def test_a_traced_run_gives_value_text_and_steps(sandbox: Sandbox) -> None:
    result = sandbox.execute(LOOP, "main_solution", json.dumps({"n": 3}), expected_json="6")
    assert (result.status, result.return_json) == ("ok", "6")
    assert result.trace_text.startswith(" >>> Call to main_solution")
    assert "    7 |         s += helper(i)" in result.trace_text
    assert "<<< Return value from main_solution: 6" in result.trace_text
    assert " at 0x" not in result.trace_text
    events = [(s["event"], s["line"]) for s in result.steps]
    assert events[0] == ("call", 4) and events[-1] == ("return", 8)
    assert {"event": "line", "function": "main_solution", "line": 7, "depth": 0}.items() <= result.steps[
        5
    ].items()
    assert [s["changed"] for s in result.steps if "s" in s["changed"]] == [{"s": "0"}, {"s": "2"}, {"s": "6"}]
    assert result.steps[-1]["value"] == "6"


def test_an_over_long_trace_is_stopped_at_the_budget(sandbox: Sandbox) -> None:
    result = sandbox.execute(
        LOOP, "main_solution", json.dumps({"n": 10_000}), limits=SandboxLimits(trace_lines=300)
    )
    assert result.status == "too_long" and "300 lines" in result.error
    assert result.wall_s < 1  # stopped when the budget ran out, not after 10,000 iterations of tracing


def test_set_order_dependence_is_caught_by_the_second_hash_seed(sandbox: Sandbox) -> None:
    code = "def main_solution(n):\n    return list({'apple', 'banana', 'cherry', 'date', 'elder', str(n)})\n"
    result = sandbox.execute(code, "main_solution", json.dumps({"n": 1}))
    assert result.status == "nondeterministic"


def test_the_second_seed_s_steps_are_compared_by_their_hash(sandbox: Sandbox) -> None:
    # the result does not depend on the seed; the set held on the way does
    code = "def main_solution(n):\n    seen = {'apple', 'banana', 'cherry', str(n)}\n    return len(seen)"
    moving = sandbox.execute(code, "main_solution", json.dumps({"n": 1}), compare_steps=True)
    assert moving.status == "ok" and moving.steps_seed_stable is False
    steady = sandbox.execute(LOOP, "main_solution", json.dumps({"n": 3}), compare_steps=True)
    assert steady.status == "ok" and steady.steps_seed_stable is True
    # without compare_steps the second run is untraced: whether the steps agree is not known
    assert sandbox.execute(LOOP, "main_solution", json.dumps({"n": 3})).steps_seed_stable is None
    assert steady.trace_text and steady.steps  # the first run's trace comes back whole
    digest_only = sandbox.run(
        LOOP, "main_solution", json.dumps({"n": 3}), trace=True, steps_digest=True, keep_trace=False
    )
    assert digest_only.trace_text is None and digest_only.steps is None
    assert digest_only.steps_digest == steady.steps_digest and len(steady.steps_digest) == 64
    assert sandbox.run(LOOP, "main_solution", json.dumps({"n": 3})).steps_digest is None  # untraced


def test_expected_outputs_compare_as_json_with_float_tolerance(sandbox: Sandbox) -> None:
    code = "def main_solution(n):\n    return {'sum': n + 0.1 + 0.2, 'items': (n, True)}\n"
    ok = sandbox.execute(code, "main_solution", json.dumps({"n": 1}), '{"items": [1, true], "sum": 1.3}')
    assert ok.status == "ok"
    wrong = sandbox.execute(code, "main_solution", json.dumps({"n": 1}), '{"items": [1, 1], "sum": 1.3}')
    assert wrong.status == "mismatch"


@pytest.mark.parametrize(
    ("actual", "expected", "equal"),
    [
        (1, 1.0000000001, True),
        (True, 1, False),
        (float("nan"), float("nan"), True),
        ([1, [2]], [1, [2.0]], True),
        ({"a": 1}, {"b": 1}, False),
        ("1", 1, False),
    ],
)
def test_values_equal(actual: object, expected: object, equal: bool) -> None:
    assert values_equal(actual, expected) is equal


def test_programs_sharing_an_entry_name_never_share_prepared_code(sandbox: Sandbox) -> None:
    """Zygotes keep compiled programs and snoop's view of their source for the next input:
    alternating two programs with one entry name must still run and show each its own."""
    doubling = "def main_solution(n):\n    doubled = n * 2\n    return doubled\n"
    squaring = "def main_solution(n):\n    squared = n * n\n    return squared\n"
    for n in (3, 4, 5):
        for code, value, line in ((doubling, 2 * n, "doubled = n * 2"), (squaring, n * n, "squared = n * n")):
            result = sandbox.execute(code, "main_solution", json.dumps({"n": n}))
            assert (result.status, result.return_json) == ("ok", str(value))
            assert line in result.trace_text and [s["source"] for s in result.steps if s["line"] == 2] == [
                line
            ]


def test_zygotes_are_single_threaded_so_forking_is_safe(sandbox: Sandbox) -> None:
    for zygote in sandbox._all:
        assert os.listdir(f"/proc/{zygote.process.pid}/task") == [str(zygote.process.pid)]


def test_a_worker_that_cannot_start_stops_the_sandbox_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tracepile.udfs.sandbox.sys.executable", "/bin/false")
    with pytest.raises(SandboxStartError, match="did not start"):
        Sandbox(workers=1)


def test_a_sandbox_outlives_the_thread_that_started_it() -> None:
    """Zygotes die with the thread that started them (PR_SET_PDEATHSIG), and a Spark task's
    thread may end while the sandbox is still shared by the next tasks."""
    started: list[Sandbox] = []
    starter = threading.Thread(target=lambda: started.append(Sandbox(workers=1)))
    starter.start()
    starter.join()
    time.sleep(0.3)  # a parent-death signal would have arrived by now
    try:
        result = started[0].execute(LOOP, "main_solution", json.dumps({"n": 3}), expected_json="6")
        assert (result.status, result.return_json) == ("ok", "6")
        assert all(zygote.process.poll() is None for zygote in started[0]._all)
    finally:
        started[0].close()


def test_a_dead_worker_is_replaced(sandbox: Sandbox) -> None:
    victim = sandbox._idle[sandbox.hash_seeds[0]].queue[0]  # simulating a crash
    victim.process.kill()
    victim.process.wait()
    assert sandbox.run(LOOP, "main_solution", '{"n": 2}').status == "error"
    assert sandbox.run(LOOP, "main_solution", '{"n": 2}').return_json == "2"


def test_no_run_outlives_a_killed_zygote() -> None:
    box = Sandbox(workers=1, hash_seeds=(1,))
    try:
        zygote = box._idle[1].queue[0].process  # the one zygote
        started = time.time()
        runner = threading.Thread(
            target=box.run, args=("import time\ndef f():\n    time.sleep(60)\n", "f", "{}")
        )
        runner.start()
        time.sleep(1)
        children = [p for p in os.listdir("/proc") if p.isdigit() and _parent_of(int(p)) == zygote.pid]
        assert children, "the run's child should be alive"
        zygote.kill()
        runner.join(timeout=10)
        time.sleep(0.5)
        assert all(not os.path.exists(f"/proc/{pid}") or _is_zombie(int(pid)) for pid in children)
        assert time.time() - started < 15
    finally:
        box.close()


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_programs_defining_dataclasses_run_their_module_is_registered(sandbox: Sandbox) -> None:
    code = (
        "from dataclasses import dataclass\n\n@dataclass\nclass Point:\n    x: int\n    y: int\n\n"
        "def main_solution(a, b):\n    point = Point(a, b)\n    return point.x * point.y\n"
    )
    result = sandbox.execute(code, "main_solution", json.dumps({"a": 3, "b": 4}), "12")
    assert result.status == "ok", result.error
    assert "point = Point(x=3, y=4)" in (result.trace_text or "")


# Scripts: run modes stdin (competition) and answer (math).
SOLUTION = """import sys
input = sys.stdin.readline

def main():
    n = int(input())
    values = list(map(int, input().split()))
    best = max(values)
    print(best * n)
    sys.exit(0)

if __name__ == "__main__":
    main()
"""


def test_a_script_reads_its_stdin_and_its_result_is_what_it_prints(sandbox: Sandbox) -> None:
    result = sandbox.execute(SOLUTION, "main", json.dumps({"stdin": "3\n4 9 2\n"}), json.dumps("27"),
                             mode="stdin")  # fmt: skip
    assert (result.status, json.loads(result.return_json), result.stdout) == ("ok", "27\n", "27\n")
    # the top-level code at depth 0, and main() one frame down, both traced
    frames = {(s["function"], s["depth"]) for s in result.steps}
    assert {("<module>", 0), ("main", 1)} <= frames
    assert {"best": "9"} in [s["changed"] for s in result.steps]
    assert not any(name.startswith("__") for s in result.steps for name in s["changed"])


def test_a_script_is_judged_token_wise_with_float_tolerance(sandbox: Sandbox) -> None:
    code = "a, b = map(float, open(0).read().split())\nprint('%.9f' % (a / b), '  ok')\n"
    given = json.dumps({"stdin": "1 3"})
    assert (
        sandbox.execute(code, "<module>", given, json.dumps("0.3333333 ok\n\n"), mode="stdin").status == "ok"
    )
    wrong = sandbox.execute(code, "<module>", given, json.dumps("0.3334 ok"), mode="stdin")
    assert (wrong.status, wrong.error) == ("mismatch", 'expected "0.3334 ok"')
    # reading past the end of its input is the script's own error
    eof = sandbox.execute(
        "print(input())\nprint(input())\n", "<module>", json.dumps({"stdin": "1\n"}), mode="stdin"
    )
    assert eof.status == "error" and eof.error.startswith("EOFError")


def test_a_math_program_prints_its_answer_and_allowed_packages_import(sandbox: Sandbox) -> None:
    code = (
        "from sympy import Rational\nimport numpy as np\nx = Rational(3, 4) + Rational(1, 4) * 2\nprint(x)\n"
    )
    result = sandbox.execute(code, "<module>", "{}", json.dumps("\\frac{5}{4}"), mode="answer")
    assert (result.status, json.loads(result.return_json)) == ("ok", "5/4\n")
    assert sandbox.execute(code, "<module>", "{}", json.dumps("1.3"), mode="answer").status == "mismatch"
    # not in trace.allowed_packages: the import fails, as it would where the package is absent
    pandas = sandbox.run("import pandas\nprint(1)\n", "<module>", "{}", mode="answer")
    assert pandas.status == "error" and "trace.allowed_packages" in pandas.error
    narrow = SandboxLimits(allowed_packages=[])
    assert sandbox.run("import sympy\nprint(1)\n", "<module>", "{}", narrow, mode="answer").status in (
        "ok",
        "error",
    )


def test_a_script_exit_code_other_than_zero_is_an_error(sandbox: Sandbox) -> None:
    result = sandbox.run(
        "import sys\nprint(1)\nsys.exit(2)\n", "<module>", json.dumps({"stdin": ""}), mode="stdin"
    )
    assert (result.status, result.error, result.stdout) == ("error", "SystemExit: 2", "1\n")


def test_trace_depth_defs_traces_as_deep_as_the_program_defines_functions(sandbox) -> None:
    """``trace.trace_depth = "defs"``: the published method's depth, one level per function
    the program defines, so a helper's lines are traced too (at depth 1 they are not)."""
    code = (
        "def double(x):\n    y = x * 2\n    return y\n\n\ndef main_solution(n):\n    return double(n) + 1\n"
    )
    assert function_definitions(code) == 2
    shallow = sandbox.execute(code, "main_solution", '{"n": 4}', "9", SandboxLimits(trace_depth=1))
    deep = sandbox.execute(code, "main_solution", '{"n": 4}', "9", SandboxLimits(trace_depth="defs"))
    assert shallow.status == deep.status == "ok"
    assert {s["function"] for s in shallow.steps} == {"main_solution"}
    assert {s["function"] for s in deep.steps} == {"main_solution", "double"}
    assert "y = x * 2" in deep.trace_text and "y = x * 2" not in shallow.trace_text
