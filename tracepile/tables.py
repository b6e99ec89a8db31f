"""Every lakehouse table, declared once: where it lives, its schema, its key.

A table is ``<root>/<layer>/<name>`` under a path or URI root, or
``<catalog>.<schema>.<layer>_<name>`` under a ``catalog:`` root. Writes are checked
against these schemas (see ``Lakehouse.conform``) before they reach storage.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


@dataclass(frozen=True)
class TableSpec:
    layer: str
    name: str
    key: str | tuple[str, ...]
    schema: StructType
    description: str

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}/{self.name}"

    @property
    def key_columns(self) -> list[str]:
        return [self.key] if isinstance(self.key, str) else list(self.key)


def _text(name: str, nullable: bool = True) -> StructField:
    return StructField(name, StringType(), nullable)


# Nested fields stay nullable: Sail cannot cast into non-null struct elements, and the
# quality gates check nested values anyway.
INPUT_TYPE = StructType([_text("input_json"), _text("expected_output_json")])

BRONZE_SOURCES = TableSpec(
    layer="bronze",
    name="sources",
    key="program_id",
    description="ingested programs, normalised, one row per distinct content",
    schema=StructType(
        [
            _text("program_id", False),
            _text("source_kind", False),
            _text("source", False),
            _text("domain", False),
            _text("category", False),
            _text("problem", False),
            _text("io_requirements", False),
            _text("code", False),
            _text("entry_point", False),
            StructField("inputs", ArrayType(INPUT_TYPE), False),
            _text("meta_json"),
            _text("source_file", False),
            StructField("source_line", LongType(), False),
        ]
    ),
)

INGEST_REJECTS = TableSpec(
    layer="bronze",
    name="ingest_rejects",
    key="reject_id",
    description="source lines that did not parse into a program, with the reason and raw text",
    schema=StructType(
        [
            _text("reject_id", False),
            _text("source_kind", False),
            _text("source_file", False),
            StructField("source_line", LongType(), False),
            _text("reason", False),
            _text("detail", False),
            _text("raw_record", False),
        ]
    ),
)

SILVER_PROGRAMS = TableSpec(
    layer="silver",
    name="programs",
    key="program_id",
    description="programs that passed the static filters, decontamination and dedup",
    schema=StructType(
        [
            *BRONZE_SOURCES.schema.fields,
            StructField("input_too_large", LongType(), False),
            StructField("input_duplicate", LongType(), False),
            StructField("input_over_limit", LongType(), False),
            _text("exact_key", False),
            _text("run_id", False),
        ]
    ),
)

SILVER_REJECTS = TableSpec(
    layer="silver",
    name="rejects",
    key=("program_id", "stage"),
    description="every program a silver stage dropped, with the reason",
    schema=StructType(
        [
            _text("program_id", False),
            _text("stage", False),
            _text("reason", False),
            _text("detail", False),
            _text("run_id", False),
        ]
    ),
)

SILVER_SIGNATURES = TableSpec(
    layer="silver",
    name="signatures",
    key="program_id",
    description="exact keys, MinHash signatures and LSH band keys of silver/programs",
    schema=StructType(
        [
            _text("program_id", False),
            _text("exact_key", False),
            StructField("band_keys", ArrayType(LongType()), False),
            StructField("signature", BinaryType(), False),
            _text("run_id", False),
        ]
    ),
)

SILVER_EXECUTIONS = TableSpec(
    layer="silver",
    name="executions",
    key="execution_id",
    description="one sandboxed, traced run per program and input: status, value, trace, steps",
    schema=StructType(
        [
            _text("execution_id", False),
            _text("program_id", False),
            StructField("input_index", LongType(), False),
            _text("input_json", False),
            _text("expected_output_json"),
            _text("status", False),
            _text("return_json"),
            _text("stdout", False),
            _text("error"),
            StructField("cpu_s", DoubleType(), False),
            StructField("wall_s", DoubleType(), False),
            _text("trace_text"),
            _text("steps_json"),
            StructField("trace_lines", LongType(), False),
            _text("run_id", False),
        ]
    ),
)

RUNS = TableSpec(
    layer="meta",
    name="runs",
    key="run_id",
    description="one row per tracepile command run: status, timings, config, report",
    schema=StructType(
        [
            _text("run_id", False),
            _text("command", False),
            _text("status", False),
            StructField("started_at", TimestampType(), False),
            StructField("finished_at", TimestampType(), False),
            _text("engine", False),
            _text("config_toml", False),
            _text("report_json", False),
        ]
    ),
)

ALL_TABLES: tuple[TableSpec, ...] = (
    BRONZE_SOURCES,
    INGEST_REJECTS,
    SILVER_PROGRAMS,
    SILVER_SIGNATURES,
    SILVER_REJECTS,
    SILVER_EXECUTIONS,
    RUNS,
)
