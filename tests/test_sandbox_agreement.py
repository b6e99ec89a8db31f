"""A sandboxed run gives what plain Python gives: the same interpreter, the same program and
input, run both ways, must agree on every ``ok`` value (issue: wrong answers reached gold
where the sandbox could not read the standard library, leaked its own future flags, or
traced the wrapper of a cached function).

Plain Python is ``tests/plain_python.py``; the programs are real public ones (the shared
PyEdu sample) plus cases written to hit each known divergence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.plain_python import run_plainly_twice
from tracepile.analysis.values import decode, encode
from tracepile.udfs.sandbox import Sandbox
from tracepile.vocab import Status

# Each hits one way a sandboxed run differed from plain Python, or a value JSON bends.
DIVERGENCES: list[tuple[str, str, Any]] = [
    (
        "def f(s):\n    try:\n        return s.encode('shift_jis').hex()\n    except LookupError:\n"
        "        return 'no codec'\n",
        "f",
        {"s": "日本"},
    ),
    (
        "def f(s):\n    return [s.encode(c) for c in ('cp1252', 'euc_jp', 'latin_1', 'utf_16')]\n",
        "f",
        {"s": "é"},
    ),
    (
        "import datetime\ndef f(s):\n    return datetime.datetime.strptime(s, '%d/%m/%Y').isoformat()\n",
        "f",
        {"s": "03/02/2024"},
    ),
    (
        "import time\ndef f(s):\n    return tuple(time.strptime(s, '%Y-%m-%d'))[:3]\n",
        "f",
        {"s": "2023-12-31"},
    ),
    (
        "def outer(n):\n    def inner(x: Undefined) -> int:\n        return x\n    return inner(n)\n",
        "outer",
        {"n": 3},
    ),
    (
        "import functools\n@functools.lru_cache(maxsize=None)\ndef fib(n):\n"
        "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
        "fib",
        {"n": 30},
    ),
    ("from functools import cache\n@cache\ndef c(n):\n    return n * 2\n", "c", {"n": 21}),
    (
        "from functools import wraps\ndef twice(f):\n    @wraps(f)\n    def inner(*a, **k):\n"
        "        return 2 * f(*a, **k)\n    return inner\n@twice\ndef g(x):\n    return x + 1\n",
        "g",
        {"x": 4},
    ),
    (
        "def f(pairs):\n    return {k: v for k, v in pairs}\n",
        "f",
        {"pairs": [(1, "a"), ("1", "b"), ((2, 3), None)]},
    ),
    ("def f(d):\n    return list(d)\n", "f", {"d": {"b": 1, "a": 2, 3: 4}}),
    ("def f(s):\n    return (s, frozenset(s), set(s), s.encode())\n", "f", {"s": "ab"}),
    (
        "def f(x):\n    return [x / 0.0 if x else float('nan'), float('inf'), 10 ** 30, 1 + 2j]\n",
        "f",
        {"x": 0},
    ),
    (
        "import statistics\ndef f(xs):\n    return statistics.mean(xs), statistics.median(xs)\n",
        "f",
        {"xs": (3, 1, 2)},
    ),
    ("import unicodedata\ndef f(s):\n    return [unicodedata.name(c) for c in s]\n", "f", {"s": "é1"}),
    ("import locale\ndef f(x):\n    return locale.str(x)\n", "f", {"x": 1.5}),
]


def _pyedu_jobs(path: Path, limit: int) -> list[dict[str, Any]]:
    jobs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("ios"):
            jobs.append(
                {
                    "code": record["refcode"],
                    "entry": record["funcname"],
                    "input_json": json.dumps(record["ios"][0]["input"]),
                }
            )
        if len(jobs) == limit:
            break
    return jobs


def _compare(sandbox: Sandbox, jobs: list[dict[str, Any]], workdir: Path) -> tuple[int, list[str]]:
    """Agreeing ok runs and every disagreement (a sandboxed ``ok`` whose value plain Python
    does not give, or an error in the sandbox where plain Python returns)."""
    agreeing, disagreements = 0, []
    for job, outside in zip(jobs, run_plainly_twice(jobs, workdir), strict=True):
        if outside is None:
            continue  # not a function of its input (an unseeded random draw): nothing to agree on
        inside = sandbox.execute(job["code"], job["entry"], job["input_json"])
        if inside.status in (Status.TIMEOUT, Status.MEMORY, Status.TOO_LONG, Status.NONDETERMINISTIC):
            continue  # limits the plain run does not have, or a program that is not a function of its input
        if inside.status == Status.ERROR and (inside.error or "").startswith("ImportError: sandbox:"):
            continue  # a package outside trace.allowed_packages: turned away by policy, not a wrong value
        both_ok = inside.status == Status.OK and outside["status"] == "ok"
        if both_ok and inside.return_json == outside["return_json"]:
            agreeing += 1
            continue
        if inside.status != Status.OK and outside["status"] != "ok":
            continue  # both fail
        disagreements.append(
            f"{job['entry']}({job['input_json'][:60]}): sandbox {inside.status} "
            f"{inside.return_json or inside.error}"[:300]
            + f" | plain {outside.get('return_json') or outside.get('error')}"[:200]
        )
    return agreeing, disagreements


@pytest.fixture(scope="module")
def sandbox() -> Any:
    with Sandbox(workers=2) as box:
        yield box


def test_known_divergences_agree_with_plain_python(sandbox: Sandbox, tmp_path: Path) -> None:
    jobs = [
        {"code": code, "entry": entry, "input_json": encode(kwargs)} for code, entry, kwargs in DIVERGENCES
    ]
    agreeing, disagreements = _compare(sandbox, jobs, tmp_path)
    assert disagreements == []
    # every case but the annotation one (an error both ways) returns, and agrees
    assert agreeing == len(DIVERGENCES) - 1
    shift_jis = sandbox.execute(jobs[0]["code"], "f", jobs[0]["input_json"])
    assert decode(shift_jis.return_json or "null") == "日本".encode("shift_jis").hex()
    typed = sandbox.execute(jobs[10]["code"], "f", jobs[10]["input_json"])
    assert decode(typed.return_json or "null") == ("ab", frozenset("ab"), {"a", "b"}, b"ab")


@pytest.mark.slow
def test_three_hundred_public_programs_agree_with_plain_python(
    sandbox: Sandbox, pyedu_toy: Path, tmp_path: Path
) -> None:
    jobs = _pyedu_jobs(pyedu_toy, 300)
    agreeing, disagreements = _compare(sandbox, jobs, tmp_path)
    assert disagreements == []
    assert agreeing >= 230, agreeing  # most of the sample returns normally both ways (241 seen)
