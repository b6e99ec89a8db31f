"""Loop rewrites: ``for`` over a range to ``while`` and back, a list, set or dict
comprehension to the loop that builds it, and a list-building loop to a list comprehension.
Each follows the contract in ``rewrite_base``.
"""

from __future__ import annotations

import ast
import copy
import itertools
from collections.abc import Sequence

from tracepile.analysis.rewrite_base import (
    SCOPES,
    all_names,
    blocks,
    call_node,
    continues,
    fresh_name,
    function_defs,
    function_locals,
    has_named_expr,
    has_scope,
    insert_before,
    int_constant,
    is_pure,
    loaded_names,
    module_bindings,
    name_node,
    pick,
    read_outside,
    replace_in,
    stored_names,
    uses_frame,
)


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
    step = int_constant(args[2]) if len(args) == 3 else 1
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
    rebound = module_bindings(tree)
    sites: list[tuple[ast.FunctionDef, tuple[list[ast.stmt], ast.For, set[str]]]] = []
    for func in function_defs(tree):
        if uses_frame(func.body):
            continue
        local = function_locals(func)
        for block in blocks(func):
            for stmt in block:
                if not (isinstance(stmt, ast.For) and isinstance(stmt.target, ast.Name)):
                    continue
                bounds = _range_loop(stmt, rebound)
                name = stmt.target.id
                if (
                    bounds is None or name in stored_names(stmt.body) or has_scope(stmt.body)
                    or read_outside(func, name, [stmt])
                    or (continues(stmt.body) and any(isinstance(n, ast.Try) for n in ast.walk(stmt)))
                    or name not in local
                ):  # fmt: skip
                    continue
                sites.append((func, (block, stmt, local)))
    chosen = pick(sites, entry_point, seed, "for_to_while")
    if chosen is None:
        return None
    block, loop, local = chosen
    bounds = _range_loop(loop, rebound)
    assert bounds is not None and isinstance(loop.target, ast.Name)
    start, stop, step = bounds
    name = loop.target.id
    before: list[ast.stmt] = [ast.Assign(targets=[name_node(name, store=True)], value=start)]
    # the stop is evaluated once by range(); a while re-reads it, so it is kept in a variable
    # unless it is a literal or a local name the loop never assigns
    if not (
        isinstance(stop, ast.Constant)
        or (isinstance(stop, ast.Name) and stop.id not in stored_names(loop.body) and stop.id in local)
    ):
        bound = fresh_name(all_names(tree), ("stop", "end", "limit"))
        before.append(ast.Assign(targets=[name_node(bound, store=True)], value=stop))
        stop = name_node(bound)
    increment = ast.AugAssign(
        target=name_node(name, store=True),
        op=ast.Add() if step > 0 else ast.Sub(),
        value=ast.Constant(abs(step)),
    )
    for cont in continues(loop.body):
        insert_before(loop.body, cont, copy.deepcopy(increment))
    test = ast.Compare(left=name_node(name), ops=[ast.Lt() if step > 0 else ast.Gt()], comparators=[stop])
    loop_while = ast.While(test=test, body=[*loop.body, increment], orelse=loop.orelse)
    replace_in(block, loop, [*before, loop_while])
    return tree


