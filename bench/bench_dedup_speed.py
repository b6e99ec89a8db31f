"""Dedup stage (embedded engine) vs datasketch MinHashLSH: throughput, agreement, memory, scaling.

Programs: mutants of the sample's programs (``bench/mutate.py``: renames, reformatting,
one to three one-line edits), all passing the static filters, so both sides see the same
set. Both sides use the same shingles (``tracepile/analysis/normalize.py`` + ``minhash.py``), the
same permutations (datasketch's affine32 scheme, seed 1) and the same bands x rows;
candidate verification is off (datasketch has none), so they should find the same
duplicate groups.

- ours: ``run_dedup`` on the embedded engine (Sail), bronze table already ingested; the
  timed part is the whole stage (filters, exact keys, MinHash, LSH, components, writes).
- datasketch: one process; per program parse + the same normalised shingles, then
  ``MinHash.update_batch``, ``MinHashLSH.insert``; then one ``query`` per program and
  union-find over the candidate pairs.

Agreement: both partitions turned into (program, smallest id of its group) pairs for
programs in a group of two or more; |A & B| / |A | B|. Each measurement runs in a fresh
process (peak RSS of that process, engine included); the table shows the median of
``--repeats`` runs.

Run: ``python bench/bench_dedup_speed.py [--sizes 10000 100000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutate import load_programs, mutants, planted_record, write_jsonl

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyedu_toy.jsonl"
CACHE = Path(__file__).resolve().parent / ".cache"
SETTINGS = ["dedup.verify_candidates=false"]


def build_programs(size: int, seed: int) -> Path:
    """``size`` mutants of the sample (cached under bench/.cache), every one passing the filters."""
    from tracepile.analysis.filters import check_program, parse_program
    from tracepile.config import FilterConfig
    from tracepile.sources.codeio import parse_codeio_record

    path = CACHE / f"mutants-{size}-{seed}.jsonl"
    if path.exists():
        return path
    CACHE.mkdir(exist_ok=True)
    rng = random.Random(seed)
    bases = load_programs(SAMPLE)
    records = []
    while len(records) < size:
        base = bases[len(records) % len(bases)]
        record = planted_record(
            base, mutants(base["refcode"], rng, rng.randint(1, 3)), "mutant", 0, len(records)
        )
        parsed = parse_codeio_record(json.dumps(record).encode("utf-8"))
        code = parsed["code"]
        if check_program(
            code, parse_program(code), parsed["entry_point"], parsed["inputs"], FilterConfig()
        ).reason:
            continue
        records.append(record)
    write_jsonl(records, path)
    return path


class Groups:
    """Union-find over program ids; ``pairs`` gives (member, smallest id of its group)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, node: str) -> str:
        while self.parent.setdefault(node, node) != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def union(self, first: str, second: str) -> None:
        a, b = self.find(first), self.find(second)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def pairs(self) -> list[tuple[str, str]]:
        """Only unions add nodes, so every node here is in a group of two or more; a root is
        always its group's smallest id."""
        return sorted((node, self.find(node)) for node in list(self.parent))


