"""Every lakehouse table, declared once: where it lives, its schema, its key.

A table is ``<root>/<layer>/<name>`` under a path or URI root, or
``<catalog>.<schema>.<layer>_<name>`` under a ``catalog:`` root. Writes are checked
against these schemas (see ``Lakehouse.conform``) before they reach storage.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.pandas.types import to_arrow_type
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from tracepile.vocab import DUPLICATE_REASONS, RunMode, Status, sql_in


@dataclass(frozen=True)
class TableSpec:
    layer: str
    name: str
    key: str | tuple[str, ...]
    schema: StructType
    description: str
    # Delta CHECK constraints (name, SQL): hard invariants the writer itself enforces. Kept to
    # comparisons and boolean logic, which delta-rs, Sail and Delta on Spark all accept.
    constraints: tuple[tuple[str, str], ...] = ()
    # (column, SQL) giving a column added after the table's first version its value in rows
    # written before it (``migrations.py``); a new column not named here is NULL there.
    backfills: tuple[tuple[str, str], ...] = ()

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
INPUTS_ARROW_TYPE = to_arrow_type(ArrayType(INPUT_TYPE))  # the same, for Arrow UDFs

BRONZE_SOURCES = TableSpec(
    layer="bronze",
    name="sources",
    key="program_id",
    description="ingested programs, normalised, one row per distinct content",
    constraints=(
        ("code_not_empty", "code <> ''"),
        ("source_line_positive", "source_line >= 1"),
        ("run_mode_known", sql_in("run_mode", RunMode)),
    ),
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
            _text("run_mode", False),  # vocab.RunMode: how the program runs, what its result is
            StructField("inputs", ArrayType(INPUT_TYPE), False),
            _text("meta_json"),
            _text("source_file", False),
            StructField("source_line", LongType(), False),
        ]
    ),
    backfills=(("run_mode", f"'{RunMode.CALL}'"),),  # every program was a function call before
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
    constraints=(("code_not_empty", "code <> ''"), ("run_mode_known", sql_in("run_mode", RunMode))),
    schema=StructType(
        [
            *BRONZE_SOURCES.schema.fields,
            StructField("input_too_large", LongType(), False),
            StructField("input_duplicate", LongType(), False),
            StructField("input_over_limit", LongType(), False),
            _text("exact_key", False),
            _text("run_id", False),
            # a verified rewrite (jobs/rewrite_stage.py): the program it rewrites, and how
            _text("rewrite_of"),
            _text("rewrite_kind"),
        ]
    ),
    backfills=BRONZE_SOURCES.backfills,
)

SILVER_REWRITE_REJECTS = TableSpec(
    layer="silver",
    name="rewrite_rejects",
    key="rewrite_id",
    description="rewrites of programs that differential execution dropped, with the differing input",
    constraints=(("reason_not_empty", "reason <> ''"),),
    schema=StructType(
        [
            _text("rewrite_id", False),  # the content id the rewrite would have had as a program
            _text("rewrite_of", False),
            _text("rewrite_kind", False),
            _text("reason", False),
            _text("detail", False),
            _text("code", False),
            _text("run_id", False),
        ]
    ),
)

SILVER_REJECTS = TableSpec(
    layer="silver",
    name="rejects",
    key=("program_id", "stage"),
    description="every program a silver stage dropped, with the reason (and a duplicate's keeper)",
    constraints=(
        ("reason_not_empty", "reason <> ''"),
        ("duplicate_has_keeper", f"NOT {sql_in('reason', DUPLICATE_REASONS)} OR keeper_id IS NOT NULL"),
    ),
    schema=StructType(
        [
            _text("program_id", False),
            _text("stage", False),
            _text("reason", False),
            _text("detail", False),
            _text("run_id", False),
            _text("keeper_id"),  # the program kept in a duplicate's place; null for other reasons
        ]
    ),
    # Before keeper_id was a column, a duplicate's detail named its keeper
    # ("same normalised code as <id>", "near-duplicate of <id> (...)").
    backfills=(
        ("keeper_id", "NULLIF(regexp_extract(detail, '(?:code as|duplicate of) ([0-9a-f]{32})', 1), '')"),
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
            # analysis/normalize.KEY_VERSION the keys were computed under; older keys are
            # recomputed by the next dedup run before any comparison
            StructField("key_version", LongType(), False),
        ]
    ),
    backfills=(("key_version", "1"),),  # keys from before the version was recorded
)

SILVER_EXECUTIONS = TableSpec(
    layer="silver",
    name="executions",
    key="execution_id",
    description="one sandboxed, traced run per program and input: status, value, trace, steps",
    constraints=(
        ("status_known", sql_in("status", Status)),
        ("ok_has_return_value", "status <> 'ok' OR return_json IS NOT NULL"),
        ("times_not_negative", "cpu_s >= 0 AND wall_s >= 0"),
        ("counts_not_negative", "input_index >= 0 AND trace_lines >= 0"),
    ),
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
            # the run under the other hash seed took the same steps (questions about it have one
            # answer); null where not known (not ok, or traced before this column)
            StructField("steps_seed_stable", BooleanType(), True),
            _text("run_id", False),
        ]
    ),
)

_GENERATION_KEY = [
    _text("coe_id", False),
    _text("execution_id", False),
    _text("program_id", False),
    _text("backend", False),
    _text("model", False),
    _text("prompt_hash", False),
]

GOLD_COE = TableSpec(
    layer="gold",
    name="coe",
    key="coe_id",
    description="verified Chain-of-Execution samples: training prompt, response, execution metadata",
    schema=StructType(
        [
            *_GENERATION_KEY,
            _text("prompt", False),
            _text("response", False),
            _text("input_json", False),
            _text("output_json", False),
            _text("source", False),
            _text("domain", False),
            _text("run_mode", False),  # how the program ran: output_json is a return value or printed text
            StructField("claims_checked", LongType(), False),
            StructField("prompt_tokens", LongType()),
            StructField("completion_tokens", LongType()),
            _text("run_id", False),
        ]
    ),
    constraints=(("response_not_empty", "response <> ''"),),
    backfills=BRONZE_SOURCES.backfills,
)

GOLD_REJECTS = TableSpec(
    layer="gold",
    name="coe_rejects",
    key="coe_id",
    description="generations that failed cleaning or verification, with the reason and the text",
    schema=StructType(
        [
            *_GENERATION_KEY,
            _text("reason", False),
            _text("detail", False),
            _text("response"),
            _text("run_id", False),
        ]
    ),
    constraints=(("reason_not_empty", "reason <> ''"),),
)

_QUESTION_KEY = [
    _text("question_id", False),
    _text("execution_id", False),
    _text("program_id", False),
    _text("kind", False),
    _text("backend", False),
    _text("model", False),
]

GOLD_QUESTIONS = TableSpec(
    layer="gold",
    name="questions",
    key=("question_id", "backend", "model"),
    description="verified variable-tracing questions: question, answer from the trace, reasoning text",
    constraints=(("response_not_empty", "response <> ''"), ("line_positive", "line IS NULL OR line >= 1")),
    schema=StructType(
        [
            *_QUESTION_KEY,
            _text("question", False),
            _text("answer_json", False),
            _text("variable"),
            StructField("line", LongType()),
            StructField("occurrence", LongType()),
            _text("given_json"),  # first_line_with_value: the value asked about
            _text("prompt", False),
            _text("response", False),
            _text("run_id", False),
        ]
    ),
)

GOLD_QUESTION_REJECTS = TableSpec(
    layer="gold",
    name="question_rejects",
    key=("question_id", "backend", "model"),
    description="answers to questions that failed verification, with the reason and the text",
    constraints=(("reason_not_empty", "reason <> ''"),),
    schema=StructType(
        [
            *_QUESTION_KEY,
            _text("reason", False),
            _text("detail", False),
            _text("response"),
            _text("run_id", False),
        ]
    ),
)

_PREDICTION_KEY = [
    _text("prediction_id", False),
    _text("execution_id", False),
    _text("program_id", False),
    _text("backend", False),
    _text("model", False),
    _text("prompt_hash", False),
]

GOLD_INPUT_PREDICTIONS = TableSpec(
    layer="gold",
    name="input_predictions",
    key="prediction_id",
    description="verified input predictions: code and an output, an input the sandbox confirms gives it",
    constraints=(("response_not_empty", "response <> ''"),),
    schema=StructType(
        [
            *_PREDICTION_KEY,
            _text("prompt", False),
            _text("response", False),
            _text("input_json", False),  # the predicted input (keyword arguments), typed JSON
            _text("output_json", False),  # the output shown in the prompt: the recorded return value
            _text("recorded_input_json", False),  # the execution's own input (one answer of many)
            _text("source", False),
            _text("domain", False),
            StructField("prompt_tokens", LongType()),  # of the messages the backend is sent
            StructField("completion_tokens", LongType()),
            _text("run_id", False),
        ]
    ),
)

GOLD_INPUT_PREDICTION_REJECTS = TableSpec(
    layer="gold",
    name="input_prediction_rejects",
    key="prediction_id",
    description="input predictions that did not give the output when run, or had no input, with the reason",
    constraints=(("reason_not_empty", "reason <> ''"),),
    schema=StructType(
        [
            *_PREDICTION_KEY,
            _text("reason", False),
            _text("detail", False),
            _text("response"),
            _text("input_json"),  # the predicted input where one was read
            _text("output_json"),  # the output shown in the prompt
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

VALIDATIONS = TableSpec(
    layer="meta",
    name="validations",
    key=("run_id", "stage", "table_name", "check_name", "checked_at"),  # one row per check per gate decision
    description="every quality-gate check of every run: expectation, result, decision",
    schema=StructType(
        [
            _text("run_id", False),
            _text("stage", False),
            _text("table_name", False),
            _text("check_name", False),
            _text("expectation", False),
            _text("column_name"),
            _text("kwargs_json", False),
            _text("severity", False),
            StructField("success", BooleanType(), False),
            StructField("element_count", LongType()),
            StructField("unexpected_count", LongType()),
            StructField("unexpected_percent", DoubleType()),
            _text("observed_json"),
            _text("examples_json"),
            _text("decision", False),
            _text("gate_mode", False),
            StructField("checked_at", TimestampType(), False),
        ]
    ),
)

MIGRATIONS = TableSpec(
    layer="meta",
    name="migrations",
    key=("table_name", "column_name"),
    description="columns added to tables written by an earlier version, and by which run",
    schema=StructType(
        [
            _text("table_name", False),
            _text("column_name", False),
            _text("column_type", False),
            _text("backfill", False),
            StructField("rows", LongType(), False),
            _text("run_id", False),
            StructField("applied_at", TimestampType(), False),
        ]
    ),
)

# Tables written through the quality gate (write-audit-publish), in data-flow order.
GATED_TABLES: tuple[TableSpec, ...] = (
    BRONZE_SOURCES,
    INGEST_REJECTS,
    SILVER_PROGRAMS,
    SILVER_SIGNATURES,
    SILVER_REJECTS,
    SILVER_REWRITE_REJECTS,
    SILVER_EXECUTIONS,
    GOLD_COE,
    GOLD_REJECTS,
    GOLD_QUESTIONS,
    GOLD_QUESTION_REJECTS,
    GOLD_INPUT_PREDICTIONS,
    GOLD_INPUT_PREDICTION_REJECTS,
)

QUARANTINE_RUN_ID = "quarantine_run_id"


def quarantine_spec(spec: TableSpec) -> TableSpec:
    """``quarantine/<layer>_<name>``: blocked batches of ``spec``, every column nullable (the
    rows failed the gate, so they may break the published table's invariants), keyed by run."""
    fields = [StructField(f.name, f.dataType, True) for f in spec.schema]
    return TableSpec(
        layer="quarantine",
        name=f"{spec.layer}_{spec.name}",
        key=(QUARANTINE_RUN_ID, *spec.key_columns),
        description=f"batches of {spec.qualified_name} the quality gate blocked, by run",
        schema=StructType([*fields, _text(QUARANTINE_RUN_ID, False)]),
    )


def gated_table(qualified_name: str) -> TableSpec:
    """The gated table named ``layer/name``; ValueError listing the choices otherwise."""
    for spec in GATED_TABLES:
        if spec.qualified_name == qualified_name:
            return spec
    choices = ", ".join(spec.qualified_name for spec in GATED_TABLES)
    raise ValueError(f"no gated table {qualified_name!r}; choose one of: {choices}")


ALL_TABLES: tuple[TableSpec, ...] = (*GATED_TABLES, RUNS, VALIDATIONS, MIGRATIONS)
