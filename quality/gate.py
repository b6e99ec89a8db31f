"""Write-audit-publish: no batch reaches a published table before it passes its gate.

The runner (``tracepile/runner.py``) hands each batch a stage plans to ``stage_batch``
(write: the rows new to each table are materialised under ``_staging/<run_id>``), then to
``publish``:

1. audit every staged table: its great-expectations suite (``suites.py``) on the rows plus
   derived columns (sizes, references to parent tables), its Delta CHECK constraints
   evaluated on the rows, and the stage's batch-level rates over its outcomes;
2. record every check in ``meta/validations`` and render the run's gate report;
3. publish: one append (one Delta commit) per table, in the order the stage gave; or, when
   a check blocks, append the batch to ``quarantine/<layer>_<name>`` under the run id, leave
   every published table as it was, and raise ``GateBlocked`` naming the failed checks.

Severities: ``block`` checks stop the batch in ``gate.mode = fail`` (the default) and are
recorded as warnings in ``warn``; ``hard`` checks (CHECK constraints) stop it in both
modes, since the Delta writer would refuse the rows anyway. Delta has no multi-table
commit, so a stage's tables publish one after another; stages order them so that a crash
in between is repaired by the next run. ``decide`` is the one decision every gate makes
(batches, export checks, the on-demand ``tracepile gate``): record every check, then stop
or go.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from tracepile.config import TracepileConfig
from tracepile.failures import crash_point
from tracepile.interrupts import deferred
from tracepile.lakehouse import Lakehouse, schema_problems
from tracepile.quality.gate_report import write_gate_report
from tracepile.quality.suites import STAGE_RATES, TableRules, rules_for
from tracepile.quality.validate import CheckResult, run_expectations
from tracepile.summary import StageSummary
from tracepile.tables import QUARANTINE_RUN_ID, SILVER_EXECUTIONS, VALIDATIONS, TableSpec, quarantine_spec
from tracepile.vocab import Decision, GateMode, Severity

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)


class GateBlocked(RuntimeError):
    """A batch failed its quality gate: it is in quarantine and nothing was published.
    ``stage_summaries``: the runner adds the reports of the stages run so far, this one last."""

    def __init__(self, message: str, failures: list[CheckResult]) -> None:
        super().__init__(message)
        self.failures = failures
        self.stage_summaries: list[StageSummary] = []


@dataclass
class Batch:
    """A stage's output between write and publish: staged new rows per table, in publish order."""

    stage: str
    run_id: str
    tables: list[tuple[TableSpec, DataFrame, int]]  # spec, staged rows, row count
    # the rows the stage's rates are over, one per input record (column ``outcome``: kept or a
    # reason), and their counts per outcome, set by the runner, which counts them once
    outcomes: DataFrame | None = None
    outcome_counts: dict[str, int] | None = None

    def staged(self, spec: TableSpec) -> DataFrame | None:
        return next((rows for s, rows, _ in self.tables if s == spec), None)

    def rows(self, spec: TableSpec) -> int:
        return next(count for s, _, count in self.tables if s == spec)


def stage_batch(
    lakehouse: Lakehouse,
    run_id: str,
    stage: str,
    tables: list[tuple[TableSpec, DataFrame]],
) -> Batch:
    """Write: the rows of each DataFrame not yet in its table, materialised once (staging is
    removed with the stage's other staging data)."""
    staged = []
    for spec, df in tables:
        lakehouse.create_if_missing(spec)
        rows = lakehouse.stage(lakehouse.new_rows(spec, df), f"gate_{spec.layer}_{spec.name}", run_id)
        staged.append((spec, rows, rows.count()))
    return Batch(stage, run_id, staged)


def audit_view(lakehouse: Lakehouse, rules: TableRules, rows: DataFrame, batch: Batch | None) -> DataFrame:
    """``rows`` plus the derived columns its suite checks: sizes, and for each reference a
    flag saying whether the parent key exists (published, or staged in the same batch)."""
    view = rows.select("*", *(F.expr(sql).alias(name) for name, sql in rules.derived.items()))
    for ref in rules.references:
        parent_key = f"_{ref.flag}_key"
        sources = [lakehouse.read(ref.parent)] if lakehouse.exists(ref.parent) else []
        staged_parent = batch.staged(ref.parent) if batch is not None else None
        if staged_parent is not None:
            sources.append(staged_parent)
        if not sources:
            view = view.withColumn(ref.flag, F.lit(False))
            continue
        keys = sources[0].select(F.col(ref.parent.key_columns[0]).alias(parent_key))
        for source in sources[1:]:
            keys = keys.unionByName(source.select(F.col(ref.parent.key_columns[0]).alias(parent_key)))
        found = keys.distinct().withColumn("_found", F.lit(True))
        view = view.join(found, F.col(ref.column) == F.col(parent_key), "left").select(
            *view.columns, F.coalesce(F.col("_found"), F.lit(False)).alias(ref.flag)
        )
    return view


