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
from collections.abc import Iterable

import xxhash

_TOKEN = re.compile(
    r"""
    \#[^\r\n]*                                   # comment (dropped)
  | \\\r?\n                                     # explicit line join (dropped)
  | \r?\n[ \t\f]*                               # newline with the next line's indentation
  | (?:[rRbBuUfF]{1,2})?                          # string, with its prefix
        (?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^'\\\r\n])*'|"(?:\\.|[^"\\\r\n])*")
  | 0[xXoObB][0-9a-fA-F_]+                        # number
  | (?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?[jJ]?
  | [^\W\d]\w*                                    # name
  | \*\*=?|//=?|>>=?|<<=?|->|:=|\.\.\.|[-+*/%&|^@<>!=]=|[^\s\w]   # operator
    """,
    re.VERBOSE,
)
_OPENING, _CLOSING = frozenset("([{"), frozenset(")]}")
_QUOTES = frozenset("'\"")
# "_" (a soft keyword, and a builtin in interactive sessions) is mostly an ordinary local name
_KEPT_NAMES = (frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))) - {"_"}
RENAMED = "§"  # prefix of renamed identifiers; cannot occur in a Python name
_COMPOUND_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")
# statements that hold other statements (the only ones worth descending into)
_COMPOUND_NODES = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While,
    ast.With, ast.AsyncWith, ast.Try, ast.TryStar, ast.Match, ast.excepthandler, ast.match_case,
)  # fmt: skip


def python_tokens(code: str) -> list[str]:
    """Every token of ``code`` in order: names, numbers, strings, operators; plus comments,
    line joins and newlines (each newline carrying the next line's indentation)."""
    return _TOKEN.findall(code)


def statement_facts(tree: ast.AST) -> tuple[set[int], set[str]]:
    """Lines where a bare string statement starts (docstrings and the like), and every name
    an import binds or reads (modules, imported objects, aliases).

    Visits statements only (never expressions), which keeps it cheap.
    """
    string_lines: set[int] = set()
    imported: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        for field in _COMPOUND_FIELDS:
            for child in getattr(node, field, ()) or ():
                if isinstance(child, ast.Expr):
                    if isinstance(child.value, ast.Constant) and isinstance(child.value.value, str):
                        string_lines.add(child.lineno)
                elif isinstance(child, ast.Import | ast.ImportFrom):
                    for alias in child.names:
                        imported.update(alias.name.split("."))
                        if alias.asname:
                            imported.add(alias.asname)
                    if isinstance(child, ast.ImportFrom) and child.module:
                        imported.update(child.module.split("."))
                elif isinstance(child, _COMPOUND_NODES):
                    pending.append(child)
    return string_lines, imported


def _canonical_string(text: str) -> str:
    """A string literal spelled one way ('a' and "a" are the same); f-strings stay as written."""
    body = text.lstrip("rRbBuUfF")
    prefix = text[: len(text) - len(body)].lower()
    if "f" in prefix:
        return text
    if not prefix and "\\" not in body:  # the common case, without compiling anything
        quote = 3 if body[:3] in ("'''", '"""') else 1
        return repr(body[quote:-quote])
    try:
        return repr(ast.literal_eval(text))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def normalised_tokens(
    code: str, tree: ast.AST, entry_point: str, tokens: list[str] | None = None
) -> list[str]:
    """The normalised token stream of a program that parses (``tree`` is its AST;
    ``tokens`` its ``python_tokens`` when the caller has them already)."""
    string_lines, imported = statement_facts(tree)
    kept = _KEPT_NAMES | imported | {entry_point}
    renamed: dict[str, str] = {}
    out: list[str] = []
    indents = [0]
    indent = ""
    depth = 0  # bracket depth: newlines inside brackets do not end a logical line
    line = 1
    line_start = True
    previous = ""
    for text in python_tokens(code) if tokens is None else tokens:
        first = text[0]
        if first == "\n" or first == "\r":
            line += 1
            if depth == 0:
                line_start, indent = True, text.lstrip("\r\n")
            continue
        if first == "#":
            continue
        if first == "\\":
            line += 1
            continue
        if text[-1] in _QUOTES:
            string_line = line
            line += text.count("\n")
            if line_start and string_line in string_lines:
                continue
            text = _canonical_string(text)
        elif first.isidentifier() and text not in kept and previous != ".":
            text = renamed.setdefault(text, f"{RENAMED}{len(renamed)}")
        elif text in _OPENING:
            depth += 1
        elif text in _CLOSING and depth:
            depth -= 1
        if line_start:
            width = len(indent.expandtabs(8))
            while width < indents[-1]:
                indents.pop()
            if width > indents[-1]:
                indents.append(width)
            out.append(f"\n{len(indents) - 1}")
            line_start = False
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
