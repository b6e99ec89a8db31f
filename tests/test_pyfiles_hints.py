"""The ``pyfiles`` source's inputs beyond plain doctests: the call with no arguments, inputs drawn
from type hints of every kind the typed encoding holds, and doctests that compare a call with a
literal. Modules are written here as users write them; the programs run in the real sandbox,
where each value must arrive with the type it was drawn as, and each shown output must hold.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from tracepile.analysis.values import decode, values_equal
from tracepile.config import PyfilesConfig
from tracepile.sources.pyfiles import parse_pyfile
from tracepile.sources.pyfiles_hints import MAX_ITEMS
from tracepile.sources.records import Rejection
from tracepile.udfs.sandbox import Sandbox
from tracepile.vocab import IngestReason, Status

SETTINGS = PyfilesConfig()


def parse(source: str, settings: PyfilesConfig = SETTINGS) -> dict[str, dict[str, Any] | Rejection]:
    rows = parse_pyfile("module.py", textwrap.dedent(source), settings)
    found: dict[str, dict[str, Any] | Rejection] = {}
    for row in rows:
        name = row["entry_point"] if isinstance(row, dict) else row.detail.split(" ")[0]
        found[name] = row
    return found


def program(source: str, name: str, settings: PyfilesConfig = SETTINGS) -> dict[str, Any]:
    row = parse(source, settings)[name]
    assert isinstance(row, dict), row
    return row


def inputs(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [decode(item["input_json"]) for item in row["inputs"]]


def examples(row: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    return [
        (
            decode(item["input_json"]),
            None if item["expected_output_json"] is None else decode(item["expected_output_json"]),
        )
        for item in row["inputs"]
    ]


def origin(row: dict[str, Any]) -> str:
    return json.loads(row["meta_json"])["input_origin"]


@pytest.fixture(scope="module")
def sandbox() -> Any:
    with Sandbox(workers=1) as box:
        yield box


def run_all(sandbox: Sandbox, row: dict[str, Any]) -> list[Any]:
    """Every input of the program run in the sandbox: ok, and its shown output held where it has one."""
    values = []
    for item in row["inputs"]:
        result = sandbox.run(row["code"], row["entry_point"], item["input_json"])
        assert result.status == Status.OK, (row["entry_point"], item, result.error)
        assert result.return_json is not None
        value = decode(result.return_json)
        if item["expected_output_json"] is not None:
            assert values_equal(value, decode(item["expected_output_json"])), (item, value)
        values.append(value)
    return values


NO_ARGUMENTS = '''
    LIMIT = 10


    def solution() -> int:
        """The sum of the multiples of 3 or 5 below LIMIT.

        >>> solution()
        23
        """
        return sum(n for n in range(LIMIT) if n % 3 == 0 or n % 5 == 0)


    def main():
        print("hello")


    def below(n: int = 1000) -> int:
        """
        >>> below(10)
        23
        >>> below(16)
        60
        """
        return sum(k for k in range(n) if k % 3 == 0 or k % 5 == 0)


    def table(rows=3, sep=","):
        return sep.join(str(row) for row in range(rows))


    def either(a=None, b=None):
        return a or b
'''


def test_functions_that_take_no_arguments_are_called_with_none(sandbox: Sandbox) -> None:
    found = parse(NO_ARGUMENTS)
    # `solution()`'s doctest gives its output; main() has none to give: its output is the run's
    solution, main = program(NO_ARGUMENTS, "solution"), program(NO_ARGUMENTS, "main")
    assert examples(solution) == [({}, 23)] and origin(solution) == "doctest"
    assert examples(main) == [({}, None)] and origin(main) == "no_arguments"
    # every parameter has a default: the doctests give inputs, and the call as written joins them
    below = program(NO_ARGUMENTS, "below")
    assert examples(below) == [({"n": 10}, 23), ({"n": 16}, 60), ({}, None)]
    # defaults without hints: drawn as the defaults' types (some inputs leave them as they are),
    # then the bare call; `None` says nothing of a type, so `either` is only called bare
    table = program(NO_ARGUMENTS, "table")
    drawn = inputs(table)
    assert {} in drawn and len(drawn) >= SETTINGS.generated_inputs
    assert all(isinstance(kwargs.get("rows", 3), int) for kwargs in drawn)
    assert all(isinstance(kwargs.get("sep", ","), str) for kwargs in drawn)
    assert origin(table) == "generated"
    assert examples(program(NO_ARGUMENTS, "either")) == [({}, None)]
    assert set(found) == {"solution", "main", "below", "table", "either"}
    assert run_all(sandbox, solution) == [23]
    assert run_all(sandbox, main) == [None]
    assert run_all(sandbox, below)[-1] == 233168  # below(1000), the default


KINDS = """
    from typing import Iterable, Optional, Sequence

    TPos = tuple[int, int]


    def kinds(
        pair: tuple[int, str],
        many: tuple[float, ...],
        tags: set[str],
        frozen: frozenset[int],
        names: dict[int, str],
        blob: bytes,
        grid: list[list[int]],
        maybe: Optional[int],
        either: int | None,
        seq: Sequence[int],
        words: Iterable[str],
        where: TPos,
        keyed: dict[tuple[int, int], bool],
    ) -> list[str]:
        values = (pair, many, tags, frozen, names, blob, grid, seq, where, keyed)
        return [type(value).__name__ for value in values]
