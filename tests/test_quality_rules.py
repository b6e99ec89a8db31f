"""The gate's pure parts, without Spark: rate rules, what blocks in which mode, the report page."""

from __future__ import annotations

from datetime import UTC, datetime

from tracepile.config import load_config
from tracepile.quality.gate import blocking
from tracepile.quality.gate_report import render_html
from tracepile.quality.suites import STAGE_RATES, TABLE_RULES
from tracepile.quality.validate import CheckResult
from tracepile.tables import GATED_TABLES, QUARANTINE_RUN_ID, SILVER_EXECUTIONS, quarantine_spec


def _meta(expectations) -> list[tuple[str, str]]:
    return [(e.meta["check"], e.meta["severity"]) for e in expectations]


def test_every_gated_table_has_a_suite_with_unique_check_names() -> None:
    config = load_config(environ={})
    for spec in GATED_TABLES:
        names = [e.meta["check"] for e in TABLE_RULES[spec.qualified_name].expectations(config)]
        assert names and len(names) == len(set(names)), spec.qualified_name
        assert any("is unique" in n for n in names), spec.qualified_name


def test_trace_ok_rate_blocks_from_the_configured_batch_size_and_only_warns_below() -> None:
    config = load_config(assignments=["gate.min_ok_rate=0.3", "gate.rate_min_rows=10"], environ={})
    rule = STAGE_RATES["trace"]
    assert _meta(rule.expectations(config, ["ok", "timeout"], rows=10)) == [("ok rate >= 30%", "block")]
    assert _meta(rule.expectations(config, ["ok", "timeout"], rows=9)) == [("ok rate >= 30%", "warn")]
    (check,) = rule.expectations(config, ["timeout"], rows=50)
    assert check.mostly == 0.3 and check.value_set == ["ok"]


def test_reject_rates_are_capped_per_reason_except_duplicates() -> None:
    config = load_config(assignments=["gate.max_reject_rate=0.4"], environ={})
    reasons = ["kept", "syntax_error", "near_duplicate", "exact_duplicate", "too_few_inputs"]
    checks = STAGE_RATES["dedup"].expectations(config, reasons, rows=100)
    assert _meta(checks) == [("syntax_error rate <= 40%", "block"), ("too_few_inputs rate <= 40%", "block")]
    assert checks[0].mostly == 0.6


def _result(severity: str, success: bool) -> CheckResult:
    return CheckResult("t/x", f"{severity} check", "expect_x", None, {}, severity, success)


def test_fail_mode_blocks_on_block_and_hard_failures_warn_mode_only_on_hard() -> None:
    results = [
        _result("block", False),
        _result("hard", False),
        _result("warn", False),
        _result("block", True),
    ]
    assert [r.check for r in blocking(results, "fail")] == ["block check", "hard check"]
    assert [r.check for r in blocking(results, "warn")] == ["hard check"]


def test_report_page_lists_failures_first_and_escapes_values() -> None:
    now = datetime.now(UTC)
    row = {
        "run_id": "r1", "stage": "trace", "table_name": "silver/executions", "expectation": "expect_x",
        "kwargs_json": "{}", "severity": "block", "element_count": 10, "unexpected_count": 0,
        "unexpected_percent": 0.0, "observed_json": None, "examples_json": None, "decision": "quarantined",
        "gate_mode": "fail", "checked_at": now,
    }  # fmt: skip
    passing = {**row, "check_name": "input_index >= 0", "success": True}
    failing = {
        **row, "check_name": "status is a known status", "success": False, "unexpected_count": 1,
        "unexpected_percent": 10.0, "examples_json": '[{"execution_id": "<script>"}]',
    }  # fmt: skip
    page = render_html("r1", [passing, failing])
    assert page.index("status is a known status") < page.index("input_index &gt;= 0")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "1 / 10 (10.0%)" in page and "quarantined" in page and "2 checks, 1 failed" in page


def test_quarantine_tables_accept_the_rows_the_gate_refused() -> None:
    spec = quarantine_spec(SILVER_EXECUTIONS)
    assert spec.qualified_name == "quarantine/silver_executions"
    assert all(f.nullable for f in spec.schema if f.name != QUARANTINE_RUN_ID)
    assert spec.key_columns == [QUARANTINE_RUN_ID, "execution_id"]
