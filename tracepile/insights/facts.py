"""What a run's page shows, read from the lakehouse with Spark: one JSON-able dict (``facts.json``).

Every figure is aggregated in Spark (group counts, histogram buckets, a few statistics); only
those small results are collected. Two scopes, each labelled on the page:

- ``run``: the rows this run wrote (their ``run_id`` column is the run's). The bronze tables
  keep no run id, so ingest's figures in this scope come from the run's own stage summary.
- ``corpus``: every row of the tables as they are when the facts are read.

Tables a run never reached (a run stopped at ingest) are simply absent from the figures.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from tracepile.lakehouse import Lakehouse
from tracepile.tables import (
    BRONZE_SOURCES,
    GOLD_COE,
    GOLD_QUESTION_REJECTS,
    GOLD_QUESTIONS,
    GOLD_REJECTS,
    INGEST_REJECTS,
    RUNS,
    SILVER_EXECUTIONS,
    SILVER_PROGRAMS,
    SILVER_REJECTS,
    SILVER_REWRITE_REJECTS,
    TableSpec,
)
from tracepile.vocab import RunStatus, Status

FACTS_FORMAT = 2  # bump when a key of facts.json changes meaning (2: trace_lines per status)
SCOPES = {"run": "this run: the rows it wrote", "corpus": "corpus: every row of every run"}

# The pipeline's stages, in order, with what each one's outcomes count.
STAGE_UNITS = {
    "ingest": "source records",
    "dedup": "programs",
    "rewrite": "rewrites",
    "trace": "executions",
    "generate": "CoE samples",
    "questions": "questions",
}

# translation/prompts.py estimate_tokens (characters / 3.5, rounded up), as a Spark expression:
# the template backend records no completion tokens, so the page estimates them the same way.
CHARS_PER_TOKEN = 3.5
HISTOGRAM_BINS = 20  # about this many buckets; the width is rounded to 1, 2 or 5 x 10^k

Counts = dict[str, dict[tuple[Any, ...], int]]  # scope -> group key -> rows


def estimated_tokens(text: Column) -> Column:
    """``estimate_tokens`` of ``text`` in Spark."""
    return F.ceil(F.length(text) / F.lit(CHARS_PER_TOKEN)).cast("long")


def _read(lakehouse: Lakehouse, spec: TableSpec) -> DataFrame | None:
    return lakehouse.read(spec) if lakehouse.exists(spec) else None


def _grouped(df: DataFrame | None, run_id: str, *keys: Column, scoped: bool = True) -> Counts:
    """Rows per group, per scope, in one Spark job: grouped by "written by this run" too, then
    folded here (the corpus is both halves). ``scoped=False``: a table without ``run_id``."""
    counts: Counts = {"run": {}, "corpus": {}}
    if df is None:
        return counts
    this_run = (F.col("run_id") == run_id) if scoped else F.lit(False)
    names = [f"k{i}" for i in range(len(keys))]
    grouped = df.groupBy(this_run.alias("this_run"), *(k.alias(n) for k, n in zip(keys, names, strict=True)))
    for row in grouped.count().collect():
        key = tuple(row[n] for n in names)
        counts["corpus"][key] = counts["corpus"].get(key, 0) + row["count"]
        if row["this_run"]:
            counts["run"][key] = counts["run"].get(key, 0) + row["count"]
    return counts


def _nice_width(largest: float, bins: int = HISTOGRAM_BINS) -> float:
    """The smallest of 1, 2, 5 x 10^k that covers 0..``largest`` in about ``bins`` buckets, and
    at least 1: the values are counts (lines, tokens), so a narrower bucket is always empty."""
    raw = largest / bins
    if raw <= 1:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    return float(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))


def _histogram(df: DataFrame | None, value: Column, series: Column) -> dict[str, Any]:
    """Buckets of ``value`` (non-negative) from 0, split by ``series``, with summary statistics."""
    empty: dict[str, Any] = {"rows": 0, "edges": [], "series": {}, "stats": {}}
    if df is None:
        return empty
    rows = df.select(value.alias("value"), series.alias("series")).where(F.col("value").isNotNull())
    # percentile_approx one quantile at a time, aliased: Sail takes no list of quantiles
    stats = rows.agg(
        F.count("*").alias("rows"),
        F.max("value").alias("max"),
        F.avg("value").alias("mean"),
        F.percentile_approx("value", 0.5).alias("p50"),
        F.percentile_approx("value", 0.9).alias("p90"),
    ).first()
    if stats is None or not stats["rows"]:
        return empty
    width = _nice_width(float(stats["max"]))
    buckets = rows.groupBy(F.floor(F.col("value") / width).alias("bucket"), "series").count().collect()
    n_bins = int(float(stats["max"]) // width) + 1
    series_counts: dict[str, list[int]] = {}
    for row in sorted(buckets, key=lambda r: r["series"]):
        series_counts.setdefault(row["series"], [0] * n_bins)[int(row["bucket"])] += row["count"]
    return {
        "rows": stats["rows"],
        "edges": [i * width for i in range(n_bins + 1)],
        "series": series_counts,
        "stats": {
            "mean": round(float(stats["mean"]), 1),
            "p50": float(stats["p50"]),
            "p90": float(stats["p90"]),
            "max": float(stats["max"]),
        },
    }


def _scoped_histograms(df: DataFrame | None, run_id: str, value: Column, series: Column) -> dict[str, Any]:
    return {
        "run": _histogram(None if df is None else df.where(F.col("run_id") == run_id), value, series),
        "corpus": _histogram(df, value, series),
    }


def _outcome(stage: str, table: str, outcome: str, kept: bool, rows: int, unit: str = "") -> dict[str, Any]:
    return {
        "stage": stage,
        "unit": unit or STAGE_UNITS[stage],
        "table": table,
        "outcome": outcome,
        "kept": kept,
        "rows": rows,
    }


def _rejected(stage: str, table: str, by_reason: dict[str, int], unit: str = "") -> list[dict[str, Any]]:
    return [_outcome(stage, table, reason, False, rows, unit) for reason, rows in sorted(by_reason.items())]


def _ingest_from_report(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Ingest's outcomes in the run scope: bronze rows carry no run id, the stage summary does."""
    stage = next((s for s in run.get("stages", []) if s["stage"] == "ingest"), None)
    if stage is None:
        return []
    source = "stage summary"
    kept = [_outcome("ingest", source, "new programs", True, stage["counts"].get("programs_new", 0))]
    return kept + _rejected("ingest", source, stage["reasons"])


