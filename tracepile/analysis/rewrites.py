"""Meaning-preserving rewrites of a program, by AST transforms.

A rewrite is a new program that must return what the original returns on every input; the
pipeline keeps one only when differential execution in the sandbox agrees. Each transform
is a function ``(tree, entry_point, seed) -> ast.Module | None`` that edits its own copy of
the tree where its safety conditions hold and returns ``None`` where they do not: doubt
gives no rewrite rather than a wrong one. Choices among the places a transform applies are
made by a seeded hash, so the same code and seed give the same rewrites. The entry
function's name and parameter names never change: inputs are passed to it by keyword.
"""

from __future__ import annotations

import ast
import builtins
import copy
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import xxhash

from tracepile.analysis import pyast
from tracepile.analysis.pyast import holding_ast_lock
from tracepile.vocab import RewriteKind


@dataclass(frozen=True)
class Rewrite:
    kind: RewriteKind
    code: str
    detail: str  # which top-level definitions it changes or adds


Transform = Callable[[ast.Module, str, int], ast.Module | None]
T = TypeVar("T")

# Calls that neither change state nor read hidden state, so an expression made of them can
# move: builtins by name (unless the program rebinds the name), methods by name, math.*.
PURE_FUNCTIONS = frozenset(
    {
        "abs", "all", "any", "bool", "chr", "dict", "divmod", "enumerate", "float", "frozenset",
        "int", "isinstance", "len", "list", "max", "min", "ord", "pow", "range", "repr", "reversed",
        "round", "set", "sorted", "str", "sum", "tuple", "zip",
    }
)  # fmt: skip
PURE_METHODS = frozenset(
    {
        "count", "endswith", "find", "format", "get", "index", "isalnum", "isalpha", "isdigit",
        "islower", "isspace", "isupper", "items", "join", "keys", "lower", "lstrip", "replace",
        "rstrip", "split", "startswith", "strip", "title", "upper", "values",
    }
)  # fmt: skip
PURE_MODULES = frozenset({"math"})
# Builtins that read or write a frame's variables by name: renaming or moving code breaks them.
FRAME_BUILTINS = frozenset({"locals", "vars", "eval", "exec", "globals", "dir", "super"})
# Readable names for renamed variables, taken in a seeded order; a clash falls back to a suffix.
NAME_POOL = (
    "acc", "item", "value", "cur", "tmp", "res", "val", "elem", "count", "idx", "pos", "part",
    "step", "node", "buf", "key", "total", "num", "left", "right", "seq", "word", "row", "col",
)  # fmt: skip
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_LOOPS = (ast.For, ast.While)
_ROUNDS = 3  # after one rewrite per kind, this many more seeds are tried for the rest of `limit`


# ---- choosing, by a seeded hash ------------------------------------------------------------


def _hash(seed: int, salt: str, index: int) -> int:
    return xxhash.xxh3_64_intdigest(f"{seed}:{salt}:{index}".encode())


def _seeded_order(items: Sequence[T], seed: int, salt: str) -> list[T]:
    order = sorted(range(len(items)), key=lambda i: _hash(seed, salt, i))
    return [items[i] for i in order]


def _pick(sites: Sequence[tuple[ast.FunctionDef, T]], entry: str, seed: int, salt: str) -> T | None:
    """One site, by seed; a site in the entry function first, since that is what the trace shows."""
    preferred = [site for func, site in sites if func.name == entry] or [site for _, site in sites]
    return _seeded_order(preferred, seed, salt)[0] if preferred else None


# ---- names and scopes ----------------------------------------------------------------------


def _walk_scope(nodes: Sequence[ast.AST]) -> Iterator[ast.AST]:
    """Every node of ``nodes`` in their own scope: a nested def, lambda or class is yielded
    but not entered (comprehensions are entered; their targets are handled by the caller)."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _comprehension_targets(nodes: Sequence[ast.AST]) -> set[int]:
    return {
        id(name)
        for node in _walk_scope(nodes)
        if isinstance(node, ast.comprehension)
        for name in ast.walk(node.target)
    }


def _parameters(args: ast.arguments) -> list[str]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return [a.arg for a in every if a is not None]


def _bindings(stmts: Sequence[ast.stmt]) -> set[str]:
    """Names that ``stmts`` bind in their own scope (not in nested scopes or comprehensions)."""
    inner = _comprehension_targets(stmts)
    bound: set[str] = set()
    for node in _walk_scope(stmts):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load) and id(node) not in inner:
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def _function_locals(func: ast.FunctionDef) -> set[str]:
    return set(_parameters(func.args)) | _bindings(func.body)


def _stores(nodes: Sequence[ast.AST]) -> set[str]:
    """Names stored or deleted anywhere under ``nodes``, nested scopes included."""
    return {
        n.id
        for node in nodes
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }


def _loads(nodes: Sequence[ast.AST]) -> set[str]:
    return {
        n.id
        for node in nodes
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def _all_names(tree: ast.Module) -> set[str]:
    """Every identifier the module uses in any role, and the builtins: a fresh name avoids all."""
    names = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.update({node.name.split(".")[0], node.asname or ""})
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names.update(node.names)
    return names


def _fresh(taken: set[str], wanted: Sequence[str]) -> str:
    """The first of ``wanted`` not taken (else the first with a number), now taken."""
    name = next((w for w in wanted if w not in taken), None)
    suffix = 1
    while name is None or name in taken:
        name, suffix = f"{wanted[0]}_{suffix}", suffix + 1
    taken.add(name)
    return name


def _module_bindings(tree: ast.Module) -> set[str]:
    """Names the program binds anywhere: a builtin among them may not be the builtin."""
    return (
        _stores([tree])
        | {
            n.name if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) else n.arg
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.arg)
        }
        | {n.asname or n.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.alias)}
    )


def _is_pure(node: ast.AST, rebound: set[str]) -> bool:
    """No call that may change state (only known-pure builtins, methods and math.*), no
    assignment expression, no yield or await."""
    for n in ast.walk(node):
        if isinstance(n, ast.NamedExpr | ast.Yield | ast.YieldFrom | ast.Await):
            return False
        if isinstance(n, ast.Call):
            func = n.func
            if isinstance(func, ast.Name) and func.id in PURE_FUNCTIONS and func.id not in rebound:
                continue
            if isinstance(func, ast.Attribute) and (
                func.attr in PURE_METHODS
                or (isinstance(func.value, ast.Name) and func.value.id in PURE_MODULES)
            ):
                continue
            return False
    return True


def _uses_frame(nodes: Sequence[ast.AST]) -> bool:
    """Code that reads variables by name, rebinds across scopes, or holds a class scope."""
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.Global | ast.Nonlocal | ast.ClassDef):
                return True
            if isinstance(n, ast.Name) and n.id in FRAME_BUILTINS:
                return True
    return False


def _has_scope(nodes: Sequence[ast.AST]) -> bool:
    return any(isinstance(n, _SCOPES) for node in nodes for n in ast.walk(node))


def _functions(tree: ast.Module) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


def _top_level_functions(tree: ast.Module) -> list[tuple[ast.FunctionDef, ast.stmt]]:
    """Functions at module level and methods of module-level classes, each with the
    module-level statement that holds it (where a new helper goes before)."""
    found: list[tuple[ast.FunctionDef, ast.stmt]] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef):
            found.append((stmt, stmt))
        elif isinstance(stmt, ast.ClassDef):
            found.extend((m, stmt) for m in stmt.body if isinstance(m, ast.FunctionDef))
    return found


def _blocks(func: ast.FunctionDef) -> list[list[ast.stmt]]:
    """Every statement list in ``func``'s own scope, its body first."""
    found = [func.body]
    for node in _walk_scope(func.body):
        if isinstance(node, _SCOPES):
            continue
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                found.append(stmts)
    return found


