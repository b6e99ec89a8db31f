"""Rewrites and questions throughput, and the share of programs that yield a kept rewrite.

    python bench/bench_augment.py [--repeats 3] [--problems 60]

On the first ``--problems`` PyEdu problems (``../shared/data/pyedu_toy.jsonl``; the bundled
sample when it is absent), each repeat on a fresh lakehouse in one engine session: ingest
and dedup, then the rewrite stage (timed), trace and generate (trace timed, as the yardstick:
a rewrite's differential check runs its original's inputs untraced), then the questions
stage (timed). Every figure is the median of ``--repeats``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tracepile.cli import sample_path
from tracepile.config import load_config
from tracepile.engine import spark_session
from tracepile.jobs.dedup_stage import DedupStage
from tracepile.jobs.generate_stage import GenerateStage
from tracepile.jobs.ingest_stage import IngestStage
from tracepile.jobs.questions_stage import QuestionsStage
from tracepile.jobs.rewrite_stage import RewriteStage
from tracepile.jobs.trace_stage import TraceStage
from tracepile.lakehouse import Lakehouse
from tracepile.runner import run_stage
from tracepile.summary import StageSummary, new_run_id
from tracepile.tables import SILVER_PROGRAMS

PYEDU = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyedu_toy.jsonl"


def measure_once(spark, source: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as root:
        config = load_config(overrides={"lakehouse": root}, environ={})
        lakehouse = Lakehouse(spark, root, config.table_format)
        run_id = new_run_id()
        reports: dict[str, StageSummary] = {}
        stages = (IngestStage(config, [source]), DedupStage(config), RewriteStage(config), TraceStage(config),
                  GenerateStage(config), QuestionsStage(config))  # fmt: skip
        for stage in stages:
            reports[stage.name] = run_stage(stage, lakehouse, run_id)
        rewrites, questions = reports["rewrite"].counts, reports["questions"].counts
        programs = lakehouse.read(SILVER_PROGRAMS)
        originals = programs.where("rewrite_of IS NULL").count()
        rewritten = programs.where("rewrite_of IS NOT NULL").select("rewrite_of").distinct().count()
        tried = rewrites.get("rewrites_kept", 0) + rewrites.get("rewrites_dropped", 0)
        asked = sum(v for k, v in questions.items() if k.startswith("questions_"))
        return {
            "programs": originals,
            "rewrites tried": tried,
            "rewrites kept": rewrites.get("rewrites_kept", 0),
            "kinds kept": len([k for k in rewrites if k.startswith("kept_")]),
            "share with a kept rewrite": rewritten / originals if originals else 0.0,
            "rewrites/s": tried / reports["rewrite"].seconds,
            "trace runs/s": reports["trace"].counts.get("runs", 0) / reports["trace"].seconds,
            "executions asked": questions.get("executions", 0),
            "questions": asked,
            "questions/s": asked / reports["questions"].seconds,
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--problems", type=int, default=60)
    args = parser.parse_args()
    out = Console(width=200)
    with tempfile.TemporaryDirectory() as scratch:
        if PYEDU.is_file():
            source = Path(scratch) / "pyedu.jsonl"
            with PYEDU.open("rb") as full:
                source.write_bytes(b"".join(itertools.islice(full, args.problems)))
            label = f"pyedu_toy.jsonl, first {args.problems} problems"
        else:
            source, label = Path(sample_path()), "bundled sample"
        with spark_session(load_config(environ={})) as spark:
            runs = []
            for repeat in range(args.repeats):
                out.print(f"[dim]{label}: repeat {repeat + 1}/{args.repeats}[/]")
                runs.append(measure_once(spark, f"codeio:{source}"))
    table = Table(
        title=f"rewrites and questions, {label}, embedded engine, {os.cpu_count()} cores, "
        f"median of {args.repeats}"
    )
    for column in runs[0]:
        table.add_column(column, justify="right")
    table.add_row(
        *(f"{statistics.median(r[c] for r in runs):,.2f}" if isinstance(runs[0][c], float) else
          f"{statistics.median(r[c] for r in runs):,.0f}" for c in runs[0])
    )  # fmt: skip
    out.print(table)


if __name__ == "__main__":
    main()