def _pick(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: row[key] for key in keys}


def _without_empty_stages(outcomes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Outcomes of the stages that have any rows in the scope (a stage not run shows nothing)."""
    active = {o["stage"] for o in outcomes if o["rows"]}
    return [o for o in outcomes if o["stage"] in active]


def _outcomes(lakehouse: Lakehouse, run: dict[str, Any]) -> dict[str, Any]:
    """Per scope: what each stage's rows became (kept, or each status and reject reason), the
    reject reasons of every stage, and the program / CoE mix by kind, domain and source."""
    run_id = run["run_id"]
    programs = _read(lakehouse, SILVER_PROGRAMS)
    coe = _read(lakehouse, GOLD_COE)
    reason = F.col("reason")
    ingest_rejects = _grouped(_read(lakehouse, INGEST_REJECTS), run_id, reason, scoped=False)
    silver_rejects = _grouped(_read(lakehouse, SILVER_REJECTS), run_id, F.col("stage"), reason)
    rewrite_rejects = _grouped(_read(lakehouse, SILVER_REWRITE_REJECTS), run_id, reason)
    statuses = _grouped(_read(lakehouse, SILVER_EXECUTIONS), run_id, F.col("status"))
    coe_rejects = _grouped(_read(lakehouse, GOLD_REJECTS), run_id, reason)
    questions = _grouped(_read(lakehouse, GOLD_QUESTIONS), run_id, F.lit("verified"))
    question_rejects = _grouped(_read(lakehouse, GOLD_QUESTION_REJECTS), run_id, reason)
    kind_domain_source = (F.col("source_kind"), F.col("domain"), F.col("source"))
    # silver/programs written before rewrites existed has no rewrite_of (until a run migrates it)
    is_rewrite = (
        F.col("rewrite_of").isNotNull()
        if programs is not None and "rewrite_of" in programs.columns
        else F.lit(False)
    )
    program_mix = _grouped(programs, run_id, *kind_domain_source, is_rewrite)
    # gold/coe has no source kind: its program's (a left join, so every sample is counted)
    coe_with_kind = (
        None
        if coe is None or programs is None
        else coe.join(programs.select("program_id", "source_kind"), "program_id", "left")
    )
    coe_mix = _grouped(
        coe_with_kind, run_id, F.coalesce(F.col("source_kind"), F.lit("unknown")), *kind_domain_source[1:]
    )

    def by_last_key(counts: dict[tuple[Any, ...], int]) -> dict[str, int]:
        return {key[-1]: rows for key, rows in counts.items()}

    scopes: dict[str, Any] = {}
    for scope, label in SCOPES.items():
        by_stage: dict[str, dict[str, int]] = {}
        for (stage, why), rows in silver_rejects[scope].items():
            by_stage.setdefault(stage, {})[why] = rows
        originals = sum(n for key, n in program_mix[scope].items() if not key[-1])
        rewrites = sum(n for key, n in program_mix[scope].items() if key[-1])
        if scope == "run":
            ingest = _ingest_from_report(run)
        else:
            kept = lakehouse.count(BRONZE_SOURCES) or 0
            ingest = [_outcome("ingest", BRONZE_SOURCES.qualified_name, "programs", True, kept)]
            ingest += _rejected("ingest", INGEST_REJECTS.qualified_name, by_last_key(ingest_rejects[scope]))
        outcomes = [
            *ingest,
            _outcome("dedup", SILVER_PROGRAMS.qualified_name, "kept", True, originals),
            *_rejected("dedup", SILVER_REJECTS.qualified_name, by_stage.get("dedup", {})),
            _outcome("rewrite", SILVER_PROGRAMS.qualified_name, "kept", True, rewrites),
            *_rejected("rewrite", SILVER_REWRITE_REJECTS.qualified_name, by_last_key(rewrite_rejects[scope])),
            *(
                _outcome("trace", SILVER_EXECUTIONS.qualified_name, status, status == Status.OK, rows)
                for status, rows in sorted(by_last_key(statuses[scope]).items())
            ),
            _outcome("generate", GOLD_COE.qualified_name, "verified", True, sum(coe_mix[scope].values())),
            *_rejected("generate", GOLD_REJECTS.qualified_name, by_last_key(coe_rejects[scope])),
            _outcome(
                "questions", GOLD_QUESTIONS.qualified_name, "verified", True, sum(questions[scope].values())
            ),
            *_rejected(
                "questions", GOLD_QUESTION_REJECTS.qualified_name, by_last_key(question_rejects[scope])
            ),
        ]
        # whole-program verdicts of the trace stage count programs, not executions: reject
        # reasons, but not part of the trace stage's status mix
        verdicts = _rejected("trace", SILVER_REJECTS.qualified_name, by_stage.get("trace", {}), "programs")
        rejects = sorted([o for o in outcomes if not o["kept"]] + verdicts, key=lambda o: -o["rows"])
        scopes[scope] = {
            "label": label,
            "outcomes": _without_empty_stages(outcomes),
            "rejects": [
                {"reason": r["outcome"], **_pick(r, "stage", "unit", "table", "rows")} for r in rejects
            ],
            "mix": _mix(program_mix[scope], coe_mix[scope]),
        }
    return scopes


MIX_ROWS = 20  # kind/domain/source rows shown; the rest as one


def _mix(programs: dict[tuple[Any, ...], int], coe: dict[tuple[Any, ...], int]) -> list[dict[str, Any]]:
    """Programs (originals and rewrites) and verified CoE samples per source kind, domain, source."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}

    def entry(key: tuple[str, str, str]) -> dict[str, Any]:
        return rows.setdefault(
            key,
            {
                "source_kind": key[0],
                "domain": key[1],
                "source": key[2],
                "programs": 0,
                "rewrites": 0,
                "coe_samples": 0,
            },
        )

    for (kind, domain, source, is_rewrite), n in programs.items():
        entry((kind, domain, source))["rewrites" if is_rewrite else "programs"] += n
    for key, n in coe.items():
        entry(key)["coe_samples"] += n
    return largest_mix_rows(rows)


def largest_mix_rows(rows: dict[tuple[str, str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``MIX_ROWS`` largest rows in key order, the rest summed into one: a corpus of
    thousands of sources must not cost a plot label (or a JSON row) per source."""

    def size(row: dict[str, Any]) -> int:
        return row["programs"] + row["rewrites"] + row["coe_samples"]

    ranked = sorted(rows, key=lambda key: (-size(rows[key]), key))
    kept = sorted(ranked[:MIX_ROWS])
    rest = ranked[MIX_ROWS:]
    folded = [rows[key] for key in kept]
    if rest:
        folded.append(
            {
                "source_kind": "all",
                "domain": "all",
                "source": f"{len(rest):,} other sources",
                **{m: sum(rows[key][m] for key in rest) for m in ("programs", "rewrites", "coe_samples")},
            }
        )
    return folded


def _stages(run: dict[str, Any], scope: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's stages as its summary has them, plus rows written, rows per second and the
    rows each dropped by reason (the run scope's rejects: the reject reasons plot's)."""
    written: dict[str, int] = {}
    for outcome in scope["outcomes"]:
        written[outcome["stage"]] = written.get(outcome["stage"], 0) + outcome["rows"]
    rejected: dict[str, dict[str, int]] = {}
    for reject in scope["rejects"]:
        if reject["rows"]:
            reasons = rejected.setdefault(reject["stage"], {})
            reasons[reject["reason"]] = reasons.get(reject["reason"], 0) + reject["rows"]
    stages = []
    for stage in run.get("stages", []):
        # a pipeline stage that wrote nothing wrote 0 rows; another stage's rows are unknown here
        rows = written.get(stage["stage"], 0 if stage["stage"] in STAGE_UNITS else None)
        seconds = float(stage.get("seconds") or 0.0)
        per_second = round(rows / seconds, 1) if rows is not None and seconds > 0 else None
        # runs recorded by earlier versions may lack a field: the page shows it empty
        defaults = {"counts": {}, "reasons": {}, "notes": {}, "mix": {}, "steps": {}}
        stages.append(
            {
                **defaults,
                **stage,
                "seconds": seconds,
                "rows_written": rows,
                "rows_per_second": per_second,
                "rejected": dict(sorted(rejected.get(stage["stage"], {}).items())),
            }
        )
    return stages


# the pipeline's stages in the order ``tracepile run`` runs them (``jobs/stages.py pipeline``);
# rewrite, questions and inputs only when the config turns them on
PIPELINE_STAGES = ("ingest", "dedup", "rewrite", "trace", "generate", "questions", "inputs")
PIPELINE_COMMAND = "run"
ENDED_WELL = (RunStatus.SUCCEEDED, RunStatus.RUNNING)


def _failing_stage(run: dict[str, Any]) -> tuple[str | None, str]:
    """The stage a run that did not succeed stopped in, and how that is known: ``recorded``
    (the run names it), ``blocked`` (a gate's stage: its summary is the last one recorded),
    ``inferred`` (the stage after the last one that finished) or ``unknown``."""
    if run.get("failed_stage"):
        return run["failed_stage"], "recorded"
    done = [stage["stage"] for stage in run.get("stages", [])]
    if run.get("status") == RunStatus.ABANDONED:  # recorded by the next run: no stage is known
        return None, "unknown"
    if run.get("status") == RunStatus.BLOCKED and done:
        return done[-1], "blocked"
    if run.get("command") == PIPELINE_COMMAND:
        if not done:
            return PIPELINE_STAGES[0], "inferred"
        if done[-1] in PIPELINE_STAGES and done[-1] != PIPELINE_STAGES[-1]:
            return PIPELINE_STAGES[PIPELINE_STAGES.index(done[-1]) + 1], "inferred"
        return None, "unknown"
    if not done and run.get("command") in (*PIPELINE_STAGES, "export", "repair", "gate"):
        return run["command"], "inferred"  # a command of one stage, named after it
    return None, "unknown"


def failure(run: dict[str, Any]) -> dict[str, Any] | None:
    """How a run that did not succeed ended, for the top of its page: its outcome, the stage it
    stopped in, the reason (the error's first line) and the rest of the error and its
    traceback (``detail``, shown folded); None for a run that succeeded."""
    status = run.get("status")
    if status in ENDED_WELL:
        return None
    stage, known = _failing_stage(run)
    error = (run.get("error") or "").strip()
    reason, _, rest = error.partition("\n")
    detail = "\n\n".join(part.strip("\n") for part in (rest, run.get("traceback") or "") if part.strip())
    return {
        "status": status,
        "stage": stage,
        "stage_known": known,
        "stages_done": [stage["stage"] for stage in run.get("stages", [])],
        "reason": reason.strip() or "no reason was recorded",
        "detail": detail or None,
    }


def _timestamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def run_facts(lakehouse: Lakehouse, run: dict[str, Any]) -> dict[str, Any]:
    """Everything the run's page shows, as plain JSON-able data (the page's ``facts.json``).

    ``run`` is the run summary as a dict (``json.loads(RunSummary.to_json())``, or a
    ``meta/runs.report_json``)."""
    run_id = run["run_id"]
    started, finished = _timestamp(run.get("started_at")), _timestamp(run.get("finished_at"))
    scopes = _outcomes(lakehouse, run)
    executions = _read(lakehouse, SILVER_EXECUTIONS)
    coe = _read(lakehouse, GOLD_COE)
    response_tokens = F.coalesce(F.col("completion_tokens"), estimated_tokens(F.col("response")))
    histograms = {
        "trace_lines": _scoped_histograms(
            executions,
            run_id,
            F.col("trace_lines"),
            F.col("status"),  # each status its own series: its colour on every plot
        ),
        "response_tokens": _scoped_histograms(
            coe,
            run_id,
            response_tokens,
            F.when(F.col("completion_tokens").isNull(), "estimated").otherwise("counted"),
        ),
        # the training prompt's tokens are never counted by a tokenizer: always an estimate
        "sample_tokens": _scoped_histograms(
            coe, run_id, estimated_tokens(F.col("prompt")) + response_tokens, F.lit("estimated")
        ),
    }
    for name, by_scope in histograms.items():
        for scope, histogram in by_scope.items():
            scopes[scope][name] = histogram
    return {
        "format": FACTS_FORMAT,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": {
            "run_id": run_id,
            "command": run.get("command"),
            "status": run.get("status"),
            "error": run.get("error"),
            "engine": run.get("engine"),
            "lakehouse": run.get("lakehouse"),
            "started_at": started.isoformat(timespec="seconds") if started else None,
            "finished_at": finished.isoformat(timespec="seconds") if finished else None,
            "seconds": round((finished - started).total_seconds(), 1) if started and finished else None,
            "migrations": run.get("migrations", []),
            "failure": failure(run),
        },
        "stages": _stages(run, scopes["run"]),
        "tables": run.get("tables", {}),
        "chars_per_token": CHARS_PER_TOKEN,
        "scopes": scopes,
    }


def load_run(
    lakehouse: Lakehouse, run_id: str | None = None, command: str | None = None
) -> dict[str, Any] | None:
    """A run's summary from ``meta/runs`` (the latest run when ``run_id`` is None; the latest
    run of ``command`` when that is given too), or None."""
    if not lakehouse.exists(RUNS):
        return None
    runs = lakehouse.read(RUNS)
    if run_id is not None:
        runs = runs.where(F.col("run_id") == run_id)
    if command is not None:
        runs = runs.where(F.col("command") == command)
    row = runs.orderBy(F.col("started_at").desc(), F.col("run_id").desc()).select("report_json").first()
    if row is None:
        return None
    return json.loads(row["report_json"])
