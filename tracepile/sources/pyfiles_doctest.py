"""Doctests in a function's docstring, for the ``pyfiles`` source kind: the inputs and expected
outputs they give.

A doctest gives an input where it calls the function with arguments that are literals, or names that
earlier lines of the same docstring bind to literals (``>>> x = [3, 1, 2]`` then ``>>> sort(x)``:
the literal stands in for the name), and where a line compares such a call with a literal and shows
``True`` (``>>> f(3) == [1, 2]``: the literal is the output). Every other call of the function is
skipped with a counted reason (``ExampleSkip``) and the first line of each reason, so that a user
sees why a function got fewer inputs than its docstring shows.
"""

from __future__ import annotations

import ast
import doctest
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tracepile.analysis.filters import Signature
from tracepile.analysis.pyast import bound_names, imported_names
from tracepile.analysis.values import NoForm, NotALiteral, encode, parse_literal, to_literal
from tracepile.sources.pyfiles_examples import is_call_of

_SHOWN_CHARS = 60  # of a value or a line quoted in a reason
# Calls a doctest line may make without changing what a later example computes: they read
# their arguments and build new values.
_PURE_CALLS = frozenset(
    {
        "abs", "all", "any", "bool", "dict", "float", "frozenset", "id", "int", "isinstance", "len",
        "list", "max", "min", "print", "repr", "round", "set", "sorted", "str", "sum", "tuple", "type",
    }
)  # fmt: skip


class ExampleSkip(StrEnum):
    """Why a docstring's call of the function gave no input, or an input without its expected
    output (the last three; counted in the program's meta)."""

    RAISES = "raises"  # the example shows an exception
    DOCTEST_SKIP = "doctest_skip"  # marked ``# doctest: +SKIP``
    ARGUMENT_NOT_LITERAL = "argument_not_literal"  # neither a literal nor a name bound to one
    ARGUMENT_MAY_HAVE_CHANGED = "argument_may_have_changed"  # a list/dict/set an earlier line had
    AFTER_STATE_CHANGE = "after_state_change"  # after a line that may change state: random.seed(0)
    DOES_NOT_BIND = "does_not_bind"  # the arguments do not fit the parameters
    # the input is kept, its output unknown:
    NOT_A_PLAIN_CALL = "not_a_plain_call"  # the output shown is another expression's: ``print(f(x))``
    OUTPUT_NOT_LITERAL = "output_not_literal"  # printed text, an elided ``...``
    NO_FORM = "no_form"  # an argument (then no input either) or the output has no form


@dataclass
class Examples:
    """The inputs a docstring gives (typed-JSON kwargs and expected output, None where the example
    does not show it, in order) and what it skipped: a count and the first line of each reason."""

    found: list[tuple[str, str | None]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    first_skip: dict[str, str] = field(default_factory=dict)

    def skip(self, reason: ExampleSkip, detail: str) -> None:
        self.skipped[reason] += 1
        self.first_skip.setdefault(reason, detail)

    def summary(self) -> str:
        """The skipped calls, for a reason that a person reads: their count per reason and the
        first of each."""
        return "; ".join(
            f"{count} {reason} (first: {self.first_skip[reason]})"
            for reason, count in self.skipped.most_common()
        )


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


@dataclass
class _Binding:
    """A name a doctest line bound: to a literal's value (``source`` its text), or to something
    else (``value`` unset); a mutable value is spent once a line may have changed it."""

    source: str
    line: int
    literal: bool
    value: Any = None
    spent_at: int | None = None
    # where the value is not the docstring's own: state the function may share
    imported: bool = False  # bound by an import (a module, or a module's member)
    module_value: bool = False  # a literal constant of the function's module


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _changed_names(statement: ast.stmt, own: str) -> set[str]:
    """The names a doctest line may change in place: passed to a call other than a pure builtin
    (the function's own calls too: it may change its arguments), or the root of a call, an
    assignment target or a ``del``."""
    changed: set[str] = set()
    for node in ast.walk(statement):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in _PURE_CALLS):
                arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
                changed.update(arg.id for arg in arguments if isinstance(arg, ast.Name))
            if isinstance(node.func, ast.Attribute) and isinstance(root := _root(node.func), ast.Name):
                changed.add(root.id)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute | ast.Subscript) and isinstance(
                    root := _root(target), ast.Name
                ):
                    changed.add(root.id)
    changed.discard(own)
    return changed


