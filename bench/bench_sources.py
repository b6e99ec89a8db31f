"""Ingest + dedup + trace throughput per source kind, on the embedded engine.

    python bench/bench_sources.py [--repeats 3] [--pyedu-lines 200] [--kinds codeio pyfiles]

Kinds and what each reads:

- ``codeio``: the bundled sample (``tracepile.cli.sample_path()``) and, when
  ``../shared/data/pyedu_toy.jsonl`` is there, its first ``--pyedu-lines`` lines (copied to a
  temporary file; 0 leaves it out);
- ``algorithms``: ``algorithms:builtin``, the project's own library;
- ``pyfiles``: ``pyfiles:<tree>`` on the installed ``packaging`` package of this environment;
- ``competition``: the test fixtures in CodeContests (JSONL), APPS (JSONL) and TACO (gzip JSONL)
  form: stdin/stdout scripts and call-based solutions, a wrong one among them;
- ``math``: the OpenMathInstruct-1 and plain question/code/answer fixtures (sympy, numpy).

The competition and math fixtures are small (tens of programs, about a hundred runs), so their
ingest rate is mostly the stage's fixed cost; their trace rate is the sandbox's.

One engine session for everything; each source and repeat gets a fresh temporary lakehouse,
then ingest, dedup and trace run through ``run_stage`` in this process. Stage times are the
reports' ``seconds``; every figure is the median of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import packaging
from rich.console import Console
from rich.table import Table

from tracepile.cli import sample_path
from tracepile.config import load_config
from tracepile.engine import spark_session
from tracepile.jobs.dedup_stage import DedupStage
from tracepile.jobs.ingest_stage import IngestStage
from tracepile.jobs.trace_stage import TraceStage
from tracepile.lakehouse import Lakehouse
from tracepile.quality.gate import GateBlocked
from tracepile.runner import run_stage
from tracepile.summary import StageSummary, new_run_id

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PYEDU = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyedu_toy.jsonl"
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
KINDS = ("codeio", "algorithms", "pyfiles", "competition", "math")


@dataclass
class Source:
    kind: str
    label: str
    specs: list[str]


@dataclass
class Measure:
    """One repeat of one source: the three stage summaries, or where a gate blocked."""

    reports: dict[str, StageSummary] = field(default_factory=dict)
    blocked: str | None = None


@contextmanager
def sources(kinds: list[str], pyedu_lines: int) -> Iterator[list[Source]]:
    """The sources to measure, with the PyEdu excerpt in a temporary file while in use."""
    with tempfile.TemporaryDirectory() as scratch:
        found: list[Source] = []
        if "codeio" in kinds:
            found.append(Source("codeio", "bundled sample", [f"codeio:{sample_path()}"]))
            if pyedu_lines > 0 and PYEDU.is_file():
                excerpt = Path(scratch) / "pyedu_excerpt.jsonl"
                with PYEDU.open("rb") as full:
                    excerpt.write_bytes(b"".join(itertools.islice(full, pyedu_lines)))
                found.append(
                    Source("codeio", f"pyedu_toy.jsonl, first {pyedu_lines} lines", [f"codeio:{excerpt}"])
                )
        if "algorithms" in kinds:
            found.append(Source("algorithms", "builtin", ["algorithms:builtin"]))
        if "pyfiles" in kinds:
            tree = os.path.dirname(packaging.__file__)
            label = f"packaging {packaging.__version__} (installed tree)"
            found.append(Source("pyfiles", label, [f"pyfiles:{tree}"]))
        if "competition" in kinds:
            files = ("codecontests.jsonl", "apps.jsonl", "taco.jsonl.gz")
            specs = [f"competition:{FIXTURES / 'competition' / name}" for name in files]
            found.append(Source("competition", "fixtures: CodeContests, APPS, TACO", specs))
        if "math" in kinds:
            specs = [f"math:{FIXTURES / 'math' / name}" for name in ("openmathinstruct.jsonl", "plain.jsonl")]
            found.append(Source("math", "fixtures: OpenMathInstruct-1, plain", specs))
        yield found


def measure_once(spark: SparkSession, specs: list[str]) -> Measure:
    """Ingest, dedup and trace of ``specs`` on a fresh lakehouse."""
    measure = Measure()
    with tempfile.TemporaryDirectory() as root:
        config = load_config(overrides={"lakehouse": root}, environ={})
        lakehouse = Lakehouse(spark, root, config.table_format)
        run_id = new_run_id()
        for stage in (IngestStage(config, specs), DedupStage(config), TraceStage(config)):
            try:
                measure.reports[stage.name] = run_stage(stage, lakehouse, run_id)
            except GateBlocked as blocked:
                measure.reports[stage.name] = blocked.stage_summaries[-1]
                measure.blocked = f"{stage.name}: {blocked}"
                break
    return measure


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def count(measures: list[Measure], stage: str, key: str) -> float:
    return median([m.reports[stage].counts.get(key, 0) for m in measures if stage in m.reports])


def seconds(measures: list[Measure], stage: str) -> float:
    return median([m.reports[stage].seconds for m in measures if stage in m.reports])


def rate(measures: list[Measure], stage: str, key: str) -> float:
    """Median over repeats of that repeat's count / that stage's seconds."""
    return median(
        [
            m.reports[stage].counts.get(key, 0) / m.reports[stage].seconds
            for m in measures
            if stage in m.reports and m.reports[stage].seconds > 0
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pyedu-lines", type=int, default=200, help="0 leaves the PyEdu excerpt out")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    args = parser.parse_args()
    out = Console(width=200)

    results: list[tuple[Source, list[Measure]]] = []
    with sources(args.kinds, args.pyedu_lines) as found, spark_session(load_config(environ={})) as spark:
        for source in found:
            measures = []
            for repeat in range(args.repeats):
                out.print(f"[dim]{source.label}: repeat {repeat + 1}/{args.repeats}[/]")
                measures.append(measure_once(spark, source.specs))
            results.append((source, measures))

    table = Table(
        title=f"ingest + dedup + trace per source kind, embedded engine, {os.cpu_count()} cores, "
        f"median of {args.repeats}"
    )
    columns = (
        "kind",
        "source",
        "programs ingested",
        "programs kept",
        "runs",
        "usable",
        "ingest programs/s",
        "trace runs/s",
        "usable/s",
        "ingest s",
        "dedup s",
        "trace s",
        "ingest+dedup+trace s",
    )
    for column in columns:
        text = column in ("kind", "source")
        table.add_column(column, justify="left" if text else "right", no_wrap=text)
    blocked_notes = []
    for source, measures in results:
        totals = [sum(r.seconds for r in m.reports.values()) for m in measures]
        table.add_row(
            source.kind,
            source.label,
            f"{count(measures, 'ingest', 'programs_new'):,.0f}",
            f"{count(measures, 'dedup', 'programs_new'):,.0f}",
            f"{count(measures, 'trace', 'runs'):,.0f}",
            f"{count(measures, 'trace', 'status_ok'):,.0f}",
            f"{rate(measures, 'ingest', 'programs_new'):,.1f}",
            f"{rate(measures, 'trace', 'runs'):,.1f}",
            f"{rate(measures, 'trace', 'status_ok'):,.1f}",
            f"{seconds(measures, 'ingest'):.2f}",
            f"{seconds(measures, 'dedup'):.2f}",
            f"{seconds(measures, 'trace'):.2f}",
            f"{median(totals):.2f}",
        )
        blocked_notes += [f"{source.label}: blocked at {m.blocked}" for m in measures if m.blocked]
    out.print(table)
    for note in blocked_notes:
        out.print(f"[yellow]{note}[/]")


if __name__ == "__main__":
    main()
