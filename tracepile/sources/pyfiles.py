"""The `pyfiles` source kind: a tree of .py files (a repository or an installed package) -> programs.

Every public top-level function of a module is a candidate program. Its code is the function
plus what it needs from its module, transitively and in source order: the imports it uses (only
those), the module-level names it reads, the classes and helpers it calls. Its inputs are the
examples of its docstring (doctests, else written forms such as ``f(1, 2) ==> 3``), else inputs
drawn from its type hints with Hypothesis, seeded so that a file and a seed always give the same
inputs. A module is parsed and compiled, never run: the sandbox runs the programs later.
"""

from __future__ import annotations

import ast
import builtins
import doctest
import io
import itertools
import math
import posixpath
import re
import string
import symtable
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from unittest.mock import patch

import hypothesis
from hypothesis import strategies as st
from hypothesis.internal.conjecture.providers import HypothesisProvider

from tracepile.analysis.filters import Signature
from tracepile.analysis.hashing import canonical_json, content_id
from tracepile.config import PyfilesConfig
from tracepile.sources.codeio import Rejection, domain_for_category
from tracepile.vocab import IngestReason, SourceKind

SOURCE_KIND = SourceKind.PYFILES

# Generated inputs stay within CodeI/O-like sizes.
MAX_INT = 100
MAX_ITEMS = 8
MAX_CHARS = 20
_ALPHABET = string.ascii_letters + string.digits + " .,-_"
_DRAWS_PER_INPUT = 10  # examples Hypothesis runs per wanted input, so repeats still leave enough

# `f(...) ==> y` and its kin, tried in this order (a longer arrow before its own prefix).
ARROWS = ("==>", "=>", "==", "->", "➞", "→")

_BUILTINS = frozenset(dir(builtins))
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_STAR = "*"

_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "int": st.integers(-MAX_INT, MAX_INT),
    "float": st.integers(-100 * MAX_INT, 100 * MAX_INT).map(lambda hundredths: hundredths / 100),
    # not st.text: that loads Hypothesis's Unicode tables, cached in ``.hypothesis/`` of the working dir
    "str": st.lists(st.sampled_from(_ALPHABET), max_size=MAX_CHARS).map("".join),
    "bool": st.booleans(),
    "None": st.none(),
    "NoneType": st.none(),
}
_LISTS = frozenset({"list", "List", "Sequence", "MutableSequence", "Iterable", "Collection"})
_DICTS = frozenset({"dict", "Dict", "Mapping", "MutableMapping"})
_TUPLES = frozenset({"tuple", "Tuple"})

_GENERATION = hypothesis.settings(
    database=None,
    phases=[hypothesis.Phase.generate],
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    verbosity=hypothesis.Verbosity.quiet,
    backend="hypothesis",
)


@dataclass(frozen=True)
class PyTree:
    """The tree a module belongs to: its root, and the top-level names its own modules are
    imported by (an import of one of them cannot be bundled into a program)."""

    root: str
    packages: frozenset[str]
    root_package: str | None = None  # the root's own name when the root is itself a package

    def relative(self, path: str) -> str:
        prefix = self.root.rstrip("/") + "/"
        return path[len(prefix) :] if path.startswith(prefix) else path

    def module_name(self, path: str) -> str:
        parts = self.relative(path).removesuffix(".py").split("/")
        if parts[-1] == "__init__":
            parts.pop()
        if len(parts) > 1 and parts[0] == "src":
            parts.pop(0)
        return ".".join([self.root_package, *parts] if self.root_package else parts)


def scan_tree(root: str, paths: Iterable[str]) -> PyTree:
    """The ``PyTree`` of the .py files ``paths`` listed under ``root``. A root holding an
    ``__init__.py`` is a package imported by its folder name; any other root (a repository)
    holds top-level modules and packages, directly or under ``src/``."""
    root = root.rstrip("/")
    tree = PyTree(root, frozenset())
    relative = [tree.relative(path) for path in paths]
    if "__init__.py" in relative:
        name = posixpath.basename(root)
        return PyTree(root, frozenset({name}), name)
    names: set[str] = set()
    for rel in relative:
        parts = rel.split("/")
        if len(parts) > 1 and parts[0] == "src":
            parts.pop(0)
        names.add(parts[0].removesuffix(".py"))
    return PyTree(root, frozenset(name for name in names if name.isidentifier()))


