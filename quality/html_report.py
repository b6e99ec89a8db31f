"""The per-run quality report: one self-contained HTML page from ``meta/validations``.

Written to ``<gate.report_dir>/<run_id>.html`` (default ``<lakehouse>/reports``) after each
gate of the run, so a run stopped at its second stage still shows its first.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from pyspark.sql import functions as F

from tracepile.config import TracepileConfig
from tracepile.lakehouse import Lakehouse
from tracepile.storage import filesystem_for
from tracepile.tables import VALIDATIONS

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; white-space: nowrap; }
tr.fail td { background: #fde8e8; } tr.warn td { background: #fff6db; }
.published { color: #17662b; } .quarantined { color: #a11; } .published_with_warnings { color: #8a5a00; }
code { font-size: 12px; word-break: break-all; }
"""


def report_location(lakehouse: Lakehouse, config: TracepileConfig, run_id: str) -> str | None:
    """Where the run's page goes; None for a catalog lakehouse without ``gate.report_dir``."""
    base = config.gate.report_dir or (f"{lakehouse.root.rstrip('/')}/reports" if lakehouse.root else None)
    return f"{base.rstrip('/')}/{run_id}.html" if base else None


def _cell(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _count(row: dict[str, Any]) -> str:
    if row["unexpected_count"] is None or row["element_count"] is None:
        return ""
    percent = f" ({row['unexpected_percent']:.1f}%)" if row["unexpected_percent"] is not None else ""
    return f"{row['unexpected_count']:,} / {row['element_count']:,}{percent}"


def render_html(run_id: str, rows: Sequence[dict[str, Any]]) -> str:
    """The page for one run: per gated stage its decision, then every check, failures first."""
    stages: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r["checked_at"]):
        stages.setdefault(row["stage"], []).append(row)
    failed = sum(not r["success"] for r in rows)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>tracepile quality {_cell(run_id)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>tracepile quality report, run <code>{_cell(run_id)}</code></h1>",
        f"<p>{len(rows)} checks, {failed} failed.</p>",
    ]
    for stage, checks in stages.items():
        decision, mode = checks[-1]["decision"], checks[-1]["gate_mode"]
        parts.append(
            f"<h2>{_cell(stage)}: <span class='{_cell(decision)}'>{_cell(decision)}</span> "
            f"<small>(gate mode {_cell(mode)})</small></h2>"
        )
        parts.append(
            "<table><tr><th>table</th><th>check</th><th>expectation</th><th>severity</th><th>result</th>"
            "<th>failing rows</th><th>observed / examples</th></tr>"
        )
        for row in sorted(checks, key=lambda r: (r["success"], r["table_name"], r["check_name"])):
            css = "" if row["success"] else "fail" if row["severity"] != "warn" else "warn"
            detail = row["examples_json"] or row["observed_json"] or ""
            parts.append(
                f"<tr class='{css}'><td>{_cell(row['table_name'])}</td><td>{_cell(row['check_name'])}</td>"
                f"<td><code>{_cell(row['expectation'])}</code><br><code>{_cell(row['kwargs_json'])}</code></td>"
                f"<td>{_cell(row['severity'])}</td><td>{'pass' if row['success'] else 'FAIL'}</td>"
                f"<td class='num'>{_cell(_count(row))}</td><td><code>{_cell(detail)}</code></td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_run_report(lakehouse: Lakehouse, config: TracepileConfig, run_id: str) -> str | None:
    """(Re)write the run's page from its rows in ``meta/validations``; returns where it went."""
    location = report_location(lakehouse, config, run_id)
    if location is None or not lakehouse.exists(VALIDATIONS):
        return None
    rows = [r.asDict() for r in lakehouse.read(VALIDATIONS).where(F.col("run_id") == run_id).collect()]
    fs, path, _ = filesystem_for(location)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as out:
        out.write(render_html(run_id, rows).encode("utf-8"))
    return location
