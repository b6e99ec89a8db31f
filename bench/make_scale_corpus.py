"""A CodeI/O corpus of any size, derived from the real PyEdu sample, for the scale ladder.

    python bench/make_scale_corpus.py --programs 10000 --out bench/.cache/scale-10000.jsonl
        [--source ../shared/data/pyedu_toy.jsonl] [--seed 0]
        [--exact-rate 0.05] [--near-rate 0.05] [--bad-rate 0.01]

Every line is one of these kinds (the rates are shares of all lines; the rest are ``derived``):

- ``derived``: a sample program (one that passes the static filters, ``mutate.load_programs``)
  with behaviour-preserving changes, so its recorded ``ios`` outputs stay true:
  an unused helper function of seeded random arithmetic appended to the module (its size
  follows the program's, and its statements vary in shape and operators, so two variants
  of one program are not near duplicates of each other: the normaliser drops formatting
  and names, and makes every literal one placeholder in the shingles, so neither renaming
  nor other constants would make them distinct); consecutive top-level imports and
  undecorated functions put in another order
  (re-printed from the AST); and, where it is safe, local names renamed consistently
  (``mutate.renamed``). A program that uses f-strings, ``global``/``nonlocal``, dynamic name
  lookups, class-level fields, or a local name spelled like one of its functions, classes,
  attributes, imported names or keyword arguments keeps its names: that renamer rewrites
  tokens, and those would break. A check of 861 derived programs of the 1k corpus against
  their originals on the recorded inputs (outside the sandbox) found 858 alike.
- ``exact``: an earlier derived program's code again in a new record (``source`` "scale-exact"
  and "(copy N)" after the problem text, hence another ``program_id``): dedup drops it as an
  exact duplicate. Sources are three values (scale-derived, scale-exact, scale-near), as in a
  real corpus: the first version labelled each copy with its own source, and the run page,
  which charts every source, then cost time in proportion to the corpus.
- ``near``: an earlier derived program with one constant of its unused helper changed: a near
  duplicate whose outputs are still true.
- ``bad``: a line ingest rejects, in turn: invalid JSON (a cut line), a missing field
  (``refcode`` removed), a wrong type (``ios`` a string).

Derived programs go round the sample in order, so each sample program has about the same number
of variants. Everything is seeded (``--seed``): the same arguments write the same bytes. The
counts per kind are printed at the end and, with ``--counts``, written as JSON.
"""

from __future__ import annotations

import argparse
import ast
import json
import multiprocessing
import os
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutate import load_programs, renamed

CORPUS_VERSION = 3  # bumped when the same arguments would write other lines (bench_scale's cache key)
DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyedu_toy.jsonl"
_DYNAMIC_NAMES = frozenset({"eval", "exec", "locals", "globals", "vars", "getattr", "setattr", "__dict__"})
_BAD_KINDS = ("invalid_json", "missing_field", "wrong_type")


@dataclass(frozen=True)
class Base:
    """One sample program the corpus derives from."""

    record: dict[str, Any]
    renamable: bool
    statements: int  # size of the unused helper appended to its variants


def renaming_is_safe(code: str) -> bool:
    """Whether ``mutate.renamed`` keeps ``code``'s behaviour: no construct whose names it misses."""
    tree = ast.parse(code)
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    stored |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    # the renamer rewrites every NAME token of a renamed name except after ".": a function,
    # method or class of the same name would be renamed where defined but not where looked up
    defined = {
        n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    imported = {alias.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for alias in n.names} | {
        alias.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names
    }
    attributes |= imported  # ``from m import x`` with a local ``x``: the import line would be renamed
    if stored & (defined | attributes):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr | ast.Global | ast.Nonlocal):
            return False
        if isinstance(node, ast.Name) and node.id in _DYNAMIC_NAMES:
            return False
        if isinstance(node, ast.Attribute) and node.attr in _DYNAMIC_NAMES:
            return False
        if isinstance(node, ast.keyword) and node.arg in stored:
            return False
        if isinstance(node, ast.ClassDef) and any(
            isinstance(item, ast.Assign | ast.AnnAssign) for item in node.body
        ):
            return False
    return True


def load_bases(path: Path) -> list[Base]:
    """The sample programs that pass the static filters, each with what may be done to it."""
    bases = []
    for record in load_programs(path):
        code = record["refcode"]
        try:
            safe = renaming_is_safe(code)
        except SyntaxError:
            continue
        statements = max(3, min(40, sum(isinstance(n, ast.stmt) for n in ast.walk(ast.parse(code)))))
        bases.append(Base(record, safe, statements))
    return bases


def _reorderable(node: ast.stmt) -> bool:
    """A top-level statement that may swap places with its reorderable neighbours."""
    if isinstance(node, ast.Import):
        return True
    if isinstance(node, ast.ImportFrom):
        return node.module != "__future__"
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.decorator_list:
        defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
        used = {n.id for d in defaults for n in ast.walk(d) if isinstance(n, ast.Name)}
        return not used
    return False