@dataclass(frozen=True)
class _Unit:
    """A piece of module-level code a program may bundle: a statement, or one name of an import."""

    index: int  # source order
    node: ast.stmt
    text: str
    binds: frozenset[str]
    reads: frozenset[str]
    changes: frozenset[str]  # module-defined names it changes in place: it goes with their definition


class _AnnotationBlanker(ast.NodeTransformer):
    """Blanks the annotations Python does not evaluate, so that their names are not read: those
    of a function's local variables always, and all of them under ``from __future__ import
    annotations``."""

    def __init__(self, postponed: bool) -> None:
        self.postponed = postponed
        self.in_function = False
        self.blanked = False

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        if self.postponed:
            arguments = node.args
            for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
                self.blanked |= arg.annotation is not None
                arg.annotation = None
            for arg in (arguments.vararg, arguments.kwarg):
                if arg is not None:
                    self.blanked |= arg.annotation is not None
                    arg.annotation = None
            self.blanked |= node.returns is not None
            node.returns = None
        return self._visit_scope(node, in_function=True)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return self._visit_scope(node, in_function=False)  # a class body runs, even inside a function

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if self.postponed or self.in_function:
            node.annotation = ast.Constant(None)
            self.blanked = True
        return self.generic_visit(node)

    def _visit_scope(self, node: ast.AST, in_function: bool) -> ast.AST:
        outer, self.in_function = self.in_function, in_function
        self.generic_visit(node)
        self.in_function = outer
        return node


def _scope_names(source: str, postponed: bool) -> tuple[frozenset[str], frozenset[str]]:
    """The module-level names a top-level statement (its source) binds, and those it reads in
    any scope within it."""
    blanker = _AnnotationBlanker(postponed)
    blanked = blanker.visit(ast.parse(source))
    table = symtable.symtable(ast.unparse(blanked) if blanker.blanked else source, "<statement>", "exec")
    symbols = table.get_symbols()
    binds = {symbol.get_name() for symbol in symbols if symbol.is_assigned() or symbol.is_imported()}
    reads = {symbol.get_name() for symbol in symbols if symbol.is_referenced()}
    pending = list(table.get_children())
    while pending:
        scope = pending.pop()
        pending.extend(scope.get_children())
        reads.update(symbol.get_name() for symbol in scope.get_symbols() if symbol.is_global())
    return frozenset(binds), frozenset(reads)


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _changed_in_place(stmt: ast.stmt) -> frozenset[str]:
    """Names a simple statement changes without rebinding (``TABLE[k] = v``, ``TABLE.update(m)``)."""
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, ast.AugAssign | ast.AnnAssign):
        targets = [stmt.target]
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        targets = [stmt.value.func]
    else:
        return frozenset()
    roots = {_root_name(target) for target in targets if isinstance(target, ast.Attribute | ast.Subscript)}
    return frozenset(root for root in roots if root is not None)


def _is_main_guard(stmt: ast.stmt) -> bool:
    """``if __name__ == "__main__":``: never part of a program (the sandbox runs no script)."""
    test = stmt.test if isinstance(stmt, ast.If) else None
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _segment(lines: list[str], stmt: ast.stmt) -> str:
    """The statement's source (``lines`` split as the parser does; columns count UTF-8 bytes); a
    decorated one from its first decorator, whose ``@`` stands in column 0 at top level."""
    decorators: list[ast.expr] = getattr(stmt, "decorator_list", [])
    first = min([stmt.lineno, *(decorator.lineno for decorator in decorators)]) - 1
    start = 0 if decorators else stmt.col_offset
    last, end = (stmt.end_lineno or stmt.lineno) - 1, stmt.end_col_offset
    if first == last:
        return lines[first].encode()[start:end].decode()
    head, tail = lines[first].encode()[start:].decode(), lines[last].encode()[:end].decode()
    return head + "".join(lines[first + 1 : last]) + tail


