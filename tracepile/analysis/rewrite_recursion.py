"""Recursion rewrite: a tail-recursive function to a loop. It follows the contract in
``rewrite_base``.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Sequence

from tracepile.analysis.rewrite_base import (
    bindings,
    child_lists,
    has_named_expr,
    has_scope,
    name_node,
    pick,
    replace_in,
    uses_frame,
)


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
    chosen = pick(sites, entry_point, seed, "recursion_to_iteration")
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
            rebind = [ast.Assign(targets=[name_node(changed[0][0], store=True)], value=changed[0][1])]
        elif changed:
            names = ast.Tuple(elts=[name_node(p, store=True) for p, _ in changed], ctx=ast.Store())
            rebind = [
                ast.Assign(targets=[names], value=ast.Tuple(elts=[a for _, a in changed], ctx=ast.Load()))
            ]
        for holder in [func.body, *child_lists(func.body)]:
            if any(s is ret for s in holder):
                replace_in(holder, ret, [*rebind, ast.Continue()])
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
        or uses_frame(func.body) or has_scope(func.body) or has_named_expr(func)
        or func.name in bindings(func.body) or func.name in {a.arg for a in args.args}
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