def _loop_invariant(expr: ast.expr, body: Sequence[ast.stmt], rebound: set[str]) -> bool:
    """An int bound the body cannot change: literals, names it never assigns, simple
    arithmetic of those, and ``len(xs)`` of a list it only indexes or measures."""
    if int_constant(expr) is not None:
        return True
    if isinstance(expr, ast.Name):
        return expr.id not in stored_names(body)
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
    rebound = module_bindings(tree)
    if "range" in rebound:
        return None
    sites: list[tuple[ast.FunctionDef, tuple[list[ast.stmt], ast.Assign, ast.While]]] = []
    for func in function_defs(tree):
        if uses_frame(func.body):
            continue
        for block in blocks(func):
            for init, loop in itertools.pairwise(block):
                if _while_range(init, loop, rebound) is not None and not read_outside(
                    func,
                    loop.test.left.id,
                    [init, loop],  # type: ignore[attr-defined]
                ):
                    assert isinstance(init, ast.Assign) and isinstance(loop, ast.While)
                    sites.append((func, (block, init, loop)))
    chosen = pick(sites, entry_point, seed, "while_to_for")
    if chosen is None:
        return None
    block, init, loop = chosen
    bounds = _while_range(init, loop, rebound)
    assert bounds is not None
    name, args = bounds
    body = loop.body[:-1] or [ast.Pass()]
    call = ast.Call(func=name_node("range"), args=args, keywords=[])
    replace_in(block, init, [])
    replace_in(
        block, loop, [ast.For(target=name_node(name, store=True), iter=call, body=body, orelse=loop.orelse)]
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
    amount = int_constant(last.value)
    op, stop = loop.test.ops[0], loop.test.comparators[0]
    upward = isinstance(op, ast.Lt | ast.LtE) and isinstance(last.op, ast.Add)
    downward = isinstance(op, ast.Gt | ast.GtE) and isinstance(last.op, ast.Sub)
    if (
        amount is None or amount <= 0 or not (upward or downward)
        or name in stored_names(loop.body[:-1]) or continues(loop.body) or has_scope(loop.body)
        or name in loaded_names([stop]) or not _loop_invariant(stop, loop.body, rebound)
        or not is_pure(init.value, rebound)
        or (isinstance(init.value, ast.Constant) and type(init.value.value) is not int)
    ):  # fmt: skip
        return None
    if isinstance(op, ast.LtE | ast.GtE):  # an inclusive bound is one past in range()
        stop = ast.BinOp(left=stop, op=ast.Add() if upward else ast.Sub(), right=ast.Constant(1))
    start = init.value
    args = [stop] if upward and amount == 1 and int_constant(start) == 0 else [start, stop]
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
    rebound = module_bindings(tree)
    sites: list[tuple[ast.FunctionDef, tuple[list[ast.stmt], ast.Assign]]] = []
    for func in function_defs(tree):
        if uses_frame(func.body):
            continue
        local = function_locals(func)
        for block in blocks(func):
            for stmt in block:
                if not (
                    isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name)
                    and isinstance(stmt.value, ast.ListComp | ast.SetComp | ast.DictComp)
                ):  # fmt: skip
                    continue
                comp = stmt.value
                leaked = stored_names([g.target for g in comp.generators])
                if (
                    not is_pure(comp, rebound) or has_scope([comp])
                    or stmt.targets[0].id in loaded_names([comp])
                    or any(g.is_async for g in comp.generators) or leaked & local
                    or any(_mentions_outside(func, name, comp) for name in leaked)
                    or (isinstance(comp, ast.SetComp) and "set" in rebound)
                ):  # fmt: skip
                    continue
                sites.append((func, (block, stmt)))
    chosen = pick(sites, entry_point, seed, "comprehension_to_loop")
    if chosen is None:
        return None
    block, stmt = chosen
    comp = stmt.value
    assert isinstance(comp, ast.ListComp | ast.SetComp | ast.DictComp)
    target = stmt.targets[0].id  # type: ignore[attr-defined]
    add: ast.stmt
    if isinstance(comp, ast.DictComp):
        empty: ast.expr = ast.Dict(keys=[], values=[])
        store = ast.Subscript(value=name_node(target), slice=comp.key, ctx=ast.Store())
        add = ast.Assign(targets=[store], value=comp.value)
    else:
        empty = ast.List(elts=[], ctx=ast.Load()) if isinstance(comp, ast.ListComp) else call_node("set", [])
        method = "append" if isinstance(comp, ast.ListComp) else "add"
        add = ast.Expr(
            call_node(ast.Attribute(value=name_node(target), attr=method, ctx=ast.Load()), [comp.elt])
        )
    inner: ast.stmt = add
    for gen in reversed(comp.generators):
        if gen.ifs:
            test = gen.ifs[0] if len(gen.ifs) == 1 else ast.BoolOp(op=ast.And(), values=gen.ifs)
            inner = ast.If(test=test, body=[inner], orelse=[])
        inner = ast.For(target=gen.target, iter=gen.iter, body=[inner], orelse=[])
    replace_in(block, stmt, [ast.Assign(targets=[name_node(target, store=True)], value=empty), inner])
    return tree


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
    for func in function_defs(tree):
        if uses_frame(func.body) or _in_try(func):
            continue
        closures = [n for n in ast.walk(func) if isinstance(n, SCOPES) and n is not func]
        for block in blocks(func):
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
                loop_names = stored_names([g.target for g in generators])
                if (
                    target in loaded_names(parts) or target in loaded_names(closures) or has_scope(parts)
                    or any(read_outside(func, name, [loop]) for name in loop_names)
                    or any(has_named_expr(p) for p in parts)
                ):  # fmt: skip
                    continue
                sites.append((func, (block, init, loop)))
    chosen = pick(sites, entry_point, seed, "loop_to_comprehension")
    if chosen is None:
        return None
    block, init, loop = chosen
    target = init.targets[0].id  # type: ignore[attr-defined]
    chain = _append_chain(loop, target)
    assert chain is not None
    generators, elt = chain
    init.value = ast.ListComp(elt=elt, generators=generators)
    replace_in(block, loop, [])
    return tree


def _in_try(func: ast.FunctionDef) -> bool:
    return any(isinstance(n, ast.Try) for n in ast.walk(func))
