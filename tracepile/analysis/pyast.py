"""One lock for building Python ASTs in a process whose threads run tasks.

CPython 3.11 keeps the AST converter's recursion counter per interpreter, not per thread,
so two threads parsing at once can fail with ``SystemError: AST constructor recursion depth
mismatch`` (cpython gh-106905, fixed in 3.12). The embedded engine runs Python UDFs as
threads of one process, so task code that parses programs holds ``AST_LOCK`` while it does.
Parsing is CPU-bound Python under the GIL anyway: the lock costs no parallelism.
"""

from __future__ import annotations

import ast
import functools
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

AST_LOCK = threading.RLock()
P = ParamSpec("P")
R = TypeVar("R")


def holding_ast_lock(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` run under ``AST_LOCK``: for pure logic that parses, unparses or evaluates
    literals and is called from task threads (the lock is reentrant: nesting is free)."""

    @functools.wraps(function)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        with AST_LOCK:
            return function(*args, **kwargs)

    return locked


def parse(code: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse`` under the lock."""
    with AST_LOCK:
        return ast.parse(code, filename)


@functools.lru_cache(maxsize=256)  # a program's inputs run one after another
def function_definitions(code: str) -> int:
    """How many functions ``code`` defines, nested ones and methods included (0 when it does
    not parse): the snoop depth the published method traces a program at."""
    try:
        tree = parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return 0
    return sum(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) for node in ast.walk(tree))


def imported_names(node: ast.AST) -> set[str]:
    """The names the imports in ``node`` bind (``*`` for a star import)."""
    return {
        alias.asname or alias.name.split(".")[0]
        for child in ast.walk(node)
        if isinstance(child, ast.Import | ast.ImportFrom)
        for alias in child.names
    }


def bound_names(node: ast.AST) -> set[str]:
    """Every name ``node`` binds anywhere in it: assignment targets, imports, defs and classes."""
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    names |= imported_names(node)
    for child in ast.walk(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(child.name)
    return names
