"""Dedup quality on harder copies, computed without Spark from the stage's own pure functions.

Planted set from the sample (``../shared/data/pyedu_toy.jsonl``, programs passing the static
filters): for ``--copies`` seeded originals, one copy of each kind:

- ``reprinted``: ``ast.unparse`` of the program, then extra parentheses (``--parens``),
  flipped quotes, comment lines, trailing comments and blank lines (AST checked unchanged);
- ``renamed``: every name the program binds (locals, parameters of helpers, globals, helper
  functions and classes, names inside f-strings and keyword arguments to renamed helpers)
  renamed consistently; not the entry point or its parameters (the inputs bind to them),
  imports, attributes or methods (AST checked equal to the original's with the names mapped);
- ``constant``: one numeric or string constant changed (not a docstring);
- combinations: ``reprinted+renamed``, ``renamed+constant``, ``renamed+constant+reprinted``;
- ``one_line_edit`` (``bench/mutate.py``; not in the issue): shows what a higher threshold costs.

A changed constant changes what the program computes, so since ``KEY_VERSION`` 3 the stage
keeps such copies apart on purpose (``tracepile/analysis/normalize.py``): for the kinds with
``constant`` the table's "found" is how many were merged anyway, and the right figure is 0.
Of the one-line edits (``bench/mutate.py``: a constant + 1, another operator, or an
inserted ``checked_N = M`` that nothing reads) the first kind is kept apart the same way.

Decisions mirror ``jobs/dedup_stage.py`` with ``DedupConfig()`` (or ``--set``): exact groups
(same exact key), then LSH buckets over the programs that are not exact copies, a star of
edges from each bucket to its smallest ``program_id``, edges kept when the estimated Jaccard
is >= ``min_jaccard``, connected components. Ids are the ingest stage's. ``--check-stage``
asserts that exact keys, signatures and band keys equal ``analyse_table``'s (the stage's
batch function, filters included) on the whole planted set.

- recall per kind: share of copies in the same component as their original (``exact``: how
  many share its exact key);
- false merges: share of the sample's originals in a component with another original (raw);
  with an original that is not a real copy of it, and distinct programs lost (per component,
  classes of real copies - 1). "Real copy" here is a heuristic (same re-printed, renamed
  stream, or difflib ratio >= ``--copy-ratio``): ``--examples`` lists the components to read.

The token stream and band keys are the stage's (``KEY_VERSION`` 3 of ``tracepile/analysis/normalize.py``).

Run: ``python bench/bench_dedup_hard.py [--copies 150] [--seed 0 --seed 1 --seed 2]
[--set min_jaccard=0.85] [--examples 10] [--check-stage]`` (about 15 s per
seed and stream on one core).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import io
import itertools
import json
import random
import statistics
import sys
import tokenize
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tracepile.analysis.filters import check_program, parse_program
from tracepile.analysis.minhash import band_keys, estimated_jaccard, shingle_hashes, signatures, token_hashes
from tracepile.analysis.normalize import (
    exact_key,
    imported_names,
    literal_key,
    normalised_tokens,
    shingle_tokens,
)
from tracepile.config import DedupConfig, FilterConfig
from tracepile.sources.codeio import parse_codeio_record

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutate import one_line_edit

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyedu_toy.jsonl"
Stream = Callable[
    [str, ast.Module, str], tuple[list[str], list[str]]
]  # -> (exact-key tokens, shingle tokens)


@dataclass
class Program:
    """One program as the dedup stage sees it, and where it was planted from."""

    program_id: str
    code: str
    entry_point: str
    n_inputs: int
    group: int  # index of the original it belongs to
    kind: str  # "original" or a copy kind
    raw: dict = field(repr=False, default_factory=dict)


# ---------------------------------------------------------------------------- sample


def load_originals(path: Path) -> list[Program]:
    """The sample's programs that pass the static filters, with the ingest stage's ids."""
    programs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parsed = parse_codeio_record(line.encode("utf-8"))
        if not isinstance(parsed, dict):
            continue
        code = parsed["code"]
        outcome = check_program(
            code, parse_program(code), parsed["entry_point"], parsed["inputs"], FilterConfig()
        )
        if outcome.reason is None:
            programs.append(
                Program(
                    parsed["program_id"],
                    code,
                    parsed["entry_point"],
                    len(outcome.inputs),
                    len(programs),
                    "original",
                    json.loads(line),
                )
            )
    return programs


def planted(original: Program, code: str, kind: str) -> Program:
    """A copy with ``code``: the id ingest would give it (same record, other code)."""
    parsed = parse_codeio_record(json.dumps({**original.raw, "refcode": code}).encode("utf-8"))
    if not isinstance(parsed, dict):
        raise ValueError(f"planted copy rejected by ingest: {parsed}")
    return Program(
        parsed["program_id"],
        code,
        original.entry_point,
        original.n_inputs,
        original.group,
        kind,
        original.raw,
    )


# ---------------------------------------------------------------------------- copies


def _offsets(code: str) -> Callable[[int, int], int]:
    """(lineno, UTF-8 col_offset) -> offset into ``code``."""
    lines = code.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(lineno: int, col: int) -> int:
        return starts[lineno - 1] + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8", "replace"))

    return offset


def _edit(code: str, edits: Iterable[tuple[int, int, str]]) -> str:
    """Apply (start, end, text) replacements, given in any order, none overlapping."""
    for start, end, text in sorted(set(edits), key=lambda e: (e[0], e[1]), reverse=True):
        code = code[:start] + text + code[end:]
    return code


def _in_fstring(tree: ast.AST) -> set[int]:
    """ids of nodes inside f-strings (their positions are not reliable on 3.11)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            inside.update(id(n) for n in ast.walk(node))
    return inside


