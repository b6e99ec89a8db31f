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

This module is the kind's entry (functions -> programs, their inputs and rejects); the tree is in
``pyfiles_tree``, a module's units in ``pyfiles_units``, bundling in ``pyfiles_bundle``, doctests in
``pyfiles_doctest``, written examples and their removal in ``pyfiles_examples``, and inputs drawn
from type hints in ``pyfiles_hints``.
"""

from __future__ import annotations

import ast
import inspect
import posixpath
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tracepile.analysis.filters import Signature
from tracepile.analysis.hashing import canonical_json, content_id
from tracepile.analysis.values import NotALiteral, encode, parse_literal
from tracepile.config import PyfilesConfig
from tracepile.sources.codeio import domain_for_category
from tracepile.sources.pyfiles_bundle import TREE_CODE_BUDGET, TreeModules, bundle_code, bundle_units
from tracepile.sources.pyfiles_doctest import Examples, doctest_examples
from tracepile.sources.pyfiles_examples import without_examples, written_examples
from tracepile.sources.pyfiles_hints import Hints, default_strategy, draw_inputs, type_aliases
from tracepile.sources.pyfiles_tree import FileReader, PyTree, scan_tree
from tracepile.sources.pyfiles_units import ParsedModule, Unit, compiled
from tracepile.sources.records import Rejection
from tracepile.vocab import IngestReason, RunMode, SourceKind

# what the kind offers its reader (files.py) and its tests
__all__ = ["SOURCE_KIND", "TREE_CODE_BUDGET", "FileReader", "PyTree", "parse_pyfile", "scan_tree"]

SOURCE_KIND = SourceKind.PYFILES


def _functools_names(units: list[Unit]) -> tuple[set[str], set[str]]:
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


def _wraps_style(home: ParsedModule, name: str, modules: set[str], members: set[str]) -> bool:
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


def _decorator_problem(function: ast.FunctionDef, home: ParsedModule) -> str | None:
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
    def of(cls, home: ParsedModule) -> _ModuleFacts:
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
    entry: Unit,
    function: ast.FunctionDef,
    home: ParsedModule,
    settings: PyfilesConfig,
    where: _Where,
    tree: TreeModules | None,
    facts: _ModuleFacts,
) -> dict[str, Any] | Rejection:
    if _is_generator(function):
        return Rejection(IngestReason.GENERATOR_FUNCTION, "returns a generator, not a value")
    if problem := _decorator_problem(function, home):
        return Rejection(IngestReason.UNSUPPORTED_DECORATOR, problem)
    if rejection := _parameter_problem(function):
        return rejection
    bundle = bundle_units(entry, home, where.packages, tree)
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
        "code": bundle_code(bundle, names),
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
        module = compiled(text, path)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:  # ValueError: NUL bytes
        line = getattr(exc, "lineno", None) or 1
        yield Rejection(IngestReason.SYNTAX_ERROR, f"{f'{type(exc).__name__}: {exc}'[:400]}; {_PARSER}", line)
        return
    home = ParsedModule(where.module, posixpath.basename(path) == "__init__.py", module, text)
    units = home.units
    modules = None if tree is None or read_file is None else TreeModules(tree, read_file, home)
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
