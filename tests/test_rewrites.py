"""Meaning-preserving rewrites: each transform applies where it should, declines where it would
change meaning, and its output returns what the original returns, checked by running both in
the real sandbox; a deliberately broken variant is caught by the same check."""

from __future__ import annotations

import ast
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tracepile.analysis import pyast
from tracepile.analysis.rewrites import (
    TRANSFORMS,
    Transform,
    comprehension_to_loop,
    extract_helper,
    for_to_while,
    inline_helper,
    invert_if,
    loop_to_comprehension,
    recursion_to_iteration,
    rename_locals,
    reorder_statements,
    rewrites,
    while_to_for,
)
from tracepile.analysis.values import values_equal
from tracepile.udfs.sandbox import Sandbox
from tracepile.vocab import RewriteKind, Status

PYEDU = Path("/work/shared/data/pyedu_toy.jsonl")
ENTRY = "main_solution"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


def apply(transform: Transform, code: str, seed: int = 0) -> str | None:
    tree = transform(pyast.parse(code), ENTRY, seed)
    return None if tree is None else ast.unparse(ast.fix_missing_locations(tree))


def results(
    sandbox: Sandbox, code: str, inputs: list[dict[str, Any]], entry: str = ENTRY
) -> list[tuple[str, Any]]:
    runs = [sandbox.run(code, entry, json.dumps(i)) for i in inputs]
    return [(r.status, json.loads(r.return_json) if r.status == Status.OK else r.error) for r in runs]


def same(before: list[tuple[str, Any]], after: list[tuple[str, Any]]) -> bool:
    """The differential check: same status and, for finished runs, equal return values."""
    return all(
        b[0] == a[0] and (b[0] != Status.OK or values_equal(a[1], b[1]))
        for b, a in zip(before, after, strict=True)
    )


def agrees(
    sandbox: Sandbox, original: str, rewritten: str, inputs: list[dict[str, Any]], entry: str = ENTRY
) -> bool:
    return same(results(sandbox, original, inputs, entry), results(sandbox, rewritten, inputs, entry))


def assert_preserved(sandbox: Sandbox, original: str, rewritten: str, inputs: list[dict[str, Any]]) -> None:
    assert all(status == Status.OK for status, _ in results(sandbox, original, inputs)), (
        "the original must run"
    )
    assert agrees(sandbox, original, rewritten, inputs)


def node_types(code: str) -> Counter[str]:
    return Counter(type(n).__name__ for n in ast.walk(ast.parse(code)))


# ---- for_to_while / while_to_for ------------------------------------------------------------

FOR_LOOP = """def main_solution(n):
    total = 0
    for i in range(1, n + 1, 2):
        if i % 3 == 0:
            continue
        total += i * i
    else:
        total += 1
    return total
"""


def test_for_to_while_keeps_the_step_on_continue_and_the_else(sandbox: Sandbox) -> None:
    rewritten = apply(for_to_while, FOR_LOOP)
    assert rewritten is not None
    assert node_types(rewritten)["For"] == 0 and node_types(rewritten)["While"] == 1
    assert "i += 2\n            continue" in rewritten and "stop = n + 1" in rewritten
    assert_preserved(sandbox, FOR_LOOP, rewritten, [{"n": n} for n in (0, 1, 5, 10, 17)])


@pytest.mark.parametrize(
    "code",
    [
        # the loop variable is read after the loop: the while form would leave it one step on
        "def main_solution(n):\n    for i in range(n):\n        pass\n    return i\n",
        # the body assigns the loop variable
        "def main_solution(n):\n    t = 0\n    for i in range(n):\n"
        "        i = i * 2\n        t += i\n    return t\n",
        # not a range: a generator with an else
        "def main_solution(n):\n    for x in (k * k for k in range(n)):\n"
        "        if x > 10:\n            break\n"
        "    else:\n        return -1\n    return 0\n",
        # a continue inside try: its finally would see the stepped value
        "def main_solution(n):\n    t = 0\n    for i in range(n):\n        try:\n            continue\n"
        "        finally:\n            t += i\n    return t\n",
    ],
)
def test_for_to_while_declines_where_the_while_would_differ(code: str) -> None:
    assert apply(for_to_while, code) is None


