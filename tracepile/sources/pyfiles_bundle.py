"""Bundling for the ``pyfiles`` source kind: a function and every unit it needs, transitively, from
its own module and, through its module-level imports, from the other modules of its tree, gathered
into one program's code; or why it cannot be (a name two modules define differently, an import
cycle, a star import of the tree, a module read other than as ``module.name``, too much code)."""

from __future__ import annotations

import ast
import io
import itertools
import posixpath
from collections import OrderedDict, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from tracepile.sources.pyfiles_examples import strip_docstring_examples
from tracepile.sources.pyfiles_tree import FileReader, PyTree
from tracepile.sources.pyfiles_units import (
    BUILTINS,
    DEFINITIONS,
    STAR,
    ParsedModule,
    Unit,
    is_future,
    is_tree_import,
)
from tracepile.sources.records import Rejection
from tracepile.vocab import IngestReason


class _Unbundlable(Exception):
    """Why what a function needs from the modules of its tree cannot be bundled."""


@dataclass(frozen=True)
class _Link:
    """Where a module-level import of the tree leads: a name of one of its modules (the first one
    not imported from another), or (no name) a module itself."""

    module: ParsedModule
    name: str | None


def _absolute(module: ParsedModule, node: ast.ImportFrom) -> str | None:
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
        self.modules: OrderedDict[tuple[str, bool, str], ParsedModule | str] = OrderedDict()

    def get(self, name: str, package: bool, text: str) -> ParsedModule | str:
        key = (name, package, text)
        if key in self.modules:
            self.modules.move_to_end(key)
            return self.modules[key]
        try:
            found: ParsedModule | str = ParsedModule(name, package, ast.parse(text, filename=name), text)
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


class TreeModules:
    """The modules of a function's tree, read through ``read_file`` at the paths
    ``PyTree.module_paths`` gives and parsed once each (never run)."""

    def __init__(self, tree: PyTree, read_file: FileReader, home: ParsedModule) -> None:
        self.tree = tree
        self.read_file = read_file
        self.modules: dict[str, ParsedModule | str] = {home.name: home}  # a module, or why none

    def module(self, name: str) -> ParsedModule | str:
        if name not in self.modules:
            self.modules[name] = self._load(name)
        return self.modules[name]

    def _load(self, name: str) -> ParsedModule | str:
        for path in self.tree.module_paths(name):
            text = self.read_file(path)
            if text is not None:
                return _MODULES.get(
                    name, posixpath.basename(path) == "__init__.py", text.removeprefix("\ufeff")
                )
        return f"{name} is no .py module of the tree"

    def follow(self, module: ParsedModule, unit: Unit) -> _Link:
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
        return isinstance(node, ast.Import | ast.ImportFrom) and is_tree_import(node, self.tree.packages)

    def _step(self, module: ParsedModule, unit: Unit) -> _Link:
        node = unit.node
        assert isinstance(node, ast.Import | ast.ImportFrom)
        alias = node.names[0]
        if isinstance(node, ast.Import):
            return _Link(self._module(alias.name if alias.asname else alias.name.split(".")[0], unit), None)
        if alias.name == STAR:
            raise _Unbundlable(f"needs `{unit.text}`, a star import of its own tree")
        source = self._source(module, unit)
        binders = source.binders(alias.name)
        if binders and not (source is module and binders == [unit.index]):
            return _Link(source, alias.name)  # (not `from . import name` in an __init__: its submodule)
        submodule = self.module(f"{source.name}.{alias.name}")
        if isinstance(submodule, ParsedModule):
            return _Link(submodule, None)
        for index in source.binders(STAR):
            if self.is_tree_import(source.nodes[index]):
                star = source.unit(index).text
                raise _Unbundlable(
                    f"needs `{unit.text}`: {source.name} may bind it by `{star}`, a star import"
                )
        raise _Unbundlable(
            f"needs `{unit.text}`: {source.name} has no {alias.name}, neither a name nor a .py module"
        )

    def _source(self, module: ParsedModule, unit: Unit) -> ParsedModule:
        """The module ``unit``, a ``from ... import`` of the tree in ``module``, imports from."""
        assert isinstance(unit.node, ast.ImportFrom)
        name = _absolute(module, unit.node)
        if name is None:
            raise _Unbundlable(f"needs `{unit.text}`, a relative import beyond the top-level package")
        return self._module(name, unit)

    def _module(self, name: str, unit: Unit) -> ParsedModule:
        found = self.module(name)
        if isinstance(found, str):
            raise _Unbundlable(f"needs `{unit.text}`: {found}")
        return found


