"""The whole pipeline, stage by stage: where ``tracepile run`` spends its time.

For each input (the bundled sample, always; then each ``--source KIND:PATH``, e.g. a public
repository's tree as ``pyfiles``) the pipeline runs as a user runs it (``tracepile run``,
embedded engine, a fresh lakehouse each repeat), and the run's own record
(``reports/runs/<run>/facts.json``: each stage's seconds and the seconds of each step inside
it) is read back. Printed per input, medians of ``--repeats``:

- the command's wall time, and what is outside every stage (interpreter and imports, engine
  start, migrations, the run record, the tables' counts and the run page);
- per stage: seconds, share of the run, rows written, and its steps (reads and staging of
  the work, the sandbox or backend inside it, the quality gate and publishing); what is
  not inside a step is the stage's planning (engine queries, counts);
- the rewrite stage against the trace stage (the issue's target: rewrite at most trace).

    python bench/bench_pipeline.py --source pyfiles:/tmp/euler/project_euler --repeats 3

The figures in docs/performance.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

TRACEPILE = [sys.executable, "-m", "tracepile"]


def one_run(arguments: list[str], extra: list[str]) -> dict[str, Any]:
    """``tracepile run`` on a fresh lakehouse: wall seconds, status and its stages' facts."""
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as scratch:
        lake = Path(scratch) / "lake"
        started = time.perf_counter()
        done = subprocess.run(
            [*TRACEPILE, "run", *arguments, "--lakehouse", str(lake), *extra],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        pages = sorted((lake / "reports" / "runs").glob("*/facts.json"))
        if done.returncode != 0 or not pages:
            raise SystemExit(
                f"tracepile run {' '.join(arguments)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
        facts = json.loads(pages[-1].read_text())
    return {"wall": wall, "status": facts["run"]["status"], "stages": facts["stages"]}


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per stage and per step, the median over repeats (a stage or step missing in a repeat
    counts as 0 s there); the rows written of the last repeat."""
    names = list(dict.fromkeys(stage["stage"] for run in runs for stage in run["stages"]))
    stages = []
    for name in names:
        found = [next((s for s in run["stages"] if s["stage"] == name), None) for run in runs]
        steps = list(dict.fromkeys(step for stage in found if stage for step in stage.get("steps", {})))
        stages.append(
            {
                "stage": name,
                "seconds": statistics.median(s["seconds"] if s else 0.0 for s in found),
                "rows": next((s["rows_written"] for s in reversed(found) if s), None),
                "steps": {
                    step: statistics.median((s or {}).get("steps", {}).get(step, 0.0) for s in found)
                    for step in steps
                },
            }
        )
    wall = statistics.median(run["wall"] for run in runs)
    return {"wall": wall, "stages": stages, "statuses": sorted({run["status"] for run in runs})}


def print_profile(out: Console, label: str, profile: dict[str, Any], repeats: int) -> None:
    wall = profile["wall"]
    in_stages = sum(stage["seconds"] for stage in profile["stages"])
    statuses = ", ".join(profile["statuses"])
    table = Table(
        title=f"{label}: tracepile run, {wall:.1f} s wall (median of {repeats}; {statuses})",
        title_justify="left",
    )
    for column, justify in (("stage", "left"), ("seconds", "right"), ("share", "right"), ("rows", "right"),
                            ("where the time goes (steps, s)", "left")):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for stage in profile["stages"]:
        steps = dict(stage["steps"])
        planning = stage["seconds"] - sum(steps.values())
        parts = [f"{name} {seconds:.1f}" for name, seconds in steps.items()]
        parts.append(f"planning and counts {max(planning, 0.0):.1f}")
        rows = "" if stage["rows"] is None else f"{stage['rows']:,}"
        table.add_row(
            stage["stage"],
            f"{stage['seconds']:.1f}",
            f"{stage['seconds'] / wall:.0%}",
            rows,
            "; ".join(parts),
        )
    outside = wall - in_stages
    table.add_row(
        "outside the stages", f"{outside:.1f}", f"{outside / wall:.0%}", "",
        "interpreter and imports, engine start, migrations, run record, table counts, run page",
    )  # fmt: skip
    out.print(table)
    by_name = {stage["stage"]: stage["seconds"] for stage in profile["stages"]}
    if "rewrite" in by_name and by_name.get("trace"):
        ratio = by_name["rewrite"] / by_name["trace"]
        verdict = "at most trace: met" if ratio <= 1 else "over trace: not met"
        out.print(
            f"rewrite {by_name['rewrite']:.1f} s / trace {by_name['trace']:.1f} s = {ratio:.2f} ({verdict})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--source", action="append", default=[], help="KIND:PATH, run after the sample (repeatable)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per input (median)")
    parser.add_argument("--no-sample", action="store_true", help="leave the bundled sample out")
    parser.add_argument(
        "--set", action="append", default=[], help="config KEY=VALUE for every run (repeatable)"
    )
    args = parser.parse_args()
    extra = [item for setting in args.set for item in ("--set", setting)]
    inputs = [] if args.no_sample else [("bundled sample", ["--sample"])]
    inputs += [(source, ["--source", source]) for source in args.source]
    out = Console(width=160)
    for label, arguments in inputs:
        runs = [one_run(arguments, extra) for _ in range(args.repeats)]
        print_profile(out, label, medians(runs), args.repeats)


if __name__ == "__main__":
    main()
