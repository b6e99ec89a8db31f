"""The `pyfiles` source kind: a tree of .py files (a repository or an installed package) -> programs.

Every public top-level function of a module is a candidate program. Its code is the function
plus what it needs from its module, transitively and in source order: the imports it uses (only
those), the module-level names it reads, the classes and helpers it calls. When the tree's files
can be read, what it needs from the tree's other modules comes along too, through the imports of
its module (``from .sibling import helper``, ``from pkg.sub import CONST``, ``from . import
sibling`` with ``sibling.helper`` read as ``helper``), each module's code after the code of those
it imports from; what cannot be bundled so (a name two modules define differently, an import cycle,
a star import of the tree, an import of it inside a function) is rejected with the reason.

Its inputs are the examples of its docstring (doctests, else written forms such as ``f(1, 2) ==>
3``), else inputs drawn from its type hints with Hypothesis (``pyfiles_hints``), seeded so that a
file and a seed always give the same inputs; a function whose every parameter has a default (or that
has none: ``solution()``, ``main()``) is also called with no arguments. A module is parsed and
compiled, never run: the sandbox runs the programs later.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import io
import itertools
import posixpath
import re
import symtable
import sys
import unicodedata
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tracepile.analysis.filters import Signature
from tracepile.analysis.hashing import canonical_json, content_id
from tracepile.analysis.values import NotALiteral, encode, parse_literal
from tracepile.config import PyfilesConfig
from tracepile.sources.codeio import domain_for_category
from tracepile.sources.pyfiles_examples import (
    Examples,
    doctest_examples,
    strip_docstring_examples,
    without_examples,
    written_examples,
)
from tracepile.sources.pyfiles_hints import Hints, default_strategy, draw_inputs, type_aliases
from tracepile.sources.records import Rejection
from tracepile.vocab import IngestReason, RunMode, SourceKind

SOURCE_KIND = SourceKind.PYFILES

_BUILTINS = frozenset(dir(builtins))
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_STAR = "*"
_WORD = re.compile(r"\w+")

FileReader = Callable[[str], str | None]  # the text of a file by its path, None where there is none


@dataclass(frozen=True)
class PyTree:
    """The tree a module belongs to: its root, and the top-level names its own modules are
    imported by (what a program needs from one of them is bundled only when its files can be read)."""

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

    def module_paths(self, module: str) -> list[str]:
        """The paths the module named ``module`` may have in the tree, in the order Python looks
        (a package's ``__init__.py`` before a module file); none when it is not the tree's."""
        root, parts = self.root.rstrip("/"), module.split(".")
        if self.root_package is not None and parts[0] == self.root_package:
            bases = ["/".join([root, *parts[1:]])]
        elif self.root_package is None and parts[0] in self.packages:
            bases = ["/".join([root, *parts]), "/".join([root, "src", *parts])]
        else:
            return []
        return [
            path for base in bases for path in (f"{base}/__init__.py", f"{base}.py") if path != f"{root}.py"
        ]


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


def _simple_changes(stmt: ast.stmt) -> set[str]:
    """Names a simple statement changes without rebinding: ``TABLE[k] = v``, ``del TABLE[k]``,
    ``TABLE.update(m)``, ``trie.insert(word)``, and what it hands to a call of its own
    (``fill(TABLE)``, ``heapq.heapify(HEAP)``), a builtin's call aside (``print(TABLE)``)."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        changed = {_root_name(call.func)} if isinstance(call.func, ast.Attribute | ast.Subscript) else set()
        if not (isinstance(call.func, ast.Name) and call.func.id in _BUILTINS):
            arguments = [*call.args, *(keyword.value for keyword in call.keywords)]
            changed |= {arg.id for arg in arguments if isinstance(arg, ast.Name)}
        return {name for name in changed if name is not None}
    if isinstance(stmt, ast.Assign | ast.Delete):
        targets = stmt.targets
    elif isinstance(stmt, ast.AugAssign | ast.AnnAssign):
        targets = [stmt.target]
    else:
        return set()
    roots = {_root_name(target) for target in targets if isinstance(target, ast.Attribute | ast.Subscript)}
    return {root for root in roots if root is not None}


def _changed_in_place(stmt: ast.stmt) -> frozenset[str]:
    """Names a module-level statement changes without rebinding, in the simple statements it is
    or holds: a ``for``, ``while``, ``if``, ``with`` or ``try`` at module level runs there and may
    fill a table a function reads (the bodies of defs and classes do not run there). A name bound
    there to a part of another (``node = TRIE``, ``node = node.setdefault(c, {})``) changes that
    other when it changes."""
    changed: set[str] = set()
    parts_of: defaultdict[str, set[str]] = defaultdict(set)  # name -> the names it may be a part of
    pending: list[ast.AST] = [stmt]
    while pending:
        node = pending.pop()
        if isinstance(node, _DEFINITIONS):
            continue
        if isinstance(node, ast.stmt):
            changed |= _simple_changes(node)
        if isinstance(node, ast.Assign) and (whole := _part_of(node.value)) is not None:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    parts_of[target.id].add(whole)
        pending.extend(
            child
            for child in ast.iter_child_nodes(node)
            if isinstance(child, ast.stmt | ast.excepthandler | ast.match_case)
        )
    reached, frontier = set(changed), list(changed)
    while frontier:
        for whole in parts_of.get(frontier.pop(), set()) - reached:
            reached.add(whole)
            frontier.append(whole)
    return frozenset(reached)


def _part_of(value: ast.expr) -> str | None:
    """The name whose value (or a part of it) ``value`` may be: ``TRIE``, ``TRIE[c]``,
    ``node.children``, ``node.setdefault(c, {})``."""
    if isinstance(value, ast.Call):
        value = value.func
        if not isinstance(value, ast.Attribute):
            return None  # a function's result: a new value, as far as can be seen
    return _root_name(value) if isinstance(value, ast.Name | ast.Attribute | ast.Subscript) else None


def _read_unbound(stmt: ast.stmt) -> set[str]:
    """Names the statement may read before it has bound them itself, on some path through it
    (a superset: a name it reads only after binding it on every path is left out)."""
    found: set[str] = set()

    def expression(node: ast.AST | None, bound: set[str]) -> None:
        if node is not None:
            names = (n for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
            found.update(name.id for name in names if name.id not in bound)

    def stored(target: ast.expr, bound: set[str]) -> set[str]:
        """What assigning to ``target`` binds; its subscripts and attributes read their roots."""
        if isinstance(target, ast.Name):
            return {target.id}
        if isinstance(target, ast.Tuple | ast.List | ast.Starred):
            items = target.elts if not isinstance(target, ast.Starred) else [target.value]
            return set().union(*(stored(item, bound) for item in items))
        expression(target, bound)
        return set()

    def block(statements: list[ast.stmt], bound: set[str]) -> set[str]:
        for statement in statements:
            bound = visit(statement, bound)
        return bound

    def visit(node: ast.stmt, bound: set[str]) -> set[str]:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            expression(node.value, bound)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            return bound | set().union(*(stored(target, bound) for target in targets))
        if isinstance(node, ast.AugAssign):
            target = node.target
            expression(ast.Name(target.id, ast.Load()) if isinstance(target, ast.Name) else target, bound)
            expression(node.value, bound)
            return bound | stored(node.target, bound)
        if isinstance(node, ast.For | ast.AsyncFor):
            expression(node.iter, bound)
            block(node.body, bound | stored(node.target, bound))
            block(node.orelse, bound)
            return bound  # the body may not run: nothing it binds is bound after it for sure
        if isinstance(node, ast.While):
            expression(node.test, bound)
            block(node.body, bound)
            block(node.orelse, bound)
            return bound
        if isinstance(node, ast.If):
            expression(node.test, bound)
            return block(node.body, bound) & block(node.orelse, bound)
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                expression(item.context_expr, bound)
                if item.optional_vars is not None:
                    bound = bound | stored(item.optional_vars, bound)
            return block(node.body, bound)
        if isinstance(node, ast.Try | ast.TryStar):
            after = block(node.body, bound)
            for handler in node.handlers:
                expression(handler.type, bound)
                block(handler.body, bound | ({handler.name} if handler.name else set()))
            block(node.orelse, after)
            block(node.finalbody, bound)
            return bound
        if isinstance(node, ast.Import | ast.ImportFrom):
            return bound | {alias.asname or alias.name.split(".")[0] for alias in node.names}
        expression(node, bound)  # any other statement: all it reads, nothing bound for sure
        return bound

    visit(stmt, set())
    return found


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


def _split_imports(module: ast.Module) -> list[ast.stmt]:
    """The module's statements in source order, each import split into one per name; the
    ``__main__`` block left out."""
    nodes: list[ast.stmt] = []
    for stmt in module.body:
        if _is_main_guard(stmt):
            continue
        if isinstance(stmt, ast.Import):
            nodes.extend(ast.Import([alias]) for alias in stmt.names)
        elif isinstance(stmt, ast.ImportFrom):
            nodes.extend(ast.ImportFrom(stmt.module, [alias], stmt.level) for alias in stmt.names)
        else:
            nodes.append(stmt)
    return nodes


def _import_binds(node: ast.Import | ast.ImportFrom) -> str:
    alias = node.names[0]
    return _STAR if alias.name == _STAR else alias.asname or alias.name.split(".")[0]


def _words(text: str) -> set[str]:
    """Every name ``text`` may bind (a superset: each word, as Python normalizes an identifier)."""
    words = set(_WORD.findall(text))
    return words | {unicodedata.normalize("NFKC", word) for word in words if not word.isascii()}


class _Module:
    """A parsed module: its units in source order, and the units that bind or change each name. A
    unit is made when first needed (a function takes little from a large module it imports)."""

    def __init__(self, name: str, package: bool, module: ast.Module, text: str) -> None:
        self.name = name  # dotted
        self.package = package  # an ``__init__``: its relative imports start from itself, not its parent
        self.postponed = any(
            isinstance(stmt, ast.ImportFrom)
            and stmt.module == "__future__"
            and any(alias.name == "annotations" for alias in stmt.names)
            for stmt in module.body
        )
        self.lines = io.StringIO(text, newline="").readlines()  # \n, \r\n and \r end a line; \f does not
        self.nodes = _split_imports(module)
        self.last_definition = {
            node.name: index for index, node in enumerate(self.nodes) if isinstance(node, _DEFINITIONS)
        }
        self._texts: dict[int, str] = {}
        self._binds: dict[int, frozenset[str]] = {}
        self._scopes: dict[int, tuple[frozenset[str], frozenset[str]]] = {}  # binds and reads
        self._units: dict[int, _Unit] = {}
        self._binders: dict[str, list[int]] = {}
        self._candidates: dict[str, list[int]] | None = None

    @property
    def units(self) -> list[_Unit]:
        return [self.unit(index) for index in range(len(self.nodes))]

    def text(self, index: int) -> str:
        if index not in self._texts:
            node = self.nodes[index]
            is_import = isinstance(node, ast.Import | ast.ImportFrom)
            self._texts[index] = ast.unparse(node) if is_import else _segment(self.lines, node)
        return self._texts[index]

    def unit(self, index: int) -> _Unit:
        if index not in self._units:
            node = self.nodes[index]
            if isinstance(node, ast.Import | ast.ImportFrom):
                binds, reads = self.binds(index), frozenset[str]()
            else:
                binds, reads = self._scoped(index)
                # what it binds before it reads (`for word in WORDS: ...word...`) is its own
                reads -= binds - _read_unbound(node)
            self._units[index] = _Unit(index, node, self.text(index), binds, reads, self._changes(index))
        return self._units[index]

    def binds(self, index: int) -> frozenset[str]:
        """The names the unit binds (a def or class without ``:=`` binds its name only)."""
        if index not in self._binds:
            node = self.nodes[index]
            if isinstance(node, ast.Import | ast.ImportFrom):
                self._binds[index] = frozenset({_import_binds(node)})
            elif isinstance(node, _DEFINITIONS) and not any(
                isinstance(n, ast.NamedExpr) for n in ast.walk(node)
            ):
                self._binds[index] = frozenset({node.name})
            else:
                self._binds[index] = self._scoped(index)[0]
        return self._binds[index]

    def _scoped(self, index: int) -> tuple[frozenset[str], frozenset[str]]:
        if index not in self._scopes:
            self._scopes[index] = _scope_names(self.text(index), self.postponed)
        return self._scopes[index]

    def binders(self, name: str) -> list[int]:
        """The units that bind or change ``name``, in source order; of a def or class redefined
        later (an overload stub, never called), only the last."""
        if name not in self._binders:
            found = []
            for index in self._may_bind(name):
                node = self.nodes[index]
                if isinstance(node, _DEFINITIONS) and self.last_definition[node.name] != index:
                    continue
                if name in self.binds(index) or name in self._changes(index):
                    found.append(index)
            self._binders[name] = found
        return self._binders[name]

    def _changes(self, index: int) -> frozenset[str]:
        """Module-defined names the unit changes in place: it goes with their definition."""
        return frozenset(name for name in _changed_in_place(self.nodes[index]) if self._defines(name))

    def _defines(self, name: str) -> bool:
        """Whether a statement other than an import binds ``name``."""
        return any(
            name in self.binds(index)
            for index in self._may_bind(name)
            if not isinstance(self.nodes[index], ast.Import | ast.ImportFrom)
        )

    def _may_bind(self, name: str) -> list[int]:
        if self._candidates is None:
            candidates: defaultdict[str, list[int]] = defaultdict(list)
            for index, node in enumerate(self.nodes):
                is_import = isinstance(node, ast.Import | ast.ImportFrom)
                for word in {_import_binds(node)} if is_import else _words(self.text(index)):
                    candidates[word].append(index)
            self._candidates = dict(candidates)
        return self._candidates.get(name, [])


def _is_tree_import(node: ast.Import | ast.ImportFrom, packages: frozenset[str]) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] in packages
    return any(alias.name.split(".")[0] in packages for alias in node.names)


def _is_future(unit: _Unit) -> bool:
    return isinstance(unit.node, ast.ImportFrom) and unit.node.module == "__future__"


def _compiled(text: str, path: str) -> ast.Module:
    """The module's AST; raises what the parser or the compiler would (a module is never run)."""
    module = ast.parse(text, filename=path)
    compile(module, path, "exec", dont_inherit=True)  # the errors the parser leaves to the compiler
    return module


class _Unbundlable(Exception):
    """Why what a function needs from the modules of its tree cannot be bundled."""


@dataclass(frozen=True)
class _Link:
    """Where a module-level import of the tree leads: a name of one of its modules (the first one
    not imported from another), or (no name) a module itself."""

    module: _Module
    name: str | None


def _absolute(module: _Module, node: ast.ImportFrom) -> str | None:
    """The dotted name of the module that ``node``, an import in ``module``, imports from; None when
    a relative import climbs above the top-level package."""
    if node.level == 0:
        return node.module
    parts = module.name.split(".")
    keep = len(parts) - (node.level - 1) - (0 if module.package else 1)
    if keep < 1:
        return None
    return ".".join([*parts[:keep], *([node.module] if node.module else [])])


class _ModuleCache:
    """Parsed modules by name and text, the most recently used first, within a budget of source
    characters: the modules the functions of a tree import are mostly the same few."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.held = 0
        self.modules: OrderedDict[tuple[str, bool, str], _Module | str] = OrderedDict()

    def get(self, name: str, package: bool, text: str) -> _Module | str:
        key = (name, package, text)
        if key in self.modules:
            self.modules.move_to_end(key)
            return self.modules[key]
        try:
            found: _Module | str = _Module(name, package, ast.parse(text, filename=name), text)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            found = f"{name} does not parse"
        self.modules[key] = found
        self.held += len(text)
        while self.held > self.budget and len(self.modules) > 1:
            (_, _, dropped), _ = self.modules.popitem(last=False)
            self.held -= len(dropped)
        return found


_MODULES = _ModuleCache(budget=8_000_000)
# Code taken from other modules past which a function is rejected: its bundle would be far over any
# code size limit, and following more of a large package's modules only costs time.
TREE_CODE_BUDGET = 100_000
_CHASE = 32  # imports followed from one name to another at most: a longer chain is a cycle


class _TreeModules:
    """The modules of a function's tree, read through ``read_file`` at the paths
    ``PyTree.module_paths`` gives and parsed once each (never run)."""

    def __init__(self, tree: PyTree, read_file: FileReader, home: _Module) -> None:
        self.tree = tree
        self.read_file = read_file
        self.modules: dict[str, _Module | str] = {home.name: home}  # a module, or why none

    def module(self, name: str) -> _Module | str:
        if name not in self.modules:
            self.modules[name] = self._load(name)
        return self.modules[name]

    def _load(self, name: str) -> _Module | str:
        for path in self.tree.module_paths(name):
            text = self.read_file(path)
            if text is not None:
                return _MODULES.get(
                    name, posixpath.basename(path) == "__init__.py", text.removeprefix("\ufeff")
                )
        return f"{name} is no .py module of the tree"

    def follow(self, module: _Module, unit: _Unit) -> _Link:
        """Where ``unit``, one name of a module-level import of the tree in ``module``, leads: through
        the modules that only import the name in turn, to the one that defines it."""
        link = self._step(module, unit)
        for _ in range(_CHASE):
            if link.name is None:
                return link
            binders = [link.module.unit(index) for index in link.module.binders(link.name)]
            if not (len(binders) == 1 and self.is_tree_import(binders[0].node)):
                return link
            link = self._step(link.module, binders[0])
        raise _Unbundlable(f"needs `{unit.text}`: an import cycle")

    def is_tree_import(self, node: ast.stmt) -> bool:
        return isinstance(node, ast.Import | ast.ImportFrom) and _is_tree_import(node, self.tree.packages)

    def _step(self, module: _Module, unit: _Unit) -> _Link:
        node = unit.node
        assert isinstance(node, ast.Import | ast.ImportFrom)
        alias = node.names[0]
        if isinstance(node, ast.Import):
            return _Link(self._module(alias.name if alias.asname else alias.name.split(".")[0], unit), None)
        if alias.name == _STAR:
            raise _Unbundlable(f"needs `{unit.text}`, a star import of its own tree")
        source = self._source(module, unit)
        binders = source.binders(alias.name)
        if binders and not (source is module and binders == [unit.index]):
            return _Link(source, alias.name)  # (not `from . import name` in an __init__: its submodule)
        submodule = self.module(f"{source.name}.{alias.name}")
        if isinstance(submodule, _Module):
            return _Link(submodule, None)
        for index in source.binders(_STAR):
            if self.is_tree_import(source.nodes[index]):
                star = source.unit(index).text
                raise _Unbundlable(
                    f"needs `{unit.text}`: {source.name} may bind it by `{star}`, a star import"
                )
        raise _Unbundlable(
            f"needs `{unit.text}`: {source.name} has no {alias.name}, neither a name nor a .py module"
        )

    def _source(self, module: _Module, unit: _Unit) -> _Module:
        """The module ``unit``, a ``from ... import`` of the tree in ``module``, imports from."""
        assert isinstance(unit.node, ast.ImportFrom)
        name = _absolute(module, unit.node)
        if name is None:
            raise _Unbundlable(f"needs `{unit.text}`, a relative import beyond the top-level package")
        return self._module(name, unit)

    def _module(self, name: str, unit: _Unit) -> _Module:
        found = self.module(name)
        if isinstance(found, str):
            raise _Unbundlable(f"needs `{unit.text}`: {found}")
        return found


def _imported_namespace(module: _Module, name: str, space: _Module) -> str:
    return f"`{name}` of {module.name} is the module {space.name}, which another module imports as a name"


def _alias(unit: _Unit, bound: str, name: str) -> _Unit:
    """``bound = name``: what ``from m import name as bound`` becomes once ``name`` is bundled."""
    node = ast.parse(f"{bound} = {name}").body[0]
    return _Unit(unit.index, node, ast.unparse(node), frozenset({bound}), frozenset({name}), frozenset())


def _bound_within(node: ast.AST, imports: bool = True) -> set[str]:
    """The names bound anywhere within ``node``, in any of its scopes."""
    bound: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
            bound.add(sub.id)
        elif isinstance(sub, ast.arg):
            bound.add(sub.arg)
        elif isinstance(sub, (*_DEFINITIONS, ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and sub.name:
            bound.add(sub.name)
        elif isinstance(sub, ast.MatchMapping) and sub.rest:
            bound.add(sub.rest)
        elif isinstance(sub, ast.Global | ast.Nonlocal):
            bound.update(sub.names)
        elif isinstance(sub, ast.Import | ast.ImportFrom) and imports:
            bound.update(alias.asname or alias.name.split(".")[0] for alias in sub.names)
    return bound


class _Unqualified(ast.NodeTransformer):
    """``module.name`` -> ``name`` for the given module names."""

    def __init__(self, modules: Iterable[str]) -> None:
        self.modules = frozenset(modules)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id in self.modules:
            return ast.Name(node.attr, ast.Load())
        return self.generic_visit(node)


def _unqualified(
    unit: _Unit, spaces: dict[str, _Module], where: str
) -> tuple[_Unit, list[tuple[_Module, str]]]:
    """``unit`` with each ``module.name`` of the modules it reads as namespaces (``from . import
    module``) written ``name``, and the names it then reads from them; its source is edited where
    they stand, and reparsed to check that nothing else changed."""
    [stmt] = ast.parse(unit.text).body  # the source of one top-level statement
    parents = {child: parent for parent in ast.walk(stmt) for child in ast.iter_child_nodes(parent)}
    bound = _bound_within(stmt)
    lines = io.StringIO(unit.text, newline="").readlines()
    starts = list(itertools.accumulate((len(line.encode()) for line in lines), initial=0))
    edits: list[tuple[int, int, str]] = []
    reads: list[tuple[_Module, str]] = []
    for node in ast.walk(stmt):
        if not (isinstance(node, ast.Name) and node.id in spaces):
            continue
        module, parent = spaces[node.id], parents.get(node)
        if node.id in bound:
            raise _Unbundlable(f"{where} binds {node.id}, its name for the module {module.name}")
        if not (
            isinstance(parent, ast.Attribute) and parent.value is node and isinstance(parent.ctx, ast.Load)
        ):
            raise _Unbundlable(
                f"{where} uses the module {module.name} other than by reading `{node.id}.name`"
            )
        if parent.attr in bound or parent.attr.startswith("__"):
            raise _Unbundlable(
                f"name collision: {where} reads `{node.id}.{parent.attr}` and binds `{parent.attr}` itself"
            )
        end_line, end_col = parent.end_lineno or parent.lineno, parent.end_col_offset or 0
        edits.append((starts[node.lineno - 1] + node.col_offset, starts[end_line - 1] + end_col, parent.attr))
        reads.append((module, parent.attr))
    source = unit.text.encode()
    for start, end, name in sorted(edits, reverse=True):
        source = source[:start] + name.encode() + source[end:]
    text = source.decode()
    try:
        [edited] = ast.parse(text).body
    except (SyntaxError, ValueError):
        edited = None
    if edited is None or ast.dump(edited) != ast.dump(_Unqualified(spaces).visit(stmt)):
        raise _Unbundlable(f"{where} reads a module as a namespace where its source cannot be rewritten")
    rewritten = _Unit(unit.index, edited, text, unit.binds, unit.reads - spaces.keys(), unit.changes)
    return rewritten, sorted(set(reads), key=lambda read: (read[0].name, read[1]))


def _meaning(module: _Module, unit: _Unit, name: str) -> tuple[str, str]:
    """What a unit binds ``name`` to: two modules bind a name alike only by importing the same thing."""
    imported = {
        ("import", f"{'.' * sub.level}{sub.module}.{alias.name}" if isinstance(sub, ast.ImportFrom) else
         alias.name if alias.asname else alias.name.split(".")[0])
        for sub in ast.walk(unit.node) if isinstance(sub, ast.Import | ast.ImportFrom)
        for alias in sub.names if (alias.asname or alias.name.split(".")[0]) == name
    }  # fmt: skip
    if len(imported) == 1 and name not in _bound_within(unit.node, imports=False):
        return imported.pop()
    return "module", module.name


def _module_order(home: str, needs: dict[str, dict[str, int]]) -> list[str]:
    """The modules in the order their bundled units run: each after the modules it takes names
    from (in the order of its imports), the function's own module last."""
    order: list[str] = []
    done: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in path:
            raise _Unbundlable(f"import cycle: {' -> '.join([*path[path.index(name) :], name])}")
        path.append(name)
        for dependency in sorted(needs.get(name, {}), key=lambda d: (needs[name][d], d)):
            visit(dependency)
        order.append(path.pop())
        done.add(name)

    visit(home)
    return order


def _collision(included: list[tuple[_Module, _Unit]], builtins_read: set[tuple[str, str]]) -> str | None:
    """Why the units of several modules cannot share one module: a name two of them bind
    differently, a builtin one reads that another defines, a star import beside another module."""
    modules_of: defaultdict[str, set[str]] = defaultdict(set)
    meanings: defaultdict[str, set[tuple[str, str]]] = defaultdict(set)
    for module, unit in included:
        for name in unit.binds:
            modules_of[name].add(module.name)
            meanings[name].add(_meaning(module, unit, name))
    if _STAR in modules_of:
        star = next(unit.text for _, unit in included if _STAR in unit.binds)
        return f"name collision: `{star}` would share a module with another module's names"
    for name in sorted(modules_of):
        if len(modules_of[name]) > 1 and len(meanings[name]) > 1:
            return f"name collision: `{name}` is defined in {' and '.join(sorted(modules_of[name]))}"
    for module_name, name in sorted(builtins_read):
        if name in modules_of:
            others = " and ".join(sorted(modules_of[name]))
            return f"name collision: {module_name} reads the builtin `{name}`, which {others} defines"
    return None


class _Bundler:
    """The units a function needs, gathered breadth first (the same order on every run, so that
    the first problem met is always the same) from its module and the modules of its tree."""

    def __init__(self, entry: _Unit, home: _Module, packages: frozenset[str], tree: _TreeModules | None):
        self.entry, self.home, self.packages, self.tree = entry, home, packages, tree
        self.included: dict[tuple[str, int], tuple[_Module, _Unit]] = {}
        self.pending: deque[tuple[_Module, str]] = deque()  # a name, and the module it is read in
        self.seen: set[tuple[str, str]] = set()
        self.needs: defaultdict[str, dict[str, int]] = defaultdict(dict)  # module -> {module it imports: at}
        self.namespaces: dict[tuple[str, str], _Module] = {}  # (module, name) -> the module the name is
        self.foreign: set[tuple[str, str]] = set()  # (module, name) read as a name by another module's units
        self.undefined: set[str] = set()
        self.builtins_read: set[tuple[str, str]] = set()
        self.aliases: set[tuple[str, int]] = set()  # the units that stand for `import ... as ...`
        self.taken = 0  # characters of code taken from other modules

    def gather(self) -> None:
        for unit in self.home.units:
            if _is_future(unit):
                self.include(self.home, unit)
        self.include(self.home, self.entry)
        while self.pending:
            module, read = self.pending.popleft()
            if (module.name, read) not in self.seen:
                self.seen.add((module.name, read))
                self.resolve(module, read)
        for module in {module.name: module for module, _ in self.included.values()}.values():
            for index, node in enumerate(module.nodes):
                if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                    self.take(module, index)  # a module's annotations postponed: the bundle's too

    def resolve(self, module: _Module, read: str) -> None:
        if module is self.home and read in self.entry.binds:
            found = [self.entry.index]  # earlier bindings of the entry's name (overload stubs) are not it
        else:
            found = module.binders(read)
        if not found and read not in _BUILTINS:
            found = module.binders(_STAR)  # the name may come from one
        if not found and read in _BUILTINS:
            self.builtins_read.add((module.name, read))
        elif not found:
            self.undefined.add(read if module is self.home else f"{read} (in {module.name})")
        for index in found:
            if self.tree is None or not self.tree.is_tree_import(module.nodes[index]):
                self.take(module, index)
                continue
            unit = module.unit(index)
            link = self.tree.follow(module, unit)
            self.needs[module.name].setdefault(link.module.name, unit.index)
            if link.name is None:
                self.namespace(module, read, unit, link.module, alone=len(found) == 1)
                continue
            [bound] = unit.binds
            if bound == link.name:
                self.request(link.module, link.name)
            else:
                self.include(module, _alias(unit, bound, link.name), reads_in=link.module)

    def namespace(self, module: _Module, read: str, unit: _Unit, space: _Module, alone: bool) -> None:
        """``read`` in ``module`` is the module ``space``: the units of ``module`` that read it are
        rewritten to read its names."""
        if not alone:
            raise _Unbundlable(f"needs `{unit.text}`: the module {space.name}, also bound otherwise")
        if (module.name, read) in self.foreign:
            raise _Unbundlable(_imported_namespace(module, read, space))
        self.namespaces[module.name, read] = space
        for key, (owner, user) in list(self.included.items()):
            if owner is module and key not in self.aliases and read in user.reads:
                self.rewrite(key, module, user)

    def request(self, module: _Module, name: str) -> None:
        """Read ``name`` in ``module`` for another module's units, which read it as a plain name."""
        if (module.name, name) in self.namespaces:
            raise _Unbundlable(_imported_namespace(module, name, self.namespaces[module.name, name]))
        self.foreign.add((module.name, name))
        self.pending.append((module, name))

    def take(self, module: _Module, index: int) -> None:
        """Include the unit ``index`` of ``module``, within the budget for the other modules' code."""
        if (module.name, index) in self.included:
            return
        if module is not self.home:
            self.taken += len(module.text(index))
            if self.taken > TREE_CODE_BUDGET:
                raise _Unbundlable(f"needs over {TREE_CODE_BUDGET} characters of code from other modules")
        self.include(module, module.unit(index))

    def include(self, module: _Module, unit: _Unit, reads_in: _Module | None = None) -> None:
        """Include ``unit`` of ``module``; its names are read in ``reads_in`` when given (``unit``
        is then ``bound = name`` for ``from reads_in import name as bound``)."""
        key = (module.name, unit.index)
        if key in self.included:
            return
        self.included[key] = (module, unit)
        if reads_in is not None:
            self.aliases.add(key)
            for read in sorted(unit.reads):
                self.request(reads_in, read)
        elif any((module.name, read) in self.namespaces for read in unit.reads):
            self.rewrite(key, module, unit)
        else:
            self.pending.extend((module, read) for read in sorted(unit.reads))

    def rewrite(self, key: tuple[str, int], module: _Module, unit: _Unit) -> None:
        spaces = {
            read: self.namespaces[module.name, read]
            for read in unit.reads
            if (module.name, read) in self.namespaces
        }
        names = ", ".join(sorted(unit.binds))
        where = f"`{names}` of {module.name}" if names else f"a statement of {module.name}"
        rewritten, reads = _unqualified(unit, spaces, where)
        self.included[key] = (module, rewritten)
        self.pending.extend((module, read) for read in sorted(rewritten.reads))
        for space, name in reads:
            self.request(space, name)

    def bundle(self) -> list[_Unit] | Rejection:
        try:
            self.gather()
        except _Unbundlable as problem:
            return Rejection(IngestReason.IMPORTS_TREE_MODULE, str(problem))
        if self.undefined:
            return Rejection(
                IngestReason.UNDEFINED_NAME, f"reads {', '.join(sorted(self.undefined))}, defined nowhere"
            )
        for key in sorted(self.included):
            for node in ast.walk(self.included[key][1].node):
                if isinstance(node, ast.Import | ast.ImportFrom) and _is_tree_import(node, self.packages):
                    needs = f"needs `{ast.unparse(node)}`"
                    return Rejection(
                        IngestReason.IMPORTS_TREE_MODULE,
                        f"{needs}, a module of its own tree"
                        if self.tree is None
                        else f"{needs} within a statement: only module-level imports of the tree are bundled",
                    )
                if isinstance(node, ast.Global):
                    return Rejection(
                        IngestReason.MUTATES_GLOBAL, f"declares `global {', '.join(node.names)}`"
                    )
        try:
            order = _module_order(self.home.name, self.needs)
        except _Unbundlable as problem:
            return Rejection(IngestReason.IMPORTS_TREE_MODULE, str(problem))
        rank = {name: position for position, name in enumerate(order)}
        ranked = sorted(
            self.included.values(),
            key=lambda pair: (not _is_future(pair[1]), rank[pair[0].name], pair[1].index),
        )
        if len(order) > 1 and (
            collision := _collision([pair for pair in ranked if not _is_future(pair[1])], self.builtins_read)
        ):
            return Rejection(IngestReason.IMPORTS_TREE_MODULE, collision)
        return _ordered(ranked, len(order))


def _ordered(ranked: list[tuple[_Module, _Unit]], modules: int) -> list[_Unit]:
    """The bundle: the units of one module as they stand; of several, their futures and imports
    first (each once; an import stays where it is in a module that binds its name otherwise too),
    then the other units, module by module."""
    if modules == 1:
        return [unit for _, unit in ranked]
    defined = {
        (module.name, name)
        for module, unit in ranked
        if not isinstance(unit.node, ast.Import | ast.ImportFrom)
        for name in unit.binds
    }
    head: dict[str, _Unit] = {}
    body: list[_Unit] = []
    for module, unit in ranked:
        if isinstance(unit.node, ast.Import | ast.ImportFrom) and not any(
            (module.name, name) in defined for name in unit.binds
        ):
            head.setdefault(unit.text, unit)
        else:
            body.append(unit)
    return [*head.values(), *body]


def _bundle(
    entry: _Unit, home: _Module, packages: frozenset[str], tree: _TreeModules | None = None
) -> list[_Unit] | Rejection:
    """The entry and every unit it needs, transitively: from its own module and, when ``tree`` can
    read them, from the modules of the tree that its module-level imports name (the imports then
    left out, a module imported as a namespace, ``module.name``, read as ``name``); each module's
    units in source order, after those of the modules it imports from. Or why it cannot be bundled."""
    return _Bundler(entry, home, packages, tree).bundle()


def _layout_kind(unit: _Unit) -> str:
    if isinstance(unit.node, _DEFINITIONS):
        return "definition"
    return "import" if isinstance(unit.node, ast.Import | ast.ImportFrom) else "statement"


def _shown_text(unit: _Unit, names: frozenset[str]) -> str:
    """The unit's source with the examples taken out of its docstrings."""
    if not any(isinstance(node, _DEFINITIONS) for node in ast.walk(unit.node)):
        return unit.text
    return strip_docstring_examples(unit.text, names)


def _bundle_code(bundle: list[_Unit], names: frozenset[str]) -> str:
    """The units joined as a module: imports, then other simple statements, one to a line and a
    blank line between the groups; two blank lines around each def and class. No docstring shows
    an example (of its own function, or of those ``names``)."""
    parts = [_shown_text(bundle[0], names)]
    for previous, unit in itertools.pairwise(bundle):
        kinds = {_layout_kind(previous), _layout_kind(unit)}
        parts.append("\n\n\n" if "definition" in kinds else "\n" if len(kinds) == 1 else "\n\n")
        parts.append(_shown_text(unit, names))
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


def _is_functools(target: ast.expr, modules: set[str], members: set[str], name: str | None = None) -> bool:
    """Whether ``target`` names a member of ``functools`` (``name`` itself, when given)."""
    if isinstance(target, ast.Name):
        return target.id in members if name is None else target.id == name and name in members
    return (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id in modules
        and (name is None or target.attr == name)
    )


def _wraps_style(home: _Module, name: str, modules: set[str], members: set[str]) -> bool:
    """Whether ``name`` is a decorator the module defines that returns a function made with
    ``functools.wraps`` (directly, or from a factory: ``@retry(3)``): calling it calls the
    decorated function, which ``__wrapped__`` leads to."""
    definitions = [home.nodes[index] for index in home.binders(name)]
    if not (len(definitions) == 1 and isinstance(definitions[0], ast.FunctionDef)):
        return False
    return any(
        isinstance(node, ast.FunctionDef)
        and any(
            _is_functools(
                decorator.func if isinstance(decorator, ast.Call) else decorator, modules, members, "wraps"
            )
            for decorator in node.decorator_list
        )
        for node in ast.walk(definitions[0])
        if node is not definitions[0]
    )


def _decorator_problem(function: ast.FunctionDef, home: _Module) -> str | None:
    """Why a decorator changes what calling the function means; ``functools`` ones (``cache``,
    ``lru_cache``), ``staticmethod`` and the module's own ``functools.wraps`` decorators do not."""
    modules, members = _functools_names(home.units)
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if _is_functools(target, modules, members) or (
            isinstance(target, ast.Name)
            and (target.id == "staticmethod" or _wraps_style(home, target.id, modules, members))
        ):
            continue
        return (
            f"decorated with @{ast.unparse(decorator)}: only functools decorators and the module's own"
            " decorators made with functools.wraps are run"
        )
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
    if not (arguments.args or arguments.kwonlyargs) and (arguments.vararg or arguments.kwarg):
        return Rejection(IngestReason.VARIADIC_ONLY, "takes only *args/**kwargs")
    return None


def _parameters_with_defaults(arguments: ast.arguments) -> list[tuple[ast.arg, ast.expr | None]]:
    positional = arguments.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
    return [
        *zip(positional, [*defaults, *arguments.defaults], strict=True),
        *zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True),
    ]


