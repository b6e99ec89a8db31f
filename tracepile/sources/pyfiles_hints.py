"""Inputs drawn from a function's type hints, for the ``pyfiles`` source kind.

An annotation is read from its AST, never evaluated: ``int``, ``float``, ``str``, ``bool``,
``bytes``, ``None``, ``Literal[...]``, the containers whose values the typed encoding holds
(``list[...]`` and the ``Sequence``/``Iterable`` kin it satisfies, ``tuple[...]``, ``set[...]``,
``frozenset[...]``, ``dict[K, V]`` with any hashable ``K``), unions (``Optional[X]``, ``X | None``;
where only some members can be drawn, those are), ``Annotated[X, ...]``, forward references in
strings, and the module's own type aliases (``TPos = tuple[int, int]``). ``dict[K, list[K]]`` is
drawn as a graph: its lists hold keys of the same dict, as an adjacency list does. A parameter
without a hint whose default is a literal (``limit=100``, ``sep=","``) is drawn as the default's
type, and left at its default in some inputs.

Draws are seeded and small (CodeI/O-like sizes); the inputs are typed JSON (``values.encode``), so
tuples, sets, bytes and dict order reach the program as drawn.
"""

from __future__ import annotations

import ast
import string
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest.mock import patch

import hypothesis
from hypothesis import strategies as st
from hypothesis.internal.conjecture.providers import HypothesisProvider

from tracepile.analysis.values import NotALiteral, encode, parse_literal

# Generated inputs stay within CodeI/O-like sizes.
MAX_INT = 100
MAX_ITEMS = 8
MAX_CHARS = 20
_ALPHABET = string.ascii_letters + string.digits + " .,-_"
_DRAWS_PER_INPUT = 10  # examples Hypothesis runs per wanted input, so repeats still leave enough
_ALIAS_DEPTH = 8  # aliases of aliases followed at most this deep (and never in a cycle)


@dataclass(frozen=True)
class _Drawn:
    """A strategy for an annotation's values, and whether they can be set members and dict keys."""

    strategy: st.SearchStrategy[Any]
    hashable: bool
    only_none: bool = False


def _scalar(strategy: st.SearchStrategy[Any]) -> _Drawn:
    return _Drawn(strategy, hashable=True)


_INTS = st.integers(-MAX_INT, MAX_INT)
_FLOATS = st.integers(-100 * MAX_INT, 100 * MAX_INT).map(lambda hundredths: hundredths / 100)
# not st.text: that loads Hypothesis's Unicode tables, cached in ``.hypothesis/`` of the working dir
_STRS = st.lists(st.sampled_from(_ALPHABET), max_size=MAX_CHARS).map("".join)
_BYTES = st.binary(max_size=MAX_CHARS)
_NONE = _Drawn(st.none(), hashable=True, only_none=True)

_SCALARS: dict[str, _Drawn] = {
    "int": _scalar(_INTS),
    "float": _scalar(_FLOATS),
    "str": _scalar(_STRS),
    "bool": _scalar(st.booleans()),
    "bytes": _scalar(_BYTES),
    "None": _NONE,
    "NoneType": _NONE,
}
# A list satisfies each of these (an Iterator does not: ``next()`` fails on a list).
_LISTS = frozenset({"list", "List", "Sequence", "MutableSequence", "Iterable", "Collection", "Reversible"})
_SETS = frozenset({"set", "Set", "AbstractSet", "MutableSet"})
_FROZENSETS = frozenset({"frozenset", "FrozenSet"})
_DICTS = frozenset({"dict", "Dict", "Mapping", "MutableMapping"})
_TUPLES = frozenset({"tuple", "Tuple"})
_CONTAINERS = _LISTS | _SETS | _FROZENSETS | _DICTS | _TUPLES

_GENERATION = hypothesis.settings(
    database=None,
    phases=[hypothesis.Phase.generate],
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    verbosity=hypothesis.Verbosity.quiet,
    backend="hypothesis",
)


def type_aliases(statements: Iterable[ast.stmt]) -> dict[str, ast.expr]:
    """The module's type aliases: names bound once at module level, by a plain assignment
    (``TPos = tuple[int, int]``, ``Vector: TypeAlias = list[float]``), to the expression an
    annotation naming them stands for. A name bound more than once stands for nothing certain."""
    bound: dict[str, int] = {}
    values: dict[str, ast.expr] = {}
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                bound[node.id] = bound.get(node.id, 0) + 1
            elif isinstance(node, ast.alias):
                name = node.asname or node.name.split(".")[0]
                bound[name] = bound.get(name, 0) + 1
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bound[node.name] = bound.get(node.name, 0) + 1
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        if isinstance(target, ast.Name):
            values[target.id] = value
    return {name: value for name, value in values.items() if bound.get(name) == 1}