def _read_outside(func: ast.FunctionDef, name: str, region: Sequence[ast.AST]) -> bool:
    """Whether ``func`` reads ``name`` anywhere but in ``region``: a read inside another
    ``for name in ...`` loop's body does not count, since that loop binds it first."""
    inside = {id(n) for node in region for n in ast.walk(node)}
    rebinding = {
        id(n)
        for loop in ast.walk(func)
        if isinstance(loop, ast.For) and isinstance(loop.target, ast.Name) and loop.target.id == name
        for stmt in loop.body
        for n in ast.walk(stmt)
    }
    return any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
        and id(n) not in inside and id(n) not in rebinding
        for n in ast.walk(func)
    )  # fmt: skip


def _continues(stmts: Sequence[ast.stmt]) -> list[ast.Continue]:
    """The ``continue`` statements that belong to the loop whose body is ``stmts``."""
    found: list[ast.Continue] = []
    stack = list(stmts)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Continue):
            found.append(node)
        elif not isinstance(node, (*_LOOPS, *_SCOPES)):
            stack.extend(ast.iter_child_nodes(node))
    return found


def _breaks_out(stmts: Sequence[ast.stmt]) -> bool:
    """A ``break`` or ``continue`` in ``stmts`` that leaves them (not inside a loop of theirs)."""
    stack: list[ast.AST] = list(stmts)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break | ast.Continue):
            return True
        if not isinstance(node, (*_LOOPS, *_SCOPES)):
            stack.extend(ast.iter_child_nodes(node))
    return False


def _int_constant(node: ast.AST) -> int | None:
    """The value of an int literal, negative ones included."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _int_constant(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def _name(identifier: str, store: bool = False) -> ast.Name:
    return ast.Name(id=identifier, ctx=ast.Store() if store else ast.Load())


def _replace_in(stmts: list[ast.stmt], old: ast.stmt, new: Sequence[ast.stmt]) -> None:
    at = next(i for i, s in enumerate(stmts) if s is old)
    stmts[at : at + 1] = list(new)


# ---- the transforms ------------------------------------------------------------------------


def rename_locals(tree: ast.Module, entry_point: str, seed: int) -> ast.Module | None:
    """Consistently rename up to three local variables of one function. Never renamed: the
    entry function's parameters (the inputs' keywords), a helper's parameters that some call
    names by keyword, a method's first parameter, names bound by imports, nested defs or
    nested functions' parameters, and anything in a function that looks names up at run time."""
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    keywords = {kw.arg for call in calls for kw in call.keywords}
    methods = {id(m) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for m in c.body}
    sites: list[tuple[ast.FunctionDef, tuple[ast.FunctionDef, list[str]]]] = []
    for func in _functions(tree):
        if _uses_frame(func.body):
            continue
        params = _parameters(func.args)
        fixed = {"self", "cls", "_"}
        if func.name == entry_point or None in keywords:  # None: a **mapping may name any parameter
            fixed.update(params)
        fixed.update(p for p in params if p in keywords)
        if id(func) in methods and params:
            fixed.add(params[0])
        nested = [n for n in ast.walk(func) if isinstance(n, _SCOPES) and n is not func]
        for scope in nested:
            if isinstance(scope, ast.FunctionDef | ast.Lambda):
                fixed.update(_parameters(scope.args))
            if isinstance(scope, ast.FunctionDef):
                fixed.add(scope.name)
        fixed.update(n.asname or n.name.split(".")[0] for n in ast.walk(func) if isinstance(n, ast.alias))
        renamable = sorted(_function_locals(func) - fixed)
        if renamable:
            sites.append((func, (func, renamable)))
    chosen = _pick(sites, entry_point, seed, "rename")
    if chosen is None:
        return None
    func, renamable = chosen
    old_names = _seeded_order(renamable, seed, "rename-which")[:3]
    taken = _all_names(tree)
    pool = _seeded_order(NAME_POOL, seed, "rename-to")
    mapping = {old: _fresh(taken, pool) for old in old_names}
    # func's own parameters and body; its defaults and annotations belong to the outer scope
    for node in [
        *func.args.posonlyargs,
        *func.args.args,
        *func.args.kwonlyargs,
        func.args.vararg,
        func.args.kwarg,
    ]:
        if node is not None and node.arg in mapping:
            node.arg = mapping[node.arg]
    for stmt in func.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and node.id in mapping:
                node.id = mapping[node.id]
    return tree


