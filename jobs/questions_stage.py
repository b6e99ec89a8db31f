"""Questions: settled ok executions -> ``gold/questions`` (+ ``gold/question_rejects``).

Each execution of a called function gets variable-tracing questions of several kinds, chosen
by a seeded hash so a rerun asks the same ones (``[questions]``), each with its answer taken
from the trace; the configured backend answers, and only answers verified against the trace
reach gold (``udfs/ask_questions.py``). Resumable: an execution with questions (or rejected
answers) from this backend and model is skipped. ``questions.max_executions`` bounds a run
to that many pending executions, the first by ``execution_id``; the rest wait for a later run.
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
from tracepile.tables import GOLD_QUESTION_REJECTS, GOLD_QUESTIONS, SILVER_EXECUTIONS, SILVER_PROGRAMS
from tracepile.translation.backends import backend_for
from tracepile.udfs.ask_questions import OUTCOME_COLUMNS, UNSTABLE, VERIFIED, ask_partition
from tracepile.vocab import GenerateOutcome

BACKEND_ERROR = GenerateOutcome.BACKEND_ERROR


class QuestionsStage(RunsPrograms):
    name = "questions"
    reads = (SILVER_EXECUTIONS, SILVER_PROGRAMS)
    reads_detail = "settled ok executions of functions, without questions from this backend"
    writes = (GOLD_QUESTIONS, GOLD_QUESTION_REJECTS)
    # a backend's error is neither verified nor rejected: with no row, the execution is asked
    # again by the next run (unless another of its questions was settled)
    tally = Tally(kept=VERIFIED, kept_as="questions_{by}", retried=frozenset({BACKEND_ERROR}), by="kind")

    def __init__(self, config: TracepileConfig) -> None:
        super().__init__(config)
        self.answerer = TextBackend(config.generate)  # one backend per executor serves both stages

    def plan(self, run: StageRun) -> None:
        summary, settings = run.summary, self.config.questions
        backend = backend_for(self.config.generate)
        summary.notes["questions"] = f"{settings.per_kind} per kind per execution, seed {settings.seed}"
        summary.notes["backend"] = str(backend.name) + (f", model {backend.model}" if backend.model else "")
        with run.step("finding executions without questions"):
            rows = unanswered_executions(run.lakehouse, self.writes, backend)
            pending = run.stage(rows, "questions_pending")
            total = pending.count()
        pending, summary.counts["executions"] = take_bounded(
            run, pending, total, settings.max_executions, ["execution_id"], "questions.max_executions"
        )
        schema = outcome_schema(OUTCOME_COLUMNS, GOLD_QUESTIONS, GOLD_QUESTION_REJECTS)
        with run.step("asking, answering and verifying"):
            outcomes = run.stage(
                pending.mapInPandas(partial(ask_partition, stage=self), schema), "questions_out"
            )
        # an execution's row with outcome UNSTABLE is no question: it says how many of its
        # questions were left out because their answer depends on the hash seed
        unstable = (
            outcomes.where(F.col("outcome") == UNSTABLE).agg(F.sum(F.col("detail").cast("long"))).first()
        )
        summary.counts["left_out_hash_seed_dependent"] = int((unstable[0] if unstable else None) or 0)
        questions = outcomes.where(F.col("outcome") != UNSTABLE)
        asked = questions.where(F.col("outcome") != BACKEND_ERROR.value)
        asked = asked.withColumn("run_id", F.lit(run.run_id))
        verified = asked.where(F.col("outcome") == VERIFIED.value).select(*GOLD_QUESTIONS.schema.names)
        rejected = (
            asked.where(F.col("outcome") != VERIFIED.value)
            .withColumnRenamed("outcome", "reason")
            .select(*GOLD_QUESTION_REJECTS.schema.names)
        )
        with run.step("quality gate, then publishing gold/questions"):
            batch = run.write([(GOLD_QUESTIONS, verified), (GOLD_QUESTION_REJECTS, rejected)], questions)
            run.publish(batch)
