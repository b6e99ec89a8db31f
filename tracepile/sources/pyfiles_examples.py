"""Examples in a function's docstring, for the ``pyfiles`` source kind: the written ones (``f(1, 2)
==> 3``) and the inputs and expected outputs they give; and the docstrings with every example taken
out. (Doctests are read in ``pyfiles_doctest``.)

What a prompt shows must not hold its answer: ``without_examples`` takes the doctest examples
(their ``>>>`` lines and outputs) and the written examples out of a docstring, and
``strip_docstring_examples`` does so in the source of a statement, where the docstrings stand.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from tracepile.analysis.filters import Signature
from tracepile.analysis.values import NoForm, NotALiteral, encode, parse_literal

# `f(...) ==> y` and its kin, tried in this order (a longer arrow before its own prefix).
ARROWS = ("==>", "=>", "==", "->", "➞", "→")

# A doctest's first line, or one commented out (``# >>> f(-1)``): the output under it goes too.
_EXAMPLE_START = re.compile(r"\s*(#\s*)?>>>")
_HEADING = re.compile(
    r"(?i)^\s*(for\s+)?(examples?|example\s+usage|usage|doctests?|tests?|sample(\s+usage)?|e\.g\.)\s*:?\s*$"
)


def is_call_of(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


def _literal_kwargs(text: str, function: ast.FunctionDef, signature: Signature) -> dict[str, Any] | None:
    """The keyword arguments of ``text`` when it is a call of ``function`` with literal
    arguments that bind to its parameters, else None."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if not is_call_of(call, function.name):
        return None
    assert isinstance(call, ast.Call)
    names = [arg.arg for arg in function.args.args]
    if len(call.args) > len(names) or any(kw.arg is None for kw in call.keywords):
        return None
    try:
        kwargs = {name: parse_literal(ast.unparse(arg)) for name, arg in zip(names, call.args, strict=False)}
        for keyword in call.keywords:
            if keyword.arg in kwargs:
                return None
            kwargs[str(keyword.arg)] = parse_literal(ast.unparse(keyword.value))
    except NotALiteral:
        return None
    return kwargs if signature.problem(kwargs) is None else None


