"""Trace: ``silver/programs`` -> ``silver/executions``, one sandboxed run per program and input.

Each (program, input) row goes through the sandbox (``udfs/run_programs.py``): a run traced
by snoop, then an untraced run under another hash seed, compared with each other and with
the expected output. The pending runs are published in batches of ``trace.batch_rows``,
each through the quality gate (e.g. a batch with under 20% ok runs is quarantined), so a
crash loses at most the batch in flight. Resumable: rows already in ``silver/executions``
are skipped. A row whose run raises (a bug of ours, not the program's error, which is a
status) gets no execution: its program gets a ``silver/rejects`` row (``internal_error``,
the first failure as the detail) and the next run tries the row again.
"""

from __future__ import annotations

import math
from functools import partial

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from tracepile.execution.runs_programs import RunsPrograms, whole_program_verdicts
from tracepile.lakehouse import Lakehouse
from tracepile.stage import StageRun, require_table
from tracepile.summary import Tally
from tracepile.tables import SILVER_EXECUTIONS, SILVER_PROGRAMS, SILVER_REJECTS
from tracepile.udfs.run_programs import FAILURE, trace_batches
from tracepile.vocab import DedupReason, Status

STAGE = "trace"  # silver/rejects.stage of a whole-verdict program that failed an input


def failed_program_rejects(lakehouse: Lakehouse, run_id: str) -> DataFrame:
    """silver/rejects rows for whole-verdict programs that failed an input and have none yet."""
    verdicts = whole_program_verdicts(lakehouse.read(SILVER_PROGRAMS), lakehouse.read(SILVER_EXECUTIONS))
    failed = verdicts.where("failed")
    if lakehouse.exists(SILVER_REJECTS):
        recorded = lakehouse.read(SILVER_REJECTS).where(F.col("stage") == STAGE).select("program_id")
        failed = failed.join(recorded, "program_id", "left_anti")
    return failed.select(
        "program_id",
        F.lit(STAGE).alias("stage"),
        F.lit(DedupReason.FAILED_TESTS.value).alias("reason"),
        F.col("detail"),
        F.lit(run_id).alias("run_id"),
        F.lit(None).cast("string").alias("keeper_id"),
    )


def failed_run_rejects(failed: DataFrame, run_id: str) -> DataFrame:
    """silver/rejects rows for the programs of trace rows whose run raised (``internal_error``):
    one per program, the first failed input and the count as the detail. Such an input has no
    execution, so the next run tries it again; a program's row is written once."""
    first = F.min(F.struct("input_index", F.col(FAILURE).alias("text")))
    per_program = failed.groupBy("program_id").agg(first.alias("_first"), F.count(F.lit(1)).alias("_n"))
    return per_program.select(
        "program_id",
        F.lit(STAGE).alias("stage"),
        F.lit(DedupReason.INTERNAL_ERROR.value).alias("reason"),
        F.concat(
            F.lit("input "), F.col("_first.input_index").cast("string"), F.lit(" (of "),
            F.col("_n").cast("string"), F.lit(" failed): "), F.col("_first.text"),
        ).alias("detail"),
        F.lit(run_id).alias("run_id"),
        F.lit(None).cast("string").alias("keeper_id"),
    )  # fmt: skip


def within_quota(programs: DataFrame, lakehouse: Lakehouse, quota: dict[str, int]) -> DataFrame:
    """The programs of silver/programs a domain quota lets on to trace: every program already
    traced (its other inputs too), and per capped domain the first new ones by program_id up
    to the quota less the programs of that domain traced already."""
    if not quota:
        return programs
    traced = (
        lakehouse.read(SILVER_EXECUTIONS).select("program_id").distinct()
        if lakehouse.exists(SILVER_EXECUTIONS)
        else programs.select("program_id").limit(0)
    )
    started = programs.join(traced, "program_id", "left_semi")
    counts = {row["domain"]: row["count"] for row in started.groupBy("domain").count().collect()}
    room = F.lit(None).cast("long")
    for domain, cap in quota.items():
        room = F.when(F.col("domain") == str(domain), F.lit(max(0, cap - counts.get(domain, 0)))).otherwise(
            room
        )
    rank = F.row_number().over(Window.partitionBy("domain").orderBy("program_id"))
    fresh = (
        programs.join(traced, "program_id", "left_anti")
        .withColumn("_room", room)
        .withColumn("_rank", rank)
        .where(F.col("_room").isNull() | (F.col("_rank") <= F.col("_room")))
        .drop("_room", "_rank")
    )
    return started.unionByName(fresh)


