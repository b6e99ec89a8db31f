"""How the trace stage spreads over a standalone Spark cluster: the same runs on 1 and on 2
one-core workers.

The first ``--problems`` PyEdu problems are ingested and deduplicated once on the embedded
engine into a Parquet lakehouse (not timed); each repeat copies it and times ``spark-submit
jobs/submit.py trace`` to a standalone cluster started from the pyspark package
(``tests/standalone.py``: a master and N one-core workers on loopback), with one sandbox
worker per executor (``trace.workers=1``: one core's worth of runs per worker) and the runs
spread over ``--partitions`` tasks. Printed: seconds (spark-submit's wall time: driver JVM
start, the job, the Parquet commit), the sandbox step's seconds (the stage's own timing of
running the inputs), runs, ok runs, runs/s, the speed-up over one worker of both, and the
tasks each worker ran (from the Spark event log). The cluster writes Parquet: Delta's
jars come from Maven, which this machine cannot reach.

    python bench/bench_cluster.py [--problems 100] [--workers 1 2] [--repeats 2]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.standalone: the cluster the cluster test starts

from tests.standalone import spark_submit, standalone_cluster, successful_tasks_per_worker  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "data" / "pyedu_toy.jsonl"


def prepared_lake(scratch: Path, problems: int) -> Path:
    """Ingest and dedup of the first problems into a Parquet lakehouse (embedded engine)."""
    source = scratch / "problems.jsonl"
    source.write_bytes(b"".join(SAMPLE.read_bytes().splitlines(keepends=True)[:problems]))
    lake = scratch / "prepared"
    for command in (["ingest", "--source", f"codeio:{source}"], ["dedup"]):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tracepile",
                *command,
                "--lakehouse",
                str(lake),
                "--table-format",
                "parquet",
            ],
            check=True,
            capture_output=True,
        )
    return lake


# the trace stage's own line for its sandbox step: "done trace: batch 1 of 1: running ... (12.3 s)"
SANDBOX_STEP = re.compile(r"running its inputs in the sandbox \((\d+(?:\.\d+)?) s\)")


def timed_trace(
    workers: int, prepared: Path, scratch: Path, partitions: int
) -> tuple[float, float, int, int, Counter]:
    """One ``spark-submit ... trace`` on a fresh copy of the prepared lakehouse and a fresh
    cluster of ``workers`` one-core workers: (seconds, seconds of the sandbox step, runs, ok
    runs, tasks per worker)."""
    root = Path(tempfile.mkdtemp(prefix=f"cluster-{workers}-", dir=scratch))
    lake = root / "lake"
    shutil.copytree(prepared, lake)
    settings = ["--set", "trace.workers=1", "--set", f"trace.partitions={partitions}"]
    job = ["trace", "--lakehouse", str(lake), "--table-format", "parquet", *settings]
    with standalone_cluster(root, workers=workers) as cluster:
        started = time.perf_counter()
        output = spark_submit(cluster, root, sys.executable, job)
        seconds = time.perf_counter() - started
    sandbox = sum(float(found) for found in SANDBOX_STEP.findall(output))
    statuses = pq.read_table(lake / "silver" / "executions", columns=["status"]).column("status").to_pylist()
    return seconds, sandbox, len(statuses), statuses.count("ok"), successful_tasks_per_worker(root / "events")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2, help="runs per cluster size (median)")
    parser.add_argument(
        "--partitions", type=int, default=8, help="trace.partitions: tasks the runs spread over"
    )
    args = parser.parse_args()
    out = Console(width=140)
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as scratch_dir:
        scratch = Path(scratch_dir)
        prepared = prepared_lake(scratch, args.problems)
        rows = []
        for workers in args.workers:
            measured = [timed_trace(workers, prepared, scratch, args.partitions) for _ in range(args.repeats)]
            seconds = statistics.median(m[0] for m in measured)
            sandbox = statistics.median(m[1] for m in measured)
            _, _, runs, ok, tasks = measured[-1]
            rows.append((workers, seconds, sandbox, runs, ok, tasks))
            out.log(f"{workers} worker(s): {[round(m[0], 1) for m in measured]} s")
    title = f"trace on a standalone cluster, first {args.problems} PyEdu problems (median of {args.repeats})"
    table = Table(title=title)
    columns = ("one-core workers", "seconds", "sandbox step s", "runs", "ok", "runs/s", "speed-up",
               "sandbox step speed-up", "tasks per worker")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    base, base_sandbox = rows[0][1], rows[0][2]
    for workers, seconds, sandbox, runs, ok, tasks in rows:
        spread = ", ".join(str(n) for _, n in sorted(tasks.items()))
        table.add_row(str(workers), f"{seconds:.1f}", f"{sandbox:.1f}", f"{runs:,}", f"{ok:,}",
                      f"{runs / seconds:.1f}", f"{base / seconds:.2f}x", f"{base_sandbox / sandbox:.2f}x",
                      spread)  # fmt: skip
    out.print(table)


if __name__ == "__main__":
    main()