def _literal_names(statement: ast.stmt) -> dict[str, ast.expr] | None:
    """``{name: value}`` when the line only binds names to values (``x = [3, 1, 2]``, ``a, b = 1,
    2``, ``a = b = 0``), else None."""
    if not isinstance(statement, ast.Assign):
        return None
    bound: dict[str, ast.expr] = {}
    for target in statement.targets:
        if isinstance(target, ast.Name):
            bound[target.id] = statement.value
        elif (
            isinstance(target, ast.Tuple | ast.List)
            and isinstance(statement.value, ast.Tuple | ast.List)
            and len(target.elts) == len(statement.value.elts)
            and all(isinstance(item, ast.Name) for item in target.elts)
        ):
            bound.update(
                (item.id, value) for item, value in zip(target.elts, statement.value.elts, strict=True)
            )  # type: ignore[union-attr]
        else:
            return None
    return bound


def _changes_state(statement: ast.stmt, bindings: dict[str, _Binding]) -> str | None:
    """The source of what in a doctest line may change state that the function reads (a module's
    or an object's the docstring did not make: ``random.seed(0)``, ``TABLE.clear()``, the module's
    own ``GRAPH["a"] = []``), or None. What the docstring imported changes state where the line
    assigns to it (``import sys`` then ``sys.stdin = io.StringIO(...)``); calling it (``math.sqrt(2)``,
    ``np.array(x)``) reads, as far as a doctest goes."""
    for node in ast.walk(statement):
        target: ast.expr | None = None
        called = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        if called:
            target = node.func  # type: ignore[union-attr]
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            target = next((t for t in targets if isinstance(t, ast.Attribute | ast.Subscript)), None)
        if target is None or not isinstance(root := _root(target), ast.Name):
            continue
        binding = bindings.get(root.id)
        if binding is None or binding.module_value or (binding.imported and not called):
            return ast.unparse(node)
    return None


