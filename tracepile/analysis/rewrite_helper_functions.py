"""Rewrites across function boundaries: extracting a block into a new helper function and
inlining a one-expression helper at a call. Each follows the contract in ``rewrite_base``.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Sequence

from tracepile.analysis.rewrite_base import (
    SCOPES,
    all_names,
    bindings,
    breaks_out,
    call_node,
    fresh_name,
    function_defs,
    function_locals,
    has_named_expr,
    has_scope,
    loaded_names,
    name_node,
    parameter_names,
    pick,
    stored_names,
    top_level_functions,
    uses_frame,
    walk_scope,
)


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
    for func, holder in top_level_functions(tree):
        if uses_frame(func.body) or any(
            isinstance(n, ast.Yield | ast.YieldFrom | ast.Await) for n in ast.walk(func)
        ):
            continue
        local = function_locals(func)
        for start in range(len(func.body)):
            for end in range(start + 1, min(start + 3, len(func.body)) + 1):
                shape = _extractable(func, start, end, local)
                if shape is not None:
                    sites.append((func, (func, holder, start, end, *shape)))
    chosen = pick(sites, entry_point, seed, "extract_helper")
    if chosen is None:
        return None
    func, holder, start, end, inputs, outputs = chosen
    block = func.body[start:end]
    name = fresh_name(all_names(tree), [f"compute_{outputs[0]}", "helper"])
    returned: ast.expr = (
        name_node(outputs[0])
        if len(outputs) == 1
        else ast.Tuple(elts=[name_node(o) for o in outputs], ctx=ast.Load())
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
        name_node(outputs[0], store=True)
        if len(outputs) == 1
        else ast.Tuple(elts=[name_node(o, store=True) for o in outputs], ctx=ast.Store())
    )
    func.body[start:end] = [
        ast.Assign(targets=[stored], value=call_node(name, [name_node(i) for i in inputs]))
    ]
    tree.body.insert(next(i for i, s in enumerate(tree.body) if s is holder), helper)
    return tree


def _extractable(
    func: ast.FunctionDef, start: int, end: int, local: set[str]
) -> tuple[list[str], list[str]] | None:
    """The helper's parameters and returned names for ``func.body[start:end]``, or None."""
    block = func.body[start:end]
    if (
        any(isinstance(n, (ast.Return, ast.Del, ast.Try, *SCOPES)) for s in block for n in ast.walk(s))
        or breaks_out(block)
        or (start == 0 and isinstance(block[0], ast.Expr) and isinstance(block[0].value, ast.Constant))
        or not any(isinstance(s, ast.Assign | ast.AugAssign | ast.AnnAssign) for s in block)
        # the helper runs untraced: the function keeps at least one statement of its own work
        or all(isinstance(s, ast.Return) or s in block for s in func.body)
    ):  # fmt: skip
        return None
    before = func.body[:start]
    sure_before = set(parameter_names(func.args)) | _surely_bound(before)
    bound_here = bindings(block)
    reads = loaded_names(block) & local
    inputs = sorted(reads & (set(parameter_names(func.args)) | bindings(before)))
    rest_nodes = [*before, *func.body[end:]]
    outputs = sorted(
        (n for n in bound_here if n in loaded_names(rest_nodes) | stored_names(rest_nodes)),
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
            bound |= stored_names(stmt.targets)
        elif isinstance(stmt, ast.AnnAssign | ast.AugAssign) and isinstance(stmt.target, ast.Name):
            bound.add(stmt.target.id)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            bound |= {a.asname or a.name.split(".")[0] for a in stmt.names}
    return bound


def _first_store(stmts: Sequence[ast.stmt], name: str) -> int:
    stores = [
        i for i, node in enumerate(walk_scope(stmts))
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
    for caller in function_defs(tree):
        if id(caller) not in top or uses_frame(caller.body):
            continue
        local = function_locals(caller)
        for node in walk_scope(caller.body):
            if (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers
                and node.func.id not in local and node.func.id != caller.name
                and _substitution(helpers[node.func.id], node, local) is not None
            ):  # fmt: skip
                sites.append((caller, node))
    chosen = pick(sites, entry_point, seed, "inline_helper")
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
        or has_scope([body[0].value]) or has_named_expr(body[0].value)
        or func.name in loaded_names([body[0].value])
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
    inner = stored_names([expr])  # comprehension targets
    free = loaded_names([expr]) - set(params) - inner
    for value in given.values():
        if not (isinstance(value, ast.Constant) or (isinstance(value, ast.Name) and value.id not in inner)):
            return None
    if caller_locals and (
        free & caller_locals
        or any(isinstance(v, ast.Name) and v.id not in caller_locals for v in given.values())
    ):
        return None
    return given