def _same_tree(first: str, second: str) -> bool:
    try:
        return ast.dump(ast.parse(first)) == ast.dump(ast.parse(second))
    except SyntaxError:
        return False


_WRAPPABLE = (ast.BinOp, ast.Compare, ast.Call, ast.Name, ast.Subscript, ast.BoolOp, ast.Attribute)


def reprinted(code: str, rng: random.Random, parens: float = 0.3) -> str | None:
    """``ast.unparse``, then extra parentheses (around a ``parens`` share of the returned,
    assigned and tested values, operands and call arguments), flipped quotes, comments and
    blank lines."""
    text = ast.unparse(ast.parse(code))
    tree = ast.parse(text)
    offset = _offsets(text)
    skip = _in_fstring(tree)
    spots = [
        node
        for parent in ast.walk(tree)
        if isinstance(
            parent, ast.Return | ast.Assign | ast.AugAssign | ast.If | ast.While | ast.BinOp | ast.Call
        )
        for node in ([parent.value] if isinstance(parent, ast.Return | ast.Assign | ast.AugAssign) else [])
        + ([parent.test] if isinstance(parent, ast.If | ast.While) else [])
        + ([parent.left, parent.right] if isinstance(parent, ast.BinOp) else [])
        + (list(parent.args) if isinstance(parent, ast.Call) else [])
        if node is not None and isinstance(node, _WRAPPABLE) and id(node) not in skip
    ]
    chosen = [n for n in spots if rng.random() < parens] or spots[:1]
    edits = []
    for node in chosen:
        start, end = offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset)
        edits += [(start, start, "("), (end, end, ")")]
    wrapped = _edit_insertions(text, edits)
    if _same_tree(wrapped, text):
        text = wrapped
    # quotes: plain '...' strings become "..." (half of them)
    edits = []
    offset = _offsets(text)
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        body = token.string
        plain = token.type == tokenize.STRING and body[:1] == "'" and not body.startswith("'''")
        if plain and '"' not in body and "\\" not in body and rng.random() < 0.5:
            start = offset(token.start[0], len(token.line[: token.start[1]].encode("utf-8")))
            edits.append((start, start + len(body), '"' + body[1:-1] + '"'))
    flipped = _edit(text, edits)
    if _same_tree(flipped, text):
        text = flipped
    # comments and blank lines, at logical-line boundaries only
    starts, ends = set(), set()
    at_start = True
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in (tokenize.NEWLINE, tokenize.NL):
            if token.type == tokenize.NEWLINE:
                ends.add(token.start[0])
            at_start = True
        elif token.type not in (tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT) and at_start:
            starts.add(token.start[0])
            at_start = False
    out = [f"# reprinted copy {rng.randrange(10**6)}"]
    for number, line in enumerate(text.splitlines(), 1):
        indent = line[: len(line) - len(line.lstrip())]
        if number in starts and rng.random() < 0.25:
            out.append(f"{indent}# step {rng.randrange(100)}: see below")
        if number in starts and rng.random() < 0.15:
            out.append("")
        out.append(f"{line}  # note {rng.randrange(100)}" if number in ends and rng.random() < 0.2 else line)
    result = "\n".join(out) + "\n"
    return result if _same_tree(result, text) else None