def _range_loop(loop: ast.For, rebound: set[str]) -> tuple[ast.expr, ast.expr, int] | None:
    """(start, stop, step) of ``for name in range(...)`` with a literal step, else None."""
    call = loop.iter
    if not (
        isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "range"
        and "range" not in rebound and not call.keywords and 1 <= len(call.args) <= 3
        and not any(isinstance(a, ast.Starred) for a in call.args)
    ):  # fmt: skip
        return None
    args = call.args
    step = _int_constant(args[2]) if len(args) == 3 else 1
    if not step:
        return None
    start = args[0] if len(args) > 1 else ast.Constant(0)
    stop = args[1] if len(args) > 1 else args[0]
    return start, stop, step


def for_to_while(tree: ast.Module, entry_point: str, seed: int) -> ast.Module | None:
    """``for i in range(a, b, s)`` -> ``i = a`` / ``while i < b:`` ... ``i += s``, with the
    increment also before each ``continue`` of the loop. Only where the loop variable is a
    local the body never assigns and nothing reads after the loop (the while form leaves it
    one step further), the body defines no closure, and no ``continue`` sits in a ``try``
    (its ``finally`` would see the incremented value)."""
    rebound = _module_bindings(tree)
    sites: list[tuple[ast.FunctionDef, tuple[list[ast.stmt], ast.For, set[str]]]] = []
    for func in _functions(tree):
        if _uses_frame(func.body):
            continue
        local = _function_locals(func)
        for block in _blocks(func):
            for stmt in block:
                if not (isinstance(stmt, ast.For) and isinstance(stmt.target, ast.Name)):
                    continue
                bounds = _range_loop(stmt, rebound)
                name = stmt.target.id
                if (
                    bounds is None or name in _stores(stmt.body) or _has_scope(stmt.body)
                    or _read_outside(func, name, [stmt])
                    or (_continues(stmt.body) and any(isinstance(n, ast.Try) for n in ast.walk(stmt)))
                    or name not in local
                ):  # fmt: skip
                    continue
                sites.append((func, (block, stmt, local)))
    chosen = _pick(sites, entry_point, seed, "for_to_while")
    if chosen is None:
        return None
    block, loop, local = chosen
    bounds = _range_loop(loop, rebound)
    assert bounds is not None and isinstance(loop.target, ast.Name)
    start, stop, step = bounds
    name = loop.target.id
    before: list[ast.stmt] = [ast.Assign(targets=[_name(name, store=True)], value=start)]
    # the stop is evaluated once by range(); a while re-reads it, so it is kept in a variable
    # unless it is a literal or a local name the loop never assigns
    if not (
        isinstance(stop, ast.Constant)
        or (isinstance(stop, ast.Name) and stop.id not in _stores(loop.body) and stop.id in local)
    ):
        bound = _fresh(_all_names(tree), ("stop", "end", "limit"))
        before.append(ast.Assign(targets=[_name(bound, store=True)], value=stop))
        stop = _name(bound)
    increment = ast.AugAssign(
        target=_name(name, store=True), op=ast.Add() if step > 0 else ast.Sub(), value=ast.Constant(abs(step))
    )
    for cont in _continues(loop.body):
        _insert_before(loop.body, cont, copy.deepcopy(increment))
    test = ast.Compare(left=_name(name), ops=[ast.Lt() if step > 0 else ast.Gt()], comparators=[stop])
    loop_while = ast.While(test=test, body=[*loop.body, increment], orelse=loop.orelse)
    _replace_in(block, loop, [*before, loop_while])
    return tree


def _insert_before(stmts: list[ast.stmt], target: ast.stmt, new: ast.stmt) -> None:
    """Put ``new`` just before ``target`` in whichever statement list under ``stmts`` holds it."""
    for holder in [stmts, *(_child_lists(stmts))]:
        for i, stmt in enumerate(holder):
            if stmt is target:
                holder.insert(i, new)
                return


def _child_lists(stmts: Sequence[ast.stmt]) -> Iterator[list[ast.stmt]]:
    for node in _walk_scope(stmts):
        if isinstance(node, _SCOPES):
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(node, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                yield inner
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                yield handler.body


def _loop_invariant(expr: ast.expr, body: Sequence[ast.stmt], rebound: set[str]) -> bool:
    """An int bound the body cannot change: literals, names it never assigns, simple
    arithmetic of those, and ``len(xs)`` of a list it only indexes or measures."""
    if _int_constant(expr) is not None:
        return True
    if isinstance(expr, ast.Name):
        return expr.id not in _stores(body)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add | ast.Sub | ast.Mult | ast.FloorDiv):
        return _loop_invariant(expr.left, body, rebound) and _loop_invariant(expr.right, body, rebound)
    if (
        isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "len"
        and "len" not in rebound and len(expr.args) == 1 and isinstance(expr.args[0], ast.Name)
    ):  # fmt: skip
        return _only_read(expr.args[0].id, body)
    return False


def _only_read(name: str, body: Sequence[ast.stmt]) -> bool:
    """``name`` appears in ``body`` only as ``name[...]`` read or ``len(name)``: no mutation."""
    parents = {
        id(child): node for stmt in body for node in ast.walk(stmt) for child in ast.iter_child_nodes(node)
    }
    for stmt in body:
        for node in ast.walk(stmt):
            if not (isinstance(node, ast.Name) and node.id == name):
                continue
            parent = parents.get(id(node))
            indexed = (
                isinstance(parent, ast.Subscript)
                and parent.value is node
                and isinstance(parent.ctx, ast.Load)
            )
            measured = (
                isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id == "len"
            )
            if not (isinstance(node.ctx, ast.Load) and (indexed or measured)):
                return False
    return True


