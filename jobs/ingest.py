"""Ingest: source files -> ``bronze/sources`` (+ ``bronze/ingest_rejects``).

Each file is one task (``mapInArrow``); parsed rows are staged once, then split into
programs and rejects, which pass the quality gate (``quality/gate.py``; e.g. a batch
where one reject reason covers over half the lines is quarantined) before publishing.
Programs are unique by content id; rerunning on the same input writes nothing. Run alone
with ``spark-submit jobs/ingest.py --source codeio:PATH --lakehouse DIR`` (the engine
defaults to the submitting Spark there).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from functools import partial

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from tracepile.config import TracepileConfig
from tracepile.lakehouse import Lakehouse
from tracepile.quality.gate import publish, stage_batch
from tracepile.report import StageReport, step
from tracepile.sources.files import IngestOptions, expand_paths, parse_source_spec
from tracepile.tables import BRONZE_SOURCES, INGEST_REJECTS
from tracepile.udfs.read_files import FILES_SCHEMA_DDL, PARSED_ARROW_SCHEMA, parse_files_arrow


def list_source_files(sources: Sequence[str]) -> list[tuple[str, str]]:
    """(kind, file) pairs for every --source, each file once, in a stable order."""
    files: dict[str, str] = {}
    for spec in sources:
        kind, path = parse_source_spec(spec)
        for file in expand_paths(path):
            files.setdefault(file, kind)
    return sorted((kind, file) for file, kind in files.items())


def parse_sources(spark: SparkSession, files: list[tuple[str, str]], config: TracepileConfig) -> DataFrame:
    """The ingest transformation: one parsed row per source line (program, reject or blank)."""
    options = IngestOptions(**config.ingest.model_dump())
    file_rows = spark.createDataFrame(files, FILES_SCHEMA_DDL).repartition(len(files))
    # The Arrow schema the reader yields is the one declaration; Spark's is derived from it.
    parsed_schema = from_arrow_schema(PARSED_ARROW_SCHEMA)
    return file_rows.mapInArrow(partial(parse_files_arrow, options=options), parsed_schema)


def first_per_program(programs: DataFrame) -> DataFrame:
    """One row per program_id: the first occurrence by (file, line), so reruns pick the same."""
    order = Window.partitionBy("program_id").orderBy("source_file", "source_line")
    return (
        programs.withColumn("_occurrence", F.row_number().over(order))
        .where(F.col("_occurrence") == 1)
        .drop("_occurrence")
    )


def run_ingest(
    spark: SparkSession,
    lakehouse: Lakehouse,
    config: TracepileConfig,
    sources: Sequence[str],
    run_id: str,
) -> StageReport:
    started = time.perf_counter()
    files = list_source_files(sources)
    report = StageReport(
        stage="ingest",
        reads=f"{len(files)} file(s)",
        writes=[BRONZE_SOURCES.qualified_name, INGEST_REJECTS.qualified_name],
    )
    try:
        with step(f"ingest: parsing {len(files)} file(s)"):
            staged = lakehouse.stage(parse_sources(spark, files, config), "ingest", run_id)
            outcome_counts = staged.groupBy("outcome", "reject_reason").count().collect()
        by_outcome: dict[str, int] = {}
        for row in outcome_counts:
            by_outcome[row["outcome"]] = by_outcome.get(row["outcome"], 0) + row["count"]
            if row["outcome"] == "reject":
                report.reasons[row["reject_reason"]] = row["count"]
        report.reasons = dict(sorted(report.reasons.items()))

        programs = staged.where(F.col("outcome") == "program")
        unique_programs = first_per_program(programs.select(*BRONZE_SOURCES.schema.names))
        rejects = staged.where(F.col("outcome") == "reject").select(
            "reject_id",
            "source_kind",
            "source_file",
            "source_line",
            F.col("reject_reason").alias("reason"),
            F.col("reject_detail").alias("detail"),
            "raw_record",
        )
        # one outcome per non-blank line: the gate's reject-rate checks
        outcomes = staged.where(F.col("outcome") != "blank").select(
            F.coalesce("reject_reason", F.lit("program")).alias("outcome")
        )
        with step("ingest: staging new programs and rejects"):
            batch = stage_batch(
                lakehouse, run_id, "ingest", [(BRONZE_SOURCES, unique_programs), (INGEST_REJECTS, rejects)],
                outcomes,
            )  # fmt: skip
            distinct = unique_programs.count()
        parsed = by_outcome.get("program", 0)
        written = batch.rows(BRONZE_SOURCES)
        report.counts = {
            "files": len(files),
            "lines": sum(by_outcome.values()),
            "blank_lines": by_outcome.get("blank", 0),
            "rejected": by_outcome.get("reject", 0),
            "rejects_new": batch.rows(INGEST_REJECTS),
            "programs_parsed": parsed,
            "duplicates_in_batch": parsed - distinct,
            "already_present": distinct - written,
            "programs_new": written,
        }
        with step("ingest: quality gate, then publishing bronze/sources, bronze/ingest_rejects"):
            publish(lakehouse, config, batch, report)
    finally:
        lakehouse.drop_staging(run_id)
        report.seconds = time.perf_counter() - started
    return report


if __name__ == "__main__":
    from tracepile.cli import main_for_job

    sys.exit(main_for_job("ingest", sys.argv[1:]))
