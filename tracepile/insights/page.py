"""The run page: one self-contained HTML file per run (plots inlined as SVG, no external
resources) and the facts behind it as ``facts.json``, side by side.

Both go to ``<reports>/runs/<run_id>/`` where ``<reports>`` is the gate report's folder
(``gate.report_dir``, default ``<lakehouse>/reports``); the page links to the run's gate
report ``<reports>/<run_id>.html`` when that exists.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2
import pyarrow.fs as pafs
from markupsafe import Markup

from tracepile import preload
from tracepile.config import TracepileConfig
from tracepile.insights.facts import PIPELINE_COMMAND, load_run, run_facts
from tracepile.insights.palette import RUN_STATUS_COLOURS, stage_colour
from tracepile.lakehouse import Lakehouse
from tracepile.quality.gate_report import gate_report_location
from tracepile.storage import filesystem_for

PAGE_NAME = "page.html"
FACTS_NAME = "facts.json"

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("tracepile.insights", "templates"),
    autoescape=True,  # stage names, reasons, sources and errors are data, never markup
    undefined=jinja2.StrictUndefined,
    finalize=lambda value: "" if value is None else value,
    trim_blocks=True,
    lstrip_blocks=True,
)

Table = dict[str, list[Any]]  # {"columns": [...], "rows": [[...], ...]}


def run_page_location(lakehouse: Lakehouse, config: TracepileConfig, run_id: str) -> str | None:
    """Where the run's page goes; None for a catalog lakehouse without ``gate.report_dir``."""
    quality = gate_report_location(lakehouse, config, run_id)  # the one place the reports folder is decided
    return f"{quality.rsplit('/', 1)[0]}/runs/{run_id}/{PAGE_NAME}" if quality else None


def _is_file(location: str) -> bool:
    fs, path, _ = filesystem_for(location)
    return fs.get_file_info(path).type == pafs.FileType.File


def _outcome_table(scope: dict[str, Any]) -> Table:
    return {
        "columns": ["stage", "outcome", "kept", "rows", "unit", "from"],
        "rows": [
            [o["stage"], o["outcome"], "yes" if o["kept"] else "no", o["rows"], o["unit"], o["table"]]
            for o in scope["outcomes"]
        ],
    }


def _reject_table(scope: dict[str, Any]) -> Table:
    return {
        "columns": ["stage", "reason", "rows", "unit", "from"],
        "rows": [[r["stage"], r["reason"], r["rows"], r["unit"], r["table"]] for r in scope["rejects"]],
    }


def _mix_table(scope: dict[str, Any]) -> Table:
    columns = ["source_kind", "domain", "source", "programs", "rewrites", "coe_samples"]
    return {"columns": columns, "rows": [[m[c] for c in columns] for m in scope["mix"]]}


def _histogram_table(data: dict[str, Any]) -> Table:
    names = list(data["series"])
    edges = data["edges"]
    return {
        "columns": ["from", "below", *names],
        "rows": [
            [f"{edges[i]:g}", f"{edges[i + 1]:g}", *(data["series"][n][i] for n in names)]
            for i in range(len(edges) - 1)
        ],
    }


def _histogram_note(data: dict[str, Any], what: str) -> str:
    if not data["rows"]:
        return ""
    stats = data["stats"]
    return (
        f"{data['rows']:,} {what}: mean {stats['mean']:,}, median {stats['p50']:,.0f}, "
        f"90th percentile {stats['p90']:,.0f}, max {stats['max']:,.0f}."
    )


def _token_note(data: dict[str, Any], chars_per_token: float) -> str:
    """Says how many token counts are estimates: the template backend records none."""
    if not data["rows"]:
        return ""
    estimated = sum(data["series"].get("estimated", []))
    if not estimated:
        return "Token counts as the generating model's tokenizer reported them."
    return (
        f"Approximate: {estimated:,} of {data['rows']:,} responses have no recorded token count "
        f"(the template backend uses no tokenizer), so their length is estimated as characters / "
        f"{chars_per_token:g}."
    )


def _prompt_note(data: dict[str, Any], chars_per_token: float) -> str:
    if not data["rows"]:
        return ""
    return (
        f"Always approximate: the training prompt is never tokenized, its length is characters / "
        f"{chars_per_token:g}."
    )


def _notes(scope: dict[str, Any], chars_per_token: float) -> dict[str, str]:
    """The sentences under each plot: what it counts, and which numbers are estimates."""
    responses, samples, per = scope["response_tokens"], scope["sample_tokens"], chars_per_token
    return {
        "status_mix": "Each bar is one stage's rows, split by what became of them; the unit is on the right.",
        "reject_reasons": "Every dropped row, by stage and reason (executions that did not end ok included).",
        "source_mix": "Programs (originals and verified rewrites) and verified CoE samples, "
        "per domain and source.",
        "trace_lines": _histogram_note(scope["trace_lines"], "executions"),
        "response_tokens": f"{_histogram_note(responses, 'CoE responses')} {_token_note(responses, per)}",
        "sample_tokens": f"{_histogram_note(samples, 'training samples')} {_prompt_note(samples, per)}",
    }


