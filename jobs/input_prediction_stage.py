"""Input prediction: settled ok executions of called functions -> ``gold/input_predictions``
(+ ``gold/input_prediction_rejects``).

Each execution's prompt shows the program's code and its recorded return value and asks for
an input that gives it; the configured ``[generate]`` backend answers (the template from the
recorded run), and the input the answer states is run in the sandbox: only one for which the
call returns that output reaches gold, whichever input it is (``udfs/predict_inputs.py``).
Scripts (run modes stdin and answer) have no call to predict and are not asked. Resumable:
an execution with a prediction (kept or rejected) from this backend and model is skipped; a
backend error leaves it pending. ``inputs.max_executions`` bounds a run, in an order seeded
by ``inputs.seed``; the rest wait for a later run.
"""

from __future__ import annotations

from functools import partial

from pyspark.sql import functions as F

from tracepile.config import TracepileConfig
from tracepile.execution.outcomes import outcome_schema
from tracepile.execution.pending import take_bounded, unanswered_executions
from tracepile.execution.runs_programs import RunsPrograms
from tracepile.execution.text_backend import TextBackend
from tracepile.stage import StageRun
from tracepile.summary import Tally
from tracepile.tables import (
    GOLD_INPUT_PREDICTION_REJECTS,
    GOLD_INPUT_PREDICTIONS,
    SILVER_EXECUTIONS,
    SILVER_PROGRAMS,
)
from tracepile.translation.backends import backend_for
from tracepile.udfs.predict_inputs import OUTCOME_COLUMNS, VERIFIED, predict_partition
from tracepile.vocab import InputPredictionOutcome

BACKEND_ERROR = InputPredictionOutcome.BACKEND_ERROR


class InputPredictionStage(RunsPrograms):
    name = "inputs"
    reads = (SILVER_EXECUTIONS, SILVER_PROGRAMS)
    reads_detail = "settled ok executions of functions, without a prediction from this backend"
    writes = (GOLD_INPUT_PREDICTIONS, GOLD_INPUT_PREDICTION_REJECTS)
    # a backend's error is neither verified nor rejected: with no row, the next run asks again
    tally = Tally(kept=VERIFIED, kept_as="verified", retried=frozenset({BACKEND_ERROR}))

    def __init__(self, config: TracepileConfig) -> None:
        super().__init__(config)
        self.answerer = TextBackend(config.generate)  # one backend per executor serves every stage

    def plan(self, run: StageRun) -> None:
        summary, settings = run.summary, self.config.inputs
        backend = backend_for(self.config.generate)
        summary.notes["backend"] = str(backend.name) + (f", model {backend.model}" if backend.model else "")
        with run.step("finding executions without a prediction"):
            rows = unanswered_executions(run.lakehouse, self.writes, backend)
            pending = run.stage(rows, "inputs_pending")
            total = pending.count()
        order = [F.xxhash64(F.lit(settings.seed), "execution_id"), "execution_id"]
        pending, summary.counts["executions"] = take_bounded(
            run,
            pending,
            total,
            settings.max_executions,
            order,
            f"inputs.max_executions, seed {settings.seed}",
        )
        schema = outcome_schema(OUTCOME_COLUMNS, GOLD_INPUT_PREDICTIONS, GOLD_INPUT_PREDICTION_REJECTS)
        with run.step("predicting inputs and running them"):
            outcomes = run.stage(
                pending.mapInPandas(partial(predict_partition, stage=self), schema), "inputs_out"
            )
        answered = outcomes.where(F.col("outcome") != BACKEND_ERROR.value).withColumn(
            "run_id", F.lit(run.run_id)
        )
        verified = answered.where(F.col("outcome") == VERIFIED.value).select(
            *GOLD_INPUT_PREDICTIONS.schema.names
        )
        rejected = (
            answered.where(F.col("outcome") != VERIFIED.value)
            .withColumnRenamed("outcome", "reason")
            .select(*GOLD_INPUT_PREDICTION_REJECTS.schema.names)
        )
        with run.step("quality gate, then publishing gold/input_predictions"):
            batch = run.write(
                [(GOLD_INPUT_PREDICTIONS, verified), (GOLD_INPUT_PREDICTION_REJECTS, rejected)], outcomes
            )
            run.publish(batch)