def constraint_results(spec: TableSpec, rows: DataFrame, examples: int) -> list[CheckResult]:
    """The table's CHECK constraints evaluated on ``rows`` (a NULL result counts as a violation,
    as Delta's writer counts it), with the keys of a few violating rows."""
    if not spec.constraints:
        return []
    holds = {name: F.coalesce(F.expr(sql), F.lit(False)) for name, sql in spec.constraints}
    counts = rows.select(
        F.count(F.lit(1)).alias("_rows"),
        *(F.sum(F.when(ok, 0).otherwise(1)).alias(name) for name, ok in holds.items()),
    ).collect()[0]
    total = counts["_rows"]
    results = []
    for name, sql in spec.constraints:
        failing = counts[name] or 0
        shown = (
            [
                row.asDict()
                for row in rows.where(~holds[name]).select(*spec.key_columns).limit(examples).collect()
            ]
            if failing and examples
            else []
        )
        results.append(
            CheckResult(
                table=spec.qualified_name,
                check=f"CHECK {name}",
                expectation="delta_check_constraint",
                column=None,
                kwargs={"constraint": sql},
                severity=Severity.HARD,
                success=failing == 0,
                element_count=total,
                unexpected_count=failing,
                unexpected_percent=100.0 * failing / total if total else 0.0,
                examples=shown,
            )
        )
    return results


def schema_result(spec: TableSpec, rows: DataFrame) -> CheckResult:
    problems = schema_problems(spec, rows.schema)
    return CheckResult(
        table=spec.qualified_name,
        check="columns and types are the declared ones",
        expectation="declared_schema",
        column=None,
        kwargs={"columns": spec.schema.names},
        severity=Severity.HARD,
        success=not problems,
        observed=problems or None,
    )


def check_table(
    lakehouse: Lakehouse, config: TracepileConfig, spec: TableSpec, rows: DataFrame, batch: Batch | None
) -> list[CheckResult]:
    """Every check of ``spec``'s gate on ``rows``: schema, suite, CHECK constraints."""
    rules = rules_for(spec)
    schema = schema_result(spec, rows)
    if not schema.success:  # the suite's columns would be missing: report the schema alone
        return [schema]
    view = audit_view(lakehouse, rules, rows, batch)
    suite = run_expectations(
        view, spec.qualified_name, rules.expectations(config), spec.key_columns, config.gate.examples
    )
    return [schema, *suite, *constraint_results(spec, rows, config.gate.examples)]


def check_rates(
    config: TracepileConfig, stage: str, outcomes: DataFrame, counts: dict[str, int] | None = None
) -> list[CheckResult]:
    """The stage's batch-level rates over ``outcomes`` (column ``outcome``; ``counts`` per
    outcome when the caller has them); none for a stage without a rate rule."""
    rule = STAGE_RATES.get(stage)
    if rule is None:
        return []
    if counts is None:
        counts = {row["outcome"]: row["count"] for row in outcomes.groupBy("outcome").count().collect()}
    expectations = rule.expectations(config, counts, sum(counts.values()))
    return run_expectations(outcomes, f"{stage} batch", expectations, [], config.gate.examples)


def blocking(results: list[CheckResult], mode: str) -> list[CheckResult]:
    """The failed checks that stop a batch under ``mode`` (fail | warn)."""
    stopping = {Severity.HARD, Severity.BLOCK} if mode == GateMode.FAIL else {Severity.HARD}
    return [r for r in results if not r.success and r.severity in stopping]


def record_results(
    lakehouse: Lakehouse, config: TracepileConfig, run_id: str, stage: str, results: list[CheckResult],
    decision: str,
) -> None:  # fmt: skip
    """Append the checks to ``meta/validations`` (one commit) and re-render the run's gate report."""
    now = datetime.now(UTC)
    # vocabulary members as their plain strings: classic Spark's JVM cannot unpickle str subclasses
    decision, mode = str(decision), str(config.gate.mode)
    rows = [
        (
            run_id, stage, r.table, r.check, r.expectation, r.column, json.dumps(r.kwargs, sort_keys=True),
            str(r.severity), r.success, r.element_count, r.unexpected_count, r.unexpected_percent,
            None if r.observed is None else json.dumps(r.observed, default=str),
            json.dumps(r.examples, default=str) if r.examples else None,
            decision, mode, now,
        )
        for r in results
    ]  # fmt: skip
    if rows:
        lakehouse.append(VALIDATIONS, lakehouse.spark.createDataFrame(rows, VALIDATIONS.schema))
    write_gate_report(lakehouse, config, run_id)