def _call_start(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.]){re.escape(name)}\(")


def written_examples(
    docstring: str, function: ast.FunctionDef, signature: Signature
) -> list[tuple[str, str]]:
    """Lines such as ``f(1, 2) ==> 3`` (or ``=>``, ``==``, ``->``, ``➞``, ``→``)."""
    call_start = _call_start(function.name)
    found: list[tuple[str, str]] = []
    for line in docstring.splitlines():
        if line.lstrip().startswith((">>>", "...")):
            continue
        for match in call_start.finditer(line):
            example = _written_example(line[match.start() :], function, signature)
            if example is not None:
                found.append(example)
                break
    return found


def _written_example(text: str, function: ast.FunctionDef, signature: Signature) -> tuple[str, str] | None:
    for arrow in ARROWS:
        at = text.find(arrow)
        while at != -1:
            kwargs = _literal_kwargs(text[:at], function, signature)
            if kwargs is not None:
                try:
                    expected = parse_literal(text[at + len(arrow) :])
                    return encode(kwargs), encode(expected)
                except (NotALiteral, NoForm):
                    pass
            at = text.find(arrow, at + 1)
    return None


def _written_example_at(line: str, names: frozenset[str]) -> int | None:
    """Where a written example of one of ``names`` starts in ``line`` (a call, an arrow, then
    something), whether or not its values have a form; None if it holds none."""
    for name in names:
        for match in _call_start(name).finditer(line):
            text = line[match.start() :]
            for arrow in ARROWS:
                at = text.find(arrow)
                while at != -1:
                    try:
                        call = ast.parse(text[:at].strip(), mode="eval").body
                    except (SyntaxError, ValueError, MemoryError, RecursionError):
                        call = None
                    if call is not None and is_call_of(call, name) and text[at + len(arrow) :].strip():
                        return match.start()
                    at = text.find(arrow, at + 1)
    return None


def _is_blank(line: str) -> bool:
    return not line.strip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def without_examples(text: str, names: frozenset[str]) -> str:
    """``text`` (a docstring) without its doctest examples (each ``>>>`` line, its ``...`` lines
    and its output, up to a blank line or the next ``>>>``) and the written examples of
    ``names`` (``f(1) ==> 2``: the line from the call on); a heading left with nothing under it
    (``Examples:``) goes too, and blank lines do not pile up where they were."""
    lines = text.splitlines(keepends=True)
    kept: list[str | None] = list(lines)  # None: taken out
    index = 0
    while index < len(lines):
        if _EXAMPLE_START.match(lines[index]):
            kept[index] = None
            index += 1
            while (
                index < len(lines) and not _is_blank(lines[index]) and not _EXAMPLE_START.match(lines[index])
            ):
                kept[index] = None  # `...` lines and the output
                index += 1
            continue
        at = _written_example_at(lines[index], names)
        if at is not None:
            head = lines[index][:at].rstrip()
            ending = lines[index][len(lines[index].rstrip("\r\n")) :]
            kept[index] = head + ending if head.strip() else None
        index += 1
    for index, line in enumerate(kept):
        if line is None or not _HEADING.match(line):
            continue
        if line != lines[index]:
            kept[index] = None  # "For example: f(3) == 9" cut to its heading
            continue
        after = [i for i in range(index + 1, len(lines)) if not _is_blank(lines[i])]
        if not after or kept[after[0]] == lines[after[0]]:
            continue  # the heading's first line stays: it still heads something
        following = next((kept[i] for i in after if kept[i] is not None), None)
        if following is None or _indent(following) <= _indent(line):
            kept[index] = None  # nothing left under it
    return _tidy([line for line in kept if line is not None])


def _tidy(lines: list[str]) -> str:
    """The lines joined, with no two blank lines in a row and none at the end, before the indent
    of a docstring's closing quotes (a last line of spaces only, with no line end)."""
    closing = lines.pop() if lines and _is_blank(lines[-1]) and not lines[-1].endswith(("\n", "\r")) else ""
    out: list[str] = []
    for line in lines:
        if not (_is_blank(line) and out and _is_blank(out[-1])):
            out.append(line)
    while len(out) > 1 and _is_blank(out[-1]):
        out.pop()
    if len(out) == 1 and closing:
        return out[0].rstrip()  # one line left: the closing quotes close it
    return "".join(out) + closing


def _docstring_nodes(tree: ast.AST) -> list[tuple[str, ast.Constant, ast.Expr, list[ast.stmt]]]:
    """Every docstring of a def or class in ``tree``: its owner's name, the literal, its
    statement and the body it opens."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                found.append((node.name, first.value, first, node.body))
    return found


def _reads_as(candidate: str, value: str) -> bool:
    try:
        return bool(ast.literal_eval(candidate) == value)
    except (SyntaxError, ValueError):
        return False


def _string_literal(old: str, original: str, value: str) -> str:
    """Source for the str ``value`` that replaces the literal ``old`` of ``original``: in
    ``old``'s quotes where ``old`` holds ``original`` verbatim (no escape), else a fresh
    triple-quoted literal where ``value`` has no backslash, else its repr."""
    prefix = old[: len(old) - len(old.lstrip("rRuU"))]
    quote = next((q for q in ('"""', "'''", '"', "'") if old[len(prefix) :].startswith(q)), "")
    if old == f"{prefix}{quote}{original}{quote}" and _reads_as(
        kept := f"{prefix}{quote}{value}{quote}", value
    ):
        return kept
    if "\\" not in value and _reads_as(fresh := f'"""{value}"""', value):
        return fresh
    return repr(value)


def strip_docstring_examples(source: str, names: frozenset[str]) -> str:
    """``source`` (one top-level statement) with the examples taken out of each docstring of its
    defs and classes: the doctests, and the written examples of its owner and of ``names``. A
    docstring left empty goes, where its body has more; the rest of the source stays as written."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line.encode()))
    edits: list[tuple[int, int, str]] = []  # byte spans of the source and their new text
    for owner, literal, statement, body in _docstring_nodes(tree):
        value = without_examples(literal.value, names | {owner})
        if value == literal.value:
            continue
        first, last = statement.lineno - 1, (statement.end_lineno or statement.lineno) - 1
        start = starts[first] + statement.col_offset
        end = starts[last] + (statement.end_col_offset or 0)
        whole_lines = not lines[first].encode()[: statement.col_offset].strip() and not (
            lines[last].encode()[statement.end_col_offset or 0 :].strip()
        )
        if not value.strip() and len(body) > 1 and whole_lines:
            edits.append((starts[first], starts[last + 1], ""))  # the docstring's lines go
            continue
        old = source.encode()[start:end].decode()
        edits.append((start, end, _string_literal(old, literal.value, value)))
    data = source.encode()
    for start, end, text in sorted(edits, reverse=True):
        data = data[:start] + text.encode() + data[end:]
    return data.decode()