def _module_units(module: ast.Module, text: str) -> list[_Unit]:
    """The module's statements in source order, each import split into one unit per name."""
    postponed = any(
        isinstance(stmt, ast.ImportFrom)
        and stmt.module == "__future__"
        and any(alias.name == "annotations" for alias in stmt.names)
        for stmt in module.body
    )
    lines = io.StringIO(text, newline="").readlines()  # \n, \r\n and \r end a line; \f does not
    units: list[_Unit] = []
    for stmt in module.body:
        if _is_main_guard(stmt):
            continue
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            for alias in stmt.names:
                single: ast.stmt = (
                    ast.Import([alias])
                    if isinstance(stmt, ast.Import)
                    else ast.ImportFrom(stmt.module, [alias], stmt.level)
                )
                bound = _STAR if alias.name == _STAR else alias.asname or alias.name.split(".")[0]
                units.append(
                    _Unit(
                        len(units), single, ast.unparse(single), frozenset({bound}), frozenset(), frozenset()
                    )
                )
        else:
            segment = _segment(lines, stmt)
            binds, reads = _scope_names(segment, postponed)
            units.append(_Unit(len(units), stmt, segment, binds, reads, _changed_in_place(stmt)))
    defined = frozenset().union(
        *(u.binds for u in units if not isinstance(u.node, ast.Import | ast.ImportFrom))
    )
    return [replace(unit, changes=unit.changes & defined) for unit in units]


def _is_tree_import(node: ast.Import | ast.ImportFrom, packages: frozenset[str]) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] in packages
    return any(alias.name.split(".")[0] in packages for alias in node.names)


def _is_future(unit: _Unit) -> bool:
    return isinstance(unit.node, ast.ImportFrom) and unit.node.module == "__future__"


def _bundle(entry: _Unit, units: list[_Unit], packages: frozenset[str]) -> list[_Unit] | Rejection:
    """The entry and every unit it needs, transitively, in source order; or why it cannot be bundled."""
    last_definition = {unit.node.name: unit for unit in units if isinstance(unit.node, _DEFINITIONS)}
    binders: defaultdict[str, list[_Unit]] = defaultdict(list)
    for unit in units:
        if isinstance(unit.node, _DEFINITIONS) and last_definition[unit.node.name] is not unit:
            continue  # a def or class redefined later (an overload stub) is never called
        for name in unit.binds | unit.changes:
            binders[name].append(unit)
    for name in entry.binds:
        binders[name] = [entry]  # earlier bindings of the entry's name (overload stubs) are not the entry
    included = {unit.index: unit for unit in units if _is_future(unit)} | {entry.index: entry}
    pending = list(entry.reads)
    seen: set[str] = set()
    undefined: set[str] = set()
    while pending:
        read = pending.pop()
        if read in seen:
            continue
        seen.add(read)
        found = binders.get(read) or ([] if read in _BUILTINS else binders.get(_STAR, []))
        if not found and read not in _BUILTINS:
            undefined.add(read)
        for unit in found:
            if unit.index not in included:
                included[unit.index] = unit
                pending.extend(unit.reads)
    if undefined:
        return Rejection(
            IngestReason.UNDEFINED_NAME, f"reads {', '.join(sorted(undefined))}, defined nowhere"
        )
    bundle = [included[index] for index in sorted(included)]
    for unit in bundle:
        for node in ast.walk(unit.node):
            if isinstance(node, ast.Import | ast.ImportFrom) and _is_tree_import(node, packages):
                return Rejection(
                    IngestReason.IMPORTS_TREE_MODULE, f"needs `{ast.unparse(node)}`, a module of its own tree"
                )
            if isinstance(node, ast.Global):
                return Rejection(IngestReason.MUTATES_GLOBAL, f"declares `global {', '.join(node.names)}`")
    return bundle


def _layout_kind(unit: _Unit) -> str:
    if isinstance(unit.node, _DEFINITIONS):
        return "definition"
    return "import" if isinstance(unit.node, ast.Import | ast.ImportFrom) else "statement"


def _bundle_code(bundle: list[_Unit]) -> str:
    """The units joined as a module: imports, then other simple statements, one to a line and a
    blank line between the groups; two blank lines around each def and class."""
    parts = [bundle[0].text]
    for previous, unit in itertools.pairwise(bundle):
        kinds = {_layout_kind(previous), _layout_kind(unit)}
        parts.append("\n\n\n" if "definition" in kinds else "\n" if len(kinds) == 1 else "\n\n")
        parts.append(unit.text)
    return "".join(parts) + "\n"


def _functools_names(units: list[_Unit]) -> tuple[set[str], set[str]]:
    """Names the module binds to the ``functools`` module, and to members of it."""
    modules: set[str] = set()
    members: set[str] = set()
    for unit in units:
        node = unit.node
        if isinstance(node, ast.Import) and node.names[0].name == "functools":
            modules.add(node.names[0].asname or "functools")
        elif isinstance(node, ast.ImportFrom) and node.module == "functools" and node.level == 0:
            members.add(node.names[0].asname or node.names[0].name)
    return modules, members