class Hints:
    """Reads annotations of one module (its type aliases known) as strategies."""

    def __init__(self, aliases: Mapping[str, ast.expr]) -> None:
        self.aliases = aliases

    def strategy(self, node: ast.expr | None) -> st.SearchStrategy[Any] | None:
        """A strategy for the values of an annotation, or None if it has none."""
        drawn = self._drawn(node, frozenset())
        return None if drawn is None or drawn.only_none else drawn.strategy

    def advice(self, node: ast.expr) -> str:
        """What a user can write instead of an annotation that gives no inputs, where that is
        clear: a bare container says nothing of its items."""
        name = _name(self._resolved(node, frozenset())[0])
        if name not in _CONTAINERS:
            return ""
        example = (
            "dict[str, int]" if name in _DICTS else "tuple[int, ...]" if name in _TUPLES else f"{name}[int]"
        )
        return f"a bare {name} says nothing of its items: write e.g. {example}"

    def _resolved(self, node: ast.expr, seen: frozenset[str]) -> tuple[ast.expr, frozenset[str]]:
        """``node`` with the module's aliases it names replaced by what they stand for."""
        while (
            isinstance(node, ast.Name)
            and node.id in self.aliases
            and node.id not in seen
            and len(seen) < _ALIAS_DEPTH
        ):
            seen = seen | {node.id}
            node = self.aliases[node.id]
        return node, seen

    def _drawn(self, node: ast.expr | None, seen: frozenset[str]) -> _Drawn | None:
        if node is None:
            return None
        node, seen = self._resolved(node, seen)
        if isinstance(node, ast.Constant):
            if node.value is None:
                return _NONE
            if not isinstance(node.value, str):
                return None
            try:  # a forward reference: "list[int]"
                return self._drawn(ast.parse(node.value, mode="eval").body, seen)
            except (SyntaxError, ValueError, RecursionError):
                return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self._union([node.left, node.right], seen)
        if isinstance(node, ast.Name | ast.Attribute):
            return _SCALARS.get(_name(node) or "")
        if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name | ast.Attribute)):
            return None
        name = _name(node.value)
        params = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if name == "Optional" and len(params) == 1:
            return self._union([params[0], ast.Constant(None)], seen)
        if name == "Union":
            return self._union(params, seen)
        if name == "Annotated":
            return self._drawn(params[0], seen)
        if name == "Literal":
            return _literal_choice(params)
        if name in _TUPLES:
            return self._tuple(params, seen)
        if name in _DICTS and len(params) == 2:
            return self._dict(params[0], params[1], seen)
        if len(params) != 1 or (item := self._drawn(params[0], seen)) is None:
            return None
        if name in _LISTS:
            return _Drawn(st.lists(item.strategy, max_size=MAX_ITEMS), hashable=False)
        if name in _SETS | _FROZENSETS and item.hashable:
            if name in _SETS:
                return _Drawn(st.sets(item.strategy, max_size=MAX_ITEMS), hashable=False)
            return _Drawn(st.frozensets(item.strategy, max_size=MAX_ITEMS), hashable=True)
        return None

    def _union(self, nodes: list[ast.expr], seen: frozenset[str]) -> _Drawn | None:
        """The members that can be drawn: a value of any member is a value of the union. None
        alone (``Node | None``, the node unknown) says too little to draw."""
        members = [drawn for node in nodes if (drawn := self._drawn(node, seen)) is not None]
        if not members:
            return None
        strategy = st.one_of(*(member.strategy for member in members))
        only_none = all(member.only_none for member in members)
        return _Drawn(strategy, all(member.hashable for member in members), only_none)

    def _tuple(self, params: list[ast.expr], seen: frozenset[str]) -> _Drawn | None:
        if len(params) == 2 and isinstance(params[1], ast.Constant) and params[1].value is Ellipsis:
            item = self._drawn(params[0], seen)
            if item is None:
                return None
            return _Drawn(st.lists(item.strategy, max_size=MAX_ITEMS).map(tuple), item.hashable)
        items = [self._drawn(param, seen) for param in params]
        if any(item is None for item in items):
            return None
        found = [item for item in items if item is not None]
        return _Drawn(st.tuples(*(item.strategy for item in found)), all(item.hashable for item in found))

    def _dict(self, key_node: ast.expr, value_node: ast.expr, seen: frozenset[str]) -> _Drawn | None:
        key, value = self._drawn(key_node, seen), self._drawn(value_node, seen)
        if key is None or value is None or not key.hashable:
            return None
        neighbours = self._graph_items(key_node, value_node, seen)
        if neighbours is not None:
            return _Drawn(_graph(key.strategy, neighbours), hashable=False)
        return _Drawn(st.dictionaries(key.strategy, value.strategy, max_size=MAX_ITEMS), hashable=False)

    def _graph_items(self, key_node: ast.expr, value_node: ast.expr, seen: frozenset[str]) -> str | None:
        """``"list"`` or ``"set"`` where the dict maps keys to a list or set of the same type
        (an adjacency list), else None."""
        value_node, _ = self._resolved(value_node, seen)
        if not (
            isinstance(value_node, ast.Subscript) and isinstance(value_node.value, ast.Name | ast.Attribute)
        ):
            return None
        kind = _name(value_node.value)
        if kind not in _LISTS | _SETS or isinstance(value_node.slice, ast.Tuple):
            return None
        same = ast.dump(self._resolved(value_node.slice, seen)[0]) == ast.dump(
            self._resolved(key_node, seen)[0]
        )
        return ("list" if kind in _LISTS else "set") if same else None


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _literal_choice(params: list[ast.expr]) -> _Drawn | None:
    try:
        values = [parse_literal(ast.unparse(param)) for param in params]
    except NotALiteral:
        return None
    if not values or not all(
        value is None or isinstance(value, bool | int | float | str) for value in values
    ):
        return None
    return _scalar(st.sampled_from(values))


