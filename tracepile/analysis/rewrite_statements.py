"""Rewrites within a function's statements: renaming locals, inverting an ``if`` and
reordering independent statements. Each follows the contract in ``rewrite_base``.
"""

from __future__ import annotations

import ast
import itertools

from tracepile.analysis.rewrite_base import (
    NAME_POOL,
    SCOPES,
    all_names,
    blocks,
    fresh_name,
    function_defs,
    function_locals,
    has_scope,
    is_pure,
    loaded_names,
    module_bindings,
    parameter_names,
    pick,
    seeded_order,
    stored_names,
    uses_frame,
)


def rename_locals(tree: ast.Module, entry_point: str, seed: int) -> ast.Module | None:
    """Consistently rename up to three local variables of one function. Never renamed: the
    entry function's parameters (the inputs' keywords), a helper's parameters that some call
    names by keyword, a method's first parameter, names bound by imports, nested defs or
    nested functions' parameters, and anything in a function that looks names up at run time."""
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    keywords = {kw.arg for call in calls for kw in call.keywords}
    methods = {id(m) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for m in c.body}
    sites: list[tuple[ast.FunctionDef, tuple[ast.FunctionDef, list[str]]]] = []
    for func in function_defs(tree):
        if uses_frame(func.body):
            continue
        params = parameter_names(func.args)
        fixed = {"self", "cls", "_"}
        if func.name == entry_point or None in keywords:  # None: a **mapping may name any parameter
            fixed.update(params)
        fixed.update(p for p in params if p in keywords)
        if id(func) in methods and params:
            fixed.add(params[0])
        nested = [n for n in ast.walk(func) if isinstance(n, SCOPES) and n is not func]
        for scope in nested:
            if isinstance(scope, ast.FunctionDef | ast.Lambda):
                fixed.update(parameter_names(scope.args))
            if isinstance(scope, ast.FunctionDef):
                fixed.add(scope.name)
        fixed.update(n.asname or n.name.split(".")[0] for n in ast.walk(func) if isinstance(n, ast.alias))
        renamable = sorted(function_locals(func) - fixed)
        if renamable:
            sites.append((func, (func, renamable)))
    chosen = pick(sites, entry_point, seed, "rename")
    if chosen is None:
        return None
    func, renamable = chosen
    old_names = seeded_order(renamable, seed, "rename-which")[:3]
    taken = all_names(tree)
    pool = seeded_order(NAME_POOL, seed, "rename-to")
    mapping = {old: fresh_name(taken, pool) for old in old_names}
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


def invert_if(tree: ast.Module, entry_point: str, seed: int) -> ast.Module | None:
    """``if c: A else: B`` -> ``if not c: B else: A`` (``if not c`` becomes ``if c``). The
    condition is still evaluated once and tested for truth once, so this is always safe."""
    sites = [
        (func, stmt)
        for func in function_defs(tree)
        for block in blocks(func)
        for stmt in block
        if isinstance(stmt, ast.If) and stmt.orelse
    ]
    chosen = pick(sites, entry_point, seed, "invert_if")
    if chosen is None:
        return None
    test = chosen.test
    negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    chosen.test = test.operand if negated else ast.UnaryOp(op=ast.Not(), operand=test)  # type: ignore[attr-defined]
    chosen.body, chosen.orelse = chosen.orelse, chosen.body
    return tree


def reorder_statements(tree: ast.Module, entry_point: str, seed: int) -> ast.Module | None:
    """Swap two adjacent assignments that share no name (neither reads nor writes what the
    other writes) and call nothing with side effects. Assignments to names only (an item or
    attribute store may alias what the other reads); an augmented one only by a number;
    nowhere in a program with ``try`` (which of two failing statements fails first could
    then matter)."""
    if any(isinstance(n, ast.Try) for n in ast.walk(tree)):
        return None
    rebound = module_bindings(tree)
    sites: list[tuple[ast.FunctionDef, tuple[list[ast.stmt], int]]] = []
    for func in function_defs(tree):
        if uses_frame(func.body):
            continue
        for block in blocks(func):
            for i, (first, second) in enumerate(itertools.pairwise(block)):
                a, b = _effects(first, rebound), _effects(second, rebound)
                if a is not None and b is not None and not (a[1] & (b[0] | b[1]) or b[1] & a[0]):
                    sites.append((func, (block, i)))
    chosen = pick(sites, entry_point, seed, "reorder_statements")
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
    if not names_only or not is_pure(value, rebound) or has_scope([value]):
        return None
    written = stored_names(targets)
    read = loaded_names([value]) | (written if isinstance(stmt, ast.AugAssign) else set())
    return read, written
