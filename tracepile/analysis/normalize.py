"""A program's normalised token stream: what exact and near-duplicate detection compare.

The program is first re-printed by ``ast.unparse``, so parentheses, quotes, line breaks,
semicolons, trailing commas, comments, blank lines and literal spellings are written one
way; docstrings (every statement that is a bare string) are dropped from the tree first,
and f-strings are spelled out as ``format(...)`` calls so the names inside them are tokens.
Indentation is kept as nesting depth (moving a statement out of a block is another
program); identifiers bound by the program (variables, parameters, helper functions,
builtins it shadows) are renamed in order of first appearance, so a consistent renaming
gives the same stream. Names the program does not bind keep their spelling: keywords,
builtins, imported modules and names, attributes after ``.``, and the entry point, which
is the program's interface. Near-duplicate shingles see every renamed name as one
placeholder and every literal as another, so the shingles measure how alike two programs'
structure is.

Literals are what the program computes with: ``s.replace('a', 'b')`` and ``s.replace('c',
'd')`` are different programs. So programs that differ only in literals are never merged:
the exact key keeps every literal, and near-duplicate detection only compares programs
whose constants, in order, are the same (``literal_key`` salts their LSH band keys, so
programs with other constants never share a bucket, and a connected component never mixes
two constant sequences); near duplicates then differ in structure only (an operator, a line
without constants), never in a constant that can change the result. A constant is taken for
inert only where that is shown: docstrings and other bare strings (dropped from the
normalised form), and dead stores (``unused = 3``: a name nothing reads; see
``literal_key``). Print text is a script's output, a default value is used by every call
that omits the argument, an assertion's message can be caught and returned: none of them
is inert.

``KEY_VERSION`` names this scheme: keys stored by an earlier one are recomputed before
they are compared with new ones (``jobs/dedup_stage.py``).

Tokens follow Python's own token grammar (names, numbers, strings with prefixes,
operators, logical lines) in one compiled-regex pass: the stdlib ``tokenize`` is pure
Python on 3.11 and costs about 15x more per program (``bench/bench_dedup.py``); a test
checks that both give the same significant tokens on the real sample.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
from collections import Counter
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
_QUOTES = frozenset("'\"")
# "_" (a soft keyword, and a builtin in interactive sessions) is mostly an ordinary local name
_KEPT_NAMES = (frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))) - {"_"}
RENAMED = "§"  # prefix of renamed identifiers; cannot occur in a Python name
LITERAL = "§lit"  # every number and string in the shingle stream
_NAMED_CONSTANTS = frozenset({"True", "False", "None"})
# builtins that reach a variable by its name as a string: with them no store is known dead
_BY_STRING = frozenset({"globals", "locals", "vars", "eval", "exec", "getattr", "__dict__", "__import__"})
# 1: the source's own tokens; 2: re-printed by ast.unparse, shadowed builtins renamed,
# f-strings spelled out, literals one placeholder in shingles; 3: band keys salted with
# the literal sequence
KEY_VERSION = 3
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


def imported_names(tree: ast.AST) -> set[str]:
    """Every name an import binds or reads (modules, imported objects, aliases).

    Visits statements only (never expressions), which keeps it cheap.
    """
    imported: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        for field in _COMPOUND_FIELDS:
            for child in getattr(node, field, ()) or ():
                if isinstance(child, ast.Import | ast.ImportFrom):
                    for alias in child.names:
                        imported.update(alias.name.split("."))
                        if alias.asname:
                            imported.add(alias.asname)
                    if isinstance(child, ast.ImportFrom) and child.module:
                        imported.update(child.module.split("."))
                elif isinstance(child, _COMPOUND_NODES):
                    pending.append(child)
    return imported


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


class _Canonical(ast.NodeTransformer):
    """Drops bare string statements, spells f-strings out as ``format(...)`` calls, and
    collects the builtin names and soft keywords the program binds (``list = ...``, a
    parameter ``max``, a variable ``match``)."""

    def __init__(self) -> None:
        self.bound_builtins: set[str] = set()

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if isinstance(statements, list) and statements and isinstance(statements[0], ast.stmt):
                kept = [statement for statement in statements if not _is_docstring(statement)]
                setattr(node, field, kept or ([ast.Pass()] if field == "body" else []))
        return node

    def _binds(self, name: str) -> None:
        if name in _KEPT_NAMES:
            self.bound_builtins.add(name)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if not isinstance(node.ctx, ast.Load):
            self._binds(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        self._binds(node.arg)
        return self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> ast.AST:
        self._binds(node.name)
        return self.generic_visit(node)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        self.generic_visit(node)
        parts: list[ast.expr] = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                parts.append(value.value)
                if value.conversion != -1:
                    parts.append(ast.Constant(f"!{chr(value.conversion)}"))
                if value.format_spec is not None:
                    parts.append(value.format_spec)
            else:
                parts.append(value)
        return ast.Call(ast.Name("format", ast.Load()), parts, [])


def canonical_source(tree: ast.Module) -> tuple[str, set[str]]:
    """The program as ``ast.unparse`` prints it, without docstrings and with f-strings spelled
    out, and the builtin names it binds. Changes ``tree`` (callers parse it for this)."""
    canonical = _Canonical()
    return ast.unparse(ast.fix_missing_locations(canonical.visit(tree))), canonical.bound_builtins


def normalised_tokens(tree: ast.Module, entry_point: str) -> list[str]:
    """The normalised token stream of a program (``tree``, its AST, is changed: see
    ``canonical_source``)."""
    imported = imported_names(tree)
    source, bound_builtins = canonical_source(tree)
    kept = (_KEPT_NAMES - bound_builtins) | imported | {entry_point}
    renamed: dict[str, str] = {}
    out: list[str] = []
    line = "\n0"  # the marker of the line the next token starts, when it is the first
    previous = ""
    for text in python_tokens(source):
        if text[0] == "\n":  # ast.unparse: one logical line each, four spaces a level
            line = f"\n{(len(text) - 1) // 4}"
            continue
        if text[-1] not in _QUOTES and text[0].isidentifier() and text not in kept and previous != ".":
            text = renamed.setdefault(text, f"{RENAMED}{len(renamed)}")  # (a b'' string is no name)
        if line:
            out.append(line)
            line = ""
        out.append(text)
        previous = text
    return out


def _is_literal(token: str) -> bool:
    return token[0].isdigit() or (token[0] == "." and token[1:2].isdigit()) or token[-1] in _QUOTES


def shingle_tokens(tokens: list[str]) -> list[str]:
    """The stream near-duplicate detection shingles: every renamed identifier is the same
    placeholder, so inserting one new name does not shift the numbering of all later ones,
    and every literal another, so one changed constant is one changed token."""
    return [
        RENAMED if token.startswith(RENAMED) else LITERAL if _is_literal(token) else token for token in tokens
    ]


def exact_key(tokens: Iterable[str]) -> str:
    """128-bit xxh3 of the normalised stream: equal for programs equal up to formatting,
    comments, docstrings and consistent renaming (literals count)."""
    return xxhash.xxh3_128_hexdigest("\x1f".join(tokens).encode("utf-8"))


def _is_constant(token: str) -> bool:
    return _is_literal(token) or token in _NAMED_CONSTANTS


def literal_key(tokens: list[str]) -> int:
    """64-bit xxh3 of the constants of a normalised stream in order (numbers, strings, and
    ``True``, ``False``, ``None``, which the stream keeps as names), less those of dead
    stores: equal for programs that differ only in structure.

    A dead store is a line ``name = <constant>`` whose name nothing else in the program
    mentions, outside a class body (a class attribute is read as ``self.name``), in a program
    that does not reach names by string (``globals``, ``getattr``, ``eval``, ...): its
    constant cannot change what the program computes.
    """
    uses = Counter(token for token in tokens if token.startswith(RENAMED))
    by_string = not _BY_STRING.isdisjoint(tokens)
    constants: list[str] = []
    classes: list[int] = []  # depths of the class statements the current line is inside
    starts = [index for index, token in enumerate(tokens) if token[0] == "\n"]
    for start, end in zip(starts, [*starts[1:], len(tokens)], strict=True):
        depth, line = int(tokens[start][1:]), tokens[start + 1 : end]
        while classes and depth <= classes[-1]:
            classes.pop()
        dead = (
            len(line) == 3
            and line[0].startswith(RENAMED)
            and line[1] == "="
            and _is_constant(line[2])
            and uses[line[0]] == 1
            and not by_string
            and not (classes and depth == classes[-1] + 1)
        )
        if not dead:
            constants += [token for token in line if _is_constant(token)]
        if line[0] == "class":
            classes.append(depth)
    return xxhash.xxh3_64_intdigest("\x1f".join(constants).encode("utf-8"))