def _edit_insertions(code: str, inserts: list[tuple[int, int, str]]) -> str:
    """Insert texts at offsets (several may share an offset)."""
    for start, _, text in sorted(inserts, key=lambda e: e[0], reverse=True):
        code = code[:start] + text + code[start:]
    return code


class _Renamer(ast.NodeTransformer):
    """The original's AST with the names mapped: what a correct renamed copy must parse to."""

    def __init__(self, names: dict[str, str], callables: set[str]) -> None:
        self.names, self.callables = names, callables

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.names.get(node.id, node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.names.get(node.arg, node.arg)
        self.generic_visit(node)
        return node

    def _named(self, node: ast.AST) -> ast.AST:
        node.name = self.names.get(node.name, node.name)  # type: ignore[attr-defined]
        self.generic_visit(node)
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_ExceptHandler = _named

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> ast.AST:
        node.names = [self.names.get(n, n) for n in node.names]
        return node

    visit_Nonlocal = visit_Global

    def visit_Call(self, node: ast.Call) -> ast.Call:
        if isinstance(node.func, ast.Name) and node.func.id in self.callables:
            for keyword in node.keywords:
                if keyword.arg:
                    keyword.arg = self.names.get(keyword.arg, keyword.arg)
        self.generic_visit(node)
        return node


def bound_names(tree: ast.Module, entry_point: str) -> tuple[set[str], set[str]]:
    """(names the program binds that a consistent renaming changes, its helper callables)."""
    methods = {
        id(item)
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for item in node.body
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    names: set[str] = set()
    callables: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and id(node) not in methods
        ):
            names.add(node.name)
            callables.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    # the entry point's parameters are the interface the inputs bind to (the stage rejects a
    # copy whose inputs no longer bind); the normaliser renames them like any other local
    interface = {
        arg.arg
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == entry_point
        for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)
    }
    imported = imported_names(tree)
    names -= imported | interface | {entry_point, "self", "cls", "_"}
    names = {n for n in names if not (n.startswith("__") and n.endswith("__"))}
    return names, callables & names


