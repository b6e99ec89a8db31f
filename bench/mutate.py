"""Planted duplicates for the dedup benchmarks: copies of real programs with known changes.

Kinds: ``exact`` (same code, another record), ``reformatted`` (re-printed from the AST,
two-space indents, new comments and blank lines), ``renamed`` (local names consistently
renamed), ``one_line_edit`` (one line changed: a constant, an operator, or a statement
inserted). Every mutant parses; the helpers are seeded, so a run is reproducible.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import random
import re
import tokenize
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tracepile.analysis.filters import check_program, parse_program
from tracepile.config import FilterConfig

_BUILTINS = frozenset(dir(builtins))
_OPERATOR_SWAPS = (
    ("<=", "<"),
    (" < ", " <= "),
    (" + ", " - "),
    (" * ", " + "),
    ("==", "!="),
    (" // ", " / "),
)


def load_programs(path: Path) -> list[dict[str, Any]]:
    """The CodeI/O records of ``path`` whose programs pass the static filters."""
    from tracepile.sources.codeio import parse_codeio_record

    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parsed = parse_codeio_record(line.encode("utf-8"))
        if isinstance(parsed, dict):
            code = parsed["code"]
            outcome = check_program(
                code, parse_program(code), parsed["entry_point"], parsed["inputs"], FilterConfig()
            )
            if outcome.reason is None:
                records.append(json.loads(line))
    return records


def exact_copy(code: str, rng: random.Random) -> str:
    return code


def reformatted(code: str, rng: random.Random) -> str:
    lines = ast.unparse(ast.parse(code)).splitlines()
    out = [f"# reformatted copy {rng.randrange(10**6)}"]
    for line in lines:
        stripped = line.lstrip(" ")
        indent = "  " * ((len(line) - len(stripped)) // 4)
        out.append(f"{indent}{stripped}")
        if stripped.startswith("def "):
            out.append(f"{indent}  # body follows")
        if rng.random() < 0.2:
            out.append("")
    return "\n".join(out) + "\n"


def renamed(code: str, rng: random.Random, entry: str = "main_solution") -> str:
    """Local names renamed consistently; the entry function and its parameters (the
    interface the inputs bind to) keep their names."""
    tree = ast.parse(code)
    local = {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    local |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    interface = {
        a.arg for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry for a in n.args.args
    }
    local -= _BUILTINS | {entry, "self"} | interface
    fresh = {name: f"{name[:1]}{rng.choice('xyzqkw')}{rng.randrange(100)}_" for name in sorted(local)}
    line_starts = [0, *(m.end() for m in re.finditer("\n", code))]
    edits = []
    previous = ""
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.NAME and token.string in fresh and previous != ".":
            start = line_starts[token.start[0] - 1] + token.start[1]
            edits.append((start, start + len(token.string), fresh[token.string]))
        previous = token.string
    for start, end, name in reversed(edits):
        code = code[:start] + name + code[end:]
    return code


def one_line_edit(code: str, rng: random.Random) -> str:
    lines = code.splitlines()
    candidates = [
        i
        for i, line in enumerate(lines)
        if line.strip() and not line.strip().startswith(("#", "def ", '"""'))
    ]
    for _ in range(50):
        index = rng.choice(candidates)
        line = lines[index]
        choice = rng.randrange(3)
        if choice == 0 and re.search(r"\b\d+\b", line):
            edited = re.sub(r"\b(\d+)\b", lambda m: str(int(m.group(1)) + 1), line, count=1)
        elif choice == 1 and any(a in line for a, _ in _OPERATOR_SWAPS):
            old, new = next(pair for pair in _OPERATOR_SWAPS if pair[0] in line)
            edited = line.replace(old, new, 1)
        else:
            indent = line[: len(line) - len(line.lstrip())]
            edited = f"{line}\n{indent}checked_{rng.randrange(100)} = {rng.randrange(1000)}"
        mutant = "\n".join([*lines[:index], edited, *lines[index + 1 :]])
        try:
            ast.parse(mutant)
        except SyntaxError:
            continue
        if mutant != code:
            return mutant
    raise ValueError("no parseable one-line edit found")


KINDS: dict[str, Callable[[str, random.Random], str]] = {
    "exact": exact_copy,
    "reformatted": reformatted,
    "renamed": renamed,
    "one_line_edit": one_line_edit,
}


def planted_record(record: dict[str, Any], code: str, kind: str, group: int, copy: int) -> dict[str, Any]:
    """A new record (new program_id) carrying ``code`` and where it was planted from."""
    return {
        **record,
        "refcode": code,
        "source": f"planted-{kind}-{copy}",
        "meta": {"group": group, "kind": kind},
    }


def mutants(code: str, rng: random.Random, edits: int) -> str:
    """A random composition: renamed and/or reformatted, plus ``edits`` one-line edits."""
    if rng.random() < 0.5:
        code = renamed(code, rng)
    for _ in range(edits):
        code = one_line_edit(code, rng)
    if rng.random() < 0.5:
        code = reformatted(code, rng)
    return code


def write_jsonl(records: Iterator[dict[str, Any]] | list[dict[str, Any]], path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")
            count += 1
    return count
