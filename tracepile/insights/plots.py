"""The run page's plots: pure functions of the facts (``facts.py``), no Spark.

Each plot is a small function returning a matplotlib ``Figure`` (or None when its data is
empty, so the page can say so instead of drawing an empty frame); ``to_svg`` turns one into
SVG text to inline in the page. Colours come from ``palette.py``: a stage, or an outcome, is one
colour on every plot. Every bar carries an SVG id naming its stage or outcome
(``<salt>--stage-<name>-<n>``, ``<salt>--outcome-<name>-<n>``), so the page's colours can be
checked from the SVG itself. Figures are built with ``matplotlib.figure.Figure``, not
pyplot: no global state, no GUI backend, and a notebook's own backend is left alone.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from tracepile.insights.palette import outcome_colour, stage_colour

WIDTH_IN = 7.5

_RC = {
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",  # text stays text: smaller, selectable, searchable in the page
    "text.parse_math": False,  # a '$' in a source name or reason is a character, not TeX
}


@contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(_RC):
        yield


def _figure(rows: int) -> Figure:
    """A figure for a horizontal chart of ``rows`` bars: height grows with the rows."""
    return Figure(figsize=(WIDTH_IN, 0.9 + 0.32 * max(rows, 1)), layout="constrained")


def to_svg(figure: Figure, salt: str) -> str:
    """The figure as an ``<svg>`` element for inlining. ``salt`` (unique per figure on a page)
    makes matplotlib's generated ids, such as clip paths, distinct between figures."""
    for n, artist in enumerate(figure.findobj(lambda a: str(a.get_gid() or "").startswith(_TAGS))):
        artist.set_gid(f"{salt}--{artist.get_gid()}-{n}")  # unique on the page
    out = io.StringIO()
    with matplotlib.rc_context({**_RC, "svg.hashsalt": salt}):
        figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]  # no XML prolog or DOCTYPE inside HTML


_TAGS = ("stage-", "outcome-")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name)


def _tag(patches: Iterable[Patch], kind: str, name: str) -> None:
    """Names each patch's stage or outcome in its SVG id (made unique on the page by ``to_svg``:
    the figure's salt before it, the patch's place after it)."""
    for patch in patches:
        patch.set_gid(f"{kind}-{_slug(name)}")


def status_mix(scope: dict[str, Any]) -> Figure | None:
    """Per stage, what its rows became: share kept and share of each status or reject reason."""
    stages: dict[str, list[dict[str, Any]]] = {}
    for outcome in scope["outcomes"]:
        stages.setdefault(outcome["stage"], []).append(outcome)
    stages = {name: rows for name, rows in stages.items() if sum(r["rows"] for r in rows)}
    if not stages:
        return None
    with _style():
        figure = _figure(len(stages))
        axes = figure.add_subplot()
        names = list(stages)[::-1]  # first stage on top
        for y, name in enumerate(names):
            rows = sorted(stages[name], key=lambda r: not r["kept"])  # kept first, from the left
            total = sum(r["rows"] for r in rows)
            left = 0.0
            for row in rows:
                label = "kept" if row["kept"] else row["outcome"]
                share = 100.0 * row["rows"] / total
                bars = axes.barh(y, share, left=left, color=outcome_colour(label), label=label, height=0.6)
                _tag(bars, "outcome", label)
                left += share
            axes.text(101, y, f"{total:,} {rows[0]['unit']}", va="center", fontsize=8)
        axes.set_yticks(range(len(names)), names)
        axes.set_xlim(0, 125)
        axes.set_xticks(range(0, 101, 20))
        axes.set_xlabel("share of the stage's rows (%)")
        _legend(axes)
    return figure


def _legend(axes: Axes) -> None:
    """One legend entry per label, however many bars carry it."""
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    axes.legend(unique.values(), unique.keys(), loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)


def reject_reasons(scope: dict[str, Any]) -> Figure | None:
    """Rows dropped, per stage and reason (execution statuses other than ok among them)."""
    rejects = [r for r in scope["rejects"] if r["rows"]]
    if not rejects:
        return None
    with _style():
        figure = _figure(len(rejects))
        axes = figure.add_subplot()
        rows = rejects[::-1]  # the largest on top
        for y, row in enumerate(rows):  # each reason its outcome's colour, as in the status mix
            bars = axes.barh(y, row["rows"], color=outcome_colour(row["reason"]), height=0.6)
            _tag(bars, "outcome", row["reason"])
        axes.set_yticks(range(len(rows)), [f"{r['stage']}: {r['reason']} ({r['unit']})" for r in rows])
        for y, row in enumerate(rows):
            axes.text(row["rows"], y, f" {row['rows']:,}", va="center", fontsize=8)
        axes.set_xlabel("rows")
        axes.margins(x=0.12)
    return figure


