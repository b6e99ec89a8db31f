"""Running programs in the sandbox, as stages use it: the base of every stage whose executors
run programs (trace, ingest, rewrite, questions), and what the runs say of a program.

``whole_program_verdicts`` judges a competition solution or math program on all its inputs;
``settled_executions`` are the ok executions that generate and questions may use.
"""

from __future__ import annotations

import os
from collections.abc import Hashable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tracepile.lakehouse import Lakehouse
from tracepile.stage import Resources, Stage, require_table
from tracepile.tables import SILVER_EXECUTIONS, SILVER_PROGRAMS
from tracepile.udfs.sandbox import Sandbox
from tracepile.vocab import WHOLE_PROGRAM_VERDICT_KINDS, Status


class RunsPrograms(Stage):
    """A stage that runs programs (trace; ingest, for input generators): its executors hold
    one sandbox, shared by every such stage, since it depends on nothing but its size."""

    def resources(self) -> Resources:
        return Resources(cpus=self.config.trace.workers)

    def worker_key(self) -> tuple[str, Hashable]:
        return "sandbox", self.config.trace.workers

    def setup(self) -> Sandbox:
        """The executor's sandbox: ``trace.workers`` zygote pairs (0 = one per core)."""
        return Sandbox(workers=self.config.trace.workers or os.cpu_count() or 1)

    def teardown(self, sandbox: Sandbox) -> None:
        """Stop the sandbox's zygotes and their runs."""
        sandbox.close()


def whole_program_verdicts(programs: DataFrame, executions: DataFrame) -> DataFrame:
    """Per program of a whole-verdict kind (a competition solution, a math program): its runs
    so far, ``failed`` (any input not ok: it is not a source of truth, whatever its other
    inputs give) and ``passed`` (every input run and ok: only then may its executions go on
    to generation), with the first failure as ``detail``. Whichever batches the inputs ran
    in, the verdict reads them all."""
    whole = programs.where(F.col("source_kind").isin(*(str(k) for k in WHOLE_PROGRAM_VERDICT_KINDS)))
    bad = F.col("status") != Status.OK.value
    failure = F.concat(
        F.lit("input "), F.col("input_index").cast("string"), F.lit(": "), F.col("status"),
        F.lit(": "), F.coalesce(F.substring("error", 1, 300), F.lit("")),
    )  # fmt: skip
    per_program = executions.groupBy("program_id").agg(
        F.count(F.lit(1)).alias("runs"),
        F.sum(bad.cast("long")).alias("failures"),
        F.min(F.when(bad, F.struct("input_index", failure.alias("text")))).alias("_first"),
    )
    return (
        whole.select("program_id", F.size("inputs").alias("n_inputs"))
        .join(per_program, "program_id", "left")
        .select(
            "program_id",
            F.coalesce("runs", F.lit(0)).alias("runs"),
            (F.coalesce("failures", F.lit(0)) > 0).alias("failed"),
            ((F.coalesce("failures", F.lit(0)) == 0) & (F.col("runs") == F.col("n_inputs"))).alias("passed"),
            F.col("_first.text").alias("detail"),
        )
    )


# a settled execution's columns: the execution and what the prompts need of its program
_INPUT_COLUMNS = (
    "execution_id", "program_id", "problem", "code", "entry_point", "run_mode", "input_json", "return_json",
    "trace_text", "steps_json", "steps_seed_stable", "source", "domain",
)  # fmt: skip


def settled_executions(lakehouse: Lakehouse) -> DataFrame:
    """Ok executions with what the prompts need of their program: a competition solution or
    math program only once every input ran and none failed."""
    require_table(lakehouse, SILVER_EXECUTIONS, "trace")
    all_executions = lakehouse.read(SILVER_EXECUTIONS)
    silver_programs = lakehouse.read(SILVER_PROGRAMS)
    # a competition solution or math program only once every input ran and none failed
    unsettled = whole_program_verdicts(silver_programs, all_executions).where(~F.col("passed"))
    executions = all_executions.where(F.col("status") == Status.OK.value).join(
        unsettled.select("program_id"), "program_id", "left_anti"
    )
    programs = silver_programs.select(
        "program_id", "problem", "code", "entry_point", "run_mode", "source", "domain"
    )
    return executions.join(programs, "program_id").select(*_INPUT_COLUMNS)