WHILE_UP = """def main_solution(xs):
    total = 0
    k = 0
    while k <= len(xs) - 1:
        total += xs[k] * k
        k += 1
    return total
"""
WHILE_DOWN = """def main_solution(n):
    total = 0
    j = n
    while j > 0:
        total = total * 3 + j
        j -= 2
    return total
"""


def test_while_to_for_turns_counting_loops_into_ranges(sandbox: Sandbox) -> None:
    up, down = apply(while_to_for, WHILE_UP), apply(while_to_for, WHILE_DOWN)
    assert up is not None and "for k in range(len(xs) - 1 + 1):" in up
    assert down is not None and "for j in range(n, 0, -2):" in down
    assert_preserved(sandbox, WHILE_UP, up, [{"xs": xs} for xs in ([], [4], [3, 1, 2], list(range(9)))])
    assert_preserved(sandbox, WHILE_DOWN, down, [{"n": n} for n in (-1, 0, 1, 6, 9)])


def test_a_planted_off_by_one_while_to_for_is_caught(sandbox: Sandbox) -> None:
    """A naive transform that ignores the ``<=``: the differential check rejects it."""
    right = apply(while_to_for, WHILE_UP)
    assert right is not None
    broken = right.replace("range(len(xs) - 1 + 1)", "range(len(xs) - 1)")
    assert broken != right
    inputs = [{"xs": [3, 1, 2]}, {"xs": [5, 6]}]
    assert agrees(sandbox, WHILE_UP, right, inputs) and not agrees(sandbox, WHILE_UP, broken, inputs)


@pytest.mark.parametrize(
    "code",
    [
        # a continue of its own would skip the increment in the while but not in the for
        "def main_solution(n):\n    t = 0\n    i = 0\n    while i < n:\n        if i == 2:\n"
        "            i += 1\n            continue\n        t += i\n        i += 1\n    return t\n",
        # read after the loop: the for form would leave it one step short
        "def main_solution(n):\n    i = 0\n    while i < n:\n        i += 1\n    return i\n",
        # the bound grows in the loop
        "def main_solution(xs):\n    i = 0\n    while i < len(xs):\n        if xs[i] > 0 and len(xs) < 9:\n"
        "            xs.append(0)\n        i += 1\n    return xs\n",
        # a float start cannot become a range
        "def main_solution(n):\n    t = 0\n    x = 0.5\n    while x < n:\n"
        "        t += x\n        x += 1\n    return t\n",
    ],
)
def test_while_to_for_declines_where_the_for_would_differ(code: str) -> None:
    assert apply(while_to_for, code) is None


# ---- comprehension_to_loop / loop_to_comprehension -------------------------------------------

COMPREHENSIONS = """def main_solution(words):
    lengths = {w: len(w) for w in words if w}
    letters = [c.upper() for w2 in words for c in w2 if c != 'a']
    return [lengths, letters]
"""


def test_comprehension_to_loop_builds_the_same_collection(sandbox: Sandbox) -> None:
    rewritten = {apply(comprehension_to_loop, COMPREHENSIONS, seed) for seed in range(6)}
    assert None not in rewritten and len(rewritten) == 2  # both comprehensions, by seed
    inputs = [{"words": w} for w in ([], ["abc", "", "banana"], ["aa", "xyz", "xyz"])]
    for code in rewritten:
        assert code is not None and node_types(code)["For"] >= 1
        assert node_types(code)["ListComp"] + node_types(code)["DictComp"] == 1
        assert_preserved(sandbox, COMPREHENSIONS, code, inputs)


@pytest.mark.parametrize(
    "code",
    [
        # a call with side effects in the comprehension
        "def main_solution(xs):\n    ys = [xs.pop() for _ in range(2)]\n    return ys\n",
        # its variable is a name the function uses elsewhere: the loop would leak into it
        "def main_solution(xs):\n    x = 5\n    ys = [x * 2 for x in xs]\n    return ys + [x]\n",
        # it reads the name it is assigned to
        "def main_solution(xs):\n    xs = [v + len(xs) for v in xs]\n    return xs\n",
    ],
)
def test_comprehension_to_loop_declines_unsafe_comprehensions(code: str) -> None:
    assert apply(comprehension_to_loop, code) is None