def renamed(code: str, rng: random.Random, entry_point: str) -> str | None:
    """Every bound name renamed consistently (positions from the AST, checked by re-parsing)."""
    tree = ast.parse(code)
    names, callables = bound_names(tree, entry_point)
    if not names:
        return None
    taken = {
        t.string for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type == tokenize.NAME
    }
    words = ("val", "item", "acc", "tmp", "node", "cur", "res", "num", "data", "part")
    mapping: dict[str, str] = {}
    for name in sorted(names):
        while True:
            fresh = f"{rng.choice(words)}_{rng.randrange(1000)}"
            if fresh not in taken and fresh not in mapping.values():
                mapping[name] = fresh
                break
    offset = _offsets(code)
    edits = []
    for node in ast.walk(tree):
        spots: list[tuple[str, int, int]] = []
        if isinstance(node, ast.Name) and node.id in mapping:
            spots.append((node.id, node.lineno, node.col_offset))
        elif isinstance(node, ast.arg) and node.arg in mapping:
            spots.append((node.arg, node.lineno, node.col_offset))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in callables:
            spots += [(k.arg, k.lineno, k.col_offset) for k in node.keywords if k.arg in mapping]
        for old, lineno, col in spots:
            start = offset(lineno, col)
            if code[start : start + len(old)] == old:
                edits.append((start, start + len(old), mapping[old]))
    # names without their own position: def/class names, except ... as, global/nonlocal
    previous, in_global = "", False
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.NEWLINE:
            in_global = False
        if token.type == tokenize.NAME:
            if token.string in ("global", "nonlocal"):
                in_global = True
            elif token.string in mapping and (previous in ("def", "class", "as") or in_global):
                start = offset(token.start[0], len(token.line[: token.start[1]].encode("utf-8")))
                edits.append((start, start + len(token.string), mapping[token.string]))
        previous = token.string
    result = _edit(code, edits)
    expected = ast.unparse(_Renamer(mapping, callables).visit(ast.parse(code)))
    return result if _same_tree(result, expected) and result != code else None


def constant_changed(code: str, rng: random.Random) -> str | None:
    """One numeric or string constant (not a docstring, not in an f-string) changed."""
    tree = ast.parse(code)
    skip = _in_fstring(tree)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    candidates = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and type(node.value) in (int, float, str)
        and id(node) not in skip | docstrings
    ]
    if not candidates:
        return None
    node = rng.choice(candidates)
    value = node.value
    if isinstance(value, int):
        new: object = value + rng.choice((1, 2, 3)) if value >= 0 else value - 1
    elif isinstance(value, float):
        new = value * 2 + 0.5
    else:
        new = value + rng.choice("xyz") if not value or rng.random() < 0.5 else value[:-1] + "#"
    offset = _offsets(code)
    start, end = offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset)
    result = code[:start] + repr(new) + code[end:]
    try:
        ast.parse(result)
    except SyntaxError:
        return None
    return result if result != code else None


def make_copy(kind: str, original: Program, rng: random.Random, parens: float) -> str | None:
    """The copy of ``kind`` (``None`` when the program offers nothing to change)."""
    code: str | None = original.code
    for step in kind.split("+"):
        if code is None:
            return None
        if step == "reprinted":
            code = reprinted(code, rng, parens)
        elif step == "renamed":
            code = renamed(code, rng, original.entry_point)
        elif step == "constant":
            code = constant_changed(code, rng)
        elif step == "one_line_edit":  # bench_dedup_quality's kind, for the threshold trade-off
            try:
                code = one_line_edit(code, rng)
            except ValueError:
                return None
    return code


KINDS = (
    "reprinted",
    "renamed",
    "constant",
    "reprinted+renamed",
    "renamed+constant",
    "renamed+constant+reprinted",
    "one_line_edit",  # not in the issue: mutate.py's operator swap / inserted line / constant +1
)


# ---------------------------------------------------------------------------- streams


def product_tokens(code: str, tree: ast.Module, entry_point: str) -> tuple[list[str], list[str]]:
    """What ``udfs/analyse_programs.py`` computes: the normalised stream and its shingle stream."""
    tokens = normalised_tokens(tree, entry_point)
    return tokens, shingle_tokens(tokens)


STREAMS: dict[str, Stream] = {"product": product_tokens}


# ---------------------------------------------------------------------------- decisions


@dataclass
class Keys:
    exact: list[str]
    shingles: list[list[str]]
    signatures: np.ndarray
    bands: np.ndarray


