"""Differential execution of rewrites in a real sandbox: a rewrite that changes any input's
result is dropped with that input; one that keeps them all becomes a program row."""

from __future__ import annotations

import json

import pytest

from tracepile.analysis.hashing import canonical_json
from tracepile.analysis.rewrites import Rewrite
from tracepile.config import TracepileConfig
from tracepile.udfs import check_rewrites
from tracepile.udfs.sandbox import Sandbox
from tracepile.vocab import RewriteKind

PROGRAM = (
    "def main_solution(n):\n    total = 0\n    for i in range(n):\n        total += i * i\n    return total\n"
)
# planted: right on n <= 1, wrong from n = 2 on (a square is not a double)
WRONG = (
    "def main_solution(n):\n    total = 0\n    for i in range(n):\n        total += i * 2\n    return total\n"
)
CRASHES = "def main_solution(n):\n    assert n != 3\n    return sum(i * i for i in range(n))\n"


def _program(inputs: list[int]) -> dict:
    return {
        "program_id": "p" * 32, "source_kind": "codeio", "source": "test", "domain": "general",
        "category": "", "problem": "", "io_requirements": "", "code": PROGRAM, "entry_point": "main_solution",
        "run_mode": "call",
        "inputs": [{"input_json": canonical_json({"n": n}), "expected_output_json": None} for n in inputs],
        "meta_json": None, "source_file": "f", "source_line": 1, "input_too_large": 0, "input_duplicate": 0,
        "input_over_limit": 0, "exact_key": "k" * 32, "rewrite_of": None, "rewrite_kind": None,
    }  # fmt: skip


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


def test_a_wrong_rewrite_is_dropped_with_the_first_differing_input(sandbox, monkeypatch) -> None:
    planted = [
        Rewrite(RewriteKind.FOR_TO_WHILE, WRONG, "main_solution"),
        Rewrite(RewriteKind.INLINE_HELPER, CRASHES, "main_solution"),
        Rewrite(RewriteKind.RENAME, "def main_solution(n):\n    acc = 0\n    for k in range(n):\n"
                "        acc += k * k\n    return acc\n", "main_solution"),
        Rewrite(RewriteKind.EXTRACT_HELPER, "def helper(:\n", ""),
    ]  # fmt: skip
    monkeypatch.setattr(check_rewrites, "rewrites", lambda *_: planted)
    rows = check_rewrites.check_program(_program([0, 1, 3, 4]), sandbox, TracepileConfig())
    by_kind = {row["rewrite_kind"]: row for row in rows}
    wrong = by_kind["for_to_while"]
    assert wrong["outcome"] == "output_differs" and wrong["detail"].startswith('input 2 {"n":3}')
    assert "the original gave ok 5, the rewrite ok 6" in wrong["detail"]
    crash = by_kind["inline_helper"]
    assert crash["outcome"] == "status_differs" and crash["detail"].startswith('input 2 {"n":3}')
    assert by_kind["extract_helper"]["outcome"] == "not_valid"
    kept = by_kind["rename"]
    assert (
        kept["outcome"] == "kept"
        and kept["rewrite_of"] == "p" * 32
        and kept["program_id"] == kept["rewrite_id"]
    )
    # a consistent renaming has its original's normalised form: the same exact key as the original would
    assert len(kept["exact_key"]) == 32 and kept["inputs"] == _program([0, 1, 3, 4])["inputs"]


def test_the_differing_input_is_found_even_when_it_is_the_last(sandbox, monkeypatch) -> None:
    monkeypatch.setattr(check_rewrites, "rewrites", lambda *_: [Rewrite(RewriteKind.FOR_TO_WHILE, WRONG, "")])
    (row,) = check_rewrites.check_program(_program([0, 1, 2]), sandbox, TracepileConfig())
    assert row["outcome"] == "output_differs" and row["detail"].startswith('input 2 {"n":2}')
    # on inputs 0 and 1 alone the planted rewrite cannot be told apart: a program with few
    # inputs is also checked on neighbours of them (n = 2 here), which can
    (few,) = check_rewrites.check_program(_program([0, 1]), sandbox, TracepileConfig())
    assert few["outcome"] == "output_differs" and few["detail"].startswith('input 3 {"n":2}')


def test_neighbour_inputs_move_one_argument_at_a_time_and_repeat_nothing() -> None:
    inputs = [
        {"input_json": canonical_json({"n": 3, "xs": [1, 2], "flag": True}), "expected_output_json": "5"}
    ]
    extra = check_rewrites.neighbour_inputs(inputs, 6)
    assert [json.loads(i["input_json"]) for i in extra] == [
        {"n": 3, "xs": [1, 2], "flag": False},
        {"n": 4, "xs": [1, 2], "flag": True},
        {"n": 2, "xs": [1, 2], "flag": True},
        {"n": 3, "xs": [1], "flag": True},
        {"n": 3, "xs": [2, 2], "flag": True},
    ]
    assert all(i["expected_output_json"] is None for i in extra)
    six = [{"input_json": canonical_json({"n": n}), "expected_output_json": None} for n in range(6)]
    assert check_rewrites.neighbour_inputs(six, 6) == []  # enough inputs already


# ends for n >= 1; from n = 0 it counts down for ever (a neighbour of the input n = 1)
COUNTDOWN = (
    "def main_solution(n):\n    steps = 0\n    while n != 1:\n        n -= 1\n        steps += 1\n"
    "    return steps\n"
)
COUNTDOWN_RENAMED = COUNTDOWN.replace("steps", "moves")


class _Recording:
    """The real sandbox, with each run's input, CPU limit and status written down."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox, self.runs = sandbox, []
        self.hash_seeds, self.workers = sandbox.hash_seeds, sandbox.workers

    def run(self, code, entry, input_json, limits, **kwargs):
        result = self.sandbox.run(code, entry, input_json, limits, **kwargs)
        self.runs.append((code, json.loads(input_json)["n"], limits.cpu_seconds, result.status))
        return result


def test_only_inputs_the_original_finishes_are_compared_and_neighbours_run_on_a_short_limit(
    sandbox, monkeypatch
) -> None:
    monkeypatch.setattr(
        check_rewrites,
        "rewrites",
        lambda *_: [Rewrite(RewriteKind.RENAME, COUNTDOWN_RENAMED, "main_solution")],
    )
    config = TracepileConfig.model_validate(
        {"trace": {"cpu_seconds": 3.0}, "rewrites": {"neighbour_cpu_seconds": 0.2}}
    )
    recording = _Recording(sandbox)
    program = {**_program([1, 3]), "code": COUNTDOWN}
    (row,) = check_rewrites.check_program(program, recording, config)
    assert row["outcome"] == "kept" and [json.loads(i["input_json"])["n"] for i in row["inputs"]] == [1, 3]
    originals = [(n, limit, status) for code, n, limit, status in recording.runs if code == COUNTDOWN]
    # its own inputs under the trace limit; neighbours (2, 0, 4) under the short one, where
    # n = 0 runs out of CPU and is left out of the comparison
    assert originals == [(1, 3.0, "ok"), (3, 3.0, "ok"), (2, 0.2, "ok"), (0, 0.2, "timeout"), (4, 0.2, "ok")]
    rewritten = [(n, limit) for code, n, limit, _ in recording.runs if code == COUNTDOWN_RENAMED]
    assert rewritten == [(1, 3.0), (3, 3.0), (2, 0.2), (4, 0.2)]