def reordered(code: str, rng: random.Random) -> str:
    """Runs of consecutive top-level imports, and of undecorated functions, shuffled: neither
    kind runs code that another of its run reads at definition time."""
    tree = ast.parse(code)
    body: list[ast.stmt] = []
    run: list[ast.stmt] = []
    run_kind = ""
    for node in [*tree.body, None]:
        kind = "" if node is None else ("import" if isinstance(node, ast.Import | ast.ImportFrom) else "def")
        if node is not None and _reorderable(node) and kind == run_kind:
            run.append(node)
            continue
        rng.shuffle(run)
        body.extend(run)
        run, run_kind = [], ""
        if node is None:
            break
        if _reorderable(node):
            run, run_kind = [node], kind
        else:
            body.append(node)
    if [id(n) for n in body] == [id(n) for n in tree.body]:
        return code
    tree.body = body
    return ast.unparse(tree) + "\n"


_OPERATORS = ("+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>")
_COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")


def _expression(live: list[str], rng: random.Random) -> str:
    """Arithmetic of one to four live values and constants, with random operators: dedup
    sees literals and local names as placeholders, so variety must be in the operators and
    the shape, or two variants of one program are near duplicates of each other."""
    terms = [
        rng.choice(live) if rng.random() < 0.6 else str(rng.randrange(1, 10**4))
        for _ in range(rng.randint(1, 4))
    ]
    text = terms[0]
    for term in terms[1:]:
        operator = rng.choice(_OPERATORS)
        if operator in ("//", "%"):
            term = f"({term} | 1)"  # never zero
        elif operator in ("<<", ">>"):
            term = f"({term} & 7)"
        text = f"({text} {operator} {term})" if rng.random() < 0.5 else f"{text} {operator} {term}"
    return text


def unused_helper(name: str, statements: int, rng: random.Random) -> list[str]:
    """Source lines of a function nothing calls: seeded integer arithmetic of random shapes
    (assignments, conditionals, loops, nested one level), its own constants and operators."""
    lines = [f"def {name}(v0):", f"    v1 = v0 * {rng.randrange(2, 10**6)} + {rng.randrange(10**6)}"]
    live = ["v0", "v1"]
    for index in range(2, statements + 2):
        target, shape = f"v{index}", rng.randrange(5)
        if shape <= 1:
            lines.append(f"    {target} = {_expression(live, rng)}")
        elif shape == 2:
            test = f"{rng.choice(live)} {rng.choice(_COMPARISONS)} {_expression(live, rng)}"
            lines.append(f"    {target} = {_expression(live, rng)} if {test} else {_expression(live, rng)}")
        elif shape == 3:
            lines.append(f"    {target} = {rng.randrange(10)}")
            lines.append(f"    for k{index} in range({rng.randrange(1, 8)}):")
            update = rng.choice(("+=", "-=", "^=", "|="))
            lines.append(f"        {target} {update} {_expression([*live, f'k{index}'], rng)}")
        else:
            lines.append(f"    {target} = {_expression(live, rng)}")
            lines.append(f"    if {target} {rng.choice(_COMPARISONS)} {_expression(live, rng)}:")
            lines.append(f"        {target} = {_expression([*live, target], rng)}")
        live.append(target)
    lines.append(f"    return {live[-1]}")
    return lines


def derived_code(base: Base, rng: random.Random, tag: str) -> str:
    """``base``'s program, reordered, with an unused helper, and renamed where that is safe."""
    code = reordered(base.record["refcode"], rng)
    helper = unused_helper(f"_unused_{tag}", base.statements, rng)
    code = code.rstrip("\n") + "\n\n\n" + "\n".join(helper) + "\n"
    if base.renamable:
        code = renamed(code, rng, entry=base.record["funcname"].strip())
    ast.parse(code)  # every derived program parses
    return code


_NUMBER = re.compile(r"\b\d+\b")


def near_copy(code: str, rng: random.Random) -> str:
    """``code`` with one constant of its unused helper changed (the helper is its last lines)."""
    lines = code.split("\n")
    start = max(i for i, line in enumerate(lines) if line.startswith("def _unused_"))
    numbers = [(i, m) for i in range(start + 1, len(lines)) for m in _NUMBER.finditer(lines[i])]
    index, match = rng.choice(numbers)
    changed = str(int(match.group()) + 1 + rng.randrange(1000))
    lines[index] = lines[index][: match.start()] + changed + lines[index][match.end() :]
    return "\n".join(lines)


def bad_line(record: dict[str, Any], kind: str, rng: random.Random) -> str:
    """A line ingest rejects: cut JSON, a required field missing, or a field of the wrong type."""
    if kind == "invalid_json":
        text = json.dumps(record)
        return text[: rng.randrange(1, len(text) - 1)]
    if kind == "missing_field":
        return json.dumps({k: v for k, v in record.items() if k != "refcode"})
    return json.dumps({**record, "ios": json.dumps(record["ios"])})


_WORKER_BASES: list[Base] = []


