"""The pipeline: its stages in order. A new stage is one file in ``jobs/`` and one line here."""

from __future__ import annotations

from collections.abc import Sequence

from tracepile.config import TracepileConfig
from tracepile.jobs.dedup_stage import DedupStage
from tracepile.jobs.generate_stage import GenerateStage
from tracepile.jobs.ingest_stage import IngestStage
from tracepile.jobs.input_prediction_stage import InputPredictionStage
from tracepile.jobs.questions_stage import QuestionsStage
from tracepile.jobs.rewrite_stage import RewriteStage
from tracepile.jobs.trace_stage import TraceStage
from tracepile.stage import Stage


def pipeline(config: TracepileConfig, sources: Sequence[str]) -> list[Stage]:
    """``tracepile run``: every stage, each reading the tables the ones before it wrote; the
    augmentation stages unless the config turns them off, input prediction where it turns it on."""
    return [
        IngestStage(config, sources),
        DedupStage(config),
        *([RewriteStage(config)] if config.rewrites.enabled else []),
        TraceStage(config),
        GenerateStage(config),
        *([QuestionsStage(config)] if config.questions.enabled else []),
        *([InputPredictionStage(config)] if config.inputs.enabled else []),
    ]
