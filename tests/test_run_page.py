"""The run page (``page.html`` + ``facts.json``) and the corpus explorer notebook.

First the plots and the page on a facts dict, no Spark. Then one real run of the pipeline on
the bundled sample (plus a file with duplicates and a bad line, so rows get dropped), shared
by the rest: its ``facts.json`` against the tables, its page in headless Chromium (console,
plots, screenshot), and the notebook executed on its lakehouse with nbclient.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from PIL import Image
from playwright.sync_api import ConsoleMessage, Request, sync_playwright
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from tests.conftest import REPO, read_delta, run_tracepile
from tracepile.cli import sample_path
from tracepile.config import TracepileConfig, load_config
from tracepile.insights import palette, plots
from tracepile.insights.facts import MIX_ROWS, failure, largest_mix_rows, load_run
from tracepile.insights.page import FACTS_NAME, ensure_run_page, render_page
from tracepile.jobs.dedup_stage import DedupStage
from tracepile.jobs.export_stage import ExportStage
from tracepile.jobs.stages import pipeline
from tracepile.lakehouse import Lakehouse
from tracepile.runner import run_stages
from tracepile.tables import (
    BRONZE_SOURCES,
    GOLD_COE,
    GOLD_QUESTION_REJECTS,
    GOLD_QUESTIONS,
    GOLD_REJECTS,
    INGEST_REJECTS,
    SILVER_EXECUTIONS,
    SILVER_PROGRAMS,
    SILVER_REJECTS,
    SILVER_REWRITE_REJECTS,
    TableSpec,
)
from tracepile.translation.prompts import estimate_tokens

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright's own browsers are not used
NOTEBOOK = REPO / "notebooks" / "corpus_explorer.ipynb"
PLOT_KEYS = [key for key, _, _ in plots.SCOPE_PLOTS]
HISTOGRAMS = ("trace_lines", "response_tokens", "sample_tokens")
NO_ROWS = {"rows": 0, "edges": [], "series": {}, "stats": {}}  # a histogram of an empty table


# --- plots and page on a facts dict ---------------------------------------------------------


def _histogram(values: list[int], width: int, series: str) -> dict[str, Any]:
    """A facts histogram of ``values``, counted here."""
    counts = [0] * (max(values) // width + 1)
    for value in values:
        counts[value // width] += 1
    quantiles = statistics.quantiles(values, n=10)
    return {
        "rows": len(values),
        "edges": [i * width for i in range(len(counts) + 1)],
        "series": {series: counts},
        "stats": {
            "mean": statistics.mean(values),
            "p50": statistics.median(values),
            "p90": quantiles[-1],
            "max": max(values),
        },
    }


def _outcome(stage: str, unit: str, table: str, outcome: str, kept: bool, rows: int) -> dict[str, Any]:
    return {"stage": stage, "unit": unit, "table": table, "outcome": outcome, "kept": kept, "rows": rows}


def _scope(label: str, reason: str = "exact_duplicate", source: str = "sample") -> dict[str, Any]:
    outcomes = [
        _outcome("dedup", "programs", "silver/programs", "kept", True, 8),
        _outcome("dedup", "programs", "silver/rejects", reason, False, 2),
        _outcome("trace", "executions", "silver/executions", "ok", True, 30),
        _outcome("trace", "executions", "silver/executions", "timeout", False, 3),
        _outcome("trace", "executions", "silver/executions", "error", False, 1),
    ]
    rejects = [
        {
            "stage": o["stage"],
            "unit": o["unit"],
            "table": o["table"],
            "reason": o["outcome"],
            "rows": o["rows"],
        }
        for o in sorted(outcomes, key=lambda o: -o["rows"])
        if not o["kept"]
    ]
    mix = [
        {
            "source_kind": "codeio",
            "domain": "math",
            "source": source,
            "programs": 8,
            "rewrites": 3,
            "coe_samples": 30,
        }
    ]
    return {
        "label": label,
        "outcomes": outcomes,
        "rejects": rejects,
        "mix": mix,
        "trace_lines": _histogram([3, 5, 12, 40, 41, 44, 90], 10, "ok"),
        "response_tokens": _histogram([120, 180, 260, 300], 50, "estimated"),
        "sample_tokens": _histogram([400, 500, 650, 700], 100, "estimated"),
    }


def _facts(**scope_options: str) -> dict[str, Any]:
    stage = {
        "stage": "trace",
        "reads": "silver/programs",
        "writes": ["silver/executions"],
        "counts": {"runs": 34},
        "reasons": {},
        "notes": {"gate": "published"},
        "mix": {},
        "seconds": 2.0,
        "rows_written": 34,
        "rows_per_second": 17.0,
        "rejected": {"timeout": 3, "error": 1},
    }
    return {
        "format": 1,
        "generated_at": "2026-01-01T00:00:00+00:00",
        "run": {
            "run_id": "20260101T000000Z-abcdef",
            "command": "run",
            "status": "succeeded",
            "error": None,
            "engine": "local",
            "lakehouse": "/lake",
            "started_at": "2026-01-01T00:00:00+00:00",
            "finished_at": "2026-01-01T00:00:09+00:00",
            "seconds": 9.0,
            "migrations": [],
            "failure": None,
        },
        "stages": [stage],
        "tables": {"silver/executions": 34, "meta/migrations": None},
        "chars_per_token": 3.5,
        "scopes": {"run": _scope("this run", **scope_options), "corpus": _scope("corpus", **scope_options)},
    }


def test_status_mix_draws_each_stage_as_shares_of_its_rows() -> None:
    scope = _scope("this run")
    axes = plots.status_mix(scope).axes[0]
    stages = [t.get_text() for t in axes.get_yticklabels()]
    assert stages == ["trace", "dedup"]  # the first stage on top
    for y, stage in enumerate(stages):
        rows = [o for o in scope["outcomes"] if o["stage"] == stage]
        total = sum(o["rows"] for o in rows)
        widths = [p.get_width() for p in axes.patches if abs(p.get_y() + p.get_height() / 2 - y) < 1e-9]
        assert widths == pytest.approx(
            [100 * o["rows"] / total for o in sorted(rows, key=lambda o: not o["kept"])]
        )


def test_histograms_draw_the_bucket_counts_and_empty_data_draws_nothing() -> None:
    scope = _scope("this run")
    axes = plots.trace_lines(scope).axes[0]
    assert [p.get_height() for p in axes.patches] == scope["trace_lines"]["series"]["ok"]
    assert [p.get_x() for p in axes.patches] == scope["trace_lines"]["edges"][:-1]
    empty = {**scope, "outcomes": [], "rejects": [], "mix": [], **dict.fromkeys(HISTOGRAMS, NO_ROWS)}
    assert [plot(empty) for _, _, plot in plots.SCOPE_PLOTS] == [None] * len(plots.SCOPE_PLOTS)


def test_the_page_inlines_every_plot_escapes_data_and_fetches_nothing() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    page = render_page(_facts(reason=hostile, source="$x$ & co"), gate_report_href="../../q.html")
    figures = re.findall(r'<figure class="plot" id="plot-([\w-]+)"><svg', page)
    assert sorted(figures) == sorted(
        ["throughput"] + [f"{s}-{k}" for s in ("run", "corpus") for k in PLOT_KEYS]
    )
    assert hostile not in page and "&lt;img src=x onerror=alert(1)&gt;" in page  # in tables and in SVG text
    assert "$x$ &amp; co" in page  # a '$' is text, not TeX
    # nothing to fetch: no tag that loads a file, no stylesheet import (url(#id) is in the page)
    assert not re.search(r"<(?:link|img|iframe|script)\b[^>]*\b(?:src|href)=|@import|url\((?!#)", page)
    assert '<a href="../../q.html">gate report</a>' in page
    assert "Approximate: 4 of 4 responses have no recorded token count" in page


def test_a_scope_without_rows_says_so_and_the_page_opens_on_the_corpus() -> None:
    facts = _facts()
    run = facts["scopes"]["run"]
    facts["scopes"]["run"] = {
        **run,
        "outcomes": [],
        "rejects": [],
        "mix": [],
        **dict.fromkeys(HISTOGRAMS, NO_ROWS),
    }
    page = render_page(facts)
    for key in PLOT_KEYS:
        assert f'<p class="empty" id="plot-run-{key}">Nothing to show' in page
    assert '<section class="scope" id="scope-run" data-scope="run" hidden>' in page
    assert '<section class="scope" id="scope-corpus" data-scope="corpus">' in page
    assert "gate report" not in page


# --- one real run of the pipeline, shared ----------------------------------------------------


@dataclass(frozen=True)
class SampleRun:
    lake: Path
    config: TracepileConfig
    run: dict[str, Any]  # the run's report, as meta/runs keeps it
    page: Path
    facts: dict[str, Any]  # facts.json


@pytest.fixture(scope="module")
def sample_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> SampleRun:
    """The pipeline on the bundled sample and a file with duplicates and a bad record, with the
    page the runner wrote for it."""
    lake = tmp_path_factory.mktemp("run_page") / "lake"
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    sources = [
        f"codeio:{sample_path()}",
        f"codeio:{REPO / 'tests' / 'fixtures' / 'sample_with_duplicates.jsonl'}",
    ]
    report = run_stages("run", pipeline(config, sources), config, spark=spark)
    assert report.status == "succeeded", report.error
    assert report.run_page is not None  # the runner writes the page at the end of every run
    page = Path(report.run_page)
    run = load_run(Lakehouse(spark, str(lake)), report.run_id)  # the run as meta/runs holds it
    assert run is not None and run["run_id"] == report.run_id
    return SampleRun(lake, config, run, page, json.loads((page.parent / FACTS_NAME).read_text()))


def _counts(df: DataFrame, *columns: str | Column) -> dict[Any, int]:
    """Rows per value of ``columns`` (a tuple of values when there are several)."""
    rows = df.groupBy(*columns).count().collect()
    return {(r[0] if len(columns) == 1 else tuple(r[:-1])): r["count"] for r in rows}


def _binned(values: list[int], edges: list[float]) -> list[int]:
    width = edges[1] - edges[0]
    counts = [0] * (len(edges) - 1)
    for value in values:
        counts[int(value // width)] += 1
    return counts


@pytest.mark.spark
@pytest.mark.slow
def test_report_json_counts_are_the_tables(sample_run: SampleRun, spark: SparkSession) -> None:
    lakehouse = Lakehouse(spark, str(sample_run.lake))
    run_id = sample_run.run["run_id"]

    def table(spec: TableSpec, scope: str) -> DataFrame:
        df = lakehouse.read(spec)
        return df.where(F.col("run_id") == run_id) if scope == "run" else df

    for scope in ("run", "corpus"):
        facts = sample_run.facts["scopes"][scope]
        outcomes = {(o["stage"], o["outcome"]): o["rows"] for o in facts["outcomes"]}
        programs = table(SILVER_PROGRAMS, scope)
        assert outcomes[("dedup", "kept")] == programs.where(F.col("rewrite_of").isNull()).count()
        assert outcomes[("rewrite", "kept")] == programs.where(F.col("rewrite_of").isNotNull()).count()
        statuses = _counts(table(SILVER_EXECUTIONS, scope), "status")
        assert {o: n for (stage, o), n in outcomes.items() if stage == "trace"} == statuses
        assert outcomes[("generate", "verified")] == table(GOLD_COE, scope).count()
        assert outcomes[("questions", "verified")] == table(GOLD_QUESTIONS, scope).count()

        # every dropped row, by stage and reason, from each reject table (and executions not ok)
        expected = {("trace", "silver/executions", s): n for s, n in statuses.items() if s != "ok"}
        for (stage, reason), n in _counts(table(SILVER_REJECTS, scope), "stage", "reason").items():
            expected[(stage, "silver/rejects", reason)] = n
        for stage, spec in (
            ("rewrite", SILVER_REWRITE_REJECTS),
            ("generate", GOLD_REJECTS),
            ("questions", GOLD_QUESTION_REJECTS),
        ):
            if lakehouse.exists(spec):
                expected |= {
                    (stage, spec.qualified_name, r): n
                    for r, n in _counts(table(spec, scope), "reason").items()
                }
        ingest = next(s for s in sample_run.run["stages"] if s["stage"] == "ingest")
        if scope == "corpus":  # bronze keeps no run id: the run's ingest figures are its report's
            assert outcomes[("ingest", "programs")] == lakehouse.read(BRONZE_SOURCES).count()
            ingest_rejects = _counts(lakehouse.read(INGEST_REJECTS), "reason")
            expected |= {("ingest", INGEST_REJECTS.qualified_name, r): n for r, n in ingest_rejects.items()}
        else:
            assert outcomes[("ingest", "new programs")] == ingest["counts"]["programs_new"]
            expected |= {("ingest", "stage summary", r): n for r, n in ingest["reasons"].items()}
        rejects = {(r["stage"], r["table"], r["reason"]): r["rows"] for r in facts["rejects"]}
        assert rejects == expected
        assert {"dedup", "ingest"} <= {stage for stage, _, _ in rejects}  # the run did drop rows

        # domain / source mix: programs and rewrites from silver/programs, samples from gold/coe
        mix = {(m["source_kind"], m["domain"], m["source"]): m for m in facts["mix"]}
        kinds = _counts(programs, "source_kind", "domain", "source", F.col("rewrite_of").isNotNull())
        samples = _counts(
            table(GOLD_COE, scope).join(
                lakehouse.read(SILVER_PROGRAMS).select("program_id", "source_kind"), "program_id"
            ),
            "source_kind",
            "domain",
            "source",
        )
        assert {k: (m["programs"], m["rewrites"], m["coe_samples"]) for k, m in mix.items()} == {
            k: (kinds.get((*k, False), 0), kinds.get((*k, True), 0), samples.get(k, 0))
            for k in {key[:3] for key in kinds} | set(samples)
        }

        # histograms: the buckets of the values themselves, tokens estimated as the generator does
        executions = table(SILVER_EXECUTIONS, scope).select("trace_lines", "status").collect()
        lines = facts["trace_lines"]
        assert lines["rows"] == len(executions) and lines["stats"]["max"] == max(r[0] for r in executions)
        assert set(lines["series"]) == {r[1] for r in executions}  # one series per status
        for status, counts in lines["series"].items():
            assert counts == _binned([r[0] for r in executions if r[1] == status], lines["edges"])
        coe = table(GOLD_COE, scope).select("completion_tokens", "response", "prompt").collect()
        assert all(r["completion_tokens"] is None for r in coe)  # the template backend counts none
        tokens = facts["response_tokens"]
        assert list(tokens["series"]) == ["estimated"]
        assert tokens["series"]["estimated"] == _binned(
            [estimate_tokens(r["response"]) for r in coe], tokens["edges"]
        )
        whole = [estimate_tokens(r["prompt"]) + estimate_tokens(r["response"]) for r in coe]
        assert facts["sample_tokens"]["stats"]["max"] == max(whole)

    # per stage of the run: its time from the report, its rows from its tables
    stages = {s["stage"]: s for s in sample_run.facts["stages"]}
    assert [s["stage"] for s in sample_run.run["stages"]] == list(stages)
    trace = stages["trace"]
    assert trace["rows_written"] == table(SILVER_EXECUTIONS, "run").count()
    assert trace["rows_per_second"] == pytest.approx(trace["rows_written"] / trace["seconds"], abs=0.05)


WIDTHS = {"phone": (390, 844), "desktop": (1280, 800)}  # viewport width, height in CSS pixels


def _browser_problems(page: Path, screenshots: Path) -> list[str]:
    """Opens ``page`` in headless Chromium at a phone's and a desktop's width: console errors
    and warnings, script errors, any request that leaves the file system, every plot (both
    scopes) that is not drawn, a page body wider than the viewport, and an outcome banner not
    in the first screen. Screenshots on the way: ``<screenshots>/<width>-first.png`` (the
    first screen) and ``<width>-<scope>.png`` (the whole page, per scope)."""
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"console {message.type}: {message.text}")

    def request(sent: Request) -> None:
        if not sent.url.startswith(("file:", "data:")):
            problems.append(f"fetch: {sent.url}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            for width, height in WIDTHS.values():
                tab = browser.new_page(viewport={"width": width, "height": height})
                tab.on("console", console)
                tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
                tab.on("request", request)
                tab.goto(page.as_uri(), wait_until="load")
                banner = tab.locator("#outcome")
                box = banner.bounding_box() if banner.count() == 1 else None
                if box is None or not banner.is_visible() or box["y"] + box["height"] > height:
                    problems.append(f"{width} px: the outcome is not in the first screen ({box})")
                tab.screenshot(path=str(screenshots / f"{width}-first.png"))
                for scope in ("corpus", "run"):  # the run's scope last: the default view
                    tab.click(f".tabs button[data-scope={scope}]")
                    for plot in ["throughput", *(f"{scope}-{key}" for key in PLOT_KEYS)]:
                        svg = tab.locator(f"#plot-{plot} svg")
                        box = svg.bounding_box() if svg.count() == 1 else None  # None too when hidden
                        if box is None or box["width"] < 100 or box["height"] < 50:
                            problems.append(f"{width} px: plot {plot} not drawn")
                        elif box["x"] + box["width"] > width:
                            problems.append(f"{width} px: plot {plot} wider than the screen")
                    scroll_width = tab.evaluate("document.documentElement.scrollWidth")
                    if scroll_width > width:
                        problems.append(f"{width} px: the page is {scroll_width} px wide ({scope})")
                    tab.screenshot(path=str(screenshots / f"{width}-{scope}.png"), full_page=True)
                tab.close()
        finally:
            browser.close()
    return problems


def _assert_a_real_picture(shot: Path, min_height: int) -> None:
    image = Image.open(shot)
    assert image.height >= min_height, (shot, image.size)
    assert len(image.convert("L").getcolors(256)) > 20, shot  # text and plots, not one flat colour


@pytest.mark.spark
@pytest.mark.slow
def test_the_run_page_renders_in_headless_chromium(sample_run: SampleRun, tmp_path: Path) -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"no {CHROMIUM} (apt-get install chromium)")
    shots = tmp_path / "shots"
    shots.mkdir()
    assert _browser_problems(sample_run.page, shots) == []
    for width, height in WIDTHS.values():
        first = Image.open(shots / f"{width}-first.png")
        assert first.size == (width, height)
        _assert_a_real_picture(shots / f"{width}-first.png", height)
        for scope in ("run", "corpus"):
            _assert_a_real_picture(shots / f"{width}-{scope}.png", 2000)  # every section, not a frame
            assert (shots / f"{width}-{scope}.png").stat().st_size > 50_000

    # the check fails on a page with a script error, a plot missing, a body too wide for a
    # phone and the outcome pushed below the first screen
    broken = tmp_path / "broken.html"
    html = sample_run.page.read_text()
    html = re.sub(r'(<figure class="plot" id="plot-run-trace_lines">)<svg.*?</svg>', r"\1", html, flags=re.S)
    html = html.replace('<div class="outcome', '<div style="height: 2000px"></div><div class="outcome', 1)
    html = html.replace("</h1>", '</h1><pre style="width: 600px">wide</pre>', 1)
    broken.write_text(
        html.replace("</body>", "<script>document.querySelector('#none').remove()</script></body>")
    )
    (tmp_path / "broken").mkdir()
    problems = _browser_problems(broken, tmp_path / "broken")
    assert "390 px: plot run-trace_lines not drawn" in problems
    assert [p for p in problems if p.startswith("script error:")], problems
    assert [p for p in problems if p.startswith("390 px: the page is")], problems
    assert not [p for p in problems if p.startswith("1280 px: the page is")], problems
    assert [p for p in problems if p.startswith("390 px: the outcome is not in the first screen")]


@pytest.mark.spark
@pytest.mark.slow
def test_report_finds_the_latest_run_and_rewrites_a_missing_page(
    sample_run: SampleRun, spark: SparkSession
) -> None:
    lakehouse = Lakehouse(spark, str(sample_run.lake))
    assert load_run(lakehouse) == sample_run.run  # the only run is the latest
    copy = sample_run.page.parent.with_name("kept")
    shutil.copytree(sample_run.page.parent, copy)
    sample_run.page.unlink()
    try:
        assert ensure_run_page(lakehouse, sample_run.config) == str(sample_run.page)
        assert sample_run.page.is_file() and "plot-run-status_mix" in sample_run.page.read_text()
    finally:
        shutil.copy(copy / sample_run.page.name, sample_run.page)  # the other tests' page, as written
    with pytest.raises(LookupError, match="no run nope"):
        ensure_run_page(lakehouse, sample_run.config, "nope")


@pytest.mark.spark
def test_a_run_recorded_by_an_earlier_version_gets_its_page(spark: SparkSession, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(REPO / "tests" / "fixtures" / "lakehouse_before_keeper_id", lake)  # no rewrite_of yet
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    page = Path(ensure_run_page(Lakehouse(spark, str(lake)), config))
    facts = json.loads(page.with_name(FACTS_NAME).read_text())
    (recorded,) = read_delta(lake / "meta" / "runs").to_pylist()
    assert facts["run"]["run_id"] == recorded["run_id"]
    assert [s["stage"] for s in facts["stages"]] == [
        s["stage"] for s in json.loads(recorded["report_json"])["stages"]
    ]
    outcomes = {(o["stage"], o["outcome"]): o["rows"] for o in facts["scopes"]["corpus"]["outcomes"]}
    assert outcomes[("dedup", "kept")] == read_delta(lake / "silver" / "programs").num_rows  # all originals
    assert "rewrite" not in {stage for stage, _ in outcomes}
    assert '<figure class="plot" id="plot-corpus-status_mix"><svg' in page.read_text()


@pytest.mark.spark
@pytest.mark.slow
def test_the_corpus_explorer_notebook_runs_on_the_sample(
    sample_run: SampleRun, spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPILE_LAKEHOUSE", str(sample_run.lake))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")  # committed stripped
    NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(REPO)}}).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = "".join(o.get("data", {}).get("text/html", "") for o in outputs)

    # the trace beside its CoE: both as the tables hold them
    execution_id = re.search(r"execution <code>([0-9a-f]{32})</code>", shown).group(1)
    lakehouse = Lakehouse(spark, str(sample_run.lake))
    trace = lakehouse.read(SILVER_EXECUTIONS).where(F.col("execution_id") == execution_id).first()
    coe = lakehouse.read(GOLD_COE).where(F.col("execution_id") == execution_id).first()
    assert escape(trace["trace_text"]) in shown and escape(coe["response"]) in shown
    # every plot of the page, for the corpus
    svgs = [o for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) == len(plots.SCOPE_PLOTS) + 1


@pytest.mark.spark
@pytest.mark.slow
def test_tracepile_report_prints_the_latest_runs_page(sample_run: SampleRun) -> None:
    done = run_tracepile("page", "--lakehouse", str(sample_run.lake))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(sample_run.page)
    missing = run_tracepile("report", "nope", "--lakehouse", str(sample_run.lake))
    assert missing.returncode == 2 and "no run nope" in missing.stderr  # a usage mistake


def test_a_corpus_of_many_sources_shows_the_largest_and_sums_the_rest() -> None:
    """Thousands of sources must not cost a plot label each (a 100k-program corpus with one
    source per program took minutes to draw)."""
    rows = {
        ("codeio", "math", f"source-{i:04d}"): {
            "source_kind": "codeio", "domain": "math", "source": f"source-{i:04d}",
            "programs": i, "rewrites": 1, "coe_samples": 2,
        }
        for i in range(1, 501)
    }  # fmt: skip
    shown = largest_mix_rows(rows)
    assert len(shown) == MIX_ROWS + 1
    assert [r["source"] for r in shown[:-1]] == [f"source-{i:04d}" for i in range(481, 501)]
    assert shown[-1]["source"] == "480 other sources"
    for measure in ("programs", "rewrites", "coe_samples"):
        assert sum(r[measure] for r in shown) == sum(r[measure] for r in rows.values())
    figure = plots.source_mix({"mix": shown})
    assert figure is not None and len(figure.axes[0].get_yticklabels()) == MIX_ROWS + 1


# --- the outcome first, one colour per stage and outcome, no blank cell -----------------------


def _text_cells(html: str) -> list[tuple[str, str]]:
    """(tag, text) of every table cell and definition on the page."""

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.cells: list[tuple[str, str]] = []
            self.open: list[tuple[str, list[str]]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in ("td", "th", "dd", "dt"):
                self.open.append((tag, []))

        def handle_endtag(self, tag: str) -> None:
            if self.open and tag == self.open[-1][0]:
                name, text = self.open.pop()
                self.cells.append((name, "".join(text).strip()))

        def handle_data(self, data: str) -> None:
            for _, text in self.open:
                text.append(data)

    parser = Cells()
    parser.feed(html)
    return parser.cells


def _fills(html: str) -> dict[tuple[str, str], dict[str, set[str]]]:
    """(kind, name) -> {plot: fill colours} of every bar the plots tag with its stage or outcome."""
    found: dict[tuple[str, str], dict[str, set[str]]] = {}
    tagged = re.finditer(
        r'<g id="([\w-]+)--(stage|outcome)-([\w-]+)-\d+">\s*<path [^>]*?style="([^"]*)"', html
    )
    for match in tagged:
        plot, kind, name, style = match.groups()
        fill = re.search(r"fill: (#[0-9a-f]{6})", style)
        assert fill, match.group(0)
        found.setdefault((kind, name), {}).setdefault(plot, set()).add(fill.group(1))
    return found


@pytest.mark.spark
@pytest.mark.slow
def test_one_colour_per_stage_and_per_outcome_on_every_plot(sample_run: SampleRun) -> None:
    html = sample_run.page.read_text()
    fills = _fills(html)
    for (kind, name), by_plot in fills.items():
        colours = set().union(*by_plot.values())
        expected = palette.stage_colour(name) if kind == "stage" else palette.outcome_colour(name)
        assert colours == {expected}, (kind, name, by_plot)
    # the same stage and the same outcome are drawn on several plots, in their one colour
    plots_of = {key: {plot.split("-", 1)[-1] for plot in by_plot} for key, by_plot in fills.items()}
    assert {"throughput", "source_mix"} <= plots_of[("stage", "dedup")]
    assert {"status_mix", "reject_reasons"} <= plots_of[("outcome", "exact_duplicate")]
    assert {"status_mix", "reject_reasons", "trace_lines"} <= plots_of[("outcome", "too_long")]
    assert len({palette.stage_colour(s["stage"]) for s in sample_run.facts["stages"]}) == len(
        sample_run.facts["stages"]
    )  # stages told apart
    # the page's badges and swatches take theirs from the same palette
    background, colour = palette.RUN_STATUS_COLOURS["succeeded"]
    assert f".status.succeeded {{ background: {background}; color: {colour}; }}" in html
    for stage in sample_run.facts["stages"]:
        swatch = f'<span class="swatch" style="background: {palette.stage_colour(stage["stage"])}"></span>'
        assert f"<td>{swatch}{stage['stage']}</td>" in html


@pytest.mark.spark
@pytest.mark.slow
def test_no_table_cell_on_the_run_page_is_blank(sample_run: SampleRun) -> None:
    html = sample_run.page.read_text()
    cells = _text_cells(html)
    assert len([c for c in cells if c[0] == "td"]) > 100
    assert [c for c in cells if not c[1]] == []
    # the stage table's "rejected" column: each stage's dropped rows, by reason, or 0
    table = re.search(r'<table id="stage-table">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r"<tr>\s*(.*?)</tr>", table, re.S)[1:]
    rejected = {
        re.sub(r"<[^>]+>", "", cells[0]): re.sub(r"<[^>]+>", " ", cells[5]).split()
        for cells in (re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows)
    }
    assert rejected["dedup"] and rejected["dedup"] != ["0"]  # the duplicates file's
    for stage in sample_run.facts["stages"]:
        dropped = stage["rejected"]
        assert rejected[stage["stage"]] == (
            [word for reason, rows in dropped.items() for word in (f"{reason}:", f"{rows:,}")] or ["0"]
        )


def test_a_failed_run_states_its_stage_and_reason_first_and_folds_the_traceback() -> None:
    run = {
        "run_id": "20260101T000000Z-abcdef",
        "command": "run",
        "status": "failed",
        "error": "RuntimeError: the engine lost its worker\n  at worker.py:12",
        "stages": [{"stage": "ingest"}, {"stage": "dedup"}],
    }
    assert failure({**run, "status": "succeeded"}) is None
    inferred = failure(run)
    assert inferred is not None
    assert (inferred["stage"], inferred["stage_known"]) == ("rewrite", "inferred")
    assert inferred["reason"] == "RuntimeError: the engine lost its worker"
    assert inferred["detail"] == "  at worker.py:12"
    traceback = "Traceback (most recent call last):\n  x"
    recorded = failure({**run, "failed_stage": "trace", "traceback": traceback})
    assert recorded is not None and (recorded["stage"], recorded["stage_known"]) == ("trace", "recorded")
    assert recorded["detail"].endswith(traceback)
    blocked = failure({**run, "status": "blocked", "error": "the trace checks failed:\n- ok rate"})
    assert blocked is not None and (blocked["stage"], blocked["stage_known"]) == ("dedup", "blocked")
    abandoned = failure({**run, "status": "abandoned", "stages": []})
    assert abandoned is not None and abandoned["stage"] is None

    facts = _facts()
    facts["run"] |= {"status": "failed", "error": run["error"], "failure": recorded}
    page = render_page(facts)
    banner = page.index('<div class="outcome failed" id="outcome"')
    assert banner < page.index("<svg") and banner < page.index("<h2>")
    headline = " ".join(re.sub(r"<[^>]+>", " ", page[banner : page.index("</p>", banner)]).split())
    assert headline == "failed in stage trace after 9.0 s"
    assert "<strong>Why:</strong> RuntimeError: the engine lost its worker</p>" in page
    details = re.search(r'<details class="traceback">(.*?)</details>', page, re.S).group(1)
    assert "Traceback (most recent call last):" in details and "at worker.py:12" in details


def _copy_of(sample_run: SampleRun, tmp_path: Path) -> tuple[Path, TracepileConfig]:
    lake = tmp_path / "lake"
    shutil.copytree(sample_run.lake, lake)
    return lake, load_config(overrides={"lakehouse": str(lake)}, environ={})


@pytest.mark.spark
@pytest.mark.slow
def test_the_page_of_a_failed_run_opens_on_the_stage_and_the_reason(
    sample_run: SampleRun, spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real run that fails in its dedup stage (ingest done): the runner's own page."""
    lake, config = _copy_of(sample_run, tmp_path)

    def fails(self: DedupStage, run: object) -> None:
        raise OSError("silver/signatures: a data file is gone\n  caused by: part-00000.parquet not found")

    monkeypatch.setattr(DedupStage, "plan", fails)
    report = run_stages("run", pipeline(config, [f"codeio:{sample_path()}"]), config, spark=spark)
    assert report.status == "failed" and report.run_page is not None
    assert [s.stage for s in report.stages] == ["ingest"]
    assert report.failed_stage == "dedup"  # recorded by the runner, not inferred
    assert report.traceback is not None and "in fails" in report.traceback
    html = Path(report.run_page).read_text()
    banner = html.index('<div class="outcome failed" id="outcome"')
    assert banner < html.index("<svg") and banner < html.index("<h2>")
    headline = " ".join(re.sub(r"<[^>]+>", " ", html[banner : html.index("</p>", banner)]).split())
    assert headline.startswith("failed in stage dedup after ")
    assert "<strong>Why:</strong> OSError: silver/signatures: a data file is gone</p>" in html
    details = re.search(r'<details class="traceback">(.*?)</details>', html, re.S).group(1)
    assert "caused by: part-00000.parquet not found" in details
    assert html.index("caused by") > html.index("<details")  # the rest of the error only folded
    # the page the command opens by default is this run's: the latest pipeline run
    assert ensure_run_page(Lakehouse(spark, str(lake)), config) == report.run_page


