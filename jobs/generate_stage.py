"""Generate: ``silver/executions`` (status ok) -> ``gold/coe`` (+ ``gold/coe_rejects``).

Each ok execution, with its program's question and code, becomes a translation prompt;
the backend (``[generate]``: template, vllm or openai) writes the Chain-of-Execution text;
``translation/verify.py`` checks it against the execution (final answer, stated values).
Verified texts go to gold/coe, the rest to gold/coe_rejects with the reason.

Exactly once and resumable: a generation is keyed by (execution, backend, model, prompt
hash), and keys already in either table are skipped. The pending rows are published in
batches of ``generate.batch_rows``, each through the quality gate, so a crash loses at
most the batch in flight. ``generate.max_rows`` bounds a run to that many pending rows, the
first in ``coe_id`` order: the rest stay pending and a later run goes on with them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable
from functools import partial

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from tracepile.config import GenerateConfig
from tracepile.execution.outcomes import outcome_schema
from tracepile.execution.pending import take_bounded
from tracepile.execution.runs_programs import settled_executions
from tracepile.execution.text_backend import TextBackend, model_calls_note
from tracepile.lakehouse import Lakehouse
from tracepile.stage import Resources, Stage, StageRun
from tracepile.summary import Tally
from tracepile.tables import GOLD_COE, GOLD_REJECTS, SILVER_EXECUTIONS, SILVER_PROGRAMS
from tracepile.translation.backends import Backend, backend_for
from tracepile.udfs.write_coe import OUTCOME_COLUMNS, generate_partition, prompt_keys
from tracepile.vocab import Backend as BackendName
from tracepile.vocab import GenerateOutcome

VERIFIED, BACKEND_ERROR = GenerateOutcome.VERIFIED, GenerateOutcome.BACKEND_ERROR


def pending_generations(lakehouse: Lakehouse, settings: GenerateConfig) -> DataFrame:
    """Settled ok executions, keyed for this backend and model, minus the done ones."""
    backend = backend_for(settings)  # cheap: a model engine is only loaded when it first generates
    rows = settled_executions(lakehouse)
    schema = StructType([*rows.schema.fields, StructField("prompt_hash", StringType(), False)])
    keyed = (
        rows.mapInPandas(partial(prompt_keys, version=backend.version), schema)
        .withColumn("backend", F.lit(str(backend.name)))
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


def _split(outcomes: DataFrame, run_id: str) -> tuple[DataFrame, DataFrame]:
    """gold/coe rows and gold/coe_rejects rows. Backend errors are neither: those rows stay
    pending, so the next run retries them (a server that was down is not a bad text)."""
    verified = outcomes.where(F.col("outcome") == VERIFIED.value).withColumn("run_id", F.lit(run_id))
    rejected = (
        outcomes.where(~F.col("outcome").isin(VERIFIED.value, BACKEND_ERROR.value))
        .withColumnRenamed("outcome", "reason")
        .withColumn("run_id", F.lit(run_id))
    )
    return verified.select(*GOLD_COE.schema.names), rejected.select(*GOLD_REJECTS.schema.names)


class GenerateStage(Stage):
    name = "generate"
    reads = (SILVER_EXECUTIONS, SILVER_PROGRAMS)
    reads_detail = "status ok"
    writes = (GOLD_COE, GOLD_REJECTS)
    # a backend's error is neither verified nor rejected: the next run tries the row again
    tally = Tally(kept=VERIFIED, kept_as="verified", retried=frozenset({BACKEND_ERROR}))

    def resources(self) -> Resources:
        settings = self.config.generate
        return Resources(gpus=settings.tensor_parallel_size if settings.backend == BackendName.VLLM else 0)

    def worker_key(self) -> tuple[str, Hashable]:
        return TextBackend(self.config.generate).worker_key()

    def setup(self) -> Backend:
        """The executor's backend: a vLLM engine loads its model once per process, on first use."""
        return TextBackend(self.config.generate).setup()

    def teardown(self, backend: Backend) -> None:
        TextBackend(self.config.generate).teardown(backend)

    def plan(self, run: StageRun) -> None:
        settings, summary = self.config.generate, run.summary
        summary.notes["backend"] = f"{settings.backend}" + (
            f", model {settings.model}" if settings.model else ""
        )
        with run.step("keying prompts, skipping done generations"):
            pending = run.stage(pending_generations(run.lakehouse, settings), "generate_pending")
            total = pending.count()
        pending, total = take_bounded(run, pending, total, settings.max_rows, ["coe_id"], "generate.max_rows")
        batches = max(1, math.ceil(total / settings.batch_rows))
        summary.counts.update(pending=total, batches=batches if total else 0)
        latencies: list[float] = []  # of a served model's requests (openai backend)
        tokens: list[int] = []
        started = time.perf_counter()
        with run.progress(total, batches if total else 0) as progress:
            for number in range(batches if total else 0):
                rows = pending.where(F.pmod(F.xxhash64("coe_id"), F.lit(batches)) == number)
                if settings.data_parallel:
                    rows = rows.repartition(settings.data_parallel)
                outcomes = rows.mapInPandas(
                    partial(generate_partition, stage=self),
                    outcome_schema(OUTCOME_COLUMNS, GOLD_COE, GOLD_REJECTS),
                )
                with run.step(f"batch {number + 1} of {batches}, {settings.backend} backend"):
                    outcomes = run.stage(outcomes, f"generate_outcomes_{number}")
                    if settings.backend == BackendName.OPENAI:  # the one backend that times its requests
                        calls = outcomes.where(F.col("latency_s").isNotNull())
                        for call in calls.select("latency_s", "completion_tokens").collect():
                            latencies.append(call["latency_s"])
                            tokens.append(call["completion_tokens"] or 0)
                    verified, rejected = _split(outcomes, run.run_id)
                    batch = run.write([(GOLD_COE, verified), (GOLD_REJECTS, rejected)], outcomes)
                    run.publish(batch)
                progress.batch_done(sum((batch.outcome_counts or {}).values()))
        if latencies:
            wall = time.perf_counter() - started
            summary.notes["model calls"] = model_calls_note(latencies, tokens, wall, settings.max_concurrency)
