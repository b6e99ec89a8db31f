"""Ingest: source files -> ``bronze/sources`` (+ ``bronze/ingest_rejects``).

Each file, or each piece of a large line file (``ingest.piece_bytes``), is one task
(``mapInArrow``, ``udfs/read_files.py``); parsed rows are staged
once, then split into programs and rejects, which pass the quality gate (e.g. a batch where
one reject reason covers over half the lines is quarantined) before publishing. Programs
are unique by content id; rerunning on the same input writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from tracepile.config import TracepileConfig
from tracepile.execution.runs_programs import RunsPrograms
from tracepile.sources.files import parse_source_spec, pieces_of, source_context, source_files
from tracepile.stage import StageRun
from tracepile.summary import Tally
from tracepile.tables import BRONZE_SOURCES, INGEST_REJECTS
from tracepile.udfs.generate_inputs import fill_generated_inputs
from tracepile.udfs.read_files import FILES_SCHEMA_DDL, PARSED_ARROW_SCHEMA, parse_files_arrow

SourceTask = tuple[str, str, str | None, int, int | None, int]  # kind, file, context, piece


def list_source_files(sources: Sequence[str]) -> list[tuple[str, str, str | None]]:
    """(kind, file, context) for every --source, each file once, in a stable order; the context
    is what the file's task needs to know of its whole source (a pyfiles tree's packages)."""
    files: dict[str, tuple[str, str | None]] = {}
    for spec in sources:
        kind, path = parse_source_spec(spec)
        found = source_files(kind, path)
        context = source_context(kind, path, found)
        for file in found:
            files.setdefault(file, (kind, context))
    return sorted((kind, file, context) for file, (kind, context) in files.items())


def source_tasks(files: list[tuple[str, str, str | None]], piece_bytes: int) -> list[SourceTask]:
    """One task per file, or per piece of a large line file (cut at line starts)."""
    return [
        (kind, file, context, piece.start, piece.end, piece.first_line)
        for kind, file, context in files
        for piece in pieces_of(kind, file, piece_bytes)
    ]


def parse_sources(
    spark: SparkSession, tasks: list[SourceTask], config: TracepileConfig, partitions: int
) -> DataFrame:
    """The ingest transformation: one parsed row per source line (program, reject or blank),
    the tasks spread over ``partitions`` (a partition reads its tasks one after another)."""
    file_rows = spark.createDataFrame(tasks, FILES_SCHEMA_DDL).repartition(partitions)
    # The Arrow schema the reader yields is the one declaration; Spark's is derived from it.
    parsed_schema = from_arrow_schema(PARSED_ARROW_SCHEMA)
    return file_rows.mapInArrow(partial(parse_files_arrow, options=config.ingest), parsed_schema)


def first_per_program(programs: DataFrame) -> DataFrame:
    """One row per program_id: the first occurrence by (file, line), so reruns pick the same.
    Chosen on ids and positions only, then the rows are taken by a join: a window over
    whole rows holds every row of the batch in memory at once."""
    position = ["source_file", "piece_start", "piece_row"]  # unique per parsed row
    order = Window.partitionBy("program_id").orderBy("source_file", "source_line", *position[1:])
    first = (
        programs.select("program_id", "source_line", *position)
        .withColumn("_occurrence", F.row_number().over(order))
        .where(F.col("_occurrence") == 1)
        .select(*position)
    )
    # an inner join with the narrow side first: the engine builds its hash table from the
    # left side and streams the right (a semi join would hold the whole rows instead)
    return first.join(programs, position)


def needs_generated_inputs() -> Column:
    """A parsed CodeI/O record whose inputs come from running its input_generator."""
    return (
        (F.col("outcome") == "program")
        & (F.size("inputs") == 0)
        & F.get_json_object("meta_json", "$.input_generator").isNotNull()
    )


class IngestStage(RunsPrograms):
    """Its sandbox runs input generators, and starts only when a record has one."""

    name = "ingest"
    writes = (BRONZE_SOURCES, INGEST_REJECTS)
    tally = Tally(
        kept="program",
        kept_as="programs_parsed",
        aside={"blank": "blank_lines"},
        total_as="lines",
    )

    def __init__(self, config: TracepileConfig, sources: Sequence[str]) -> None:
        super().__init__(config)
        self.files = list_source_files(sources)

    def source_description(self) -> str:
        return f"{len(self.files)} file(s)"

    def plan(self, run: StageRun) -> None:
        summary, files = run.summary, self.files
        tasks = source_tasks(files, self.config.ingest.piece_bytes)
        pieces = f" in {len(tasks)} pieces" if len(tasks) > len(files) else ""
        with run.step(f"parsing {len(files)} file(s){pieces}"):
            parsed_lines = parse_sources(run.spark, tasks, self.config, run.python_partitions(len(tasks)))
            staged = run.stage(parsed_lines, "ingest")
        generating = staged.where(needs_generated_inputs()).count()
        if generating:
            with run.step(f"running the input generators of {generating} program(s) in the sandbox"):
                generated = staged.mapInPandas(partial(fill_generated_inputs, stage=self), staged.schema)
                staged = run.stage(generated, "ingest_generated")
        programs = staged.where(F.col("outcome") == "program")
        unique_programs = first_per_program(programs).select(*BRONZE_SOURCES.schema.names)
        rejects = staged.where(F.col("outcome") == "reject").select(
            "reject_id",
            "source_kind",
            "source_file",
            "source_line",
            F.col("reject_reason").alias("reason"),
            F.col("reject_detail").alias("detail"),
            "raw_record",
        )
        # one outcome per line: a program, its reject reason, or blank (the gate's reject rates)
        outcome = F.when(F.col("outcome") == "reject", F.col("reject_reason")).otherwise(F.col("outcome"))
        summary.counts.update(files=len(files), tasks=len(tasks))
        with run.step("staging new programs and rejects"):
            batch = run.write(
                [(BRONZE_SOURCES, unique_programs), (INGEST_REJECTS, rejects)],
                staged.select(outcome.alias("outcome")),
            )
        parsed, written = summary.counts["programs_parsed"], batch.rows(BRONZE_SOURCES)
        summary.counts["duplicates_in_batch"] = parsed - unique_programs.count()
        summary.counts["rejects_new"] = batch.rows(INGEST_REJECTS)
        summary.counts["already_present"] = parsed - summary.counts["duplicates_in_batch"] - written
        summary.counts["programs_new"] = written
        summary.mix = run.mix(batch.staged(BRONZE_SOURCES))
        with run.step("quality gate, then publishing bronze/sources, bronze/ingest_rejects"):
            run.publish(batch)
