"""Trace: ``silver/programs`` -> ``silver/executions``, one sandboxed run per program and input.

Each (program, input) row goes through the sandbox (``udfs/sandbox.py``): a run traced
by snoop, then an untraced run under another hash seed, compared with each other and
with the expected output. The batch passes the quality gate (``quality/gate.py``; e.g. a
batch with under 20% ok runs is quarantined) before it is published. Resumable: rows
already in ``silver/executions`` are skipped.
Run alone with ``tracepile trace`` or ``spark-submit jobs/trace.py --lakehouse DIR``.
"""

from __future__ import annotations

import sys
import time
from functools import partial

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from tracepile.config import TracepileConfig
from tracepile.jobs.dedup import StageInputError
from tracepile.lakehouse import Lakehouse
from tracepile.quality.gate import publish, stage_batch
from tracepile.report import StageReport, step
from tracepile.tables import SILVER_EXECUTIONS, SILVER_PROGRAMS
from tracepile.udfs.run_programs import TraceOptions, trace_batches
from tracepile.udfs.sandbox import Limits

STAGE = "trace"


def pending_runs(lakehouse: Lakehouse) -> DataFrame:
    """(program, input) rows of silver/programs without an execution yet."""
    if not lakehouse.exists(SILVER_PROGRAMS):
        raise StageInputError("silver/programs does not exist yet: run `tracepile dedup` first")
    runs = (
        lakehouse.read(SILVER_PROGRAMS)
        .select("program_id", "code", "entry_point", F.posexplode("inputs").alias("input_index", "input"))
        .select(
            "program_id",
            "code",
            "entry_point",
            F.col("input_index").cast("long").alias("input_index"),
            F.col("input.input_json").alias("input_json"),
            F.col("input.expected_output_json").alias("expected_output_json"),
        )
        .withColumn(
            "execution_id",
            F.substring(F.sha2(F.concat_ws("\u001f", "program_id", "input_json"), 256), 1, 32),
        )
    )
    if lakehouse.exists(SILVER_EXECUTIONS):
        done = lakehouse.read(SILVER_EXECUTIONS).select("execution_id")
        runs = runs.join(done, "execution_id", "left_anti")
    return runs


def run_trace(spark: SparkSession, lakehouse: Lakehouse, config: TracepileConfig, run_id: str) -> StageReport:
    started = time.perf_counter()
    report = StageReport(
        stage=STAGE,
        reads=f"{SILVER_PROGRAMS.qualified_name} (inputs without an execution)",
        writes=[SILVER_EXECUTIONS.qualified_name],
    )
    settings = config.trace
    limits = Limits(**settings.model_dump(exclude={"workers", "partitions"}))
    options = TraceOptions(limits, workers=settings.workers)
    # the UDF returns every column but run_id, which names this run and is added here
    udf_schema = StructType([f for f in SILVER_EXECUTIONS.schema if f.name != "run_id"])
    runs = pending_runs(lakehouse)
    if settings.partitions:
        runs = runs.repartition(settings.partitions)
    executed = runs.mapInPandas(partial(trace_batches, options=options), udf_schema).withColumn(
        "run_id", F.lit(run_id)
    )
    report.notes["limits"] = (
        f"cpu {limits.cpu_seconds} s, wall {limits.wall_seconds} s, "
        f"memory {limits.memory_bytes >> 20} MB, trace {limits.trace_lines} lines"
    )
    try:
        with step("trace: running every input in the sandbox"):
            batch = stage_batch(lakehouse, run_id, STAGE, [(SILVER_EXECUTIONS, executed)])
            staged = batch.staged(SILVER_EXECUTIONS)
            batch.outcomes = staged.select(F.col("status").alias("outcome"))
            by_status = {row["status"]: row["count"] for row in staged.groupBy("status").count().collect()}
        report.counts = {
            "runs": sum(by_status.values()),
            **{f"status_{status}": count for status, count in sorted(by_status.items())},
        }
        with step("trace: quality gate, then publishing silver/executions"):
            written = publish(lakehouse, config, batch, report)
        report.counts["executions_new"] = written[SILVER_EXECUTIONS.qualified_name]
    finally:
        lakehouse.drop_staging(run_id)
        report.seconds = time.perf_counter() - started
    return report


if __name__ == "__main__":
    from tracepile.cli import main_for_job

    sys.exit(main_for_job("trace", sys.argv[1:]))