def _decorator_problem(function: ast.FunctionDef, units: list[_Unit]) -> str | None:
    """Why a decorator changes what calling the function means; ``functools`` ones and
    ``staticmethod`` do not."""
    modules, members = _functools_names(units)
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name) and target.id in {*members, "staticmethod"}:
            continue
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id in modules
        ):
            continue
        return f"decorated with @{ast.unparse(decorator)}"
    return None


def _is_generator(function: ast.FunctionDef) -> bool:
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return True
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            pending.extend(ast.iter_child_nodes(node))
    return False


def _parameter_problem(function: ast.FunctionDef) -> Rejection | None:
    arguments = function.args
    if arguments.posonlyargs:
        names = ", ".join(arg.arg for arg in arguments.posonlyargs)
        return Rejection(IngestReason.POSITIONAL_ONLY_PARAMETER, f"{names} cannot be given as keywords")
    if arguments.args or arguments.kwonlyargs:
        return None
    if arguments.vararg or arguments.kwarg:
        return Rejection(IngestReason.VARIADIC_ONLY, "takes only *args/**kwargs")
    return Rejection(IngestReason.NO_PARAMETERS, "takes no parameters")


class _NotJson(ValueError):
    """A literal with no JSON form that means the same (a set, bytes, a complex, NaN)."""


def _as_json(value: Any) -> Any:
    """``value`` as JSON data: tuples become lists; anything else without a JSON form raises."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, list | tuple):
        return [_as_json(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _as_json(item) for key, item in value.items()}
    raise _NotJson(type(value).__name__)


def _literal(node: ast.expr | str) -> Any:
    """The JSON data of a Python literal (an AST or its text); raises ``_NotJson`` if it has none."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise _NotJson(str(exc)) from exc
    return _as_json(value)