class _DoctestReader:
    """Reads a docstring's doctest lines in order, binding names as the lines do."""

    def __init__(
        self,
        function: ast.FunctionDef,
        signature: Signature,
        first_line: int,
        module_literals: Mapping[str, tuple[Any, int]],
    ) -> None:
        self.function, self.signature, self.first_line = function, signature, first_line
        # a doctest runs in its module's namespace: the module's literal constants are bound there
        self.bindings: dict[str, _Binding] = {
            name: _Binding(f"{name} = {_short(to_literal(value))}", line, True, value, module_value=True)
            for name, (value, line) in module_literals.items()
        }
        self.state_change: tuple[str, int] | None = None  # the first line that may change state
        self.examples = Examples()

    def read(self, docstring: str) -> Examples:
        try:
            examples = doctest.DocTestParser().get_examples(docstring)
        except ValueError:  # inconsistent indentation and the like: doctest would not run it either
            return self.examples
        for example in examples:
            try:
                statements = ast.parse(example.source).body
            except (SyntaxError, ValueError, MemoryError, RecursionError):
                continue  # no line Python reads: doctest fails it too
            line = self.first_line + example.lineno
            if any(is_call_of(node, self.function.name) for s in statements for node in ast.walk(s)):
                self.call(statements, example, line)
            for statement in statements:
                self.setup(statement, line)
        return self.examples

    def setup(self, statement: ast.stmt, line: int) -> None:
        """What a line binds and may change, for the lines after it."""
        if self.state_change is None and (changer := _changes_state(statement, self.bindings)):
            self.state_change = (changer, line)
        for name in _changed_names(statement, self.function.name):
            if name in self.bindings and self.bindings[name].spent_at is None:
                self.bindings[name].spent_at = line
        literals = _literal_names(statement)
        imported = imported_names(statement)
        for name in bound_names(statement):
            source = ast.unparse(statement)
            value_node = (literals or {}).get(name)
            try:
                value = parse_literal(ast.unparse(value_node)) if value_node is not None else None
            except NotALiteral:
                value_node, value = None, None
            self.bindings[name] = _Binding(
                source, line, value_node is not None, value, imported=name in imported
            )

    def call(self, statements: list[ast.stmt], example: doctest.Example, line: int) -> None:
        skip = self.examples.skip
        shown = f"line {line}: `{_short(example.source)}`"
        if self.state_change is not None:
            changer, at = self.state_change
            skip(ExampleSkip.AFTER_STATE_CHANGE, f"{shown} after `{_short(changer)}` (line {at})")
            return
        if example.exc_msg is not None:
            skip(ExampleSkip.RAISES, shown)
            return
        if example.options.get(doctest.SKIP):
            skip(ExampleSkip.DOCTEST_SKIP, shown)
            return
        [statement, *rest] = statements
        want = example.want.strip()
        if not rest and isinstance(statement, ast.Expr) and is_call_of(statement.value, self.function.name):
            call, shows = statement.value, want
        elif not rest and (compared := _compared_call(statement, self.function.name, want)) is not None:
            call, value = compared
            shows = self.literal_source(value)
        else:
            self.inner_calls(statements, shown, line)
            return
        assert isinstance(call, ast.Call)
        kwargs = self.arguments(call, line, skip)
        if kwargs is None:
            return
        self.examples.found.append((kwargs, self.expected(shows, shown, line)))

    def expected(self, shows: str, shown: str, line: int) -> str | None:
        """The typed JSON of the output an example shows, or None where it shows no literal (the
        reason counted)."""
        try:
            expected = parse_literal(shows) if shows else None  # no output: the call returned None
        except NotALiteral:
            self.examples.skip(ExampleSkip.OUTPUT_NOT_LITERAL, f"{shown} shows `{_short(shows)}`")
            return None
        try:
            return encode(expected, f"the output of line {line}")
        except NoForm as exc:
            self.examples.skip(ExampleSkip.NO_FORM, str(exc))
            return None

    def inner_calls(self, statements: list[ast.stmt], shown: str, line: int) -> None:
        """The calls of the function inside a line whose output is another expression's
        (``print(f(3))``, ``sorted(f(x))``, ``y = f(1)``): each with literal arguments is an input,
        its output unknown. The reasons the others give no input are not counted: the line is."""
        self.examples.skip(ExampleSkip.NOT_A_PLAIN_CALL, shown)
        for statement in statements:
            for node in ast.walk(statement):
                if isinstance(node, ast.Call) and is_call_of(node, self.function.name):
                    kwargs = self.arguments(node, line, lambda reason, detail: None)
                    if kwargs is not None:
                        self.examples.found.append((kwargs, None))

    def literal_source(self, node: ast.expr) -> str:
        """The source of ``node``, or of the literal it names (``>>> expect = [1, 2]`` earlier, and
        no line since may have changed it)."""
        binding = self.bindings.get(node.id) if isinstance(node, ast.Name) else None
        if binding is not None and binding.literal and binding.spent_at is None:
            return to_literal(binding.value)
        return ast.unparse(node)

    def arguments(self, call: ast.Call, line: int, skip: Callable[[ExampleSkip, str], None]) -> str | None:
        """The call's arguments as typed-JSON kwargs, or None (the reason handed to ``skip``)."""
        names = [arg.arg for arg in self.function.args.args]
        if (
            len(call.args) > len(names)
            or any(isinstance(arg, ast.Starred) for arg in call.args)
            or any(keyword.arg is None for keyword in call.keywords)
        ):
            skip(ExampleSkip.DOES_NOT_BIND, f"line {line}: `{_short(ast.unparse(call))}`")
            return None
        given = [*zip(names, call.args, strict=False), *((str(k.arg), k.value) for k in call.keywords)]
        kwargs: dict[str, Any] = {}
        for name, node in given:
            if name in kwargs:
                skip(ExampleSkip.DOES_NOT_BIND, f"line {line}: `{name}` given twice")
                return None
            value = self.argument(name, node, line, skip)
            if value is _UNUSABLE:
                return None
            kwargs[name] = value
        if problem := self.signature.problem(kwargs):
            skip(ExampleSkip.DOES_NOT_BIND, f"line {line}: {problem}")
            return None
        try:
            return encode(kwargs, f"the arguments of line {line}")
        except NoForm as exc:
            skip(ExampleSkip.NO_FORM, str(exc))
            return None

    def argument(self, name: str, node: ast.expr, line: int, skip: Callable[[ExampleSkip, str], None]) -> Any:
        if isinstance(node, ast.Name) and node.id in self.bindings:
            binding = self.bindings[node.id]
            if not binding.literal:
                detail = f"line {line}: argument `{name}` is `{node.id}`, bound by `{_short(binding.source)}`"
                skip(ExampleSkip.ARGUMENT_NOT_LITERAL, f"{detail} (line {binding.line}), not a literal")
                return _UNUSABLE
            if binding.spent_at is not None:
                detail = f"line {line}: argument `{name}` is `{node.id}`"
                changed = f"{detail}, which line {binding.spent_at} may have changed"
                skip(ExampleSkip.ARGUMENT_MAY_HAVE_CHANGED, changed)
                return _UNUSABLE
            return binding.value
        try:
            return parse_literal(ast.unparse(node))
        except NotALiteral:
            detail = f"line {line}: argument `{name}` is `{_short(ast.unparse(node))}`, not a literal"
            skip(ExampleSkip.ARGUMENT_NOT_LITERAL, detail)
            return _UNUSABLE