def while_to_for(tree: ast.Module, entry_point: str, seed: int) -> ast.Module | None:
    """``i = a`` / ``while i < b:`` ... ``i += s`` (or ``<=``, ``>``, ``>=`` with ``-=``) ->
    ``for i in range(a, b, s)``. Only where the increment is the body's last statement and
    its only assignment to ``i``, the loop has no ``continue`` of its own, the bound cannot
    change in the loop, and nothing reads ``i`` after it (the for form leaves it one step
    short)."""
    rebound = _module_bindings(tree)
    if "range" in rebound:
        return None
    sites: list[tuple[ast.FunctionDef, tuple[list[ast.stmt], ast.Assign, ast.While]]] = []
    for func in _functions(tree):
        if _uses_frame(func.body):
            continue
        for block in _blocks(func):
            for init, loop in itertools.pairwise(block):
                if _while_range(init, loop, rebound) is not None and not _read_outside(
                    func,
                    loop.test.left.id,
                    [init, loop],  # type: ignore[attr-defined]
                ):
                    assert isinstance(init, ast.Assign) and isinstance(loop, ast.While)
                    sites.append((func, (block, init, loop)))
    chosen = _pick(sites, entry_point, seed, "while_to_for")
    if chosen is None:
        return None
    block, init, loop = chosen
    bounds = _while_range(init, loop, rebound)
    assert bounds is not None
    name, args = bounds
    body = loop.body[:-1] or [ast.Pass()]
    call = ast.Call(func=_name("range"), args=args, keywords=[])
    _replace_in(block, init, [])
    _replace_in(
        block, loop, [ast.For(target=_name(name, store=True), iter=call, body=body, orelse=loop.orelse)]
    )
    return tree


def _while_range(init: ast.stmt, loop: ast.stmt, rebound: set[str]) -> tuple[str, list[ast.expr]] | None:
    """The loop variable and range() arguments of a counting while loop, else None."""
    if not (
        isinstance(init, ast.Assign) and len(init.targets) == 1 and isinstance(init.targets[0], ast.Name)
        and isinstance(loop, ast.While) and isinstance(loop.test, ast.Compare) and len(loop.test.ops) == 1
        and isinstance(loop.test.left, ast.Name) and loop.test.left.id == init.targets[0].id and loop.body
    ):  # fmt: skip
        return None
    name = init.targets[0].id
    last = loop.body[-1]
    if not (isinstance(last, ast.AugAssign) and isinstance(last.target, ast.Name) and last.target.id == name):
        return None
    amount = _int_constant(last.value)
    op, stop = loop.test.ops[0], loop.test.comparators[0]
    upward = isinstance(op, ast.Lt | ast.LtE) and isinstance(last.op, ast.Add)
    downward = isinstance(op, ast.Gt | ast.GtE) and isinstance(last.op, ast.Sub)
    if (
        amount is None or amount <= 0 or not (upward or downward)
        or name in _stores(loop.body[:-1]) or _continues(loop.body) or _has_scope(loop.body)
        or name in _loads([stop]) or not _loop_invariant(stop, loop.body, rebound)
        or not _is_pure(init.value, rebound)
        or (isinstance(init.value, ast.Constant) and type(init.value.value) is not int)
    ):  # fmt: skip
        return None
    if isinstance(op, ast.LtE | ast.GtE):  # an inclusive bound is one past in range()
        stop = ast.BinOp(left=stop, op=ast.Add() if upward else ast.Sub(), right=ast.Constant(1))
    start = init.value
    args = [stop] if upward and amount == 1 and _int_constant(start) == 0 else [start, stop]
    if upward and amount != 1:
        args.append(ast.Constant(amount))
    elif downward:
        args.append(ast.UnaryOp(op=ast.USub(), operand=ast.Constant(amount)))
    return name, args


def comprehension_to_loop(tree: ast.Module, entry_point: str, seed: int) -> ast.Module | None:
    """``x = [e for t in it if c]`` (or a set or dict comprehension) -> ``x = []`` and a for
    loop that appends. Only for a comprehension without side effects (a call could see the
    half-built ``x`` or the loop variable, which a loop leaks), that does not read ``x``,
    whose loop variables the function uses nowhere else."""
    rebound = _module_bindings(tree)
    sites: list[tuple[ast.FunctionDef, tuple[list[ast.stmt], ast.Assign]]] = []
    for func in _functions(tree):
        if _uses_frame(func.body):
            continue
        local = _function_locals(func)
        for block in _blocks(func):
            for stmt in block:
                if not (
                    isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name)
                    and isinstance(stmt.value, ast.ListComp | ast.SetComp | ast.DictComp)
                ):  # fmt: skip
                    continue
                comp = stmt.value
                leaked = _stores([g.target for g in comp.generators])
                if (
                    not _is_pure(comp, rebound) or _has_scope([comp]) or stmt.targets[0].id in _loads([comp])
                    or any(g.is_async for g in comp.generators) or leaked & local
                    or any(_mentions_outside(func, name, comp) for name in leaked)
                    or (isinstance(comp, ast.SetComp) and "set" in rebound)
                ):  # fmt: skip
                    continue
                sites.append((func, (block, stmt)))
    chosen = _pick(sites, entry_point, seed, "comprehension_to_loop")
    if chosen is None:
        return None
    block, stmt = chosen
    comp = stmt.value
    assert isinstance(comp, ast.ListComp | ast.SetComp | ast.DictComp)
    target = stmt.targets[0].id  # type: ignore[attr-defined]
    add: ast.stmt
    if isinstance(comp, ast.DictComp):
        empty: ast.expr = ast.Dict(keys=[], values=[])
        store = ast.Subscript(value=_name(target), slice=comp.key, ctx=ast.Store())
        add = ast.Assign(targets=[store], value=comp.value)
    else:
        empty = ast.List(elts=[], ctx=ast.Load()) if isinstance(comp, ast.ListComp) else _call("set", [])
        method = "append" if isinstance(comp, ast.ListComp) else "add"
        add = ast.Expr(_call(ast.Attribute(value=_name(target), attr=method, ctx=ast.Load()), [comp.elt]))
    inner: ast.stmt = add
    for gen in reversed(comp.generators):
        if gen.ifs:
            test = gen.ifs[0] if len(gen.ifs) == 1 else ast.BoolOp(op=ast.And(), values=gen.ifs)
            inner = ast.If(test=test, body=[inner], orelse=[])
        inner = ast.For(target=gen.target, iter=gen.iter, body=[inner], orelse=[])
    _replace_in(block, stmt, [ast.Assign(targets=[_name(target, store=True)], value=empty), inner])
    return tree