def program_keys(programs: list[Program], stream: Stream, config: DedupConfig) -> Keys:
    """Exact keys, signatures and band keys, as ``analyse_table`` computes them (same functions)."""
    exact, shingles, lengths, flat, salts = [], [], [], [], []
    for program in programs:
        key_tokens, shingle_stream = stream(program.code, ast.parse(program.code), program.entry_point)
        exact.append(exact_key(key_tokens))
        shingles.append(shingle_stream)
        lengths.append(len(shingle_stream))
        flat.extend(shingle_stream)
        salts.append(literal_key(key_tokens))
    hashes, counts = shingle_hashes(token_hashes(flat), np.array(lengths), config.shingle_size)
    rows = signatures(hashes, counts, config.num_perm, config.seed)
    return Keys(exact, shingles, rows, band_keys(rows, config.bands, config.rows, salts))


def check_against_stage(programs: list[Program], config: DedupConfig) -> None:
    """Assert that ``program_keys`` with the product stream equals what the stage's batch
    function (``udfs/analyse_programs.analyse_table``) stores for the same programs."""
    import pyarrow as pa

    from tracepile.tables import INPUTS_ARROW_TYPE
    from tracepile.udfs.analyse_programs import DedupOptions, analyse_table

    parsed = [parse_codeio_record(json.dumps({**p.raw, "refcode": p.code}).encode("utf-8")) for p in programs]
    rows = [row for row in parsed if isinstance(row, dict)]
    assert len(rows) == len(programs), "ingest rejects planted programs"
    columns = ("program_id", "code", "entry_point", "problem", "run_mode")
    table = pa.table(
        {
            **{name: [row[name] for row in rows] for name in columns},
            "inputs": pa.array([row["inputs"] for row in rows], INPUTS_ARROW_TYPE),
        }
    )
    stored = analyse_table(table, DedupOptions(FilterConfig(), config)).to_pydict()
    rejected = [(p.kind, r) for p, r in zip(programs, stored["reject_reason"], strict=True) if r is not None]
    assert not rejected, f"the stage's filters reject planted programs: {rejected[:5]}"
    keys = program_keys(programs, product_tokens, config)
    assert stored["exact_key"] == keys.exact, "exact keys differ from the stage's"
    assert [list(k) for k in stored["band_keys"]] == keys.bands.tolist(), "band keys differ from the stage's"
    assert [bytes(s) for s in stored["signature"]] == [row.tobytes() for row in keys.signatures]
    print(f"check: keys of {len(programs)} programs equal the stage's analyse_table output")


class _Components:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, first: int, second: int) -> None:
        self.parent[self.find(first)] = self.find(second)


def components(programs: list[Program], keys: Keys, config: DedupConfig) -> list[int]:
    """Component label per program, as the stage decides: exact groups, then star edges of LSH
    buckets among the programs that are not exact copies, verified by estimated Jaccard."""
    found = _Components(len(programs))
    groups: dict[str, list[int]] = defaultdict(list)
    for index, key in enumerate(keys.exact):
        groups[key].append(index)
    nodes = []
    for members in groups.values():
        keeper = min(members, key=lambda i: (-programs[i].n_inputs, programs[i].program_id))
        nodes.append(keeper)
        for member in members:
            found.union(member, keeper)
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index in nodes:
        for band, key in enumerate(keys.bands[index].tolist()):
            buckets[band, key].append(index)
    edges = set()
    for members in buckets.values():
        if len(members) > 1:
            root = min(members, key=lambda i: programs[i].program_id)
            edges.update((member, root) for member in members if member != root)
    if edges:
        pairs = np.array(sorted(edges))
        similar = estimated_jaccard(keys.signatures[pairs[:, 0]], keys.signatures[pairs[:, 1]])
        for (src, dst), similarity in zip(pairs.tolist(), similar.tolist(), strict=True):
            if not config.verify_candidates or similarity >= config.min_jaccard:
                found.union(src, dst)
    return [found.find(i) for i in range(len(programs))]