@dataclass(frozen=True)
class Verdict:
    """What a gate decided about a set of checks, recorded in ``meta/validations``."""

    decision: str
    results: list[CheckResult]
    stopping: list[CheckResult]
    mode: str

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success]

    def notes(self) -> dict[str, str]:
        """The run summary's lines about this gate."""
        return verdict_notes([self])


def verdict_notes(verdicts: list[Verdict]) -> dict[str, str]:
    """The run summary's lines about a stage's gates, one per batch it published: the
    decisions, and the checks passed of all checked (a batch with no new rows checks none)."""
    checked = [v for v in verdicts if v.results] or verdicts[-1:]
    results = [r for v in checked for r in v.results]
    failed = [r for r in results if not r.success]
    decisions = sorted({v.decision for v in checked})
    batches = f" ({len(checked)} batches)" if len(checked) > 1 else ""
    passed = len(results) - len(failed)
    notes = {
        "gate": f"{', '.join(decisions)}{batches}: {passed} of {len(results)} checks passed "
        f"({checked[-1].mode} mode)"
    }
    if failed and not any(v.stopping for v in checked):
        notes["gate warnings"] = "; ".join(sorted({f"{r.table}: {r.check}" for r in failed}))
    return notes


def decide(
    lakehouse: Lakehouse, config: TracepileConfig, run_id: str, stage: str, results: list[CheckResult],
    passed: str, failed: str,
) -> Verdict:  # fmt: skip
    """The one decision every gate makes: ``failed`` when a check stops the batch under the gate
    mode, else ``passed`` (published_with_warnings for a batch published with failed warnings);
    recorded with every check."""
    stopping = blocking(results, config.gate.mode)
    decision = failed if stopping else passed
    if decision == Decision.PUBLISHED and any(not r.success for r in results):
        decision = Decision.PUBLISHED_WITH_WARNINGS
    record_results(lakehouse, config, run_id, stage, results, decision)
    return Verdict(decision, results, stopping, config.gate.mode)


@dataclass(frozen=True)
class GateOutcome:
    written: dict[str, int]  # new rows per table (qualified name)
    verdict: Verdict


def publish(lakehouse: Lakehouse, config: TracepileConfig, batch: Batch) -> GateOutcome:
    """Audit ``batch``, then publish it, or quarantine it and raise ``GateBlocked``. Tables
    with no new rows are neither checked nor written."""
    results: list[CheckResult] = []
    for spec, rows, count in batch.tables:
        if count:
            results += check_table(lakehouse, config, spec, rows, batch)
    if batch.outcomes is not None:
        results += check_rates(config, batch.stage, batch.outcomes, batch.outcome_counts)
    verdict = decide(
        lakehouse, config, batch.run_id, batch.stage, results, Decision.PUBLISHED, Decision.QUARANTINED
    )
    if verdict.stopping:
        quarantined = quarantine(lakehouse, batch)
        raise GateBlocked(_blocked_message(batch, verdict.stopping, quarantined), verdict.stopping)
    written = {}
    with deferred():  # a batch's tables are published together: a Ctrl-C takes effect after them
        for spec, rows, count in batch.tables:
            if count:
                lakehouse.append(spec, rows)
                crash_point(f"{batch.stage}:published:{spec.qualified_name}")
            written[spec.qualified_name] = count
    return GateOutcome(written, verdict)


def quarantine(lakehouse: Lakehouse, batch: Batch) -> dict[str, int]:
    """Every table of the blocked batch, appended to its quarantine table under the run id."""
    moved = {}
    for spec, rows, count in batch.tables:
        if count:
            target = quarantine_spec(spec)
            lakehouse.append(target, rows.withColumn(QUARANTINE_RUN_ID, F.lit(batch.run_id)))
            moved[target.qualified_name] = count
    return moved


def _blocked_message(batch: Batch, failures: list[CheckResult], quarantined: dict[str, int]) -> str:
    moved = ", ".join(f"{name} ({rows:,} rows)" for name, rows in quarantined.items()) or "nothing"
    return failure_list(
        f"the quality gate blocked the {batch.stage} batch of run {batch.run_id}", failures
    ) + (f"\nquarantined: {moved}; no published table changed")


def failure_list(headline: str, failures: list[CheckResult]) -> str:
    return "\n".join([f"{headline}; failed checks:", *(f"  - {f.describe()}" for f in failures)])


def table_checks(lakehouse: Lakehouse, config: TracepileConfig, spec: TableSpec) -> list[CheckResult]:
    """``tracepile gate TABLE``: the table's gate on its published rows (the trace stage's rates
    too for silver/executions, the one table whose rows carry their stage's outcomes)."""
    rows = lakehouse.read(spec)
    results = check_table(lakehouse, config, spec, rows, None)
    if spec == SILVER_EXECUTIONS:
        results += check_rates(config, "trace", rows.select(F.col("status").alias("outcome")))
    return results