def _call(func: str | ast.expr, args: list[ast.expr]) -> ast.Call:
    return ast.Call(func=_name(func) if isinstance(func, str) else func, args=args, keywords=[])


def _mentions_outside(func: ast.FunctionDef, name: str, region: ast.AST) -> bool:
    inside = {id(n) for n in ast.walk(region)}
    return any(isinstance(n, ast.Name) and n.id == name and id(n) not in inside for n in ast.walk(func))


def _append_chain(loop: ast.For, target: str) -> tuple[list[ast.comprehension], ast.expr] | None:
    """A for loop (nested fors and ifs allowed, each with one statement and no else) whose
    innermost statement is ``target.append(e)``: its generators and ``e``. An ``if`` joins
    the generator of the ``for`` around it, as it does in a comprehension."""
    generators: list[ast.comprehension] = []
    node: ast.stmt = loop
    while True:
        if isinstance(node, ast.For) and not node.orelse and len(node.body) == 1:
            generators.append(ast.comprehension(target=node.target, iter=node.iter, ifs=[], is_async=0))
        elif isinstance(node, ast.If) and not node.orelse and len(node.body) == 1:
            generators[-1].ifs.append(node.test)
        else:
            break
        node = node.body[0]
    call = node.value if isinstance(node, ast.Expr) else None
    if (
        isinstance(call, ast.Call) and len(call.args) == 1 and not call.keywords
        and isinstance(call.func, ast.Attribute) and call.func.attr == "append"
        and isinstance(call.func.value, ast.Name) and call.func.value.id == target
        and not isinstance(call.args[0], ast.Starred)
    ):  # fmt: skip
        return generators, call.args[0]
    return None


def loop_to_comprehension(tree: ast.Module, entry_point: str, seed: int) -> ast.Module | None:
    """``x = []`` then a for loop that only appends to ``x`` -> ``x = [e for t in it]``. The
    new list has no other name, so only a read of ``x`` could see it half-built: none may
    happen in the loop or in a closure of the function. The loop variables stop leaking,
    so nothing may read them after the loop; a loop inside ``try`` is left alone (an
    exception would leave ``x`` partly filled there, unbound here)."""
    sites: list[tuple[ast.FunctionDef, tuple[list[ast.stmt], ast.Assign, ast.For]]] = []
    for func in _functions(tree):
        if _uses_frame(func.body) or _in_try(func):
            continue
        closures = [n for n in ast.walk(func) if isinstance(n, _SCOPES) and n is not func]
        for block in _blocks(func):
            for init, loop in itertools.pairwise(block):
                if not (
                    isinstance(init, ast.Assign) and len(init.targets) == 1
                    and isinstance(init.targets[0], ast.Name) and isinstance(init.value, ast.List)
                    and not init.value.elts and isinstance(loop, ast.For)
                ):  # fmt: skip
                    continue
                target = init.targets[0].id
                chain = _append_chain(loop, target)
                if chain is None:
                    continue
                generators, elt = chain
                parts = [elt, *(g.iter for g in generators), *(c for g in generators for c in g.ifs)]
                loop_names = _stores([g.target for g in generators])
                if (
                    target in _loads(parts) or target in _loads(closures) or _has_scope(parts)
                    or any(_read_outside(func, name, [loop]) for name in loop_names)
                    or any(_has_named_expr(p) for p in parts)
                ):  # fmt: skip
                    continue
                sites.append((func, (block, init, loop)))
    chosen = _pick(sites, entry_point, seed, "loop_to_comprehension")
    if chosen is None:
        return None
    block, init, loop = chosen
    target = init.targets[0].id  # type: ignore[attr-defined]
    chain = _append_chain(loop, target)
    assert chain is not None
    generators, elt = chain
    init.value = ast.ListComp(elt=elt, generators=generators)
    _replace_in(block, loop, [])
    return tree


def _has_named_expr(node: ast.AST) -> bool:
    return any(isinstance(n, ast.NamedExpr | ast.Yield | ast.YieldFrom | ast.Await) for n in ast.walk(node))


def _in_try(func: ast.FunctionDef) -> bool:
    return any(isinstance(n, ast.Try) for n in ast.walk(func))


def invert_if(tree: ast.Module, entry_point: str, seed: int) -> ast.Module | None:
    """``if c: A else: B`` -> ``if not c: B else: A`` (``if not c`` becomes ``if c``). The
    condition is still evaluated once and tested for truth once, so this is always safe."""
    sites = [
        (func, stmt)
        for func in _functions(tree)
        for block in _blocks(func)
        for stmt in block
        if isinstance(stmt, ast.If) and stmt.orelse
    ]
    chosen = _pick(sites, entry_point, seed, "invert_if")
    if chosen is None:
        return None
    test = chosen.test
    negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    chosen.test = test.operand if negated else ast.UnaryOp(op=ast.Not(), operand=test)  # type: ignore[attr-defined]
    chosen.body, chosen.orelse = chosen.orelse, chosen.body
    return tree