# ---------------------------------------------------------------------------- measurement


@dataclass
class Result:
    recall: dict[str, tuple[int, int, int]]  # kind -> (copies, same exact key, found)
    merged_raw: int  # originals sharing a component with another original
    merged_different: int  # ... with an original that is not a real copy of it
    lost: int  # distinct programs merged away: per component, classes of real copies - 1
    originals: int
    merged: list[list[int]]  # components holding several originals
    missed: dict[str, list[tuple[int, float]]]  # kind -> (group, true Jaccard of shingle sets)


def _shingle_set(tokens: list[str], size: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + size]) for i in range(max(1, len(tokens) - size + 1))}


def _tokens(program: Program) -> list[str]:
    """Names-renamed stream of the re-printed program (classification, whatever --stream)."""
    return product_tokens(program.code, ast.parse(program.code), program.entry_point)[0]


def copy_class(first: Program, second: Program, copy_ratio: float) -> str:
    """``same code`` (equal up to formatting and names), ``near copy`` (token similarity >=
    ``copy_ratio``) or ``different code``; a heuristic: read the pairs before trusting it."""
    one, other = _tokens(first), _tokens(second)
    if one == other:
        return "same code"
    ratio = difflib.SequenceMatcher(None, one, other, autojunk=False).ratio()
    return "near copy" if ratio >= copy_ratio else "different code"


def measure(
    originals: list[Program], copies: list[Program], stream: Stream, config: DedupConfig, copy_ratio: float
) -> Result:
    """Recall per kind and false merges of one planted set under one token stream."""
    programs = [*originals, *copies]
    keys = program_keys(programs, stream, config)
    labels = components(programs, keys, config)
    recall: dict[str, tuple[int, int, int]] = {}
    missed: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for kind in KINDS:
        members = [i for i in range(len(originals), len(programs)) if programs[i].kind == kind]
        exact = sum(keys.exact[i] == keys.exact[programs[i].group] for i in members)
        hits = [labels[i] == labels[programs[i].group] for i in members]
        recall[kind] = (len(members), exact, sum(hits))
        for i, hit in zip(members, hits, strict=True):
            if not hit:
                first = _shingle_set(keys.shingles[i], config.shingle_size)
                second = _shingle_set(keys.shingles[programs[i].group], config.shingle_size)
                missed[kind].append((programs[i].group, round(len(first & second) / len(first | second), 3)))
    by_label: dict[int, list[int]] = defaultdict(list)
    for index in range(len(originals)):
        by_label[labels[index]].append(index)
    merged = [members for members in by_label.values() if len(members) > 1]
    merged_different = lost = 0
    for members in merged:
        copies_of = _Components(len(members))
        differs = set()
        for x, y in itertools.combinations(range(len(members)), 2):
            if copy_class(originals[members[x]], originals[members[y]], copy_ratio) == "different code":
                differs.update((x, y))
            else:
                copies_of.union(x, y)
        merged_different += len(differs)
        lost += len({copies_of.find(x) for x in range(len(members))}) - 1
    return Result(recall, sum(map(len, merged)), merged_different, lost, len(originals), merged, dict(missed))