def _scope_view(scope: dict[str, Any], chars_per_token: float, salt: str) -> list[dict[str, Any]]:
    """Each plot of a scope as the template shows it: title, SVG (or None), note, numbers."""
    preload.finished()
    from tracepile.insights import plots  # matplotlib takes ~0.4 s to import: only to draw

    notes = _notes(scope, chars_per_token)
    tables = {
        "status_mix": _outcome_table(scope),
        "reject_reasons": _reject_table(scope),
        "source_mix": _mix_table(scope),
        "trace_lines": _histogram_table(scope["trace_lines"]),
        "response_tokens": _histogram_table(scope["response_tokens"]),
        "sample_tokens": _histogram_table(scope["sample_tokens"]),
    }
    view = []
    for key, title, plot in plots.SCOPE_PLOTS:
        figure = plot(scope)
        svg = plots.to_svg(figure, f"{salt}-{key}") if figure is not None else None
        view.append(
            {
                "key": key,
                "title": title,
                "svg": Markup(svg) if svg else None,  # matplotlib escapes the text it writes
                "note": notes[key].strip(),
                "table": tables[key],
            }
        )
    return view


def render_page(facts: dict[str, Any], gate_report_href: str | None = None) -> str:
    """The run's page from its facts (``run_facts``): self-contained HTML, every plot inline.
    ``gate_report_href``: a link to the run's gate report, when there is one."""
    from tracepile.insights import plots  # as in _scope_view

    chars_per_token = facts["chars_per_token"]
    scopes = [
        {"name": name, "label": scope["label"], "plots": _scope_view(scope, chars_per_token, name)}
        for name, scope in facts["scopes"].items()
    ]
    # open on the run's own rows, unless it wrote none (a rerun that found nothing new)
    default_scope = "run" if facts["scopes"]["run"]["outcomes"] else "corpus"
    figure = plots.throughput(facts)
    return _TEMPLATES.get_template("run_page.html.j2").render(
        facts=facts,
        run=facts["run"],
        stages=facts["stages"],
        throughput=Markup(plots.to_svg(figure, "throughput")) if figure is not None else None,
        scopes=scopes,
        default_scope=default_scope,
        gate_report_href=gate_report_href,
        facts_href=FACTS_NAME,
        run_colours=RUN_STATUS_COLOURS,
        stage_colour=stage_colour,
    )


def _write(location: str, text: str) -> None:
    fs, path, _ = filesystem_for(location)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as out:
        out.write(text.encode("utf-8"))


def _write_page(lakehouse: Lakehouse, config: TracepileConfig, run: dict[str, Any], location: str) -> None:
    facts = run_facts(lakehouse, run)
    quality = gate_report_location(lakehouse, config, run["run_id"])
    has_quality = quality is not None and _is_file(quality)
    facts["run"]["gate_report"] = quality if has_quality else None
    # relative, so the reports folder can be moved or served as a whole
    href = f"../../{run['run_id']}.html" if has_quality else None
    _write(location.rsplit("/", 1)[0] + f"/{FACTS_NAME}", json.dumps(facts, indent=1, sort_keys=True))
    _write(location, render_page(facts, href))


def write_run_page(lakehouse: Lakehouse, config: TracepileConfig, run: dict[str, Any]) -> str | None:
    """(Re)write the run's ``page.html`` and ``facts.json`` from the lakehouse as it is now;
    returns the page's location (None where there is nowhere to write: a catalog lakehouse
    without ``gate.report_dir``). ``run`` is ``json.loads(RunSummary.to_json())``."""
    location = run_page_location(lakehouse, config, run["run_id"])
    if location is not None:
        _write_page(lakehouse, config, run, location)
    return location


def ensure_run_page(
    lakehouse: Lakehouse, config: TracepileConfig, run_id: str | None = None, any_command: bool = False
) -> str:
    """The location of a run's page, written from its ``meta/runs`` record first if the file is
    missing. Without ``run_id``: the latest pipeline run's (``tracepile run``; the latest run
    of any command where there is none yet), or with ``any_command`` the latest run of any
    command (an export, a repair). LookupError when ``meta/runs`` has no such run; ValueError
    when the lakehouse has nowhere for pages (set ``gate.report_dir``)."""
    run = None
    if run_id is None and not any_command:
        run = load_run(lakehouse, command=PIPELINE_COMMAND)
    run = run or load_run(lakehouse, run_id)
    if run is None:
        raise LookupError(f"no run {run_id} in meta/runs" if run_id else "no run recorded in meta/runs yet")
    location = run_page_location(lakehouse, config, run["run_id"])
    if location is None:
        raise ValueError("a catalog lakehouse keeps no pages unless gate.report_dir is set")
    if not _is_file(location):
        _write_page(lakehouse, config, run, location)
    return location
