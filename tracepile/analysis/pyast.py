"""One lock for building Python ASTs in a process whose threads run tasks.

CPython 3.11 keeps the AST converter's recursion counter per interpreter, not per thread,
so two threads parsing at once can fail with ``SystemError: AST constructor recursion depth
mismatch`` (cpython gh-106905, fixed in 3.12). The embedded engine runs Python UDFs as
threads of one process, so task code that parses programs holds ``AST_LOCK`` while it does.
Parsing is CPU-bound Python under the GIL anyway: the lock costs no parallelism.
"""

from __future__ import annotations

import ast
import threading

AST_LOCK = threading.RLock()


def parse(code: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse`` under the lock."""
    with AST_LOCK:
        return ast.parse(code, filename)