"""


def test_inputs_are_drawn_for_each_kind_of_hint_and_arrive_with_their_types(sandbox: Sandbox) -> None:
    row = program(KINDS, "kinds")
    drawn = inputs(row)
    assert len(drawn) == SETTINGS.generated_inputs and origin(row) == "generated"
    for kwargs in drawn:
        assert isinstance(kwargs["pair"], tuple) and [type(v) for v in kwargs["pair"]] == [int, str]
        assert isinstance(kwargs["many"], tuple) and all(type(v) is float for v in kwargs["many"])
        assert isinstance(kwargs["tags"], set) and isinstance(kwargs["frozen"], frozenset)
        assert all(type(key) is int for key in kwargs["names"])
        assert isinstance(kwargs["blob"], bytes)
        assert all(isinstance(inner, list) for inner in kwargs["grid"])
        assert kwargs["maybe"] is None or type(kwargs["maybe"]) is int
        assert isinstance(kwargs["seq"], list) and isinstance(kwargs["words"], list)
        assert isinstance(kwargs["where"], tuple) and len(kwargs["where"]) == 2
        assert all(isinstance(key, tuple) for key in kwargs["keyed"])
    # the sandbox gets the values as drawn (typed JSON), not as JSON bends them
    names = ["tuple", "tuple", "set", "frozenset", "dict", "bytes", "list", "list", "tuple", "dict"]
    assert run_all(sandbox, row) == [names] * len(drawn)


GRAPHS = """
    def reachable(graph: dict[int, list[int]], start: int) -> list[int]:
        seen, stack = [], [start]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.append(node)
                stack.extend(graph.get(node, []))
        return seen


    def ordered(counts: dict[str, int]) -> list[str]:
        return list(counts)
"""


@pytest.mark.slow
def test_adjacency_dicts_point_at_their_own_keys_and_dict_order_is_kept() -> None:
    settings = PyfilesConfig(generated_inputs=20)
    graphs = [kwargs["graph"] for kwargs in inputs(program(GRAPHS, "reachable", settings))]
    assert any(graph for graph in graphs) and all(len(graph) <= MAX_ITEMS for graph in graphs)
    for graph in graphs:
        assert all(set(targets) <= set(graph) for targets in graph.values()), graph
    # a dict's order is the order it was drawn in, not sorted (JSON with sorted keys lost it)
    ordered = program(GRAPHS, "ordered", PyfilesConfig(generated_inputs=60))  # early draws are tiny
    counts = [kwargs["counts"] for kwargs in inputs(ordered)]
    assert any(list(table) != sorted(table) for table in counts)
    for item in ordered["inputs"]:
        assert list(json.loads(item["input_json"])["counts"]) == list(decode(item["input_json"])["counts"])


REJECTED = """
    class Node:
        pass


    def depth(node: Node | None) -> int:
        return 0


    def degree(graph: dict, node: int) -> int:
        return len(graph[node])


    def first(items: list) -> int:
        return items[0]