def _init_worker(bases: list[Base]) -> None:
    """Give a worker process the sample once, rather than with every job."""
    _WORKER_BASES[:] = bases


def _derive(job: tuple[int, int, int]) -> str:
    """A worker's share: the derived code of one line (seeded by the line, so order-free)."""
    base_index, seed, line_no = job
    return derived_code(_WORKER_BASES[base_index], random.Random(f"{seed}:{line_no}"), f"{line_no:x}")


def plan(programs: int, seed: int, exact_rate: float, near_rate: float, bad_rate: float) -> list[str]:
    """The kind of every line, drawn with the given rates (the first line is always derived)."""
    rng = random.Random(seed)
    kinds = []
    for line_no in range(programs):
        draw = rng.random()
        if draw < bad_rate:
            kinds.append("bad")
        elif line_no and draw < bad_rate + exact_rate:
            kinds.append("exact")
        elif line_no and draw < bad_rate + exact_rate + near_rate:
            kinds.append("near")
        else:
            kinds.append("derived")
    if kinds and kinds[0] == "bad":
        kinds[0] = "derived"
    return kinds


def write_corpus(
    bases: list[Base],
    out: Path,
    kinds: list[str],
    seed: int,
    workers: int,
) -> Counter[str]:
    """Write one line per entry of ``kinds`` to ``out``; derived programs made by ``workers``
    processes, duplicates and bad lines here in line order."""
    rng = random.Random(seed + 1)
    counts: Counter[str] = Counter()
    derived: list[tuple[dict[str, Any], str]] = []  # (record, code) of the derived lines so far
    base_of: dict[int, int] = {}  # line -> index of its sample program, round the sample in order
    for line_no, kind in enumerate(kinds):
        if kind == "derived":
            base_of[line_no] = len(base_of) % len(bases)
    jobs = [(index, seed, line_no) for line_no, index in base_of.items()]
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with (
        partial.open("w", encoding="utf-8") as sink,
        multiprocessing.Pool(workers, _init_worker, (bases,)) as pool,
    ):
        codes = pool.imap(_derive, jobs, chunksize=64)
        for line_no, kind in enumerate(kinds):
            if kind == "bad":
                base = bases[line_no % len(bases)]
                bad = _BAD_KINDS[counts["bad"] % len(_BAD_KINDS)]
                text = bad_line(base.record, bad, rng)
                counts[f"bad:{bad}"] += 1
            elif kind == "exact":
                record, code = rng.choice(derived)
                # another record of the same code: its own program_id through the problem text,
                # while ``source`` stays one of three values (the run page charts each source)
                problem = f"{record['problem_description']} (copy {line_no})"
                text = json.dumps(
                    {**record, "refcode": code, "problem_description": problem, "source": "scale-exact"}
                )
            elif kind == "near":
                record, code = rng.choice(derived)
                copy = near_copy(code, rng)
                text = json.dumps({**record, "refcode": copy, "source": "scale-near"})
            else:
                base = bases[base_of[line_no]]
                code = next(codes)
                derived.append((base.record, code))
                text = json.dumps({**base.record, "refcode": code, "source": "scale-derived"})
                counts["derived:renamed"] += base.renamable
            counts[kind] += 1
            sink.write(text + "\n")
    partial.replace(out)
    return counts


def tile(source: Path, out: Path, times: int) -> int:
    """``source`` written ``times`` times over, each copy after the first with its records'
    problem text numbered ("(tile N)"), so every record gets a program id of its own while the
    code repeats: a large file for ingest in seconds (the generator takes about 4 ms a line).
    Lines that are not JSON objects (the bad ones) repeat as they are. Returns the lines written."""
    lines = source.read_bytes().splitlines()
    with out.open("wb") as sink:
        for number in range(times):
            for line in lines:
                if number:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        record = None
                    if isinstance(record, dict) and isinstance(record.get("problem_description"), str):
                        record["problem_description"] += f" (tile {number})"
                        line = json.dumps(record).encode()
                sink.write(line + b"\n")
    return len(lines) * times


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, write the corpus, print the counts per kind."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--programs", type=int, required=True, help="lines to write (all kinds together)")
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the real CodeI/O sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exact-rate", type=float, default=0.05, help="share of exact duplicates")
    parser.add_argument("--near-rate", type=float, default=0.05, help="share of near duplicates")
    parser.add_argument("--bad-rate", type=float, default=0.01, help="share of lines ingest rejects")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)"
    )
    parser.add_argument("--counts", type=Path, help="also write the counts per kind here (JSON)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    bases = load_bases(args.source)
    kinds = plan(args.programs, args.seed, args.exact_rate, args.near_rate, args.bad_rate)
    counts = write_corpus(bases, args.out, kinds, args.seed, args.workers)
    summary = {
        "lines": args.programs,
        "sample_programs": len(bases),
        "renamable_sample_programs": sum(b.renamable for b in bases),
        **dict(sorted(counts.items())),
    }
    if args.counts:
        args.counts.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - started
    print(f"wrote {args.out} in {seconds:.1f} s: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
