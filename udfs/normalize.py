"""A program's normalised token stream: what exact and near-duplicate detection compare.

Comments, docstrings, blank lines and formatting are dropped; string literals are
spelled one way; indentation is kept as
nesting depth (so re-indenting with two or four spaces is the same program, while moving
a statement out of a block is not); identifiers bound by the program (variables,
parameters, helper functions) are renamed in order of first appearance, so a consistent
renaming gives the same stream. Names the program does not bind keep their spelling:
keywords, builtins, imported modules and names, attributes after ``.``, and the entry
point, which is the program's interface.

Tokens follow Python's own token grammar (names, numbers, strings with prefixes,
operators, logical lines) in one compiled-regex pass: the stdlib ``tokenize`` is pure
Python on 3.11 and costs about 15x more per program (``bench/bench_dedup.py``); a test
checks that both give the same significant tokens on the real sample. Docstrings come
from the AST: every statement that is a bare string (docstring or string used as a
comment) is dropped.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
from bisect import bisect_right
from collections.abc import Iterable

import xxhash

_TOKEN = re.compile(
    r"""
    (?P<skip>[ \t\f]+|\\\r?\n|\#[^\r\n]*)
  | (?P<newline>\r?\n)
  | (?P<string>(?:[rRbBuUfF]{1,2})?
        (?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^'\\\r\n])*'|"(?:\\.|[^"\\\r\n])*"))
  | (?P<number>0[xXoObB][0-9a-fA-F_]+
        |(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?[jJ]?)
  | (?P<name>[^\W\d]\w*)
  | (?P<op>\*\*=?|//=?|>>=?|<<=?|->|:=|\.\.\.|[-+*/%&|^@<>!=]=|[^\s\w])
    """,
    re.VERBOSE,
)
_OPENING, _CLOSING = frozenset("([{"), frozenset(")]}")
# "_" (a soft keyword, and a builtin in interactive sessions) is mostly an ordinary local name
_KEPT_NAMES = (frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))) - {"_"}
RENAMED = "§"  # prefix of renamed identifiers; cannot occur in a Python name
_COMPOUND_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


def python_tokens(code: str) -> list[tuple[str, str, int]]:
    """(kind, text, offset) for every name, number, string, op and newline in ``code``."""
    return [(m.lastgroup, m.group(), m.start()) for m in _TOKEN.finditer(code) if m.lastgroup != "skip"]


def bare_string_statements(tree: ast.AST) -> set[tuple[int, int]]:
    """(line, UTF-8 column) of each statement that is only a string: docstrings and the like.

    Visits statements only (never expressions), which keeps it cheap.
    """
    found: set[tuple[int, int]] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        for field in _COMPOUND_FIELDS:
            for child in getattr(node, field, ()) or ():
                if (
                    isinstance(child, ast.Expr)
                    and isinstance(child.value, ast.Constant)
                    and isinstance(child.value.value, str)
                ):
                    found.add((child.lineno, child.col_offset))
                elif isinstance(child, ast.stmt | ast.excepthandler | ast.match_case):
                    pending.append(child)
    return found


def _imported_names(tokens: list[tuple[str, str, int]]) -> set[str]:
    """Every name on an import line (modules, imported objects, aliases)."""
    names: set[str] = set()
    in_import = False
    for kind, text, _ in tokens:
        if kind == "newline":
            in_import = False
        elif kind == "name":
            if text in ("import", "from"):
                in_import = True
            elif in_import:
                names.add(text)
    return names


class _Lines:
    """Maps a character offset to (line, UTF-8 column), as the AST reports positions."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.starts = [0] + [m.end() for m in re.finditer("\n", code)]

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.starts, offset)
        start = self.starts[line - 1]
        return line, len(self.code[start:offset].encode("utf-8"))

    def indent_width(self, offset: int) -> int:
        start = self.starts[bisect_right(self.starts, offset) - 1]
        return len(self.code[start:offset].expandtabs(8))


def _canonical_string(text: str) -> str:
    """A string literal spelled one way ('a' and "a" are the same); f-strings stay as written."""
    prefix = text[: len(text) - len(text.lstrip("rRbBuUfF"))]
    if "f" in prefix.lower():
        return text
    try:
        return repr(ast.literal_eval(text))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def normalised_tokens(code: str, tree: ast.AST, entry_point: str) -> list[str]:
    """The normalised token stream of a program that parses (``tree`` is its AST)."""
    tokens = python_tokens(code)
    skipped_strings = bare_string_statements(tree)
    lines = _Lines(code)
    kept = _KEPT_NAMES | _imported_names(tokens) | {entry_point}
    renamed: dict[str, str] = {}
    out: list[str] = []
    indents = [0]
    depth = 0  # bracket depth: newlines inside brackets do not end a logical line
    line_start = True
    previous = ""
    for kind, text, offset in tokens:
        if kind == "newline":
            line_start = line_start or depth == 0
            continue
        if kind == "string":
            if skipped_strings and lines.position(offset) in skipped_strings:
                continue
            text = _canonical_string(text)
        if line_start:
            width = lines.indent_width(offset)
            while width < indents[-1]:
                indents.pop()
            if width > indents[-1]:
                indents.append(width)
            out.append(f"\n{len(indents) - 1}")
            line_start = False
        if kind == "name" and text not in kept and previous != ".":
            text = renamed.setdefault(text, f"{RENAMED}{len(renamed)}")
        elif text in _OPENING:
            depth += 1
        elif text in _CLOSING and depth:
            depth -= 1
        out.append(text)
        previous = text
    return out


def shingle_tokens(tokens: list[str]) -> list[str]:
    """The stream near-duplicate detection shingles: every renamed identifier is the same
    placeholder, so inserting one new name does not shift the numbering of all later ones."""
    return [RENAMED if token.startswith(RENAMED) else token for token in tokens]


def exact_key(tokens: Iterable[str]) -> str:
    """128-bit xxh3 of the normalised stream: equal for programs equal up to formatting,
    comments, docstrings and consistent renaming."""
    return xxhash.xxh3_128_hexdigest("\x1f".join(tokens).encode("utf-8"))