# What a user can do for a function that gets no inputs.
_GIVE_EXAMPLES = (
    "give it a doctest calling it with literal arguments, or type hints such as int, str, list[int]"
)


def _generated_inputs(
    function: ast.FunctionDef, settings: PyfilesConfig, hints: Hints
) -> list[str] | Rejection:
    """``settings.generated_inputs`` distinct kwargs drawn from the type hints (fewer when the
    types have fewer values). A parameter with a default and no usable hint keeps its default,
    unless its default is a literal: then it is drawn as the default's type in some inputs. A
    function whose every parameter has a default and none can be drawn gets no draws."""
    required: dict[str, Any] = {}
    optional: dict[str, Any] = {}
    for arg, default in _parameters_with_defaults(function.args):
        strategy = hints.strategy(arg.annotation)
        if strategy is not None:
            required[arg.arg] = strategy
        elif default is not None:
            if arg.annotation is None and (guessed := default_strategy(default)) is not None:
                optional[arg.arg] = guessed
        elif arg.annotation is None:
            detail = f"parameter {arg.arg} has no type hint and no example: {_GIVE_EXAMPLES}"
            return Rejection(IngestReason.NO_INPUTS, detail)
        else:
            advice = hints.advice(arg.annotation)
            detail = f"parameter {arg.arg}: no inputs are drawn for {ast.unparse(arg.annotation)}: "
            return Rejection(IngestReason.UNSUPPORTED_PARAMETER, detail + (advice or _GIVE_EXAMPLES))
    if not (required or optional):
        if _takes_no_arguments(function):
            return []
        return Rejection(IngestReason.NO_INPUTS, f"no parameter has a usable type hint: {_GIVE_EXAMPLES}")
    seed = int(content_id([settings.seed, function.name]), 16)  # the same on every machine and run
    return draw_inputs(required, optional, settings.generated_inputs, seed)


