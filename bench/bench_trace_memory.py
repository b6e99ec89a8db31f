"""Peak memory of the trace stage as the number of partitions grows.

Ingests and deduplicates the first ``--problems`` PyEdu problems once, then runs
``tracepile trace`` on a copy of that lakehouse for each partition count
(``TRACEPILE_TRACE__PARTITIONS``), each in a fresh process, sampling every 50 ms the
resident memory of that process and all its descendants (engine, zygotes, runs).
Prints, per partition count, the peak of the whole tree, the peak of the main process,
the wall time and the rows written. Flat means the sandbox is reused across partitions
and nothing accumulates per partition.

Run: ``python bench/bench_trace_memory.py [--problems 150] [--partitions 1 4 16 64]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tracepile.sources.codeio import parse_codeio_record

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyedu_toy.jsonl"
PAGE = os.sysconf("SC_PAGE_SIZE")


def _tracepile(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tracepile", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _tree_rss(root: int) -> tuple[int, int]:
    """(resident bytes of ``root`` and all its descendants, of ``root`` alone)."""
    parents: dict[int, int] = {}
    resident: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(name)] = int(fields[1])
        resident[int(name)] = int(fields[21]) * PAGE
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return sum(resident.get(pid, 0) for pid in tree), resident.get(root, 0)


def _watched(process: subprocess.Popen[str]) -> tuple[int, int, str]:
    """Wait for ``process`` while sampling its memory: (peak of the tree, peak of the process, output)."""
    peaks = [0, 0]

    def sample() -> None:
        while process.poll() is None:
            tree, alone = _tree_rss(process.pid)
            peaks[0], peaks[1] = max(peaks[0], tree), max(peaks[1], alone)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    output, _ = process.communicate()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"tracepile failed ({process.returncode}):\n{output[-3000:]}")
    return peaks[0], peaks[1], output


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--problems", type=int, default=150)
    parser.add_argument("--partitions", type=int, nargs="+", default=[1, 4, 16, 64])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "problems.jsonl"
        lines = SAMPLE.read_bytes().splitlines()[: args.problems]
        source.write_bytes(b"\n".join(lines) + b"\n")
        inputs = sum(
            len(record["inputs"]) for record in map(parse_codeio_record, lines) if isinstance(record, dict)
        )
        base = Path(scratch) / "base"
        for command in (["ingest", "--source", f"codeio:{source}"], ["dedup"]):
            _watched(_tracepile(*command, "--lakehouse", str(base)))
        table = Table(title=f"trace stage on the first {args.problems} PyEdu problems ({inputs} inputs)")
        for column in ("partitions", "peak RSS, all processes", "peak RSS, engine process", "seconds"):
            table.add_column(column, justify="right")
        for partitions in args.partitions:
            lake = Path(scratch) / f"lake-{partitions}"
            shutil.copytree(base, lake)
            started = time.perf_counter()
            tree, alone, _ = _watched(
                _tracepile(
                    "trace", "--lakehouse", str(lake), env={"TRACEPILE_TRACE__PARTITIONS": str(partitions)}
                )
            )
            seconds = time.perf_counter() - started
            table.add_row(str(partitions), f"{tree >> 20:,} MB", f"{alone >> 20:,} MB", f"{seconds:.1f}")
        Console(width=120).print(table)


if __name__ == "__main__":
    main()