def pending_runs(lakehouse: Lakehouse, programs: DataFrame) -> DataFrame:
    """(program, input) rows of ``programs`` (silver/programs rows) without an execution yet."""
    runs = (
        programs.select(
            "program_id",
            "code",
            "entry_point",
            "run_mode",
            F.posexplode("inputs").alias("input_index", "input"),
        )
        .select(
            "program_id",
            "code",
            "entry_point",
            "run_mode",
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


class TraceStage(RunsPrograms):
    name = "trace"
    reads = (SILVER_PROGRAMS,)
    reads_detail = "inputs without an execution"
    writes = (SILVER_EXECUTIONS, SILVER_REJECTS)
    # one outcome per run: its status, or internal_error where our side raised (no execution
    # is written, so the next run tries the input again)
    tally = Tally(
        kept=Status.OK,
        kept_as="status_{outcome}",
        dropped_as="status_{outcome}",
        retried=frozenset({DedupReason.INTERNAL_ERROR}),
        total_as="runs",
        reasons=False,
    )

    def plan(self, run: StageRun) -> None:
        limits = self.config.trace
        # the UDF returns every column but run_id, which names this run and is added here, and
        # the failure of a row whose run raised (such a row has only its ids besides)
        udf_schema = StructType(
            [
                *(
                    StructField(f.name, f.dataType, True)
                    for f in SILVER_EXECUTIONS.schema
                    if f.name != "run_id"
                ),
                StructField(FAILURE, StringType(), True),
            ]
        )
        require_table(run.lakehouse, SILVER_PROGRAMS, "dedup")
        programs = run.lakehouse.read(SILVER_PROGRAMS)
        quota = {str(domain): cap for domain, cap in limits.domain_quota.items()}
        admitted = within_quota(programs, run.lakehouse, quota)
        run.summary.notes["limits"] = (
            f"cpu {limits.cpu_seconds} s, wall {limits.wall_seconds} s, "
            f"memory {limits.memory_bytes >> 20} MB, trace {limits.trace_lines} lines"
        )
        with run.step("listing inputs without an execution"):
            pending = run.stage(pending_runs(run.lakehouse, admitted), "trace_pending")
            total = pending.count()
            # now, before a batch is published: the quota's room was counted from the
            # executions as they were, and ``admitted`` reads them again when evaluated
            waiting = programs.count() - admitted.count() if quota else 0
        batches = math.ceil(total / limits.batch_rows)
        partitions = run.python_partitions(limits.partitions) if limits.partitions else 0
        if partitions < limits.partitions:
            run.summary.notes["partitions"] = (
                f"trace.partitions {limits.partitions} taken as {partitions} (one per core) "
                "on the embedded engine"
            )
        summary = run.summary
        summary.counts.update(pending=total, batches=batches, executions_new=0)
        with run.progress(total, batches) as progress:
            for number in range(batches):
                runs = pending.where(F.pmod(F.xxhash64("execution_id"), F.lit(batches)) == number)
                if partitions:
                    runs = runs.repartition(partitions)
                traced = runs.mapInPandas(partial(trace_batches, stage=self), udf_schema)
                with run.step(f"batch {number + 1} of {batches}: running its inputs in the sandbox"):
                    traced = run.stage(traced, f"trace_batch_{number}")
                    executed = (
                        traced.where(F.col(FAILURE).isNull())
                        .drop(FAILURE)
                        .withColumn("run_id", F.lit(run.run_id))
                    )
                    failed = traced.where(F.col(FAILURE).isNotNull())
                    tables = [(SILVER_EXECUTIONS, executed)]
                    if failed.count():  # the rejects' gate runs only when there is a reject
                        tables.append((SILVER_REJECTS, failed_run_rejects(failed, run.run_id)))
                    # a run that raised has no status: its outcome says so, and it is retried
                    outcome = F.coalesce(F.col("status"), F.lit(DedupReason.INTERNAL_ERROR.value))
                    batch = run.write(tables, traced.select(outcome.alias("outcome")))
                with run.step(f"batch {number + 1} of {batches}: quality gate, then publishing"):
                    run.publish(batch)
                summary.add("executions_new", batch.rows(SILVER_EXECUTIONS))
                progress.batch_done(batch.rows(SILVER_EXECUTIONS))
        if quota:
            summary.notes["domain quota"] = ", ".join(f"{d} {n:,}" for d, n in quota.items())
            summary.counts["programs_waiting_for_quota"] = waiting
        # after the executions are published, so a crash between the two leaves nothing
        # unrecorded: the next run records every failed program without a reject row
        with run.step("recording programs that failed an input (competition, math)"):
            verdicts = run.write([(SILVER_REJECTS, failed_program_rejects(run.lakehouse, run.run_id))])
            run.publish(verdicts)
        summary.counts["programs_failed_an_input"] = verdicts.rows(SILVER_REJECTS)
