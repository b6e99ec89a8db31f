"""A module of a ``pyfiles`` tree, parsed (never run) into units a program may bundle: each
top-level statement, or one name of an import, with the names it binds, reads and changes in place."""

from __future__ import annotations

import ast
import builtins
import io
import re
import symtable
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

BUILTINS = frozenset(dir(builtins))
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
STAR = "*"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Unit:
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
        if not (isinstance(call.func, ast.Name) and call.func.id in BUILTINS):
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
        if isinstance(node, DEFINITIONS):
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
    return STAR if alias.name == STAR else alias.asname or alias.name.split(".")[0]


def _words(text: str) -> set[str]:
    """Every name ``text`` may bind (a superset: each word, as Python normalizes an identifier)."""
    words = set(_WORD.findall(text))
    return words | {unicodedata.normalize("NFKC", word) for word in words if not word.isascii()}


class ParsedModule:
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
            node.name: index for index, node in enumerate(self.nodes) if isinstance(node, DEFINITIONS)
        }
        self._texts: dict[int, str] = {}
        self._binds: dict[int, frozenset[str]] = {}
        self._scopes: dict[int, tuple[frozenset[str], frozenset[str]]] = {}  # binds and reads
        self._units: dict[int, Unit] = {}
        self._binders: dict[str, list[int]] = {}
        self._candidates: dict[str, list[int]] | None = None

    @property
    def units(self) -> list[Unit]:
        return [self.unit(index) for index in range(len(self.nodes))]

    def text(self, index: int) -> str:
        if index not in self._texts:
            node = self.nodes[index]
            is_import = isinstance(node, ast.Import | ast.ImportFrom)
            self._texts[index] = ast.unparse(node) if is_import else _segment(self.lines, node)
        return self._texts[index]

    def unit(self, index: int) -> Unit:
        if index not in self._units:
            node = self.nodes[index]
            if isinstance(node, ast.Import | ast.ImportFrom):
                binds, reads = self.binds(index), frozenset[str]()
            else:
                binds, reads = self._scoped(index)
                # what it binds before it reads (`for word in WORDS: ...word...`) is its own
                reads -= binds - _read_unbound(node)
            self._units[index] = Unit(index, node, self.text(index), binds, reads, self._changes(index))
        return self._units[index]

    def binds(self, index: int) -> frozenset[str]:
        """The names the unit binds (a def or class without ``:=`` binds its name only)."""
        if index not in self._binds:
            node = self.nodes[index]
            if isinstance(node, ast.Import | ast.ImportFrom):
                self._binds[index] = frozenset({_import_binds(node)})
            elif isinstance(node, DEFINITIONS) and not any(
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
                if isinstance(node, DEFINITIONS) and self.last_definition[node.name] != index:
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


def is_tree_import(node: ast.Import | ast.ImportFrom, packages: frozenset[str]) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] in packages
    return any(alias.name.split(".")[0] in packages for alias in node.names)


def is_future(unit: Unit) -> bool:
    return isinstance(unit.node, ast.ImportFrom) and unit.node.module == "__future__"


def compiled(text: str, path: str) -> ast.Module:
    """The module's AST; raises what the parser or the compiler would (a module is never run)."""
    module = ast.parse(text, filename=path)
    compile(module, path, "exec", dont_inherit=True)  # the errors the parser leaves to the compiler
    return module