def _takes_no_arguments(function: ast.FunctionDef) -> bool:
    """Whether a call with no arguments binds: every parameter has a default (or there are none)."""
    return not Signature.of(function).required


def _signature_text(function: ast.FunctionDef) -> str:
    returns = f" -> {ast.unparse(function.returns)}" if function.returns else ""
    return f"def {function.name}({ast.unparse(function.args)}){returns}"


@dataclass(frozen=True)
class _Inputs:
    items: list[dict[str, str | None]]
    origin: str  # doctest, docstring or generated
    skipped: dict[str, int]  # the docstring's calls that gave no input, or no expected output, by reason


@dataclass(frozen=True)
class _ModuleFacts:
    """What a module gives every function's inputs: its type aliases (for the hints), and the
    values of its literal constants (a doctest runs in the module's namespace and may pass them)."""

    hints: Hints
    literals: dict[str, tuple[Any, int]]  # name -> value, line

    @classmethod
    def of(cls, home: _Module) -> _ModuleFacts:
        literals: dict[str, tuple[Any, int]] = {}
        for index, node in enumerate(home.nodes):
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
                continue
            target = node.targets[0]
            # bound once and changed by no module-level statement: its value when a doctest runs
            if isinstance(target, ast.Name) and home.binders(target.id) == [index]:
                try:
                    literals[target.id] = (parse_literal(ast.unparse(node.value)), node.lineno)
                except NotALiteral:
                    continue
        return cls(Hints(type_aliases(home.nodes)), literals)


