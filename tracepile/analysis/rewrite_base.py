"""Shared machinery of the meaning-preserving rewrites: the contract, the seeded choices and the
AST helpers every family of transforms uses.

A rewrite is a new program that must return what the original returns on every input; the
pipeline keeps one only when differential execution in the sandbox agrees. Each transform
is a function ``(tree, entry_point, seed) -> ast.Module | None`` that edits its own copy of
the tree where its safety conditions hold and returns ``None`` where they do not: doubt
gives no rewrite rather than a wrong one. Choices among the places a transform applies are
made by a seeded hash, so the same code and seed give the same rewrites. The entry
function's name and parameter names never change: inputs are passed to it by keyword.

The transforms live by family in ``rewrite_loops``, ``rewrite_statements``,
``rewrite_helper_functions`` and ``rewrite_recursion``; ``rewrites`` holds the table of kinds
and the function callers use.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import xxhash

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
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
LOOPS = (ast.For, ast.While)


# ---- choosing, by a seeded hash ------------------------------------------------------------


def seeded_hash(seed: int, salt: str, index: int) -> int:
    return xxhash.xxh3_64_intdigest(f"{seed}:{salt}:{index}".encode())


def seeded_order(items: Sequence[T], seed: int, salt: str) -> list[T]:
    order = sorted(range(len(items)), key=lambda i: seeded_hash(seed, salt, i))
    return [items[i] for i in order]


def pick(sites: Sequence[tuple[ast.FunctionDef, T]], entry: str, seed: int, salt: str) -> T | None:
    """One site, by seed; a site in the entry function first, since that is what the trace shows."""
    preferred = [site for func, site in sites if func.name == entry] or [site for _, site in sites]
    return seeded_order(preferred, seed, salt)[0] if preferred else None


# ---- names and scopes ----------------------------------------------------------------------


def walk_scope(nodes: Sequence[ast.AST]) -> Iterator[ast.AST]:
    """Every node of ``nodes`` in their own scope: a nested def, lambda or class is yielded
    but not entered (comprehensions are entered; their targets are handled by the caller)."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, SCOPES):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))


def comprehension_targets(nodes: Sequence[ast.AST]) -> set[int]:
    return {
        id(name)
        for node in walk_scope(nodes)
        if isinstance(node, ast.comprehension)
        for name in ast.walk(node.target)
    }


def parameter_names(args: ast.arguments) -> list[str]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return [a.arg for a in every if a is not None]


def bindings(stmts: Sequence[ast.stmt]) -> set[str]:
    """Names that ``stmts`` bind in their own scope (not in nested scopes or comprehensions)."""
    inner = comprehension_targets(stmts)
    bound: set[str] = set()
    for node in walk_scope(stmts):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load) and id(node) not in inner:
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def function_locals(func: ast.FunctionDef) -> set[str]:
    return set(parameter_names(func.args)) | bindings(func.body)


def stored_names(nodes: Sequence[ast.AST]) -> set[str]:
    """Names stored or deleted anywhere under ``nodes``, nested scopes included."""
    return {
        n.id
        for node in nodes
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }


def loaded_names(nodes: Sequence[ast.AST]) -> set[str]:
    return {
        n.id
        for node in nodes
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def all_names(tree: ast.Module) -> set[str]:
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


def fresh_name(taken: set[str], wanted: Sequence[str]) -> str:
    """The first of ``wanted`` not taken (else the first with a number), now taken."""
    name = next((w for w in wanted if w not in taken), None)
    suffix = 1
    while name is None or name in taken:
        name, suffix = f"{wanted[0]}_{suffix}", suffix + 1
    taken.add(name)
    return name


def module_bindings(tree: ast.Module) -> set[str]:
    """Names the program binds anywhere: a builtin among them may not be the builtin."""
    return (
        stored_names([tree])
        | {
            n.name if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) else n.arg
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.arg)
        }
        | {n.asname or n.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.alias)}
    )


def is_pure(node: ast.AST, rebound: set[str]) -> bool:
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


def uses_frame(nodes: Sequence[ast.AST]) -> bool:
    """Code that reads variables by name, rebinds across scopes, or holds a class scope."""
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.Global | ast.Nonlocal | ast.ClassDef):
                return True
            if isinstance(n, ast.Name) and n.id in FRAME_BUILTINS:
                return True
    return False


def has_scope(nodes: Sequence[ast.AST]) -> bool:
    return any(isinstance(n, SCOPES) for node in nodes for n in ast.walk(node))


def function_defs(tree: ast.Module) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


def top_level_functions(tree: ast.Module) -> list[tuple[ast.FunctionDef, ast.stmt]]:
    """Functions at module level and methods of module-level classes, each with the
    module-level statement that holds it (where a new helper goes before)."""
    found: list[tuple[ast.FunctionDef, ast.stmt]] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef):
            found.append((stmt, stmt))
        elif isinstance(stmt, ast.ClassDef):
            found.extend((m, stmt) for m in stmt.body if isinstance(m, ast.FunctionDef))
    return found


def blocks(func: ast.FunctionDef) -> list[list[ast.stmt]]:
    """Every statement list in ``func``'s own scope, its body first."""
    found = [func.body]
    for node in walk_scope(func.body):
        if isinstance(node, SCOPES):
            continue
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                found.append(stmts)
    return found


def read_outside(func: ast.FunctionDef, name: str, region: Sequence[ast.AST]) -> bool:
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


def continues(stmts: Sequence[ast.stmt]) -> list[ast.Continue]:
    """The ``continue`` statements that belong to the loop whose body is ``stmts``."""
    found: list[ast.Continue] = []
    stack = list(stmts)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Continue):
            found.append(node)
        elif not isinstance(node, (*LOOPS, *SCOPES)):
            stack.extend(ast.iter_child_nodes(node))
    return found


def breaks_out(stmts: Sequence[ast.stmt]) -> bool:
    """A ``break`` or ``continue`` in ``stmts`` that leaves them (not inside a loop of theirs)."""
    stack: list[ast.AST] = list(stmts)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break | ast.Continue):
            return True
        if not isinstance(node, (*LOOPS, *SCOPES)):
            stack.extend(ast.iter_child_nodes(node))
    return False


def int_constant(node: ast.AST) -> int | None:
    """The value of an int literal, negative ones included."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = int_constant(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def name_node(identifier: str, store: bool = False) -> ast.Name:
    return ast.Name(id=identifier, ctx=ast.Store() if store else ast.Load())


def replace_in(stmts: list[ast.stmt], old: ast.stmt, new: Sequence[ast.stmt]) -> None:
    at = next(i for i, s in enumerate(stmts) if s is old)
    stmts[at : at + 1] = list(new)


def insert_before(stmts: list[ast.stmt], target: ast.stmt, new: ast.stmt) -> None:
    """Put ``new`` just before ``target`` in whichever statement list under ``stmts`` holds it."""
    for holder in [stmts, *(child_lists(stmts))]:
        for i, stmt in enumerate(holder):
            if stmt is target:
                holder.insert(i, new)
                return


def child_lists(stmts: Sequence[ast.stmt]) -> Iterator[list[ast.stmt]]:
    for node in walk_scope(stmts):
        if isinstance(node, SCOPES):
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(node, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                yield inner
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                yield handler.body


def call_node(func: str | ast.expr, args: list[ast.expr]) -> ast.Call:
    return ast.Call(func=name_node(func) if isinstance(func, str) else func, args=args, keywords=[])


def has_named_expr(node: ast.AST) -> bool:
    return any(isinstance(n, ast.NamedExpr | ast.Yield | ast.YieldFrom | ast.Await) for n in ast.walk(node))