def source_mix(scope: dict[str, Any]) -> Figure | None:
    """Programs, rewrites and verified CoE samples per domain and source."""
    mix = scope["mix"]
    if not mix:
        return None
    # each measure is the output of one stage, drawn in that stage's colour
    measures = (("programs", "programs", "dedup"), ("rewrites", "rewrites", "rewrite"),
                ("coe_samples", "CoE samples", "generate"))  # fmt: skip
    with _style():
        figure = _figure(len(mix) * 2)
        axes = figure.add_subplot()
        rows = mix[::-1]
        height = 0.8 / len(measures)
        for i, (key, label, stage) in enumerate(measures):
            ys = [y + (1 - i) * height for y in range(len(rows))]
            values = [r[key] for r in rows]
            bars = axes.barh(ys, values, height=height, color=stage_colour(stage), label=label)
            _tag(bars, "stage", stage)
            for y, row in zip(ys, rows, strict=True):
                axes.text(row[key], y, f" {row[key]:,}", va="center", fontsize=7)
        labels = [f"{r['domain']} / {r['source']} ({r['source_kind']})" for r in rows]
        axes.set_yticks(range(len(rows)), labels)
        axes.set_xlabel("rows")
        axes.margins(x=0.12)
        _legend(axes)
    return figure


def histogram(data: dict[str, Any], xlabel: str) -> Figure | None:
    """Stacked buckets of a histogram from the facts, with its median and 90th percentile."""
    if not data["rows"]:
        return None
    edges = data["edges"]
    width = edges[1] - edges[0]
    with _style():
        figure = Figure(figsize=(WIDTH_IN, 2.6), layout="constrained")
        axes = figure.add_subplot()
        bottom = [0] * (len(edges) - 1)
        for name, counts in data["series"].items():
            colour = outcome_colour(name)
            bars = axes.bar(edges[:-1], counts, width=width, bottom=bottom, align="edge", color=colour,
                            edgecolor="white", linewidth=0.5, label=name)  # fmt: skip
            _tag(bars, "outcome", name)
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        for name, style in (("p50", "--"), ("p90", ":")):
            value = data["stats"][name]
            axes.axvline(value, color="#222", linestyle=style, linewidth=1, label=f"{name} {value:,.0f}")
        axes.set_xlabel(xlabel)
        axes.set_ylabel("rows")
        _legend(axes)
    return figure


def trace_lines(scope: dict[str, Any]) -> Figure | None:
    """Snoop trace lines per execution, one series per status, stacked."""
    return histogram(scope["trace_lines"], "snoop trace lines per execution")


def response_tokens(scope: dict[str, Any]) -> Figure | None:
    """Tokens per CoE response, counted by the model's tokenizer or estimated, stacked."""
    return histogram(scope["response_tokens"], "tokens per CoE response")


def sample_tokens(scope: dict[str, Any]) -> Figure | None:
    """Tokens per training sample (prompt and response), estimated."""
    return histogram(scope["sample_tokens"], "tokens per training sample (prompt + response, estimated)")


def throughput(facts: dict[str, Any]) -> Figure | None:
    """Per stage of the run: seconds taken, and rows written per second."""
    stages = facts["stages"]
    if not stages:
        return None
    with _style():
        figure = Figure(figsize=(WIDTH_IN, 0.9 + 0.32 * len(stages)), layout="constrained")
        seconds_axes, rate_axes = figure.subplots(1, 2, sharey=True)
        ys = range(len(stages))
        names = [s["stage"] for s in stages][::-1]
        colours = [stage_colour(name) for name in names]
        for axes, key, label in (
            (seconds_axes, "seconds", "seconds"),
            (rate_axes, "rows_per_second", "rows written per second"),
        ):
            values = [s[key] for s in stages][::-1]  # None: a stage whose rows are not counted
            bars = axes.barh(ys, [v or 0 for v in values], height=0.6, color=colours)
            for bar, name in zip(bars, names, strict=True):
                _tag([bar], "stage", name)
            for y, value in zip(ys, values, strict=True):
                text = " not counted" if value is None else f" {value:,.{1 if value >= 1 else 2}f}"
                axes.text(value or 0, y, text, va="center", fontsize=8)
            axes.set_xlabel(label)
            axes.set_xlim(0, 1.25 * max((v or 0 for v in values), default=0) or 1)  # from 0, room for labels
        seconds_axes.set_yticks(ys, names)
    return figure


# What the page draws for each scope, in order: (key, title, plot).
ScopePlot = tuple[str, str, Callable[[dict[str, Any]], Figure | None]]
SCOPE_PLOTS: tuple[ScopePlot, ...] = (
    ("status_mix", "Status mix per stage", status_mix),
    ("reject_reasons", "Reject reasons", reject_reasons),
    ("source_mix", "Domain and source mix", source_mix),
    ("trace_lines", "Trace length", trace_lines),
    ("response_tokens", "CoE response length", response_tokens),
    ("sample_tokens", "Training sample length", sample_tokens),
)