"""


def test_hints_that_give_no_inputs_say_what_to_write() -> None:
    found = parse(REJECTED)
    depth, degree, first = found["depth"], found["degree"], found["first"]
    assert isinstance(depth, Rejection) and isinstance(degree, Rejection) and isinstance(first, Rejection)
    # `Node | None` could only ever be None: too little to draw
    assert depth.reason == IngestReason.UNSUPPORTED_PARAMETER and "Node | None" in depth.detail
    assert degree.reason == IngestReason.UNSUPPORTED_PARAMETER
    assert "a bare dict says nothing of its items: write e.g. dict[str, int]" in degree.detail
    assert "a bare list says nothing of its items: write e.g. list[int]" in first.detail


COMPARED = '''
    def halves(n: int) -> list[int]:
        """
        >>> halves(8) == [8, 4, 2, 1]
        True
        >>> [6, 3, 1] == halves(6)
        True
        >>> expect = [5, 2, 1]
        >>> halves(5) == expect
        True
        >>> halves(4) == [4]
        False
        >>> halves(2) == halves(2)
        True
        >>> halves(3) == [3] + [1]
        True
        """
        out = []
        while n:
            out.append(n)
            n //= 2
        return out


    def nothing(n: int) -> None:
        """
        >>> nothing(1) is None
        True
        >>> nothing(2) is 1
        True
        """
'''


def test_a_doctest_comparing_a_call_with_a_literal_gives_the_literal_as_output(sandbox: Sandbox) -> None:
    halves, nothing = program(COMPARED, "halves"), program(COMPARED, "nothing")
    # shown False says what it is not; a call on both sides, or an expression, is no literal
    # output: those calls give their inputs, with no output
    assert examples(halves) == [
        ({"n": 8}, [8, 4, 2, 1]), ({"n": 6}, [6, 3, 1]), ({"n": 5}, [5, 2, 1]),
        ({"n": 4}, None), ({"n": 2}, None), ({"n": 3}, None),
    ]  # fmt: skip
    assert [item["expected_output_json"] for item in halves["inputs"]][3:] == [None] * 3
    assert json.loads(halves["meta_json"])["skipped_examples"] == {
        "not_a_plain_call": 2,
        "output_not_literal": 1,
    }
    # `is None` shown True: the output is None; `is 1` is no identity with a literal to rely on
    assert [(decode(item["input_json"]), item["expected_output_json"]) for item in nothing["inputs"]] == [
        ({"n": 1}, "null"), ({"n": 2}, None),
    ]  # fmt: skip
    assert run_all(sandbox, halves) == [[8, 4, 2, 1], [6, 3, 1], [5, 2, 1], [4, 2, 1], [2, 1], [3, 1]]
    assert run_all(sandbox, nothing) == [None, None]
    for row in (halves, nothing):
        assert ">>>" not in row["code"] and "[8, 4, 2, 1]" not in row["code"] + row["problem"]


STDIN = r'''
    def read_count() -> int:
        r"""
        >>> import io, sys
        >>> sys.stdin = io.StringIO("3\n")
        >>> read_count()
        3
        """
        return int(input())
'''


def test_a_doctest_that_patches_an_imported_module_gives_no_expected_output() -> None:
    """The doctest's output holds only with its stdin: the call as a program has no stdin."""
    row = program(STDIN, "read_count")
    assert examples(row) == [({}, None)]
    assert json.loads(row["meta_json"])["skipped_examples"] == {"after_state_change": 1}


MODULE_VALUES = '''
    GRAPH = {"A": ["B", "C"], "B": ["C"], "C": []}
    ORDER = ["A", "B", "C"]
    SMALL = {"B": []}
    SEEN = []
    SEEN.append("A")


    def visit(graph: dict, start: str) -> list[str]:
        """
        >>> visit(GRAPH, "A") == ORDER
        True
        >>> "".join(visit(SMALL, "B"))
        'B'
        >>> visit(SEEN, "A")
        ['A']
        >>> GRAPH["C"] = ["A"]
        >>> visit(GRAPH, "C")
        ['C', 'A', 'B']
        """
        order, stack = [], [start]
        while stack:
            node = stack.pop(0)
            if node not in order:
                order.append(node)
                stack.extend(graph[node])
        return order
'''


def test_a_doctest_may_pass_the_module_s_literal_constants(sandbox: Sandbox) -> None:
    """A doctest runs in its module's namespace: a name the module binds once to a literal, and
    changes nowhere at module level, stands for its value. One the module changes (SEEN) does
    not; a line that changes one (GRAPH["C"] = ...) changes what the calls after it see."""
    row = program(MODULE_VALUES, "visit")
    graph = {"A": ["B", "C"], "B": ["C"], "C": []}
    # `"".join(visit(SMALL, "B"))` shows another expression's output: its input, no output (GRAPH
    # could not stand in a second call: the first may have changed it)
    assert examples(row) == [
        ({"graph": graph, "start": "A"}, ["A", "B", "C"]),
        ({"graph": {"B": []}, "start": "B"}, None),
    ]
    assert json.loads(row["meta_json"])["skipped_examples"] == {
        "not_a_plain_call": 1, "argument_not_literal": 1, "after_state_change": 1,
    }  # fmt: skip
    assert run_all(sandbox, row) == [["A", "B", "C"], ["B"]]
