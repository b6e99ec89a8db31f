"""Run a list of great-expectations expectations on a Spark DataFrame; plain results out.

Works on classic and Spark Connect DataFrames alike (GX's Spark engine only issues
DataFrame queries); nothing is cached or persisted, so staged (already materialised) data
is what should be handed in.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracepile import preload

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class CheckResult:
    """One check on one table of one batch, as stored in ``meta/validations``."""

    table: str
    check: str
    expectation: str  # e.g. expect_column_values_to_be_unique, or delta_check_constraint
    column: str | None
    kwargs: dict[str, Any]
    severity: str
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed: Any = None
    examples: list[Any] = field(default_factory=list)

    def describe(self) -> str:
        """One line for people: the table, the check, and what was seen."""
        if self.unexpected_count is not None and self.element_count is not None:
            seen = f"{self.unexpected_count:,} of {self.element_count:,} rows fail"
            if self.unexpected_percent is not None:
                seen += f" ({self.unexpected_percent:.1f}%)"
        else:
            seen = f"observed {json.dumps(self.observed, default=str)[:200]}"
        if self.examples:
            seen += f", e.g. {json.dumps(self.examples[:3], default=str)[:300]}"
        return f"{self.table}: {self.check} [{self.expectation}]: {seen}"


def _json_safe(value: Any) -> Any:
    """GX results hold numpy scalars and the like; keep what JSON can say."""
    return json.loads(json.dumps(value, default=str))


def _context() -> Any:
    preload.finished()
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def run_expectations(
    df: DataFrame,
    table: str,
    expectations: list[Expectation],
    id_columns: list[str],
    examples: int,
) -> list[CheckResult]:
    """Validate ``df`` against ``expectations``; failing rows are shown by their
    ``id_columns`` (up to ``examples`` per check).

    Two GX validations: the first counts (``BASIC`` with no examples), the second fetches
    examples only for the checks that found unexpected rows. Asking for examples costs a
    query per check (two with ``id_columns``, and the index list reads every unexpected
    row), so a batch whose checks all hold, the usual case, costs no query for them."""
    if not expectations:
        return []
    counted = _validate(df, table, expectations, {"result_format": "BASIC", "partial_unexpected_count": 0})
    to_show = [i for i, result in enumerate(counted) if result.unexpected_count]
    if not to_show or examples == 0:
        return counted
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": examples}
    if id_columns:
        result_format["unexpected_index_column_names"] = id_columns
    shown = _validate(df, table, [copy.copy(expectations[i]) for i in to_show], result_format)
    for i, result in zip(to_show, shown, strict=True):
        counted[i] = result
    return counted


def _validate(
    df: DataFrame, table: str, expectations: list[Expectation], result_format: dict[str, Any]
) -> list[CheckResult]:
    """One GX validation of ``df``, its results in the order of ``expectations``."""
    import great_expectations as gx

    context = _context()
    batch = (
        context.data_sources.add_spark(name="tracepile")
        .add_dataframe_asset(name=table.replace("/", "_").replace(":", "_"))
        .add_batch_definition_whole_dataframe("batch")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=table, expectations=expectations))
    definition = gx.ValidationDefinition(data=batch, suite=suite, name=table)
    outcome = definition.run(batch_parameters={"dataframe": df}, result_format=result_format)
    by_check = {r.expectation_config.meta["check"]: r for r in outcome.results}
    assert len(by_check) == len(expectations), f"{table}: two checks share a name"
    return [_check_result(table, by_check[e.meta["check"]]) for e in expectations]


def _check_result(table: str, result: Any) -> CheckResult:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    details = result.result or {}
    observed = details.get("observed_value")
    if (result.exception_info or {}).get("raised_exception"):
        observed = {"error": result.exception_info.get("exception_message")}
    examples = details.get("partial_unexpected_index_list") or details.get("partial_unexpected_list") or []
    return CheckResult(
        table=table,
        check=config.meta["check"],
        expectation=config.type,
        column=kwargs.get("column"),
        kwargs=_json_safe(kwargs),
        severity=config.meta["severity"],
        success=bool(result.success),
        element_count=details.get("element_count"),
        unexpected_count=details.get("unexpected_count"),
        unexpected_percent=details.get("unexpected_percent"),
        observed=_json_safe(observed),
        examples=_json_safe(examples),
    )
