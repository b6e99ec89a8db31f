"""Tracing: the published method vs our sandbox, on the same first problems of the PyEdu sample.

- published: one fresh ``python`` process per run with snoop on the entry function, a
  5 s timeout, a ``multiprocessing.Pool`` with one process per core, and the 300-line
  filter applied afterwards; usable = exit 0, no exception, trace of at most 300 lines.
- ours: ``Sandbox.execute`` (zygotes forking one child per run; a traced run, with the
  trace budget enforced while tracing, then an untraced run under another hash seed and
  a comparison with the expected output), as many concurrent runs as cores; usable =
  status ok.

Both run the programs among the first ``--problems`` that the static filters keep.

Prints usable traces/s for each and their ratio, whether every run the published method
finds usable is usable for us too (and why not where it is not), and the sandbox
overhead for an empty program (median and p99 per run).

Run: ``python bench/bench_trace.py [--problems 100]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tracepile.analysis.filters import check_program, parse_program
from tracepile.config import FilterConfig, SandboxLimits
from tracepile.sources.codeio import parse_codeio_record
from tracepile.udfs.sandbox import Sandbox

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyedu_toy.jsonl"
HARNESS = """
import json, sys, snoop
snoop.install(color=False, columns="")
{code}
traced = snoop.snoop({entry})
print(json.dumps(traced(**json.loads(sys.argv[1]))))
"""


def runs(problems: int) -> tuple[list[tuple[str, str, str, str | None]], Counter[str]]:
    """(code, entry, input_json, expected_json) for every input of the first problems that
    the static filters keep (as the pipeline would, and as the published method drops
    programs using random), and the filter reasons of the programs left out."""
    found: list[tuple[str, str, str, str | None]] = []
    excluded: Counter[str] = Counter()
    for line in SAMPLE.read_bytes().splitlines()[:problems]:
        record = parse_codeio_record(line)
        if not isinstance(record, dict):
            continue
        code, entry = record["code"], record["entry_point"]
        outcome = check_program(code, parse_program(code), entry, record["inputs"], FilterConfig())
        if outcome.reason is not None:
            excluded[outcome.reason] += 1
            continue
        found += [(code, entry, item["input_json"], item["expected_output_json"]) for item in outcome.inputs]
    return found, excluded


def published_run(run: tuple[str, str, str, str | None]) -> bool:
    """One run the published way; True when usable."""
    code, entry, input_json, _ = run
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(HARNESS.format(code=code, entry=entry))
    try:
        done = subprocess.run(
            [sys.executable, script.name, input_json], capture_output=True, text=True, timeout=5
        )
    except subprocess.TimeoutExpired:
        return False
    finally:
        os.unlink(script.name)
    trace_lines = done.stderr.count("\n")
    return done.returncode == 0 and "Traceback" not in done.stderr and trace_lines <= 300


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--problems", type=int, default=100)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    work, excluded = runs(args.problems)

    started = time.perf_counter()
    with Pool(cores) as pool:
        published = pool.map(published_run, work, chunksize=1)
    published_seconds = time.perf_counter() - started

    with Sandbox(workers=cores) as sandbox:
        started = time.perf_counter()
        with ThreadPoolExecutor(cores) as threads:
            ours = list(
                threads.map(
                    lambda run: sandbox.execute(run[0], run[1], run[2], run[3], SandboxLimits()), work
                )
            )
        our_seconds = time.perf_counter() - started
        overhead = []
        for _ in range(20):
            sandbox.run("def f():\n    return None\n", "f", "{}")
        for _ in range(500):
            tick = time.perf_counter()
            sandbox.run("def f():\n    return None\n", "f", "{}")
            overhead.append((time.perf_counter() - tick) * 1000)

    usable_published = sum(published)
    usable_ours = sum(r.status == "ok" for r in ours)
    table = Table(title=f"tracing the first {args.problems} PyEdu problems ({len(work)} runs, {cores} cores)")
    for column in ("method", "seconds", "usable traces", "usable traces/s", "ratio"):
        table.add_column(column, justify="right" if column != "method" else "left")
    base = usable_published / published_seconds
    for name, seconds, usable in (
        ("published", published_seconds, usable_published),
        ("ours", our_seconds, usable_ours),
    ):
        rate = usable / seconds
        table.add_row(name, f"{seconds:.1f}", f"{usable:,}", f"{rate:,.1f}", f"{rate / base:.1f}x")
    out = Console(width=120)
    out.print(f"programs left out by the static filters: {dict(excluded)}")
    out.print(table)
    lost = Counter(r.status for p, r in zip(published, ours, strict=True) if p and r.status != "ok")
    out.print(f"usable for published but not for us: {sum(lost.values())} {dict(lost) if lost else ''}")
    overhead.sort()
    out.print(
        f"sandbox overhead, empty program, untraced: median {statistics.median(overhead):.2f} ms, "
        f"p99 {overhead[int(len(overhead) * 0.99)]:.2f} ms"
    )
    out.print("our statuses: " + json.dumps(Counter(r.status for r in ours)))


if __name__ == "__main__":
    main()