APPEND_LOOP = """def main_solution(n):
    squares = []
    for i in range(n):
        if i % 2:
            for j in range(i):
                squares.append(i * j)
    return squares
"""


def test_loop_to_comprehension_folds_nested_loops_and_ifs(sandbox: Sandbox) -> None:
    rewritten = apply(loop_to_comprehension, APPEND_LOOP)
    assert rewritten is not None
    assert "squares = [i * j for i in range(n) if i % 2 for j in range(i)]" in rewritten
    assert_preserved(sandbox, APPEND_LOOP, rewritten, [{"n": n} for n in (0, 1, 4, 7)])


@pytest.mark.parametrize(
    "code",
    [
        # the loop variable is read after the loop: a comprehension would not bind it
        "def main_solution(n):\n    xs = []\n    for i in range(n):\n"
        "        xs.append(i)\n    return [xs, i]\n",
        # the loop reads the list it fills
        "def main_solution(n):\n    xs = []\n    for i in range(n):\n"
        "        xs.append(len(xs))\n    return xs\n",
        # more than an append in the body
        "def main_solution(n):\n    xs = []\n    for i in range(n):\n"
        "        xs.append(i)\n        n -= 1\n    return xs\n",
    ],
)
def test_loop_to_comprehension_declines_other_loops(code: str) -> None:
    assert apply(loop_to_comprehension, code) is None


# ---- invert_if -------------------------------------------------------------------------------

BRANCHES = """def main_solution(n, flag):
    if not flag:
        n = -n
    else:
        n = n * 2
    if n > 2:
        r = 'big'
    elif n > 0:
        r = 'small'
    else:
        r = 'none'
    return [n, r]
"""


def test_invert_if_negates_and_swaps(sandbox: Sandbox) -> None:
    rewritten = {apply(invert_if, BRANCHES, seed) for seed in range(8)}
    inverted = ("if flag:\n        n = n * 2", "if not n > 2:", "if not n > 0:")  # the if, the elif
    assert len(rewritten) == 3  # each of the three tests, by seed
    inputs = [{"n": n, "flag": f} for n in (-3, 0, 1, 2, 5) for f in (True, False)]
    for code in rewritten:
        assert code is not None and sum(fragment in code for fragment in inverted) == 1
        assert_preserved(sandbox, BRANCHES, code, inputs)


def test_a_planted_branch_swap_without_negation_is_caught(sandbox: Sandbox) -> None:
    """Swapping the branches but keeping the condition is the bug invert_if must not have."""
    tree = pyast.parse(BRANCHES)
    first_if = tree.body[0].body[0]  # type: ignore[attr-defined]
    first_if.body, first_if.orelse = first_if.orelse, first_if.body
    broken = ast.unparse(tree)
    assert not agrees(sandbox, BRANCHES, broken, [{"n": 3, "flag": True}, {"n": 1, "flag": False}])


# ---- extract_helper / inline_helper ----------------------------------------------------------

STRAIGHT = """def main_solution(a, b):
    s = a + b
    d = a - b
    p = s * d
    q = p + s
    return [q, d]
"""


def test_extract_helper_passes_inputs_and_returns_outputs(sandbox: Sandbox) -> None:
    codes = {apply(extract_helper, STRAIGHT, seed) for seed in range(8)}
    assert None not in codes and len(codes) >= 3
    inputs = [{"a": a, "b": b} for a, b in ((0, 0), (3, 1), (-2, 7), (1.5, 2))]
    for code in codes:
        assert code is not None
        tree = ast.parse(code)
        helper, entry = tree.body[0], tree.body[1]
        assert isinstance(helper, ast.FunctionDef) and isinstance(entry, ast.FunctionDef)
        assert entry.name == ENTRY and [a.arg for a in entry.args.args] == ["a", "b"]
        assert helper.name.startswith("compute_") and isinstance(helper.body[-1], ast.Return)
        assert_preserved(sandbox, STRAIGHT, code, inputs)


@pytest.mark.parametrize(
    "code",
    [
        # control leaves the block in the middle
        "def main_solution(xs):\n    for x in xs:\n        if x > 2:\n            return x\n    return -1\n",
        # a name it reads may be unbound before it: passing it would fail where the original did not
        "def main_solution(n):\n    if n > 0:\n        m = n\n    k = m if n > 0 else 0\n    return k + 1\n",
    ],
)
def test_extract_helper_declines_blocks_that_are_not_self_contained(code: str) -> None:
    assert apply(extract_helper, code) is None


