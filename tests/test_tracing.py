"""Untraced calls from the entry function (``tracing.Pauser``) leave snoop's output unchanged.

Each program is traced twice in this process, by snoop as the published method runs it
and with the entry function's calls made untraced, and the text, the steps and the
result must be identical; each test also checks that the trace shows what it should.
"""

from __future__ import annotations

from typing import Any

import pytest

from tracepile.udfs.tracing import PROGRAM_FILENAME, Recorder, compile_for_tracing, snooped


def _over_budget(why: str) -> None:
    raise AssertionError(why)


def _trace(code: str, kwargs: dict[str, Any], pausing: bool) -> tuple[str, str, list[dict[str, Any]]]:
    namespace: dict[str, Any] = {"__name__": "__sandbox__"}
    compiled = compile_for_tracing(code, "main") if pausing else compile(code, PROGRAM_FILENAME, "exec")
    exec(compiled, namespace)
    recorder = Recorder(10_000, 1 << 22, _over_budget)
    traced = snooped(namespace, "main", code, recorder)
    try:
        outcome = repr(traced(**kwargs))
    except Exception as exc:  # the program's own failure is part of what must not change
        outcome = f"raised {exc!r}"
    return outcome, recorder.text(), recorder.steps


PROGRAMS = {
    "helpers and a list comprehension": (
        "def double(x):\n    return 2 * x\n\n"
        "def main(n):\n    total = 0\n    for i in range(n):\n        total += double(i)\n"
        "    squares = [double(i) * i for i in range(n)]\n    return total, squares\n",
        {"n": 4},
        "List comprehension:",
    ),
    "direct recursion": (
        "def main(n):\n    if n <= 1:\n        return 1\n    return n * main(n - 1)\n",
        {"n": 4},
        ">>> Call to main",
    ),
    "recursion through a helper": (
        "def helper(n):\n    return main(n - 1) + 1\n\n"
        "def main(n):\n    if n == 0:\n        return 0\n    return helper(n)\n",
        {"n": 3},
        ">>> Call to main",
    ),
    "exception raised in a helper and caught": (
        "def parse(s):\n    return int(s)\n\n"
        "def main(items):\n    good = []\n    for s in items:\n"
        "        try:\n            good.append(parse(s))\n"
        "        except ValueError as exc:\n            good.append(str(exc)[:10])\n    return good\n",
        {"items": ["1", "x", "3"]},
        "!!! ValueError",
    ),
    "exception raised in a helper and not caught": (
        "def parse(s):\n    return int(s)\n\ndef main(s):\n    value = parse(s)\n    return value\n",
        {"s": "nope"},
        "!!! Call ended by exception",
    ),
    "frame-sensitive builtins and super": (
        "def main(n):\n    class Base:\n        def size(self):\n            return n\n"
        "    class Child(Base):\n        def size(self):\n            return super().size() + 1\n"
        "    names = sorted(locals())\n    return names, Child().size()\n",
        {"n": 2},
        "names = ['Base', 'Child', 'n']",
    ),
    "generators, lambdas and a cached inner function": (
        "import functools\n\ndef evens(n):\n    for i in range(n):\n"
        "        if i % 2 == 0:\n            yield i\n\n"
        "def main(n):\n    @functools.lru_cache(None)\n    def fib(k):\n"
        "        return k if k < 2 else fib(k - 1) + fib(k - 2)\n"
        "    picked = [v for v in evens(n)]\n    ordered = sorted(picked, key=lambda v: -v)\n"
        "    return ordered, fib(30)\n",
        {"n": 7},
        "ordered = [6, 4, 2, 0]",
    ),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_untraced_calls_leave_the_trace_unchanged(name: str) -> None:
    code, kwargs, expected_in_text = PROGRAMS[name]
    published = _trace(code, kwargs, pausing=False)
    ours = _trace(code, kwargs, pausing=True)
    assert ours == published
    assert expected_in_text in ours[1]


def test_calls_made_by_the_entry_function_run_untraced() -> None:
    """What pausing is for: the frames the entry function calls run without a trace
    function, here observed from inside the helper."""
    code = (
        "import sys\n\ndef probe():\n    return sys.gettrace() is None\n\ndef main():\n    return probe()\n"
    )
    assert _trace(code, {}, pausing=True)[0] == "True"
    assert _trace(code, {}, pausing=False)[0] == "False"
