"""Rewrite: ``silver/programs`` -> more ``silver/programs`` (+ ``silver/rewrite_rejects``).

Each original program (a called function; competition and math programs are judged as a
whole and keep their own code) gets up to ``rewrites.per_program`` meaning-preserving
rewrites from AST transforms (``analysis/rewrites.py``: renaming, loop and comprehension
forms, inverted conditions, helpers extracted or inlined, independent statements reordered,
recursion made iterative where safe). A rewrite is kept only if differential execution in
the sandbox gives its original's results on every input (``udfs/check_rewrites.py``); kept
ones become programs with ``rewrite_of`` and ``rewrite_kind``, traced and generated like any
other (they skip dedup: a consistent renaming has its original's normalised form), the rest
land in ``silver/rewrite_rejects`` with the first differing input. Deterministic for a
program and config; a program already rewritten (or whose rewrites were dropped) is skipped.
"""

from __future__ import annotations

from functools import partial

from pyspark.sql import functions as F

from tracepile.execution.outcomes import outcome_schema
from tracepile.execution.runs_programs import RunsPrograms
from tracepile.stage import StageRun, require_table
from tracepile.summary import Tally
from tracepile.tables import SILVER_PROGRAMS, SILVER_REWRITE_REJECTS
from tracepile.udfs.check_rewrites import KEPT, OUTCOME_COLUMNS, check_partition
from tracepile.vocab import WHOLE_PROGRAM_VERDICT_KINDS, RunMode


class RewriteStage(RunsPrograms):
    name = "rewrite"
    reads = (SILVER_PROGRAMS,)
    reads_detail = "originals not rewritten yet"
    writes = (SILVER_PROGRAMS, SILVER_REWRITE_REJECTS)
    tally = Tally(kept=KEPT, kept_as="kept_{by}", dropped_as="dropped_{by}", by="rewrite_kind")

    def plan(self, run: StageRun) -> None:
        settings, summary = self.config.rewrites, run.summary
        summary.notes["rewrites"] = f"up to {settings.per_program} per program, seed {settings.seed}"
        require_table(run.lakehouse, SILVER_PROGRAMS, "dedup")
        programs = run.lakehouse.read(SILVER_PROGRAMS)
        originals = programs.where(
            F.col("rewrite_of").isNull()
            & (F.col("run_mode") == RunMode.CALL.value)
            & ~F.col("source_kind").isin(*(str(k) for k in WHOLE_PROGRAM_VERDICT_KINDS))
        )
        attempted = programs.select(F.col("rewrite_of").alias("program_id")).where(
            F.col("program_id").isNotNull()
        )
        if run.lakehouse.exists(SILVER_REWRITE_REJECTS):
            dropped = run.lakehouse.read(SILVER_REWRITE_REJECTS).select(
                F.col("rewrite_of").alias("program_id")
            )
            attempted = attempted.unionByName(dropped)
        pending = originals.join(attempted.distinct(), "program_id", "left_anti").drop("run_id")
        schema = outcome_schema(OUTCOME_COLUMNS, SILVER_PROGRAMS, SILVER_REWRITE_REJECTS)
        with run.step("rewriting, then running each rewrite against its original"):
            outcomes = run.stage(
                pending.mapInPandas(partial(check_partition, stage=self), schema), "rewrites"
            )
        summary.counts["programs"] = pending.count()
        stamped = outcomes.withColumn("run_id", F.lit(run.run_id))
        kept = stamped.where(F.col("outcome") == KEPT).select(*SILVER_PROGRAMS.schema.names)
        dropped_rows = stamped.where(F.col("outcome") != KEPT).select(*SILVER_REWRITE_REJECTS.schema.names)
        with run.step("quality gate, then publishing the kept rewrites"):
            batch = run.write([(SILVER_PROGRAMS, kept), (SILVER_REWRITE_REJECTS, dropped_rows)], outcomes)
            run.publish(batch)
        summary.counts["rewrites_kept"] = batch.rows(SILVER_PROGRAMS)
        summary.counts["rewrites_dropped"] = batch.rows(SILVER_REWRITE_REJECTS)