def _inputs(function: ast.FunctionDef, settings: PyfilesConfig, facts: _ModuleFacts) -> _Inputs | Rejection:
    """The program's inputs: from its doctests, else its written examples, else its type hints;
    and the call with no arguments where every parameter has a default."""
    signature = Signature.of(function)
    docstring = ast.get_docstring(function, clean=False) or ""  # as doctest reads it
    doctests: Examples = doctest_examples(
        docstring, function, signature, function.body[0].lineno, facts.literals
    )
    skipped = dict(doctests.skipped.most_common())
    for origin, examples in (
        ("doctest", doctests.found),
        ("docstring", written_examples(docstring, function, signature)),
    ):
        expected_for: dict[str, str | None] = {}
        for input_json, expected in examples:
            if expected_for.get(input_json) is None:  # the first example that shows the output wins
                expected_for[input_json] = expected
        if expected_for:
            items = [{"input_json": i, "expected_output_json": o} for i, o in expected_for.items()]
            return _Inputs(_with_no_arguments(function, items), origin, skipped)
    generated = _generated_inputs(function, settings, facts.hints)
    if isinstance(generated, Rejection):
        if skipped:
            detail = f"{generated.detail}; its doctests give no input: {doctests.summary()}"
            return Rejection(generated.reason, detail)
        return generated
    items = [{"input_json": text, "expected_output_json": None} for text in generated]
    origin = "generated" if generated else "no_arguments"
    return _Inputs(_with_no_arguments(function, items), origin, skipped)