@pytest.mark.spark
@pytest.mark.slow
def test_page_opens_the_last_pipeline_run_after_an_export_and_any_command_the_export(
    sample_run: SampleRun, spark: SparkSession, tmp_path: Path
) -> None:
    lake, config = _copy_of(sample_run, tmp_path)
    out = tmp_path / "export"
    report = run_stages("export", [ExportStage(config, "llamafactory", str(out))], config, spark=spark)
    assert report.status == "succeeded", report.error
    lakehouse = Lakehouse(spark, str(lake))
    assert load_run(lakehouse)["run_id"] == report.run_id  # the latest run is the export
    pipeline_page = ensure_run_page(lakehouse, config)
    assert Path(pipeline_page).parent.name == sample_run.run["run_id"]
    assert "<code>tracepile run</code>" in Path(pipeline_page).read_text()
    export_page = ensure_run_page(lakehouse, config, any_command=True)
    assert export_page == report.run_page and Path(export_page).parent.name == report.run_id
    assert "<code>tracepile export</code>" in Path(export_page).read_text()
    # a run id still opens that run, whatever its command
    assert ensure_run_page(lakehouse, config, report.run_id) == export_page
    # the command: the pipeline run's page by default, --any the export's
    for flags, expected in (([], pipeline_page), (["--any"], export_page)):
        done = run_tracepile("page", *flags, "--lakehouse", str(lake))
        assert done.returncode == 0 and done.stdout.strip() == expected, done.stderr[-2000:]
