"""What every gated table must satisfy, written as great-expectations 1.x expectations.

Each table has a suite: not-null, unique keys, value sets, ranges, and references to its
parent table. (Its schema is compared with the declaration in ``gate.schema_result``,
nested types included, which GX's type expectations cannot express.) Checks that need
more than a column (sizes, references) run on derived columns the gate adds to the batch
first (``TableRules.derived`` and ``Reference.flag``). Each stage also has batch-level
rates over its outcomes (one outcome per input record: kept, or the reason it was
dropped), e.g. the share of ok trace runs.

Every expectation carries ``meta = {"check": <name people read>, "severity": ...}``:
``block`` stops the batch in ``--gate fail`` mode; ``warn`` is recorded only. Delta CHECK
constraints (``TableSpec.constraints``) are the third, ``hard``, kind: see ``gate.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracepile import preload
from tracepile.config import TracepileConfig
from tracepile.tables import (
    BRONZE_SOURCES,
    GOLD_COE,
    GOLD_INPUT_PREDICTION_REJECTS,
    GOLD_INPUT_PREDICTIONS,
    GOLD_QUESTION_REJECTS,
    GOLD_QUESTIONS,
    GOLD_REJECTS,
    INGEST_REJECTS,
    SILVER_EXECUTIONS,
    SILVER_PROGRAMS,
    SILVER_REJECTS,
    SILVER_REWRITE_REJECTS,
    SILVER_SIGNATURES,
    TableSpec,
)
from tracepile.vocab import (
    GENERATE_REJECT_REASONS,
    INPUT_PREDICTION_REJECT_REASONS,
    SCRIPT_ENTRY,
    Backend,
    DedupReason,
    Domain,
    GenerateOutcome,
    IngestReason,
    QuestionKind,
    RewriteDrop,
    RunMode,
    Severity,
    SourceKind,
    Status,
)

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

HEX_ID = r"^[0-9a-f]{32}$"


def expect(name: str, kind: str, severity: str = Severity.BLOCK, **kwargs: Any) -> Expectation:
    """The great-expectations expectation class ``kind`` (e.g. ``ExpectColumnValuesToBeUnique``),
    named for people and marked with its severity."""
    preload.finished()
    import great_expectations as gx

    return getattr(gx.expectations, kind)(**kwargs, meta={"check": name, "severity": severity})


@dataclass(frozen=True)
class Reference:
    """Every value of ``column`` must be a key of ``parent`` (published, or in the same batch)."""

    column: str
    parent: TableSpec

    @property
    def flag(self) -> str:
        return f"{self.column}_in_{self.parent.layer}_{self.parent.name}"


@dataclass(frozen=True)
class TableRules:
    spec: TableSpec
    expectations: Callable[[TracepileConfig], list[Expectation]]
    derived: dict[str, str] = field(default_factory=dict)  # column -> Spark SQL expression
    references: tuple[Reference, ...] = ()


def _not_null_and_keys(spec: TableSpec) -> list[Expectation]:
    checks = [
        expect(f"{f.name} is not null", "ExpectColumnValuesToNotBeNull", column=f.name)
        for f in spec.schema
        if not f.nullable
    ]
    keys = spec.key_columns
    if len(keys) == 1:
        checks.append(expect(f"{keys[0]} is unique", "ExpectColumnValuesToBeUnique", column=keys[0]))
    else:
        checks.append(
            expect(f"({', '.join(keys)}) is unique", "ExpectCompoundColumnsToBeUnique", column_list=keys)
        )
    return checks


def _ids(*columns: str) -> list[Expectation]:
    return [
        expect(f"{column} is 32 hex digits", "ExpectColumnValuesToMatchRegex", column=column, regex=HEX_ID)
        for column in columns
    ]


def _references(references: Iterable[Reference]) -> list[Expectation]:
    return [
        expect(
            f"every {ref.column} is in {ref.parent.qualified_name}",
            "ExpectColumnValuesToBeInSet",
            column=ref.flag,
            value_set=[True],
        )
        for ref in references
    ]


def _known_reason(reasons: Iterable[str]) -> Expectation:
    return expect(
        "reason is a known reason", "ExpectColumnValuesToBeInSet", column="reason", value_set=list(reasons)
    )


def _known_domain() -> Expectation:
    return expect(
        "domain is a known domain", "ExpectColumnValuesToBeInSet", column="domain", value_set=list(Domain)
    )


def _program_content(config: TracepileConfig, max_code_bytes: int) -> list[Expectation]:
    return [
        expect("source_kind is a known kind", "ExpectColumnValuesToBeInSet", column="source_kind",
               value_set=list(SourceKind)),
        _known_domain(),
        expect(f"code is 1..{max_code_bytes:,} bytes", "ExpectColumnValuesToBeBetween", column="code_bytes",
               min_value=1, max_value=max_code_bytes),
        expect(f"entry_point is an identifier or {SCRIPT_ENTRY}", "ExpectColumnValuesToMatchRegex",
               column="entry_point", regex=rf"^([A-Za-z_][A-Za-z0-9_]*|{re.escape(SCRIPT_ENTRY)})$"),
        expect("run_mode is a known run mode", "ExpectColumnValuesToBeInSet", column="run_mode",
               value_set=list(RunMode)),
    ]  # fmt: skip


_PROGRAM_SIZES = {"code_bytes": "octet_length(code)", "n_inputs": "size(inputs)"}


def _sources(config: TracepileConfig) -> list[Expectation]:
    return [
        *_not_null_and_keys(BRONZE_SOURCES),
        *_ids("program_id"),
        *_program_content(config, config.ingest.max_record_bytes),
        expect("source_line >= 1", "ExpectColumnValuesToBeBetween", column="source_line", min_value=1),
    ]


def _ingest_rejects(config: TracepileConfig) -> list[Expectation]:
    return [
        *_not_null_and_keys(INGEST_REJECTS),
        *_ids("reject_id"),
        _known_reason(IngestReason),
        expect(f"raw_record is at most {config.ingest.reject_raw_chars:,} characters",
               "ExpectColumnValueLengthsToBeBetween", column="raw_record", min_value=0,
               max_value=config.ingest.reject_raw_chars),
    ]  # fmt: skip


_PROGRAM_REFERENCE = Reference("program_id", BRONZE_SOURCES)


# a rewrite is not in bronze: its original is
_ORIGIN_REFERENCE = Reference("origin_id", BRONZE_SOURCES)


def _programs(config: TracepileConfig) -> list[Expectation]:
    filters = config.filters
    return [
        *_not_null_and_keys(SILVER_PROGRAMS),
        *_ids("program_id", "exact_key"),
        *_program_content(config, filters.max_code_bytes),
        expect(f"{filters.min_inputs}..{filters.max_inputs} inputs per program",
               "ExpectColumnValuesToBeBetween", column="n_inputs",
               min_value=filters.min_inputs, max_value=filters.max_inputs),
        expect("a rewrite names its kind", "ExpectColumnValuesToBeInSet", column="rewrite_named",
               value_set=[True]),
        *_references([_ORIGIN_REFERENCE]),
    ]  # fmt: skip


_SIGNATURE_REFERENCE = Reference("program_id", SILVER_PROGRAMS)


def _signatures(config: TracepileConfig) -> list[Expectation]:
    bands = config.dedup.bands
    return [
        *_not_null_and_keys(SILVER_SIGNATURES),
        *_ids("program_id", "exact_key"),
        expect(f"{bands} band keys per program", "ExpectColumnValuesToBeBetween", column="n_band_keys",
               min_value=bands, max_value=bands),
        *_references([_SIGNATURE_REFERENCE]),
    ]  # fmt: skip


def _rejects(config: TracepileConfig) -> list[Expectation]:
    return [
        *_not_null_and_keys(SILVER_REJECTS),
        *_ids("program_id"),
        expect("stage is dedup or trace", "ExpectColumnValuesToBeInSet", column="stage",
               value_set=["dedup", "trace"]),
        _known_reason(DedupReason),
        *_references([_PROGRAM_REFERENCE]),
    ]  # fmt: skip


def _rewrite_rejects(config: TracepileConfig) -> list[Expectation]:
    return [
        *_not_null_and_keys(SILVER_REWRITE_REJECTS),
        *_ids("rewrite_id", "rewrite_of"),
        _known_reason(RewriteDrop),
        *_references([_REWRITTEN_REFERENCE]),
    ]


_REWRITTEN_REFERENCE = Reference("rewrite_of", SILVER_PROGRAMS)
_EXECUTION_REFERENCE = Reference("program_id", SILVER_PROGRAMS)


def _executions(config: TracepileConfig) -> list[Expectation]:
    trace = config.trace
    # one run's CPU can pass the limit by the kernel's tick before SIGXCPU; wall by the kill grace
    max_cpu = int(trace.cpu_seconds + 0.999) + 2
    max_wall = trace.wall_seconds + 5
    return [
        *_not_null_and_keys(SILVER_EXECUTIONS),
        *_ids("execution_id", "program_id"),
        expect("status is a known status", "ExpectColumnValuesToBeInSet", column="status",
               value_set=list(Status)),
        expect(f"trace_lines is 0..{trace.trace_lines}", "ExpectColumnValuesToBeBetween",
               column="trace_lines", min_value=0, max_value=trace.trace_lines),
        expect(f"cpu_s is 0..{max_cpu}", "ExpectColumnValuesToBeBetween", column="cpu_s",
               min_value=0, max_value=max_cpu),
        expect(f"wall_s is 0..{max_wall:g}", "ExpectColumnValuesToBeBetween", column="wall_s",
               min_value=0, max_value=max_wall),
        expect("input_index >= 0", "ExpectColumnValuesToBeBetween", column="input_index", min_value=0),
        *_references([_EXECUTION_REFERENCE]),
    ]  # fmt: skip


_COE_REFERENCE = Reference("execution_id", SILVER_EXECUTIONS)


def _generation_key(spec: TableSpec) -> list[Expectation]:
    return [
        *_not_null_and_keys(spec),
        *_ids("coe_id", "execution_id", "program_id", "prompt_hash"),
        expect(
            "backend is a known backend",
            "ExpectColumnValuesToBeInSet",
            column="backend",
            value_set=list(Backend),
        ),
        *_references([_COE_REFERENCE]),
    ]


def _coe(config: TracepileConfig) -> list[Expectation]:
    return [
        *_generation_key(GOLD_COE),
        _known_domain(),
        expect("response has a final answer line", "ExpectColumnValuesToMatchRegex", column="response",
               regex=r"(?im)^\W*final answer:"),
        expect("claims_checked >= 0", "ExpectColumnValuesToBeBetween", column="claims_checked", min_value=0),
        expect(f"prompt_tokens <= {config.generate.max_prompt_tokens}", "ExpectColumnValuesToBeBetween",
               column="prompt_tokens", min_value=1, max_value=config.generate.max_prompt_tokens),
    ]  # fmt: skip


def _coe_rejects(config: TracepileConfig) -> list[Expectation]:
    return [
        *_generation_key(GOLD_REJECTS),
        _known_reason(GENERATE_REJECT_REASONS),
    ]  # fmt: skip


def _question_key(spec: TableSpec) -> list[Expectation]:
    return [
        *_not_null_and_keys(spec),
        *_ids("question_id", "execution_id", "program_id"),
        expect("kind is a known question kind", "ExpectColumnValuesToBeInSet", column="kind",
               value_set=list(QuestionKind)),
        expect("backend is a known backend", "ExpectColumnValuesToBeInSet", column="backend",
               value_set=list(Backend)),
        *_references([_COE_REFERENCE]),
    ]  # fmt: skip


def _questions(config: TracepileConfig) -> list[Expectation]:
    return [
        *_question_key(GOLD_QUESTIONS),
        expect("response has a final answer line", "ExpectColumnValuesToMatchRegex", column="response",
               regex=r"(?im)^\W*final answer:"),
        expect("line >= 1", "ExpectColumnValuesToBeBetween", column="line", min_value=1),
        expect("occurrence >= 1", "ExpectColumnValuesToBeBetween", column="occurrence", min_value=1),
    ]  # fmt: skip


def _question_rejects(config: TracepileConfig) -> list[Expectation]:
    return [*_question_key(GOLD_QUESTION_REJECTS), _known_reason(GENERATE_REJECT_REASONS)]


def _prediction_key(spec: TableSpec) -> list[Expectation]:
    return [
        *_not_null_and_keys(spec),
        *_ids("prediction_id", "execution_id", "program_id", "prompt_hash"),
        expect("backend is a known backend", "ExpectColumnValuesToBeInSet", column="backend",
               value_set=list(Backend)),
        *_references([_COE_REFERENCE]),
    ]  # fmt: skip


def _input_predictions(config: TracepileConfig) -> list[Expectation]:
    return [
        *_prediction_key(GOLD_INPUT_PREDICTIONS),
        _known_domain(),
        expect("response has a final answer line", "ExpectColumnValuesToMatchRegex", column="response",
               regex=r"(?im)^\W*final answer:"),
        expect("(execution_id, backend, model) is unique", "ExpectCompoundColumnsToBeUnique",
               column_list=["execution_id", "backend", "model"]),
    ]  # fmt: skip


def _input_prediction_rejects(config: TracepileConfig) -> list[Expectation]:
    return [*_prediction_key(GOLD_INPUT_PREDICTION_REJECTS), _known_reason(INPUT_PREDICTION_REJECT_REASONS)]


def export_expectations() -> list[Expectation]:
    """The rows about to be written as training files (``jobs/export_stage.py``)."""
    columns = (
        "sample_id",
        "kind",
        "prompt",
        "response",
        "program_id",
        "execution_id",
        "input",
        "output",
        "source",
        "domain",
    )
    return [
        *(expect(f"{c} is not null", "ExpectColumnValuesToNotBeNull", column=c) for c in columns),
        expect("sample_id is unique", "ExpectColumnValuesToBeUnique", column="sample_id"),
        expect("texts are unique", "ExpectColumnValuesToBeUnique", column="text_key"),
        expect("split is train or validation", "ExpectColumnValuesToBeInSet", column="split",
               value_set=["train", "validation"]),
        _known_domain(),
    ]  # fmt: skip


TABLE_RULES: dict[str, TableRules] = {
    rules.spec.qualified_name: rules
    for rules in (
        TableRules(BRONZE_SOURCES, _sources, derived=_PROGRAM_SIZES),
        TableRules(INGEST_REJECTS, _ingest_rejects),
        TableRules(
            SILVER_PROGRAMS,
            _programs,
            derived={
                **_PROGRAM_SIZES,
                "origin_id": "coalesce(rewrite_of, program_id)",
                "rewrite_named": "(rewrite_of IS NULL) = (rewrite_kind IS NULL)",
            },
            references=(_ORIGIN_REFERENCE,),
        ),
        TableRules(
            SILVER_SIGNATURES,
            _signatures,
            derived={"n_band_keys": "size(band_keys)"},
            references=(_SIGNATURE_REFERENCE,),
        ),
        TableRules(SILVER_REJECTS, _rejects, references=(_PROGRAM_REFERENCE,)),
        TableRules(SILVER_REWRITE_REJECTS, _rewrite_rejects, references=(_REWRITTEN_REFERENCE,)),
        TableRules(SILVER_EXECUTIONS, _executions, references=(_EXECUTION_REFERENCE,)),
        TableRules(GOLD_COE, _coe, references=(_COE_REFERENCE,)),
        TableRules(GOLD_REJECTS, _coe_rejects, references=(_COE_REFERENCE,)),
        TableRules(GOLD_QUESTIONS, _questions, references=(_COE_REFERENCE,)),
        TableRules(GOLD_QUESTION_REJECTS, _question_rejects, references=(_COE_REFERENCE,)),
        TableRules(GOLD_INPUT_PREDICTIONS, _input_predictions, references=(_COE_REFERENCE,)),
        TableRules(GOLD_INPUT_PREDICTION_REJECTS, _input_prediction_rejects, references=(_COE_REFERENCE,)),
    )
}


def rules_for(spec: TableSpec) -> TableRules:
    """The table's rules: its suite above, or, for a table declared without one, the checks its
    declaration implies (not-null columns, a unique key)."""
    return TABLE_RULES.get(spec.qualified_name) or TableRules(spec, lambda _: _not_null_and_keys(spec))


@dataclass(frozen=True)
class RateRule:
    """Batch-level rates over a stage's outcomes (a column ``outcome``: ``kept`` or a reason)."""

    stage: str
    kept: str
    min_kept_rate: Callable[[TracepileConfig], float | None]
    limit_reasons: bool  # whether each reason's share is capped (gate.max_reject_rate)

    def expectations(self, config: TracepileConfig, reasons: Iterable[str], rows: int) -> list[Expectation]:
        """Rate checks for a batch of ``rows`` outcomes whose reasons are ``reasons``. Below
        ``gate.rate_min_rows`` they only warn: a share of three rows says little."""
        gate = config.gate
        severity = Severity.BLOCK if rows >= gate.rate_min_rows else Severity.WARN
        checks = []
        min_rate = self.min_kept_rate(config)
        if min_rate is not None:
            checks.append(
                expect(f"{self.kept} rate >= {min_rate:.0%}", "ExpectColumnValuesToBeInSet", severity,
                       column="outcome", value_set=[self.kept], mostly=min_rate)
            )  # fmt: skip
        if self.limit_reasons:
            for reason in sorted(set(reasons) - {self.kept}):
                limit = gate.reject_rate_limits.get(reason, gate.max_reject_rate)
                if limit < 1:
                    checks.append(
                        expect(f"{reason} rate <= {limit:.0%}", "ExpectColumnValuesToNotBeInSet", severity,
                               column="outcome", value_set=[reason], mostly=1 - limit)
                    )  # fmt: skip
        return checks


STAGE_RATES: dict[str, RateRule] = {
    rule.stage: rule
    for rule in (
        RateRule("ingest", kept="program", min_kept_rate=lambda _: None, limit_reasons=True),
        RateRule("dedup", kept="kept", min_kept_rate=lambda _: None, limit_reasons=True),
        RateRule("trace", kept=Status.OK, min_kept_rate=lambda c: c.gate.min_ok_rate, limit_reasons=False),
        RateRule(
            "generate",
            kept=GenerateOutcome.VERIFIED,
            min_kept_rate=lambda c: c.gate.min_verified_rate,
            limit_reasons=False,
        ),
    )
}