def _imported_namespace(module: ParsedModule, name: str, space: ParsedModule) -> str:
    return f"`{name}` of {module.name} is the module {space.name}, which another module imports as a name"


def _alias(unit: Unit, bound: str, name: str) -> Unit:
    """``bound = name``: what ``from m import name as bound`` becomes once ``name`` is bundled."""
    node = ast.parse(f"{bound} = {name}").body[0]
    return Unit(unit.index, node, ast.unparse(node), frozenset({bound}), frozenset({name}), frozenset())


def _bound_within(node: ast.AST, imports: bool = True) -> set[str]:
    """The names bound anywhere within ``node``, in any of its scopes."""
    bound: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
            bound.add(sub.id)
        elif isinstance(sub, ast.arg):
            bound.add(sub.arg)
        elif isinstance(sub, (*DEFINITIONS, ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and sub.name:
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
    unit: Unit, spaces: dict[str, ParsedModule], where: str
) -> tuple[Unit, list[tuple[ParsedModule, str]]]:
    """``unit`` with each ``module.name`` of the modules it reads as namespaces (``from . import
    module``) written ``name``, and the names it then reads from them; its source is edited where
    they stand, and reparsed to check that nothing else changed."""
    [stmt] = ast.parse(unit.text).body  # the source of one top-level statement
    parents = {child: parent for parent in ast.walk(stmt) for child in ast.iter_child_nodes(parent)}
    bound = _bound_within(stmt)
    lines = io.StringIO(unit.text, newline="").readlines()
    starts = list(itertools.accumulate((len(line.encode()) for line in lines), initial=0))
    edits: list[tuple[int, int, str]] = []
    reads: list[tuple[ParsedModule, str]] = []
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
    rewritten = Unit(unit.index, edited, text, unit.binds, unit.reads - spaces.keys(), unit.changes)
    return rewritten, sorted(set(reads), key=lambda read: (read[0].name, read[1]))


def _meaning(module: ParsedModule, unit: Unit, name: str) -> tuple[str, str]:
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


def _collision(included: list[tuple[ParsedModule, Unit]], builtins_read: set[tuple[str, str]]) -> str | None:
    """Why the units of several modules cannot share one module: a name two of them bind
    differently, a builtin one reads that another defines, a star import beside another module."""
    modules_of: defaultdict[str, set[str]] = defaultdict(set)
    meanings: defaultdict[str, set[tuple[str, str]]] = defaultdict(set)
    for module, unit in included:
        for name in unit.binds:
            modules_of[name].add(module.name)
            meanings[name].add(_meaning(module, unit, name))
    if STAR in modules_of:
        star = next(unit.text for _, unit in included if STAR in unit.binds)
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

    def __init__(self, entry: Unit, home: ParsedModule, packages: frozenset[str], tree: TreeModules | None):
        self.entry, self.home, self.packages, self.tree = entry, home, packages, tree
        self.included: dict[tuple[str, int], tuple[ParsedModule, Unit]] = {}
        self.pending: deque[tuple[ParsedModule, str]] = deque()  # a name, and the module it is read in
        self.seen: set[tuple[str, str]] = set()
        self.needs: defaultdict[str, dict[str, int]] = defaultdict(dict)  # module -> {module it imports: at}
        self.namespaces: dict[tuple[str, str], ParsedModule] = {}  # (module, name) -> the module the name is
        self.foreign: set[tuple[str, str]] = set()  # (module, name) read as a name by another module's units
        self.undefined: set[str] = set()
        self.builtins_read: set[tuple[str, str]] = set()
        self.aliases: set[tuple[str, int]] = set()  # the units that stand for `import ... as ...`
        self.taken = 0  # characters of code taken from other modules

    def gather(self) -> None:
        for unit in self.home.units:
            if is_future(unit):
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

    def resolve(self, module: ParsedModule, read: str) -> None:
        if module is self.home and read in self.entry.binds:
            found = [self.entry.index]  # earlier bindings of the entry's name (overload stubs) are not it
        else:
            found = module.binders(read)
        if not found and read not in BUILTINS:
            found = module.binders(STAR)  # the name may come from one
        if not found and read in BUILTINS:
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

    def namespace(
        self, module: ParsedModule, read: str, unit: Unit, space: ParsedModule, alone: bool
    ) -> None:
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

    def request(self, module: ParsedModule, name: str) -> None:
        """Read ``name`` in ``module`` for another module's units, which read it as a plain name."""
        if (module.name, name) in self.namespaces:
            raise _Unbundlable(_imported_namespace(module, name, self.namespaces[module.name, name]))
        self.foreign.add((module.name, name))
        self.pending.append((module, name))

    def take(self, module: ParsedModule, index: int) -> None:
        """Include the unit ``index`` of ``module``, within the budget for the other modules' code."""
        if (module.name, index) in self.included:
            return
        if module is not self.home:
            self.taken += len(module.text(index))
            if self.taken > TREE_CODE_BUDGET:
                raise _Unbundlable(f"needs over {TREE_CODE_BUDGET} characters of code from other modules")
        self.include(module, module.unit(index))

    def include(self, module: ParsedModule, unit: Unit, reads_in: ParsedModule | None = None) -> None:
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

    def rewrite(self, key: tuple[str, int], module: ParsedModule, unit: Unit) -> None:
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

    def bundle(self) -> list[Unit] | Rejection:
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
                if isinstance(node, ast.Import | ast.ImportFrom) and is_tree_import(node, self.packages):
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
            key=lambda pair: (not is_future(pair[1]), rank[pair[0].name], pair[1].index),
        )
        if len(order) > 1 and (
            collision := _collision([pair for pair in ranked if not is_future(pair[1])], self.builtins_read)
        ):
            return Rejection(IngestReason.IMPORTS_TREE_MODULE, collision)
        return _ordered(ranked, len(order))


