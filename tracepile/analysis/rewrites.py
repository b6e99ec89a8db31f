"""Meaning-preserving rewrites of a program, by AST transforms: the table of kinds and
``rewrites``, the function callers use.

Each kind's transform lives in a module of its family (``rewrite_loops``, ``rewrite_statements``,
``rewrite_helper_functions``, ``rewrite_recursion``); the contract every transform follows and
the helpers they share are in ``rewrite_base``.
"""

from __future__ import annotations

import ast
import copy

import xxhash

from tracepile.analysis import pyast
from tracepile.analysis.pyast import holding_ast_lock
from tracepile.analysis.rewrite_base import Rewrite, Transform, seeded_hash, seeded_order
from tracepile.analysis.rewrite_helper_functions import extract_helper, inline_helper
from tracepile.analysis.rewrite_loops import (
    comprehension_to_loop,
    for_to_while,
    loop_to_comprehension,
    while_to_for,
)
from tracepile.analysis.rewrite_recursion import recursion_to_iteration
from tracepile.analysis.rewrite_statements import invert_if, rename_locals, reorder_statements
from tracepile.vocab import RewriteKind

_ROUNDS = 3  # after one rewrite per kind, this many more seeds are tried for the rest of `limit`


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
    kinds = seeded_order(list(TRANSFORMS), seed, f"kinds:{xxhash.xxh3_64_hexdigest(code.encode())}")
    for round_ in range(1 + _ROUNDS):
        for kind in kinds:
            if len(found) >= limit:
                return found
            tree = TRANSFORMS[kind](copy.deepcopy(original), entry_point, seeded_hash(seed, "round", round_))
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