def _graph(keys: st.SearchStrategy[Any], items: str) -> st.SearchStrategy[dict[Any, Any]]:
    """Dicts whose values are lists (or sets) of their own keys: adjacency lists."""

    def edges(nodes: list[Any]) -> st.SearchStrategy[dict[Any, Any]]:
        if not nodes:
            return st.just({})
        targets = st.sampled_from(nodes)
        each = (
            st.lists(targets, unique=True, max_size=len(nodes))
            if items == "list"
            else st.sets(targets, max_size=len(nodes))
        )
        return st.tuples(*(each for _ in nodes)).map(lambda found: dict(zip(nodes, found, strict=True)))

    return st.lists(keys, unique=True, max_size=MAX_ITEMS).flatmap(edges)


def default_strategy(default: ast.expr) -> st.SearchStrategy[Any] | None:
    """A strategy for values of the type of a literal default (``100``, ``","``, ``(3, 3)``,
    ``[1, 2]``), or None where the literal does not make its type clear (``None``, ``[]``)."""
    try:
        value = parse_literal(ast.unparse(default))
    except NotALiteral:
        return None
    return _like(value)


def _like(value: Any) -> st.SearchStrategy[Any] | None:
    for kind, strategy in (
        (bool, st.booleans()),
        (int, _INTS),
        (float, _FLOATS),
        (str, _STRS),
        (bytes, _BYTES),
    ):
        if type(value) is kind:
            return strategy
    if isinstance(value, tuple) and value:
        items = [_like(item) for item in value]
        return None if any(item is None for item in items) else st.tuples(*items)  # type: ignore[misc]
    if isinstance(value, list) and value and len({type(item) for item in value}) == 1:
        item = _like(value[0])
        return None if item is None else st.lists(item, max_size=MAX_ITEMS)
    return None


@contextmanager
def _without_constants() -> Iterator[None]:
    """Hypothesis sometimes draws a constant from the source of the modules loaded in the process
    (not site-packages): which ones are loaded differs between a test, a worker and a machine,
    and it caches them in ``.hypothesis/`` of the working directory. Drawing no constants keeps
    the draws a function of the seed alone (patched for the draw only; a renamed hook fails
    loudly, and the determinism tests catch any other leak)."""

    def no_constant(provider: HypothesisProvider, *args: Any, **kwargs: Any) -> None:
        return None

    with patch.object(HypothesisProvider, "_maybe_draw_constant", no_constant):
        yield


def draw_inputs(
    required: dict[str, st.SearchStrategy[Any]],
    optional: dict[str, st.SearchStrategy[Any]],
    count: int,
    seed: int,
) -> list[str]:
    """Up to ``count`` distinct typed-JSON kwargs, each with a value for every ``required`` name
    and for some of the ``optional`` ones (the rest keep their defaults); the same arguments give
    the same list on every run and machine (Hypothesis seeded, no example database)."""
    drawn: list[str] = []

    @_without_constants()
    @hypothesis.seed(seed)
    @hypothesis.settings(_GENERATION, max_examples=count * _DRAWS_PER_INPUT)
    @hypothesis.given(st.fixed_dictionaries(required, optional=optional))
    def collect(kwargs: dict[str, Any]) -> None:
        text = encode(kwargs, "a drawn input")
        if len(drawn) < count and text not in drawn:
            drawn.append(text)

    collect()
    return drawn