def _bind_call(text: str, function: ast.FunctionDef, signature: Signature) -> dict[str, Any] | None:
    """The keyword arguments of ``text`` when it is a call of ``function`` with literal
    arguments that bind to its parameters, else None."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == function.name):
        return None
    names = [arg.arg for arg in function.args.args]
    if len(call.args) > len(names) or any(kw.arg is None for kw in call.keywords):
        return None
    try:
        kwargs = {name: _literal(arg) for name, arg in zip(names, call.args, strict=False)}
        for keyword in call.keywords:
            if keyword.arg in kwargs:
                return None
            kwargs[str(keyword.arg)] = _literal(keyword.value)
    except _NotJson:
        return None
    return kwargs if signature.problem(kwargs) is None else None


def _doctest_examples(
    docstring: str, function: ast.FunctionDef, signature: Signature
) -> list[tuple[str, str]]:
    try:
        examples = doctest.DocTestParser().get_examples(docstring)
    except ValueError:  # inconsistent indentation and the like
        return []
    found: list[tuple[str, str]] = []
    for example in examples:
        kwargs = _bind_call(example.source, function, signature)
        if kwargs is None or example.exc_msg is not None or example.options.get(doctest.SKIP):
            continue
        want = example.want.strip()
        try:
            expected = _literal(want) if want else None  # no output: the call returned None
        except _NotJson:
            continue
        found.append((canonical_json(kwargs), canonical_json(expected)))
    return found


def _written_examples(
    docstring: str, function: ast.FunctionDef, signature: Signature
) -> list[tuple[str, str]]:
    """Lines such as ``f(1, 2) ==> 3`` (or ``=>``, ``==``, ``->``, ``➞``, ``→``)."""
    call_start = re.compile(rf"(?<![\w.]){re.escape(function.name)}\(")
    found: list[tuple[str, str]] = []
    for line in docstring.splitlines():
        if line.lstrip().startswith((">>>", "...")):
            continue
        for match in call_start.finditer(line):
            example = _written_example(line[match.start() :], function, signature)
            if example is not None:
                found.append(example)
                break
    return found


def _written_example(text: str, function: ast.FunctionDef, signature: Signature) -> tuple[str, str] | None:
    for arrow in ARROWS:
        at = text.find(arrow)
        while at != -1:
            kwargs = _bind_call(text[:at], function, signature)
            if kwargs is not None:
                try:
                    return canonical_json(kwargs), canonical_json(_literal(text[at + len(arrow) :].strip()))
                except _NotJson:
                    pass
            at = text.find(arrow, at + 1)
    return None


def _strategy(node: ast.expr | None) -> st.SearchStrategy[Any] | None:
    """A strategy for JSON values of an annotation (read from its AST), or None if it has none."""
    if isinstance(node, ast.Constant):
        if node.value is None:
            return st.none()
        if not isinstance(node.value, str):
            return None
        try:  # a forward reference: "list[int]"
            return _strategy(ast.parse(node.value, mode="eval").body)
        except (SyntaxError, ValueError, RecursionError):
            return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _one_of([node.left, node.right])
    if isinstance(node, ast.Name | ast.Attribute):
        return _SCALARS.get(node.id if isinstance(node, ast.Name) else node.attr)
    if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name | ast.Attribute)):
        return None
    name = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
    params = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    if name in _LISTS and len(params) == 1:
        item = _strategy(params[0])
        return None if item is None else st.lists(item, max_size=MAX_ITEMS)
    if name in _TUPLES:
        if len(params) == 2 and isinstance(params[1], ast.Constant) and params[1].value is Ellipsis:
            item = _strategy(params[0])
            return None if item is None else st.lists(item, max_size=MAX_ITEMS)
        items = _all_strategies(params)
        return None if items is None else st.tuples(*items).map(list)
    if name in _DICTS and len(params) == 2 and _strategy(params[0]) is _SCALARS["str"]:
        value = _strategy(params[1])
        return None if value is None else st.dictionaries(_SCALARS["str"], value, max_size=MAX_ITEMS)
    if name == "Optional" and len(params) == 1:
        return _one_of([params[0], ast.Constant(None)])
    if name == "Union":
        return _one_of(params)
    if name == "Annotated":
        return _strategy(params[0])
    if name == "Literal":
        try:
            values = [_literal(param) for param in params]
        except _NotJson:
            return None
        return st.sampled_from(values) if values else None
    return None


def _all_strategies(nodes: list[ast.expr]) -> list[st.SearchStrategy[Any]] | None:
    """A strategy for each annotation, or None if one has none."""
    found = [strategy for node in nodes if (strategy := _strategy(node)) is not None]
    return found if len(found) == len(nodes) else None


def _one_of(nodes: list[ast.expr]) -> st.SearchStrategy[Any] | None:
    options = _all_strategies(nodes)
    return None if options is None else st.one_of(*options)


def _parameters_with_defaults(arguments: ast.arguments) -> list[tuple[ast.arg, bool]]:
    positional = arguments.args
    first_default = len(positional) - len(arguments.defaults)
    return [(arg, index >= first_default) for index, arg in enumerate(positional)] + [
        (arg, default is not None)
        for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
    ]


def _generated_inputs(function: ast.FunctionDef, settings: PyfilesConfig) -> list[str] | Rejection:
    """``settings.generated_inputs`` distinct kwargs drawn from the type hints (fewer when the
    types have fewer values). A parameter with a default and no usable hint keeps its default."""
    strategies: dict[str, st.SearchStrategy[Any]] = {}
    for arg, has_default in _parameters_with_defaults(function.args):
        strategy = _strategy(arg.annotation)
        if strategy is not None:
            strategies[arg.arg] = strategy
        elif not has_default and arg.annotation is None:
            return Rejection(IngestReason.NO_INPUTS, f"parameter {arg.arg} has no type hint and no example")
        elif not has_default:
            hint = ast.unparse(arg.annotation) if arg.annotation else ""
            return Rejection(
                IngestReason.UNSUPPORTED_PARAMETER, f"parameter {arg.arg}: {hint} has no JSON form"
            )
    if not strategies:
        return Rejection(IngestReason.NO_INPUTS, "no parameter has a usable type hint, no example")
    seed = int(content_id([settings.seed, function.name]), 16)  # the same on every machine and run
    return _draw_inputs(strategies, settings.generated_inputs, seed)


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


def _draw_inputs(strategies: dict[str, st.SearchStrategy[Any]], count: int, seed: int) -> list[str]:
    """Up to ``count`` distinct canonical-JSON kwargs; the same arguments give the same list on
    every run and machine (Hypothesis seeded, no example database)."""
    drawn: list[str] = []

    @_without_constants()
    @hypothesis.seed(seed)
    @hypothesis.settings(_GENERATION, max_examples=count * _DRAWS_PER_INPUT)
    @hypothesis.given(st.fixed_dictionaries(strategies))
    def collect(kwargs: dict[str, Any]) -> None:
        text = canonical_json(kwargs)
        if len(drawn) < count and text not in drawn:
            drawn.append(text)

    collect()
    return drawn


def _signature_text(function: ast.FunctionDef) -> str:
    returns = f" -> {ast.unparse(function.returns)}" if function.returns else ""
    return f"def {function.name}({ast.unparse(function.args)}){returns}"


def _inputs(
    function: ast.FunctionDef, docstring: str, settings: PyfilesConfig
) -> tuple[list[dict[str, str | None]], str] | Rejection:
    """The program's inputs and where they came from: ``doctest``, ``docstring`` or ``generated``."""
    signature = Signature.of(function)
    for origin, examples in (
        ("doctest", _doctest_examples(docstring, function, signature)),
        ("docstring", _written_examples(docstring, function, signature)),
    ):
        expected_for: dict[str, str] = {}
        for input_json, expected in examples:
            expected_for.setdefault(input_json, expected)  # the first example of an input wins
        if expected_for:
            return [{"input_json": i, "expected_output_json": o} for i, o in expected_for.items()], origin
    generated = _generated_inputs(function, settings)
    if isinstance(generated, Rejection):
        return generated
    return [{"input_json": text, "expected_output_json": None} for text in generated], "generated"