def run_ours(path: Path, out: Path) -> None:
    from tracepile.config import load_config
    from tracepile.engine import spark_session
    from tracepile.jobs.dedup_stage import DedupStage
    from tracepile.jobs.ingest_stage import IngestStage
    from tracepile.lakehouse import Lakehouse
    from tracepile.runner import run_stage
    from tracepile.tables import SILVER_REJECTS
    from tracepile.udfs.workers import shutdown_pool, worker_peak_rss_mb
    from tracepile.vocab import DUPLICATE_REASONS

    with tempfile.TemporaryDirectory() as root:
        config = load_config(overrides={"lakehouse": root}, assignments=SETTINGS, environ={})
        with spark_session(config) as spark:
            lakehouse = Lakehouse(spark, root)
            run_stage(IngestStage(config, [f"codeio:{path}"]), lakehouse, "bench-ingest")
            started = time.perf_counter()
            report = run_stage(DedupStage(config), lakehouse, "bench-dedup")
            seconds = time.perf_counter() - started
            worker_peaks = worker_peak_rss_mb()
            shutdown_pool()
            groups = Groups()
            for row in lakehouse.read(SILVER_REJECTS).collect():
                if row["reason"] in DUPLICATE_REASONS:
                    groups.union(row["program_id"], row["keeper_id"])
    result = {
        "seconds": seconds,
        "programs": report.counts["programs_read"],
        "pairs": groups.pairs(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_rss_mb": max(worker_peaks, default=0),
    }
    out.write_text(json.dumps(result))


def run_datasketch(path: Path, out: Path) -> None:
    import numpy as np
    from datasketch import MinHash, MinHashLSH
    from xxhash import xxh32_intdigest

    from tracepile.analysis.minhash import shingle_hashes
    from tracepile.analysis.normalize import normalised_tokens, shingle_tokens
    from tracepile.config import load_config
    from tracepile.sources.codeio import parse_codeio_record

    settings = load_config(assignments=SETTINGS, environ={}).dedup
    programs = [parse_codeio_record(line) for line in path.read_bytes().splitlines()]
    started = time.perf_counter()
    lsh = MinHashLSH(num_perm=settings.num_perm, params=(settings.bands, settings.rows))
    sketches = {}
    for program in programs:
        code = program["code"]
        tokens = shingle_tokens(normalised_tokens(ast.parse(code), program["entry_point"]))
        # the same token hashes as udfs.minhash.token_hashes, computed the direct way for one program
        token_ids = np.fromiter((xxh32_intdigest(t.encode("utf-8")) for t in tokens), np.uint64, len(tokens))
        shingles, _ = shingle_hashes(token_ids, np.array([len(tokens)]), settings.shingle_size)
        sketch = MinHash(num_perm=settings.num_perm, seed=settings.seed, hashfunc=int)
        sketch.update_batch(shingles.tolist())
        lsh.insert(program["program_id"], sketch)
        sketches[program["program_id"]] = sketch
    groups = Groups()
    for program_id, sketch in sketches.items():
        for other in lsh.query(sketch):
            if other != program_id:
                groups.union(program_id, other)
    seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        "programs": len(programs),
        "pairs": groups.pairs(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    out.write_text(json.dumps(result))


def _memory(runs: list[dict]) -> str:
    """Peak RSS of the process, plus the largest worker process where there was a pool."""
    main = f"{max(r['peak_rss_mb'] for r in runs):,.0f}"
    workers = max(r.get("worker_peak_rss_mb", 0) for r in runs)
    return f"{main} + {workers:,.0f}/worker" if workers else main


def measure(side: str, path: Path) -> dict:
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "result.json"
        subprocess.run(
            [sys.executable, __file__, "--child", side, str(path), str(out)],
            check=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        side, path, out = args.child
        (run_ours if side == "ours" else run_datasketch)(Path(path), Path(out))
        return

    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"dedup: embedded engine vs datasketch MinHashLSH "
        f"(median of {args.repeats}, {os.cpu_count()} cores)",
        title_justify="left",
    )
    for column in ("programs", "side", "seconds", "programs/s", "µs/program", "peak RSS MB", "vs datasketch"):
        table.add_column(column, justify="right")
    agreements = []
    per_program: dict[str, dict[int, float]] = {"ours": {}, "datasketch": {}}
    for size in args.sizes:
        path = build_programs(size, args.seed)
        runs = {side: [measure(side, path) for _ in range(args.repeats)] for side in ("datasketch", "ours")}
        medians = {side: statistics.median(r["seconds"] for r in results) for side, results in runs.items()}
        for side in ("datasketch", "ours"):
            seconds = medians[side]
            per_program[side][size] = seconds / size * 1e6
            table.add_row(
                f"{size:,}",
                side,
                f"{seconds:.1f}",
                f"{size / seconds:,.0f}",
                f"{per_program[side][size]:.0f}",
                _memory(runs[side]),
                f"{medians['datasketch'] / seconds:.2f}x",
                end_section=side == "ours",
            )
        ours = {tuple(p) for p in runs["ours"][0]["pairs"]}
        theirs = {tuple(p) for p in runs["datasketch"][0]["pairs"]}
        agreements.append((size, len(ours & theirs) / max(1, len(ours | theirs)), len(ours), len(theirs)))

    out = Console(width=130)
    out.print(table)
    for size, agreement, ours_count, theirs_count in agreements:
        out.print(
            f"{size:,} programs: agreement on duplicate pairs {agreement:.4f} "
            f"(ours {ours_count:,} pairs, datasketch {theirs_count:,})"
        )
    if len(args.sizes) > 1:
        small, large = min(args.sizes), max(args.sizes)
        for side, costs in per_program.items():
            out.print(
                f"{side}: per-program cost at {large:,} / at {small:,} = {costs[large] / costs[small]:.2f} "
                "(linear: <= 1.3)"
            )


if __name__ == "__main__":
    main()