def extract_helper(tree: ast.Module, entry_point: str, seed: int) -> ast.Module | None:
    """Move one to three consecutive statements of a function body into a new module-level
    function: the function's variables the block reads become parameters, those it binds
    and the rest of the function uses come back as the return value. Only for a
    self-contained block: control leaves it only at its end (no return, break, continue or
    yield out of it), it defines no closure, every parameter is surely bound before it and
    every returned name surely bound at its end (else the call would fail where the
    original did not), and the function is at module level or a method (a nested one reads
    its enclosing function's variables, which a module-level helper cannot)."""
    sites: list[tuple[ast.FunctionDef, tuple[ast.FunctionDef, ast.stmt, int, int, list[str], list[str]]]] = []
    for func, holder in _top_level_functions(tree):
        if _uses_frame(func.body) or any(
            isinstance(n, ast.Yield | ast.YieldFrom | ast.Await) for n in ast.walk(func)
        ):
            continue
        local = _function_locals(func)
        for start in range(len(func.body)):
            for end in range(start + 1, min(start + 3, len(func.body)) + 1):
                shape = _extractable(func, start, end, local)
                if shape is not None:
                    sites.append((func, (func, holder, start, end, *shape)))
    chosen = _pick(sites, entry_point, seed, "extract_helper")
    if chosen is None:
        return None
    func, holder, start, end, inputs, outputs = chosen
    block = func.body[start:end]
    name = _fresh(_all_names(tree), [f"compute_{outputs[0]}", "helper"])
    returned: ast.expr = (
        _name(outputs[0])
        if len(outputs) == 1
        else ast.Tuple(elts=[_name(o) for o in outputs], ctx=ast.Load())
    )
    helper = ast.FunctionDef(
        name=name,
        args=ast.arguments(
            posonlyargs=[], args=[ast.arg(arg=i) for i in inputs], kwonlyargs=[], kw_defaults=[], defaults=[]
        ),
        body=[*block, ast.Return(value=returned)],
        decorator_list=[],
    )
    stored: ast.expr = (
        _name(outputs[0], store=True)
        if len(outputs) == 1
        else ast.Tuple(elts=[_name(o, store=True) for o in outputs], ctx=ast.Store())
    )
    func.body[start:end] = [ast.Assign(targets=[stored], value=_call(name, [_name(i) for i in inputs]))]
    tree.body.insert(next(i for i, s in enumerate(tree.body) if s is holder), helper)
    return tree


def _extractable(
    func: ast.FunctionDef, start: int, end: int, local: set[str]
) -> tuple[list[str], list[str]] | None:
    """The helper's parameters and returned names for ``func.body[start:end]``, or None."""
    block = func.body[start:end]
    if (
        any(isinstance(n, (ast.Return, ast.Del, ast.Try, *_SCOPES)) for s in block for n in ast.walk(s))
        or _breaks_out(block)
        or (start == 0 and isinstance(block[0], ast.Expr) and isinstance(block[0].value, ast.Constant))
        or not any(isinstance(s, ast.Assign | ast.AugAssign | ast.AnnAssign) for s in block)
        # the helper runs untraced: the function keeps at least one statement of its own work
        or all(isinstance(s, ast.Return) or s in block for s in func.body)
    ):  # fmt: skip
        return None
    before = func.body[:start]
    sure_before = set(_parameters(func.args)) | _surely_bound(before)
    bound_here = _bindings(block)
    reads = _loads(block) & local
    inputs = sorted(reads & (set(_parameters(func.args)) | _bindings(before)))
    rest_nodes = [*before, *func.body[end:]]
    outputs = sorted(
        (n for n in bound_here if n in _loads(rest_nodes) | _stores(rest_nodes)),
        key=lambda n: _first_store(block, n),
    )
    if (
        not outputs or any(i not in sure_before for i in inputs)
        # a function variable read here but bound neither before nor here would be a global in the helper
        or reads - set(inputs) - bound_here
        or any(o not in _surely_bound(block) | set(inputs) for o in outputs)
    ):  # fmt: skip
        return None
    return inputs, outputs


def _surely_bound(stmts: Sequence[ast.stmt]) -> set[str]:
    """Names that plain assignments at the top level of ``stmts`` bind (no branch can skip them)."""
    bound: set[str] = set()
    for stmt in stmts:
        if isinstance(stmt, ast.Assign):
            bound |= _stores(stmt.targets)
        elif isinstance(stmt, ast.AnnAssign | ast.AugAssign) and isinstance(stmt.target, ast.Name):
            bound.add(stmt.target.id)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            bound |= {a.asname or a.name.split(".")[0] for a in stmt.names}
    return bound


def _first_store(stmts: Sequence[ast.stmt], name: str) -> int:
    stores = [
        i for i, node in enumerate(_walk_scope(stmts))
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store)
    ]  # fmt: skip
    return stores[0] if stores else 0


def inline_helper(tree: ast.Module, entry_point: str, seed: int) -> ast.Module | None:
    """Replace one call ``h(a, b)`` by ``h``'s returned expression with the arguments put in
    for its parameters, where ``h`` is a module-level function whose body is one ``return``.
    Only when every argument is a local name or a literal (evaluating it later, or twice,
    changes nothing), the expression has no closure or assignment expression, its free
    names mean the same in the caller (the caller binds none of them and is not nested),
    and no name put in is rebound inside the expression (by a comprehension)."""
    helpers = {
        stmt.name: stmt
        for stmt in tree.body
        if isinstance(stmt, ast.FunctionDef) and _returned_expression(stmt) is not None
    }
    methods = {id(m) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for m in c.body}
    top = {id(s) for s in tree.body} | methods
    sites: list[tuple[ast.FunctionDef, ast.Call]] = []
    for caller in _functions(tree):
        if id(caller) not in top or _uses_frame(caller.body):
            continue
        local = _function_locals(caller)
        for node in _walk_scope(caller.body):
            if (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers
                and node.func.id not in local and node.func.id != caller.name
                and _substitution(helpers[node.func.id], node, local) is not None
            ):  # fmt: skip
                sites.append((caller, node))
    chosen = _pick(sites, entry_point, seed, "inline_helper")
    if chosen is None:
        return None
    assert isinstance(chosen.func, ast.Name)
    helper = helpers[chosen.func.id]
    substitution = _substitution(helper, chosen, set())
    assert substitution is not None
    expr = copy.deepcopy(_returned_expression(helper))
    assert expr is not None
    for node in ast.walk(expr):
        for field, value in ast.iter_fields(node):
            if isinstance(value, ast.Name) and value.id in substitution:
                setattr(node, field, copy.deepcopy(substitution[value.id]))
            elif isinstance(value, list):
                value[:] = [
                    copy.deepcopy(substitution[v.id])
                    if isinstance(v, ast.Name) and v.id in substitution
                    else v
                    for v in value
                ]
    if isinstance(expr, ast.Name) and expr.id in substitution:
        expr = copy.deepcopy(substitution[expr.id])
    _ReplaceNode(chosen, expr).visit(tree)
    return tree


