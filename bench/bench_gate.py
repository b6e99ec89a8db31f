"""What the quality gate costs on a trace batch of 100k execution rows, next to the stage.

Builds a lakehouse by running the real pipeline on the bundled sample (timing the trace
stage to get its rate), then a batch of ``--rows`` executions: the sample's real rows
repeated under new execution ids (same programs, so the reference checks pass). Per
repetition, on a fresh copy of the lakehouse, in alternating order:

- ``publish, no gate``: stage the new rows, count them, append them (what a stage did
  before write-audit-publish);
- ``publish through the gate``: the same, plus every check (suite, CHECK constraints,
  ok rate), ``meta/validations`` and the gate report.

Prints the medians, the gate's overhead, that overhead against the trace stage's time for
the same rows (at the sample's rate; real programs are slower, so this flatters the
stage less than real data would), and a breakdown of one gated run.

Run: ``python bench/bench_gate.py [--rows 100000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable
from pyspark.sql import functions as F
from rich.console import Console
from rich.table import Table

from tracepile.cli import sample_path
from tracepile.config import TracepileConfig, load_config
from tracepile.engine import spark_session
from tracepile.jobs.dedup_stage import DedupStage
from tracepile.jobs.ingest_stage import IngestStage
from tracepile.jobs.trace_stage import TraceStage
from tracepile.lakehouse import Lakehouse
from tracepile.quality import gate
from tracepile.runner import run_stage
from tracepile.summary import StageSummary
from tracepile.tables import SILVER_EXECUTIONS


def _executions(lake: Path) -> pa.Table:
    return pq.read_table(DeltaTable(str(lake / "silver" / "executions")).file_uris())


def build_batch(lake: Path, rows: int, out: Path) -> None:
    """``rows`` executions: the real ones repeated, each under a new 32-hex id, with the id
    appended to its trace text (so that Parquet cannot store 141 distinct texts once)."""
    real = _executions(lake)
    batch = real.take(pa.array([i % real.num_rows for i in range(rows)]))
    ids = pa.array([f"{i:032x}" for i in range(rows)], pa.string())
    batch = batch.set_column(batch.schema.get_field_index("execution_id"), "execution_id", ids)
    text = pc.binary_join_element_wise(pc.fill_null(batch["trace_text"], ""), ids, "\n# run ")
    batch = batch.set_column(batch.schema.get_field_index("trace_text"), "trace_text", text)
    assert pc.count_distinct(batch["execution_id"]).as_py() == rows
    pq.write_table(batch, out)


def publish_without_gate(lakehouse: Lakehouse, rows, run_id: str) -> None:
    staged = lakehouse.stage(lakehouse.new_rows(SILVER_EXECUTIONS, rows), "bench", run_id)
    staged.count()
    lakehouse.append(SILVER_EXECUTIONS, staged)


def publish_with_gate(lakehouse: Lakehouse, config: TracepileConfig, rows, run_id: str) -> None:
    batch = gate.stage_batch(lakehouse, run_id, "trace", [(SILVER_EXECUTIONS, rows)])
    batch.outcomes = batch.staged(SILVER_EXECUTIONS).select(F.col("status").alias("outcome"))
    gate.publish(lakehouse, config, batch, StageSummary("trace", "bench", []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    out = Console()
    work = Path(tempfile.mkdtemp(prefix="bench-gate-"))
    base = work / "base"
    config = load_config(overrides={"lakehouse": str(base)}, environ={})
    with spark_session(config) as spark:
        lakehouse = Lakehouse(spark, str(base))
        run_stage(IngestStage(config, [f"codeio:{sample_path()}"]), lakehouse, "ingest")
        run_stage(DedupStage(config), lakehouse, "dedup")
        trace = run_stage(TraceStage(config), lakehouse, "trace")
        trace_rate = trace.counts["runs"] / trace.seconds
        source = work / "batch.parquet"
        build_batch(base, args.rows, source)
        # warm the engine and great-expectations' import once, outside the timings
        warm = Lakehouse(spark, str(work / "warm"))
        shutil.copytree(base, work / "warm")
        publish_with_gate(warm, load_config(overrides={"lakehouse": str(work / "warm")}, environ={}),
                          spark.read.parquet(str(source)).limit(1000), "warm")  # fmt: skip

        timings: dict[str, list[float]] = {"publish, no gate": [], "publish through the gate": []}
        for repeat in range(args.repeats):
            order = list(timings) if repeat % 2 == 0 else list(reversed(timings))
            for method in order:
                lake = work / f"run-{repeat}-{len(timings[method])}-{method.split()[-1]}"
                shutil.copytree(base, lake)
                copy = Lakehouse(spark, str(lake))
                rows = spark.read.parquet(str(source))
                run_id = f"bench-{repeat}"
                started = time.perf_counter()
                if method == "publish, no gate":
                    publish_without_gate(copy, rows, run_id)
                else:
                    settings = load_config(overrides={"lakehouse": str(lake)}, environ={})
                    publish_with_gate(copy, settings, rows, run_id)
                timings[method].append(time.perf_counter() - started)
                copy.drop_staging(run_id)
                assert (
                    DeltaTable(str(lake / "silver" / "executions")).version() == 3
                )  # create, constraints, 2 writes
                shutil.rmtree(lake)

        # where the gate's time goes, on one more staged batch
        lake = work / "breakdown"
        shutil.copytree(base, lake)
        copy = Lakehouse(spark, str(lake))
        settings = load_config(overrides={"lakehouse": str(lake)}, environ={})
        parts: dict[str, float] = {}
        started = time.perf_counter()
        batch = gate.stage_batch(
            copy, "parts", "trace", [(SILVER_EXECUTIONS, spark.read.parquet(str(source)))]
        )
        parts["stage the batch (also done without a gate)"] = time.perf_counter() - started
        staged = batch.staged(SILVER_EXECUTIONS)
        started = time.perf_counter()
        results = gate.check_table(copy, settings, SILVER_EXECUTIONS, staged, batch)
        parts[f"table checks ({len(results)}: suite, references, CHECK constraints)"] = (
            time.perf_counter() - started
        )
        started = time.perf_counter()
        results += gate.check_rates(settings, "trace", staged.select(F.col("status").alias("outcome")))
        parts["ok-rate check"] = time.perf_counter() - started
        started = time.perf_counter()
        gate.record_results(copy, settings, "parts", "trace", results, "published")
        parts["meta/validations + gate report"] = time.perf_counter() - started
        copy.drop_staging("parts")
    shutil.rmtree(work)

    medians = {method: statistics.median(values) for method, values in timings.items()}
    overhead = medians["publish through the gate"] - medians["publish, no gate"]
    stage_seconds = args.rows / trace_rate
    table = Table(title=f"quality gate on {args.rows:,} execution rows (median of {args.repeats})")
    table.add_column("method")
    table.add_column("seconds", justify="right")
    table.add_column("runs", justify="right")
    for method, values in timings.items():
        table.add_row(method, f"{medians[method]:.2f}", " ".join(f"{v:.2f}" for v in values))
    table.add_row(
        "gate overhead",
        f"{overhead:.2f}",
        f"x{medians['publish through the gate'] / medians['publish, no gate']:.2f}",
    )
    table.add_row(
        f"trace stage for these rows (at the sample's {trace_rate:.0f} runs/s)",
        f"{stage_seconds:,.0f}",
        f"overhead = {100 * overhead / stage_seconds:.2f}% of it",
    )
    out.print(table)
    breakdown = Table(title="one gated batch, by part")
    breakdown.add_column("part")
    breakdown.add_column("seconds", justify="right")
    for name, seconds in parts.items():
        breakdown.add_row(name, f"{seconds:.2f}")
    out.print(breakdown)


if __name__ == "__main__":
    main()