HELPERS = """def square(x):
    return x * x

def main_solution(n):
    return square(n) + square(n + 1)
"""


def test_inline_helper_puts_the_argument_in(sandbox: Sandbox) -> None:
    rewritten = apply(inline_helper, HELPERS)
    assert rewritten is not None and "return n * n + square(n + 1)" in rewritten
    assert_preserved(sandbox, HELPERS, rewritten, [{"n": n} for n in (-2, 0, 3)])


@pytest.mark.parametrize(
    "code",
    [
        # an argument that is an expression (it would be evaluated twice)
        "def square(x):\n    return x * x\n\ndef main_solution(n):\n    return square(n + 1)\n",
        # the helper's free name is a local of the caller there
        "k = 3\n\ndef scale(x):\n    return x * k\n\n"
        "def main_solution(n):\n    k = 10\n    return scale(n) + k\n",
        # a comprehension in the helper rebinds the name put in
        "def f(x):\n    return [x * i for i in range(3)]\n\ndef main_solution(i):\n    return f(i)\n",
    ],
)
def test_inline_helper_declines_where_names_would_change_meaning(code: str) -> None:
    assert apply(inline_helper, code) is None


# ---- reorder_statements ----------------------------------------------------------------------

INDEPENDENT = """def main_solution(a, b):
    x = a * 2
    y = b + 1
    return x - y
"""


def test_reorder_swaps_independent_assignments(sandbox: Sandbox) -> None:
    rewritten = apply(reorder_statements, INDEPENDENT)
    assert rewritten is not None and rewritten.index("y = b + 1") < rewritten.index("x = a * 2")
    assert_preserved(
        sandbox, INDEPENDENT, rewritten, [{"a": a, "b": b} for a, b in ((0, 0), (2, 5), (-1, 3))]
    )


@pytest.mark.parametrize(
    "code",
    [
        # the second reads what the first writes
        "def main_solution(a):\n    x = a * 2\n    y = x + 1\n    return y\n",
        # calls with side effects, on a shared list
        "def main_solution(xs):\n    x = xs.pop()\n    y = xs.pop()\n    return x - y\n",
        # an item store may alias what the other reads
        "def main_solution(xs):\n    xs[0] = 5\n    y = xs[0]\n    return y\n",
    ],
)
def test_reorder_declines_dependent_statements(code: str) -> None:
    assert apply(reorder_statements, code) is None


# ---- recursion_to_iteration ------------------------------------------------------------------

TAIL = """def gcd(a, b):
    if b == 0:
        return a
    return gcd(b, a % b)

def main_solution(a, b, steps=0):
    if a <= 0:
        return [gcd(b, 7), steps]
    return main_solution(a - 3, b, steps + 1)
"""


def test_tail_recursion_becomes_a_loop(sandbox: Sandbox) -> None:
    entry = apply(recursion_to_iteration, TAIL)  # the entry function first: the trace shows it
    helper = apply(
        recursion_to_iteration, TAIL.replace("main_solution(a - 3, b, steps + 1)", "[a, b, steps]")
    )
    assert entry is not None and "a, steps = (a - 3, steps + 1)\n        continue" in entry
    assert helper is not None and "a, b = (b, a % b)\n        continue" in helper
    inputs = [{"a": a, "b": b} for a, b in ((0, 14), (5, 21), (12, 9))]
    assert_preserved(sandbox, TAIL, entry, inputs)
    assert_preserved(
        sandbox, TAIL.replace("main_solution(a - 3, b, steps + 1)", "[a, b, steps]"), helper, inputs
    )


@pytest.mark.parametrize(
    "code",
    [
        # the recursive call is not in tail position
        "def main_solution(n):\n    if n < 2:\n        return 1\n    return n * main_solution(n - 1)\n",
        # a tail call inside a loop: continue would mean the inner loop
        "def f(n):\n    for i in range(2):\n        if n > 0:\n            return f(n - 1)\n    return n\n\n"
        "def main_solution(n):\n    return f(n)\n",
        # a cache decorator
        "import functools\n\n@functools.lru_cache\ndef f(n):\n"
        "    if n == 0:\n        return 0\n    return f(n - 1)\n\n"
        "def main_solution(n):\n    return f(n)\n",
    ],
)
def test_recursion_to_iteration_declines_other_recursion(code: str) -> None:
    assert apply(recursion_to_iteration, code) is None