def _ordered(ranked: list[tuple[ParsedModule, Unit]], modules: int) -> list[Unit]:
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
    head: dict[str, Unit] = {}
    body: list[Unit] = []
    for module, unit in ranked:
        if isinstance(unit.node, ast.Import | ast.ImportFrom) and not any(
            (module.name, name) in defined for name in unit.binds
        ):
            head.setdefault(unit.text, unit)
        else:
            body.append(unit)
    return [*head.values(), *body]


def bundle_units(
    entry: Unit, home: ParsedModule, packages: frozenset[str], tree: TreeModules | None = None
) -> list[Unit] | Rejection:
    """The entry and every unit it needs, transitively: from its own module and, when ``tree`` can
    read them, from the modules of the tree that its module-level imports name (the imports then
    left out, a module imported as a namespace, ``module.name``, read as ``name``); each module's
    units in source order, after those of the modules it imports from. Or why it cannot be bundled."""
    return _Bundler(entry, home, packages, tree).bundle()


def _layout_kind(unit: Unit) -> str:
    if isinstance(unit.node, DEFINITIONS):
        return "definition"
    return "import" if isinstance(unit.node, ast.Import | ast.ImportFrom) else "statement"


def _shown_text(unit: Unit, names: frozenset[str]) -> str:
    """The unit's source with the examples taken out of its docstrings."""
    if not any(isinstance(node, DEFINITIONS) for node in ast.walk(unit.node)):
        return unit.text
    return strip_docstring_examples(unit.text, names)


def bundle_code(bundle: list[Unit], names: frozenset[str]) -> str:
    """The units joined as a module: imports, then other simple statements, one to a line and a
    blank line between the groups; two blank lines around each def and class. No docstring shows
    an example (of its own function, or of those ``names``)."""
    parts = [_shown_text(bundle[0], names)]
    for previous, unit in itertools.pairwise(bundle):
        kinds = {_layout_kind(previous), _layout_kind(unit)}
        parts.append("\n\n\n" if "definition" in kinds else "\n" if len(kinds) == 1 else "\n\n")
        parts.append(_shown_text(unit, names))
    return "".join(parts) + "\n"
