"""Engine start time and ingest time of a JSONL file, side by side with a plain-Python baseline.

    python bench/bench_ingest.py [--source PATH] [--repeats 5] [--classic]

Rows: the embedded engine's start (server + session + first query); ingest of the file on
a fresh lakehouse (parse, stage, dedup, Delta writes); the same parse in one plain Python
process with no engine (the floor); optionally classic local Spark (JVM) with Parquet.
Each figure is the median of --repeats runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tracepile.config import TracepileConfig
from tracepile.engine import spark_session
from tracepile.jobs.ingest_stage import IngestStage
from tracepile.lakehouse import Lakehouse
from tracepile.runner import run_stage
from tracepile.sources.files import parse_file

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyedu_toy.jsonl"


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def engine_start(config: TracepileConfig) -> None:
    with spark_session(config) as spark:
        spark.sql("SELECT 1").collect()


def ingest_once(config: TracepileConfig, source: Path) -> int:
    with tempfile.TemporaryDirectory() as root, spark_session(config) as spark:
        config = config.model_copy(update={"lakehouse": root})
        lakehouse = Lakehouse(spark, root, config.table_format)
        report = run_stage(IngestStage(config, [f"codeio:{source}"]), lakehouse, "bench")
        return report.counts["programs_new"]


def ingest_in_session(config: TracepileConfig, source: Path, repeats: int) -> tuple[float, int]:
    """Ingest time with the engine already up (what a long pipeline pays per batch)."""
    with spark_session(config) as spark:
        times, rows = [], 0
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as root:
                lakehouse = Lakehouse(spark, root, config.table_format)
                started = time.perf_counter()
                report = run_stage(IngestStage(config, [f"codeio:{source}"]), lakehouse, "bench")
                times.append(time.perf_counter() - started)
                rows = report.counts["programs_new"]
        return statistics.median(times), rows


ENGINES = {
    "local": ("local (Sail)", TracepileConfig()),
    "classic": (
        "spark (classic, parquet)",
        TracepileConfig(engine="spark", table_format="parquet"),
    ),
}


def fresh_process_seconds(args: list[str], repeats: int) -> float:
    """Median wall time of a whole new Python process (imports, JVM or server start, stop)."""
    command = [sys.executable, __file__, *args]
    return median_seconds(lambda: subprocess.run(command, check=True, capture_output=True), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--classic", action="store_true", help="also measure classic local Spark")
    parser.add_argument("--child", choices=["start", "ingest", "warm"], help=argparse.SUPPRESS)
    parser.add_argument("--engine", choices=sorted(ENGINES), default="local", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one measured action in this fresh process
        config = ENGINES[args.engine][1]
        if args.child == "start":
            engine_start(config)
        elif args.child == "ingest":
            ingest_once(config, args.source)
        else:
            print(json.dumps(ingest_in_session(config, args.source, args.repeats)))
        return

    options = TracepileConfig().ingest
    lines = sum(1 for _ in args.source.open("rb"))
    baseline = median_seconds(lambda: list(parse_file("codeio", str(args.source), options)), args.repeats)
    table = Table(title=f"ingest of {args.source.name} ({lines:,} lines), median of {args.repeats}")
    for column in ("engine", "measure", "seconds", "lines/s", "vs plain Python parse"):
        table.add_column(column, justify="left" if column in ("engine", "measure") else "right")
    table.add_row("none", "plain Python parse (floor)", f"{baseline:.3f}", f"{lines / baseline:,.0f}", "1.0x")
    for engine in ["local", *(["classic"] if args.classic else [])]:
        common = ["--engine", engine, "--source", str(args.source)]
        start = fresh_process_seconds(["--child", "start", *common], args.repeats)
        cold = fresh_process_seconds(["--child", "ingest", *common], args.repeats)
        done = subprocess.run(
            [sys.executable, __file__, "--child", "warm", *common, "--repeats", str(args.repeats)],
            capture_output=True,
            text=True,
            check=True,
        )
        warm, rows = json.loads(done.stdout.strip().splitlines()[-1])
        name = ENGINES[engine][0]
        table.add_row(name, "new process: start engine, SELECT 1, stop", f"{start:.3f}", "", "")
        for seconds, label in (
            (warm, "ingest, engine already up"),
            (cold, "new process: start + ingest + stop"),
        ):
            table.add_row(
                name,
                f"{label} ({rows:,} programs)",
                f"{seconds:.3f}",
                f"{lines / seconds:,.0f}",
                f"{seconds / baseline:.1f}x",
            )
    Console().print(table)


if __name__ == "__main__":
    main()