_NO_ARGUMENTS = encode({})


def _with_no_arguments(
    function: ast.FunctionDef, items: list[dict[str, str | None]]
) -> list[dict[str, str | None]]:
    """``items`` and, where every parameter has a default, the call with no arguments (its output
    unknown unless an example shows it): how such a function is called as written
    (``solution()``, ``main()``)."""
    if not _takes_no_arguments(function) or any(item["input_json"] == _NO_ARGUMENTS for item in items):
        return items
    return [*items, {"input_json": _NO_ARGUMENTS, "expected_output_json": None}]


@dataclass(frozen=True)
class _Where:
    source: str  # the path relative to the tree's root
    module: str  # the dotted module name
    packages: frozenset[str]


def _program(
    entry: _Unit,
    function: ast.FunctionDef,
    home: _Module,
    settings: PyfilesConfig,
    where: _Where,
    tree: _TreeModules | None,
    facts: _ModuleFacts,
) -> dict[str, Any] | Rejection:
    if _is_generator(function):
        return Rejection(IngestReason.GENERATOR_FUNCTION, "returns a generator, not a value")
    if problem := _decorator_problem(function, home):
        return Rejection(IngestReason.UNSUPPORTED_DECORATOR, problem)
    if rejection := _parameter_problem(function):
        return rejection
    bundle = _bundle(entry, home, where.packages, tree)
    if isinstance(bundle, Rejection):
        return bundle
    inputs = _inputs(function, settings, facts)
    if isinstance(inputs, Rejection):
        return inputs
    # no answer in the prompt: the examples are out of the docstrings shown (their inputs are asked)
    names = frozenset({function.name})
    problem = inspect.cleandoc(
        without_examples(ast.get_docstring(function, clean=False) or "", names)
    ).strip()
    content = {
        "source_kind": SOURCE_KIND,
        "source": where.source,
        "category": where.module,
        "problem": problem or f"The function `{function.name}` of the module `{where.module}`.",
        "io_requirements": _signature_text(function),
        "code": _bundle_code(bundle, names),
        "entry_point": function.name,
        "inputs": inputs.items,
    }
    meta = {
        "module": where.module,
        "path": where.source,
        "function": function.name,
        "line": function.lineno,
        "input_origin": inputs.origin,
        **({"skipped_examples": inputs.skipped} if inputs.skipped else {}),
    }
    return {
        "program_id": content_id(content),
        **content,
        "run_mode": RunMode.CALL.value,  # outside the content: a call is how programs always ran
        "domain": domain_for_category(where.source),
        "meta_json": canonical_json(meta),
    }