@dataclass(frozen=True)
class _Where:
    source: str  # the path relative to the tree's root
    module: str  # the dotted module name
    packages: frozenset[str]


def _program(
    entry: _Unit, function: ast.FunctionDef, units: list[_Unit], settings: PyfilesConfig, where: _Where
) -> dict[str, Any] | Rejection:
    if _is_generator(function):
        return Rejection(IngestReason.GENERATOR_FUNCTION, "returns a generator, not a value")
    if problem := _decorator_problem(function, units):
        return Rejection(IngestReason.UNSUPPORTED_DECORATOR, problem)
    if rejection := _parameter_problem(function):
        return rejection
    bundle = _bundle(entry, units, where.packages)
    if isinstance(bundle, Rejection):
        return bundle
    docstring = ast.get_docstring(function) or ""
    inputs = _inputs(function, docstring, settings)
    if isinstance(inputs, Rejection):
        return inputs
    content = {
        "source_kind": SOURCE_KIND,
        "source": where.source,
        "category": where.module,
        "problem": docstring or f"The function `{function.name}` of the module `{where.module}`.",
        "io_requirements": _signature_text(function),
        "code": _bundle_code(bundle),
        "entry_point": function.name,
        "inputs": inputs[0],
    }
    meta = {
        "module": where.module,
        "path": where.source,
        "function": function.name,
        "line": function.lineno,
        "input_origin": inputs[1],
    }
    return {
        "program_id": content_id(content),
        **content,
        "domain": domain_for_category(where.source),
        "meta_json": canonical_json(meta),
    }


def parse_pyfile(
    path: str, text: str, settings: PyfilesConfig, tree: PyTree | None = None
) -> Iterator[dict[str, Any] | Rejection]:
    """One program (``parse_codeio_record``'s fields) or rejection per public top-level function
    of the module at ``path`` (within ``tree``, when known) whose source is ``text``; a single
    rejection when the module does not compile. Never runs the module."""
    if tree is None:
        where = _Where(path, posixpath.basename(path).removesuffix(".py"), frozenset())
    else:
        where = _Where(tree.relative(path), tree.module_name(path), tree.packages)
    text = text.removeprefix("\ufeff")  # a byte-order mark decoded as a character
    try:
        module = ast.parse(text, filename=path)
        compile(module, path, "exec", dont_inherit=True)  # the errors the parser leaves to the compiler
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:  # ValueError: NUL bytes
        line = getattr(exc, "lineno", None) or 1
        yield Rejection(IngestReason.SYNTAX_ERROR, f"{type(exc).__name__}: {exc}"[:500], line)
        return
    units = _module_units(module, text)
    last_binder = {name: unit for unit in units for name in unit.binds}
    for unit in units:
        function = unit.node
        if (
            not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
            or function.name.startswith("_")
            or last_binder[function.name] is not unit
        ):
            continue
        if isinstance(function, ast.AsyncFunctionDef):
            result: dict[str, Any] | Rejection = Rejection(IngestReason.ASYNC_FUNCTION, "async def")
        else:
            result = _program(unit, function, units, settings, where)
        if isinstance(result, Rejection):
            detail = f"{function.name} (line {function.lineno}): {result.detail}"
            result = Rejection(result.reason, detail, function.lineno)
        yield result