_UNUSABLE = object()  # an argument that gives no input (its reason counted)


def _compared_call(statement: ast.stmt, name: str, want: str) -> tuple[ast.Call, ast.expr] | None:
    """The call of ``name`` and the value it returns, where a doctest line compares them and shows
    ``True``: ``f(x) == value``, ``value == f(x)``, ``f(x) is None`` (also ``is True``, ``is
    False``); else None. The value is the expected output only where it is a literal."""
    if want != "True" or not isinstance(statement, ast.Expr):
        return None
    compare = statement.value
    if not (isinstance(compare, ast.Compare) and len(compare.ops) == 1):
        return None
    [operator], left, right = compare.ops, compare.left, compare.comparators[0]
    if isinstance(operator, ast.Eq):
        for call, value in ((left, right), (right, left)):
            if isinstance(call, ast.Call) and is_call_of(call, name) and not _calls(value, name):
                return call, value
    if (
        isinstance(operator, ast.Is)
        and isinstance(left, ast.Call)
        and is_call_of(left, name)
        and isinstance(right, ast.Constant)
        and any(right.value is constant for constant in (None, True, False))  # not 1, which == True
    ):
        return left, right
    return None


def _calls(node: ast.expr, name: str) -> bool:
    return any(is_call_of(inner, name) for inner in ast.walk(node))


def doctest_examples(
    docstring: str,
    function: ast.FunctionDef,
    signature: Signature,
    first_line: int,
    module_literals: Mapping[str, tuple[Any, int]] | None = None,
) -> Examples:
    """The inputs the doctests of ``docstring`` (raw, as ``__doc__`` holds it, starting on file
    line ``first_line``) give ``function``, and the calls they skip. ``module_literals``: the
    module's names bound once to a literal, with their values and lines (a doctest may pass them)."""
    return _DoctestReader(function, signature, first_line, module_literals or {}).read(docstring)