_PARSER = (
    f"read by the Python {sys.version_info.major}.{sys.version_info.minor} parser: code written for "
    "a newer Python (type parameters `class C[T]`, 3.12; `except A, B:`, 3.14) needs tracepile "
    "installed under that Python"
)


def parse_pyfile(
    path: str,
    text: str,
    settings: PyfilesConfig,
    tree: PyTree | None = None,
    read_file: FileReader | None = None,
) -> Iterator[dict[str, Any] | Rejection]:
    """One program (``parse_codeio_record``'s fields) or rejection per public top-level function
    of the module at ``path`` (within ``tree``, when known) whose source is ``text``; a single
    rejection when the module does not compile. Never runs the module.

    With a tree and ``read_file`` (the text of a file of the tree by its path, None where there is
    none), a function also bundles what it needs from the tree's other modules through the
    module-level imports of its module (``from .sibling import helper``, ``from pkg.sub import
    CONST``), transitively; without them an import of the tree's own modules is rejected."""
    if tree is None:
        where = _Where(path, posixpath.basename(path).removesuffix(".py"), frozenset())
    else:
        where = _Where(tree.relative(path), tree.module_name(path), tree.packages)
    text = text.removeprefix("\ufeff")  # a byte-order mark decoded as a character
    try:
        module = _compiled(text, path)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:  # ValueError: NUL bytes
        line = getattr(exc, "lineno", None) or 1
        yield Rejection(IngestReason.SYNTAX_ERROR, f"{f'{type(exc).__name__}: {exc}'[:400]}; {_PARSER}", line)
        return
    home = _Module(where.module, posixpath.basename(path) == "__init__.py", module, text)
    units = home.units
    modules = None if tree is None or read_file is None else _TreeModules(tree, read_file, home)
    last_binder = {name: unit for unit in units for name in unit.binds}
    facts: _ModuleFacts | None = None  # made once, when a function first needs it
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
            facts = facts or _ModuleFacts.of(home)
            result = _program(unit, function, home, settings, where, modules, facts)
        if isinstance(result, Rejection):
            detail = f"{function.name} (line {function.lineno}): {result.detail}"
            result = Rejection(result.reason, detail, function.lineno)
        yield result