class _ReplaceNode(ast.NodeTransformer):
    def __init__(self, old: ast.AST, new: ast.AST) -> None:
        self.old, self.new = old, new

    def visit(self, node: ast.AST) -> ast.AST:
        return self.new if node is self.old else self.generic_visit(node)


def _returned_expression(func: ast.FunctionDef) -> ast.expr | None:
    """The expression of a function whose body is one ``return`` (after a docstring), if the
    function takes plain parameters only and has no decorator."""
    body = (
        func.body[1:]
        if isinstance(func.body[0], ast.Expr) and isinstance(func.body[0].value, ast.Constant)
        else func.body
    )
    args = func.args
    if (
        len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None or func.decorator_list
        or args.posonlyargs or args.vararg or args.kwonlyargs or args.kwarg or args.defaults
        or _has_scope([body[0].value]) or _has_named_expr(body[0].value)
        or func.name in _loads([body[0].value])
    ):  # fmt: skip
        return None
    return body[0].value


def _substitution(
    helper: ast.FunctionDef, call: ast.Call, caller_locals: set[str]
) -> dict[str, ast.expr] | None:
    """Parameter -> argument for inlining ``call``, or None where it is unsafe."""
    params = [a.arg for a in helper.args.args]
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    given = dict(zip(params, call.args, strict=False)) | {k.arg: k.value for k in call.keywords if k.arg}
    if (
        len(call.args) > len(params)
        or set(given) != set(params)
        or len(given) != len(call.args) + len(call.keywords)
    ):
        return None
    expr = _returned_expression(helper)
    assert expr is not None
    inner = _stores([expr])  # comprehension targets
    free = _loads([expr]) - set(params) - inner
    for value in given.values():
        if not (isinstance(value, ast.Constant) or (isinstance(value, ast.Name) and value.id not in inner)):
            return None
    if caller_locals and (
        free & caller_locals
        or any(isinstance(v, ast.Name) and v.id not in caller_locals for v in given.values())
    ):
        return None
    return given


def reorder_statements(tree: ast.Module, entry_point: str, seed: int) -> ast.Module | None:
    """Swap two adjacent assignments that share no name (neither reads nor writes what the
    other writes) and call nothing with side effects. Assignments to names only (an item or
    attribute store may alias what the other reads); an augmented one only by a number;
    nowhere in a program with ``try`` (which of two failing statements fails first could
    then matter)."""
    if any(isinstance(n, ast.Try) for n in ast.walk(tree)):
        return None
    rebound = _module_bindings(tree)
    sites: list[tuple[ast.FunctionDef, tuple[list[ast.stmt], int]]] = []
    for func in _functions(tree):
        if _uses_frame(func.body):
            continue
        for block in _blocks(func):
            for i, (first, second) in enumerate(itertools.pairwise(block)):
                a, b = _effects(first, rebound), _effects(second, rebound)
                if a is not None and b is not None and not (a[1] & (b[0] | b[1]) or b[1] & a[0]):
                    sites.append((func, (block, i)))
    chosen = _pick(sites, entry_point, seed, "reorder_statements")
    if chosen is None:
        return None
    block, i = chosen
    block[i], block[i + 1] = block[i + 1], block[i]
    return tree


def _effects(stmt: ast.stmt, rebound: set[str]) -> tuple[set[str], set[str]] | None:
    """(names read, names written) of a movable assignment, else None."""
    if isinstance(stmt, ast.Assign):
        targets: list[ast.expr] = stmt.targets
    elif (isinstance(stmt, ast.AnnAssign) and stmt.value is not None) or (
        isinstance(stmt, ast.AugAssign) and isinstance(stmt.value, ast.Constant)
    ):
        targets = [stmt.target]
    else:
        return None
    value = stmt.value
    assert value is not None
    names_only = all(
        isinstance(n, ast.Name | ast.Tuple | ast.List | ast.Store) for t in targets for n in ast.walk(t)
    )
    if not names_only or not _is_pure(value, rebound) or _has_scope([value]):
        return None
    written = _stores(targets)
    read = _loads([value]) | (written if isinstance(stmt, ast.AugAssign) else set())
    return read, written


def recursion_to_iteration(tree: ast.Module, entry_point: str, seed: int) -> ast.Module | None:
    """A tail-recursive module-level function (every reference to itself is ``return f(...)``)
    -> ``while True:`` over its body, each tail call becoming ``p1, p2 = a1, a2`` and
    ``continue``. Only where no tail call sits inside a loop, ``try`` or ``with`` of the body
    (``continue`` would mean something else there), the body defines no closure (a closure
    made in one call would see the next call's parameters), the function has no decorator
    (a cache would see fewer calls) and plain parameters, and each call gives every
    parameter (a default only if it is a literal)."""
    sites: list[tuple[ast.FunctionDef, tuple[ast.FunctionDef, list[tuple[ast.Return, list[ast.expr]]]]]] = []
    for func in tree.body:
        if not isinstance(func, ast.FunctionDef):
            continue
        calls = _tail_calls(func)
        if calls:
            sites.append((func, (func, calls)))
    chosen = _pick(sites, entry_point, seed, "recursion_to_iteration")
    if chosen is None:
        return None
    func, calls = chosen
    params = [a.arg for a in func.args.args]
    for ret, args in calls:
        # a parameter passed on unchanged needs no assignment
        changed = [
            (p, a) for p, a in zip(params, args, strict=True) if not (isinstance(a, ast.Name) and a.id == p)
        ]
        rebind: list[ast.stmt] = []
        if len(changed) == 1:
            rebind = [ast.Assign(targets=[_name(changed[0][0], store=True)], value=changed[0][1])]
        elif changed:
            names = ast.Tuple(elts=[_name(p, store=True) for p, _ in changed], ctx=ast.Store())
            rebind = [
                ast.Assign(targets=[names], value=ast.Tuple(elts=[a for _, a in changed], ctx=ast.Load()))
            ]
        for holder in [func.body, *_child_lists(func.body)]:
            if any(s is ret for s in holder):
                _replace_in(holder, ret, [*rebind, ast.Continue()])
                break
    docstring = (
        func.body[:1]
        if isinstance(func.body[0], ast.Expr) and isinstance(func.body[0].value, ast.Constant)
        else []
    )
    body = func.body[len(docstring) :]
    if not _always_leaves(body):  # falling off the end returned None; in a loop it would go round
        body.append(ast.Return(value=ast.Constant(None)))
    func.body = [*docstring, ast.While(test=ast.Constant(True), body=body, orelse=[])]
    return tree


