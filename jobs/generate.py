"""Generate: ``silver/executions`` (status ok) -> ``gold/coe`` (+ ``gold/coe_rejects``).

Each ok execution, with its program's question and code, becomes a translation prompt;
the backend (``[generate]``: template, vllm or openai) writes the Chain-of-Execution text;
``translation/verify.py`` checks it against the execution (final answer, stated values).
Verified texts go to gold/coe, the rest to gold/coe_rejects with the reason.

Exactly once and resumable: a generation is keyed by (execution, backend, model, prompt
hash), and keys already in either table are skipped. The pending rows are published in
batches of ``generate.batch_rows``, each through the quality gate, so a crash loses at
most the batch in flight. Run alone with ``tracepile generate`` or ``spark-submit
jobs/generate.py --lakehouse DIR``.
"""

from __future__ import annotations

import math
import sys
import time
from functools import partial

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from tracepile.config import TracepileConfig
from tracepile.jobs.dedup import StageInputError
from tracepile.lakehouse import Lakehouse
from tracepile.quality.gate import publish, stage_batch
from tracepile.report import StageReport, step
from tracepile.tables import GOLD_COE, GOLD_REJECTS, SILVER_EXECUTIONS, SILVER_PROGRAMS
from tracepile.translation.backends import BACKEND_ERROR, BackendSettings, backend_for
from tracepile.udfs.write_coe import (
    OUTCOME_COLUMNS,
    VERIFIED,
    GenerateOptions,
    generate_partition,
    prompt_keys,
)

STAGE = "generate"
_INPUT_COLUMNS = (
    "execution_id", "program_id", "problem", "code", "entry_point", "input_json", "return_json",
    "trace_text", "steps_json", "source", "domain",
)  # fmt: skip


def backend_settings(config: TracepileConfig) -> BackendSettings:
    fields = set(BackendSettings.__dataclass_fields__)
    return BackendSettings(**{k: v for k, v in config.generate.model_dump().items() if k in fields})


def pending_generations(spark: SparkSession, lakehouse: Lakehouse, settings: BackendSettings) -> DataFrame:
    """Ok executions with their program, keyed for this backend and model, minus the done ones."""
    if not lakehouse.exists(SILVER_EXECUTIONS):
        raise StageInputError("silver/executions does not exist yet: run `tracepile trace` first")
    backend = backend_for(settings)  # cheap: a model engine is only loaded when it first generates
    executions = lakehouse.read(SILVER_EXECUTIONS).where(F.col("status") == "ok")
    programs = lakehouse.read(SILVER_PROGRAMS).select(
        "program_id", "problem", "code", "entry_point", "source", "domain"
    )
    rows = executions.join(programs, "program_id").select(*_INPUT_COLUMNS)
    schema = StructType([*rows.schema.fields, StructField("prompt_hash", StringType(), False)])
    keyed = (
        rows.mapInPandas(partial(prompt_keys, version=backend.version), schema)
        .withColumn("backend", F.lit(backend.name))
        .withColumn("model", F.lit(backend.model))
        .withColumn(
            "coe_id",
            F.substring(
                F.sha2(F.concat_ws("\u001f", "execution_id", "backend", "model", "prompt_hash"), 256), 1, 32
            ),
        )
    )
    for spec in (GOLD_COE, GOLD_REJECTS):
        if lakehouse.exists(spec):
            keyed = keyed.join(lakehouse.read(spec).select("coe_id"), "coe_id", "left_anti")
    return keyed


def _outcome_schema() -> StructType:
    types = {f.name: f.dataType for f in [*GOLD_COE.schema, *GOLD_REJECTS.schema]}
    types["outcome"] = StringType()
    return StructType([StructField(name, types[name], True) for name in OUTCOME_COLUMNS])


def _split(outcomes: DataFrame, run_id: str) -> tuple[DataFrame, DataFrame]:
    """gold/coe rows and gold/coe_rejects rows. Backend errors are neither: those rows stay
    pending, so the next run retries them (a server that was down is not a bad text)."""
    verified = outcomes.where(F.col("outcome") == VERIFIED).withColumn("run_id", F.lit(run_id))
    rejected = (
        outcomes.where(~F.col("outcome").isin(VERIFIED, BACKEND_ERROR))
        .withColumnRenamed("outcome", "reason")
        .withColumn("run_id", F.lit(run_id))
    )
    return verified.select(*GOLD_COE.schema.names), rejected.select(*GOLD_REJECTS.schema.names)


def run_generate(
    spark: SparkSession, lakehouse: Lakehouse, config: TracepileConfig, run_id: str
) -> StageReport:
    started = time.perf_counter()
    settings = backend_settings(config)
    report = StageReport(
        stage=STAGE,
        reads=f"{SILVER_EXECUTIONS.qualified_name} (status ok), {SILVER_PROGRAMS.qualified_name}",
        writes=[GOLD_COE.qualified_name, GOLD_REJECTS.qualified_name],
    )
    report.notes["backend"] = f"{settings.backend}" + (f", model {settings.model}" if settings.model else "")
    options = GenerateOptions(
        settings, config.generate.max_prompt_tokens, config.generate.retry_with_feedback
    )
    try:
        with step("generate: keying prompts, skipping done generations"):
            pending = lakehouse.stage(
                pending_generations(spark, lakehouse, settings), "generate_pending", run_id
            )
            total = pending.count()
        batches = max(1, math.ceil(total / config.generate.batch_rows))
        report.counts = dict.fromkeys(("verified", "rejected", "retry_next_run"), 0)
        report.counts = {"pending": total, "batches": batches if total else 0, **report.counts}
        for number in range(batches if total else 0):
            rows = pending.where(F.pmod(F.xxhash64("coe_id"), F.lit(batches)) == number)
            if config.generate.data_parallel:
                rows = rows.repartition(config.generate.data_parallel)
            outcomes = rows.mapInPandas(partial(generate_partition, options=options), _outcome_schema())
            with step(f"generate: batch {number + 1} of {batches}, {settings.backend} backend"):
                outcomes = lakehouse.stage(outcomes, f"generate_outcomes_{number}", run_id)
                for row in outcomes.groupBy("outcome").count().collect():
                    outcome, count = row["outcome"], row["count"]
                    name = {VERIFIED: "verified", BACKEND_ERROR: "retry_next_run"}.get(outcome, "rejected")
                    report.counts[name] += count
                    if name == "rejected":
                        report.reasons[outcome] = report.reasons.get(outcome, 0) + count
                verified, rejected = _split(outcomes, run_id)
                batch = stage_batch(
                    lakehouse, run_id, STAGE, [(GOLD_COE, verified), (GOLD_REJECTS, rejected)],
                    outcomes.where(F.col("outcome") != BACKEND_ERROR).select("outcome"),
                )  # fmt: skip
                publish(lakehouse, config, batch, report)
    finally:
        lakehouse.drop_staging(run_id)
        report.seconds = time.perf_counter() - started
    return report


if __name__ == "__main__":
    from tracepile.cli import main_for_job

    sys.exit(main_for_job("generate", sys.argv[1:]))