# ---- rename ----------------------------------------------------------------------------------

RENAMES = """def weighted(values, scale):
    acc = 0
    for v in values:
        acc += v * scale
    return acc

def main_solution(nums, k):
    total = weighted(values=nums, scale=k)
    best = max(nums) if nums else 0
    return total + best
"""


def test_rename_keeps_the_interface(sandbox: Sandbox) -> None:
    codes = {apply(rename_locals, RENAMES, seed) for seed in range(6)}
    assert None not in codes and len(codes) >= 2
    for code in codes:
        assert code is not None
        tree = ast.parse(code)
        helper, entry = tree.body
        assert isinstance(helper, ast.FunctionDef) and isinstance(entry, ast.FunctionDef)
        # the entry's parameters are the inputs' keywords; the helper's are called by keyword
        assert [a.arg for a in entry.args.args] == ["nums", "k"]
        assert [a.arg for a in helper.args.args] == ["values", "scale"]
        assert_preserved(
            sandbox, RENAMES, code, [{"nums": n, "k": k} for n, k in (([], 2), ([3, 1], 2), ([5], -1))]
        )
        # the entry function's own locals are renamed (the trace shows them); the helper is untouched
        assert "total =" not in code and "best =" not in code and "acc += v * scale" in code


# ---- rewrites() ------------------------------------------------------------------------------


def test_rewrites_are_deterministic_distinct_and_limited() -> None:
    code = FOR_LOOP + "\n\n" + RENAMES.replace("main_solution", "other")
    first, again = rewrites(code, ENTRY, seed=7, limit=20), rewrites(code, ENTRY, seed=7, limit=20)
    assert first == again and first
    kinds = [r.kind for r in first]
    applicable = {k for k in TRANSFORMS if TRANSFORMS[k](pyast.parse(code), ENTRY, 7) is not None}
    assert kinds[: len(applicable)] and set(kinds[: len(applicable)]) == applicable  # one of each first
    assert len({ast.dump(ast.parse(r.code)) for r in first} | {ast.dump(ast.parse(code))}) == len(first) + 1
    assert all("main_solution" in r.detail or "other" in r.detail or "weighted" in r.detail for r in first)
    assert len(rewrites(code, ENTRY, seed=7, limit=2)) == 2 and rewrites(code, ENTRY, 7, 0) == []
    assert rewrites("def main_solution(:\n", ENTRY, 0, 5) == []


def test_rewrites_of_a_program_with_nothing_to_change() -> None:
    assert rewrites("def main_solution(n):\n    return n\n", ENTRY, 0, 5) == []


# ---- the PyEdu sample ------------------------------------------------------------------------


@pytest.mark.slow
def test_pyedu_rewrites_pass_the_differential_check(sandbox: Sandbox) -> None:
    """The first 60 PyEdu problems: every rewrite is run on all of the problem's inputs
    against the original; at least four kinds must give passing rewrites."""
    rows = [json.loads(line) for line in PYEDU.read_text().splitlines()[:60]]
    made, passed, with_rewrites = Counter[str](), Counter[str](), 0
    for row in rows:
        inputs = [io["input"] for io in row["ios"]]
        found = rewrites(row["refcode"], row["funcname"], seed=0, limit=2)
        with_rewrites += bool(found)
        if not found:
            continue
        original = results(sandbox, row["refcode"], inputs, row["funcname"])
        for rewrite in found:
            made[rewrite.kind] += 1
            passed[rewrite.kind] += same(original, results(sandbox, rewrite.code, inputs, row["funcname"]))
    print(f"\npyedu[:60]: {with_rewrites} programs with a rewrite; per kind made/passed:")
    for kind in RewriteKind:
        print(f"  {kind}: {made[kind]}/{passed[kind]}")
    assert with_rewrites >= 50
    assert sum(1 for kind in RewriteKind if passed[kind]) >= 4
    assert sum(passed.values()) >= 0.95 * sum(made.values())