def planted_copies(
    originals: list[Program], count: int, seed: int, parens: float
) -> tuple[list[Program], dict[str, int]]:
    """For ``count`` seeded originals, one copy per kind; also how many were not applicable."""
    rng = random.Random(seed)
    chosen = rng.sample(originals, min(count, len(originals)))
    copies, skipped = [], dict.fromkeys(KINDS, 0)
    for original in chosen:
        for kind in KINDS:
            code = make_copy(kind, original, rng, parens)
            if code is None:
                skipped[kind] += 1
            else:
                copies.append(planted(original, code, kind))
    return copies, skipped


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--copies", type=int, default=150, help="originals copied (one copy per kind each)")
    parser.add_argument("--seed", type=int, action="append", help="planting seed (repeat for a median)")
    parser.add_argument(
        "--parens", type=float, default=0.3, help="share of spots a reprinted copy wraps in parentheses"
    )
    parser.add_argument(
        "--copy-ratio", type=float, default=0.9, help="token similarity that counts as a real copy"
    )
    parser.add_argument(
        "--set", dest="assignments", action="append", default=[], help="DedupConfig KEY=VALUE"
    )
    parser.add_argument(
        "--check-stage", action="store_true", help="first check the keys against analyse_table (slow)"
    )
    parser.add_argument(
        "--examples", type=int, default=0, help="list merged components and this many missed copies per kind"
    )
    args = parser.parse_args()
    seeds = args.seed or [0]
    config = DedupConfig(**dict(a.split("=", 1) for a in args.assignments))
    originals = load_originals(SAMPLE)
    settings = config.model_dump(exclude={"benchmarks"})
    print(f"sample: {len(originals)} programs pass the filters; config: {settings}")
    streams = list(STREAMS)
    results: dict[str, list[Result]] = {name: [] for name in streams}
    for seed in seeds:
        copies, skipped = planted_copies(originals, args.copies, seed, args.parens)
        print(f"seed {seed}: {len(copies)} copies; not applicable: {skipped}")
        if args.check_stage and seed == seeds[0]:
            check_against_stage([*originals, *copies], config)
        for name in streams:
            results[name].append(measure(originals, copies, STREAMS[name], config, args.copy_ratio))
    for name in streams:
        report(name, results[name], seeds, originals, args)


def report(
    name: str, runs: list[Result], seeds: list[int], originals: list[Program], args: argparse.Namespace
) -> None:
    """The table for one stream: medians over seeds; examples from the first seed."""
    print(f"\n## stream: {name}  (median over seeds {seeds})")
    print(f"{'kind':<28}{'copies':>8}{'exact':>8}{'found':>8}{'recall':>9}")
    for kind in KINDS:
        copies, exact, found = (statistics.median(r.recall[kind][k] for r in runs) for k in range(3))
        rate = statistics.median(r.recall[kind][2] / max(1, r.recall[kind][0]) for r in runs)
        print(f"{kind:<28}{copies:>8g}{exact:>8g}{found:>8g}{rate:>9.3f}")
    same = [k for k in KINDS if "constant" not in k and k != "one_line_edit"]
    total = [sum(r.recall[k][2] for k in same) / max(1, sum(r.recall[k][0] for k in same)) for r in runs]
    print(f"{'same behaviour (no constant, no edit)':<44}{'':>8}{statistics.median(total):>9.3f}")
    print(
        "kinds with a changed constant compute something else: dedup keeps them apart by design, "
        "so 'found' there counts wrong merges (0 is right)"
    )
    raw = statistics.median(r.merged_raw / r.originals for r in runs)
    different = statistics.median(r.merged_different / r.originals for r in runs)
    first = runs[0]
    lost = statistics.median(r.lost / r.originals for r in runs)
    print(
        f"false merges among {first.originals} originals: raw {raw:.4f} ({first.merged_raw} in seed "
        f"{seeds[0]}); in a component with different code {different:.4f} ({first.merged_different}); "
        f"distinct programs lost {lost:.4f} ({first.lost})"
    )
    if args.examples:
        for members in first.merged:
            classes = [copy_class(originals[members[0]], originals[j], args.copy_ratio) for j in members[1:]]
            print(f"  merged #{members[0]} with {list(zip(members[1:], classes, strict=True))}")
        for kind, misses in first.missed.items():
            worst = sorted(misses, key=lambda m: m[1])[: args.examples]
            print(f"  missed {kind} (original, true shingle Jaccard): {worst}")


if __name__ == "__main__":
    main()
