"""The per-run gate report: one self-contained HTML page from ``meta/validations``.

Written to ``<gate.report_dir>/<run_id>.html`` (default ``<lakehouse>/reports``) after each
gate of the run, so a run stopped at its second stage still shows its first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jinja2
from pyspark.sql import functions as F

from tracepile.config import TracepileConfig
from tracepile.lakehouse import Lakehouse
from tracepile.storage import filesystem_for
from tracepile.tables import VALIDATIONS
from tracepile.vocab import Severity

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("tracepile.quality", "templates"),
    autoescape=True,  # check names, kwargs and failing values are data, never markup
    undefined=jinja2.StrictUndefined,
    finalize=lambda value: "" if value is None else value,  # a null column shows as an empty cell
    trim_blocks=True,
    lstrip_blocks=True,
)


def gate_report_location(lakehouse: Lakehouse, config: TracepileConfig, run_id: str) -> str | None:
    """Where the run's page goes; None for a catalog lakehouse without ``gate.report_dir``."""
    base = config.gate.report_dir or (f"{lakehouse.root.rstrip('/')}/reports" if lakehouse.root else None)
    return f"{base.rstrip('/')}/{run_id}.html" if base else None


def _count(row: dict[str, Any]) -> str:
    if row["unexpected_count"] is None or row["element_count"] is None:
        return ""
    percent = f" ({row['unexpected_percent']:.1f}%)" if row["unexpected_percent"] is not None else ""
    return f"{row['unexpected_count']:,} / {row['element_count']:,}{percent}"


def _check(row: dict[str, Any]) -> dict[str, Any]:
    """One table row of the page: the validation row plus what the template shows of it."""
    css = "" if row["success"] else "warn" if row["severity"] == Severity.WARN else "fail"
    detail = row["examples_json"] or row["observed_json"]
    return {**row, "css": css, "count": _count(row), "detail": detail}


def render_html(run_id: str, rows: Sequence[dict[str, Any]]) -> str:
    """The page for one run: per gated stage its decision, then every check, failures first."""
    stages: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r["checked_at"]):
        stages.setdefault(row["stage"], []).append(row)
    return _TEMPLATES.get_template("gate_report.html.j2").render(
        run_id=run_id,
        total=len(rows),
        failed=sum(not r["success"] for r in rows),
        stages=[
            {
                "name": stage,
                # the stage's latest gate decided the batch
                "decision": checks[-1]["decision"],
                "gate_mode": checks[-1]["gate_mode"],
                "checks": [
                    _check(r)
                    for r in sorted(checks, key=lambda r: (r["success"], r["table_name"], r["check_name"]))
                ],
            }
            for stage, checks in stages.items()
        ],
    )


def write_gate_report(lakehouse: Lakehouse, config: TracepileConfig, run_id: str) -> str | None:
    """(Re)write the run's page from its rows in ``meta/validations``; returns where it went."""
    location = gate_report_location(lakehouse, config, run_id)
    if location is None or not lakehouse.exists(VALIDATIONS):
        return None
    rows = [r.asDict() for r in lakehouse.read(VALIDATIONS).where(F.col("run_id") == run_id).collect()]
    fs, path, _ = filesystem_for(location)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as out:
        out.write(render_html(run_id, rows).encode("utf-8"))
    return location
