"""The whole pipeline, stage after stage, each reading the table the previous one wrote.

Stages: ingest -> dedup -> trace -> generate; each batch passes its quality gate before it is
published, and a blocked batch stops the pipeline. Run with ``tracepile run`` or
``spark-submit jobs/pipeline.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pyspark.sql import SparkSession

from tracepile.config import TracepileConfig
from tracepile.jobs.dedup import run_dedup
from tracepile.jobs.generate import run_generate
from tracepile.jobs.ingest import run_ingest
from tracepile.jobs.trace import run_trace
from tracepile.lakehouse import Lakehouse
from tracepile.quality.gate import GateBlocked
from tracepile.report import StageReport


def run_pipeline(
    spark: SparkSession,
    lakehouse: Lakehouse,
    config: TracepileConfig,
    sources: Sequence[str],
    run_id: str,
) -> list[StageReport]:
    reports: list[StageReport] = []
    try:
        reports.append(run_ingest(spark, lakehouse, config, sources, run_id))
        reports.append(run_dedup(spark, lakehouse, config, run_id))
        reports.append(run_trace(spark, lakehouse, config, run_id))
        reports.append(run_generate(spark, lakehouse, config, run_id))
    except GateBlocked as blocked:  # the summary shows the stages that did publish, too
        blocked.stage_reports[:0] = reports
        raise
    return reports


if __name__ == "__main__":
    from tracepile.cli import main_for_job

    sys.exit(main_for_job("run", sys.argv[1:]))