def _tail_calls(func: ast.FunctionDef) -> list[tuple[ast.Return, list[ast.expr]]]:
    """Each ``return func(...)`` with its arguments in parameter order, or [] where the
    function is not safely tail-recursive."""
    args = func.args
    if (
        func.decorator_list or args.posonlyargs or args.vararg or args.kwonlyargs or args.kwarg
        or _uses_frame(func.body) or _has_scope(func.body) or _has_named_expr(func)
        or func.name in _bindings(func.body) or func.name in {a.arg for a in args.args}
    ):  # fmt: skip
        return []
    params = [a.arg for a in args.args]
    defaults = dict(zip(params[len(params) - len(args.defaults) :], args.defaults, strict=True))
    guarded = {
        id(n)
        for s in ast.walk(func)
        if isinstance(s, ast.For | ast.While | ast.Try | ast.With)
        for n in ast.walk(s)
    }
    references = [n for n in ast.walk(func) if isinstance(n, ast.Name) and n.id == func.name]
    found: list[tuple[ast.Return, list[ast.expr]]] = []
    for ret in (n for n in ast.walk(func) if isinstance(n, ast.Return)):
        call = ret.value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == func.name):
            continue
        if (
            id(ret) in guarded
            or any(isinstance(a, ast.Starred) for a in call.args)
            or len(call.args) > len(params)
        ):
            return []
        given = dict(zip(params, call.args, strict=False)) | {k.arg: k.value for k in call.keywords}
        if None in given or len(given) != len(call.args) + len(call.keywords):
            return []
        for param in params:
            if param not in given:
                default = defaults.get(param)
                if not isinstance(default, ast.Constant):
                    return []
                given[param] = copy.deepcopy(default)
        found.append((ret, [given[p] for p in params]))
    return found if found and len(found) == len(references) else []


def _always_leaves(stmts: Sequence[ast.stmt]) -> bool:
    """Whether running ``stmts`` surely ends in return, raise or continue (never falls through)."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return | ast.Raise | ast.Continue):
        return True
    return isinstance(last, ast.If) and _always_leaves(last.body) and _always_leaves(last.orelse)


# One table: a kind is applicable where its transform returns a tree.
TRANSFORMS: dict[RewriteKind, Transform] = {
    RewriteKind.RENAME: rename_locals,
    RewriteKind.FOR_TO_WHILE: for_to_while,
    RewriteKind.WHILE_TO_FOR: while_to_for,
    RewriteKind.COMPREHENSION_TO_LOOP: comprehension_to_loop,
    RewriteKind.LOOP_TO_COMPREHENSION: loop_to_comprehension,
    RewriteKind.INVERT_IF: invert_if,
    RewriteKind.EXTRACT_HELPER: extract_helper,
    RewriteKind.INLINE_HELPER: inline_helper,
    RewriteKind.REORDER_STATEMENTS: reorder_statements,
    RewriteKind.RECURSION_TO_ITERATION: recursion_to_iteration,
}


@holding_ast_lock
def rewrites(code: str, entry_point: str, seed: int, limit: int) -> list[Rewrite]:
    """At most ``limit`` rewrites of ``code``, one per applicable kind first (kinds in a
    seeded order), then further ones by other seeds; each parses, differs from the original
    and from the others as a tree, and is the same for the same code and seed."""
    try:
        original = pyast.parse(code)
    except (SyntaxError, ValueError):
        return []
    seen = {ast.dump(original)}
    found: list[Rewrite] = []
    # the kinds' order mixes in the code: one seed for a whole corpus still varies the kinds
    kinds = _seeded_order(list(TRANSFORMS), seed, f"kinds:{xxhash.xxh3_64_hexdigest(code.encode())}")
    for round_ in range(1 + _ROUNDS):
        for kind in kinds:
            if len(found) >= limit:
                return found
            tree = TRANSFORMS[kind](copy.deepcopy(original), entry_point, _hash(seed, "round", round_))
            if tree is None:
                continue
            text = ast.unparse(ast.fix_missing_locations(tree))
            rewritten = pyast.parse(text)  # its own check that the text is Python
            if ast.dump(rewritten) in seen:
                continue
            seen.add(ast.dump(rewritten))
            found.append(Rewrite(kind, text, _describe(original, rewritten)))
    return found


def _describe(original: ast.Module, rewritten: ast.Module) -> str:
    """Which module-level definitions the rewrite changes, adds or removes."""

    def definitions(tree: ast.Module) -> dict[str, str]:
        return {
            s.name: ast.dump(s)
            for s in tree.body
            if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        }

    before, after = definitions(original), definitions(rewritten)
    parts = [f"changes {n}" for n in before if n in after and before[n] != after[n]]
    parts += [f"adds {n}" for n in after if n not in before]
    parts += [f"removes {n}" for n in before if n not in after]
    return "; ".join(parts) or "changes module-level code"
