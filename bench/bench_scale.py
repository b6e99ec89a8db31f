"""The scale ladder: ingest and dedup at every rung; rewrite, trace, generate and questions at
the small ones.

    python bench/bench_scale.py [--rungs 1000 10000 100000] [--trace-max 1000] [--repeats 1]
        [--tiled-rungs 1000000] [--seed 0] [--plot] [--plot-path bench/scale.png] [--json FILE]

Each rung is a CodeI/O corpus of that many lines made by ``bench/make_scale_corpus.py`` from the
PyEdu sample (derived programs, 5% exact and 5% near duplicates, 1% bad lines, seeded), written
once and kept under ``bench/.cache/scale/`` (gitignored). Each repeat of a rung gets a fresh
lakehouse in a temporary folder and runs the stages as a user does, one command each, from that
folder (so no ``tracepile.toml`` of the checkout is read):

    tracepile ingest --source codeio:FILE --lakehouse DIR
    tracepile dedup --lakehouse DIR
    tracepile rewrite --lakehouse DIR        (rungs up to --trace-max, as the rest)
    tracepile trace --lakehouse DIR
    tracepile generate --lakehouse DIR
    tracepile questions --lakehouse DIR

with the default configuration. A ``--tiled-rungs`` rung is the largest rung's corpus repeated
(``make_scale_corpus.tile``: every record a program id of its own, the code repeating), made in
seconds where generating it would take an hour: ingest only, since dedup would mostly find exact
copies there. Each command's output (its steps, timed) is kept in
``bench/.cache/scale/logs/RUNG-STAGE.log``. A command's seconds are its wall time, engine start and stop
included; "stage s" is the stage's own time from the run report (``meta/runs``), so the
difference is the command's fixed cost; "run s" is the run as ``meta/runs`` records it (start to finish,
engine start included, the work after it not: counting the tables, writing the run page,
stopping the engine). Peak memory is the largest sum of resident memory over
the command's whole process tree (the CLI, with the embedded engine, and its sandbox workers),
sampled every ``--sample-ms``. Items: ingest, lines read; dedup, programs it read (ingest's new
programs); rewrite, original programs it rewrote; trace, sandbox runs (rewrites' included);
generate and questions, executions they read. The per-item cost (seconds per
item) is given relative to the same stage's at the smallest rung measured; with ``--repeats``
above 1 every figure is the median.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from make_scale_corpus import CORPUS_VERSION, tile  # noqa: E402  (bench/ is not a package)

CACHE = BENCH / ".cache" / "scale"
LOGS = CACHE / "logs"  # each command's output, the latest repeat's (its steps and their times)
TRACEPILE = Path(sys.executable).with_name("tracepile")
STAGES = ("ingest", "dedup", "rewrite", "trace", "generate", "questions")
ITEMS = {
    "ingest": "lines", "dedup": "programs", "rewrite": "programs", "trace": "runs", "generate": "executions",
    "questions": "executions",
}  # fmt: skip


@dataclass
class Measure:
    """One command at one rung (a median over repeats once summarised)."""

    rung: int
    stage: str
    items: int
    seconds: float
    stage_seconds: float
    peak_bytes: int
    counts: dict[str, int] = field(default_factory=dict)
    run_seconds: float = 0.0  # meta/runs started_at..finished_at: the run without exit work

    @property
    def per_item(self) -> float:
        return self.seconds / self.items if self.items else float("nan")


def corpus(rung: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The rung's corpus and its counts per kind, made once and cached."""
    path = CACHE / f"codeio-{rung}-seed{seed}-v{CORPUS_VERSION}.jsonl"
    counts_path = path.with_suffix(".counts.json")
    if not (path.exists() and counts_path.exists()):
        command = [sys.executable, str(BENCH / "make_scale_corpus.py"), "--programs", str(rung)]
        command += ["--out", str(path), "--seed", str(seed), "--counts", str(counts_path)]
        subprocess.run(command, check=True)
    return path, json.loads(counts_path.read_text(encoding="utf-8"))


def tiled_corpus(rung: int, base: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """A corpus of ``rung`` lines made by repeating the ``base`` rung's (``make_scale_corpus.tile``),
    made once and cached: its code repeats, so only ingest measures anything real on it."""
    source, kinds = corpus(base, seed)
    path = CACHE / f"codeio-{rung}-tiled-from-{base}-seed{seed}-v{CORPUS_VERSION}.jsonl"
    if not path.exists():
        tile(source, path, rung // base)
    return path, {
        "lines": rung,
        "tiled_from": base,
        **{k: v * (rung // base) for k, v in kinds.items() if k != "lines"},
    }


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of ``process`` and all its descendants (those that vanish count nothing)."""
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += member.memory_info().rss
    return total


def run_command(argv: list[str], cwd: Path, sample_s: float) -> tuple[float, int, str]:
    """Run ``argv``; its wall seconds, the peak resident memory of its process tree, its output."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    process = psutil.Process(child.pid)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(process))
            done.wait(sample_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = child.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {child.returncode}:\n{output[-4000:]}")
    return seconds, peak, output


def last_report(lakehouse: Path) -> tuple[dict[str, Any], float]:
    """The stage summary of the latest run in ``meta/runs`` (read from its Parquet files), and
    that run's recorded seconds (from its start, before the engine, to before the run is
    recorded, the tables counted and the run page written)."""
    rows: list[dict[str, Any]] = []
    for part in (lakehouse / "meta" / "runs").glob("*.parquet"):
        rows.extend(pq.read_table(part).to_pylist())
    latest = max(rows, key=lambda row: row["started_at"])
    run_seconds = (latest["finished_at"] - latest["started_at"]).total_seconds()
    return json.loads(latest["report_json"])["stages"][0], run_seconds


def items_of(stage: str, counts: dict[str, int], lines: int) -> int:
    """How many items a stage handled, from its report's counts (see the module docstring)."""
    key = {
        "dedup": "programs_read", "rewrite": "programs", "trace": "runs", "generate": "pending",
        "questions": "executions",
    }.get(stage)  # fmt: skip
    return lines if key is None else counts.get(key, 0)


def measure_rung(
    rung: int, seed: int, trace_max: int, sample_s: float, console: Console, tiled_from: int = 0
) -> list[Measure]:
    """One repeat of one rung on a fresh lakehouse (a tiled rung: ingest only)."""
    path, kinds = tiled_corpus(rung, tiled_from, seed) if tiled_from else corpus(rung, seed)
    stages = STAGES[:1] if tiled_from else STAGES if rung <= trace_max else STAGES[:2]
    console.log(f"rung {rung:,}: {path.name}, " + ", ".join(f"{k}={v}" for k, v in kinds.items()))
    scratch = Path(tempfile.mkdtemp(prefix="tracepile-scale-"))
    lakehouse = scratch / "lakehouse"
    measures: list[Measure] = []
    try:
        for stage in stages:
            argv = [str(TRACEPILE), stage, "--lakehouse", str(lakehouse)]
            if stage == "ingest":
                argv[2:2] = ["--source", f"codeio:{path}"]
            seconds, peak, output = run_command(argv, scratch, sample_s)
            LOGS.mkdir(parents=True, exist_ok=True)
            (LOGS / f"{rung}-{stage}.log").write_text(output, encoding="utf-8")
            report, run_seconds = last_report(lakehouse)
            counts = {k: v for k, v in report.get("counts", {}).items() if isinstance(v, int)}
            items = items_of(stage, counts, kinds["lines"])
            stage_seconds = float(report.get("seconds", 0.0))
            measure = Measure(rung, stage, items, seconds, stage_seconds, peak, counts, run_seconds)
            measures.append(measure)
            console.log(
                f"{rung:>9,} {stage:<9} {seconds:8.1f} s  {items:>9,} {ITEMS[stage]}  "
                f"peak {peak / 2**20:,.0f} MiB  stage {stage_seconds:.1f} s  run {run_seconds:.1f} s"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return measures


def median_measure(repeats: list[Measure]) -> Measure:
    """The median of each figure over the repeats of one rung and stage."""
    first = repeats[0]
    return Measure(
        first.rung,
        first.stage,
        first.items,
        statistics.median(m.seconds for m in repeats),
        statistics.median(m.stage_seconds for m in repeats),
        int(statistics.median(m.peak_bytes for m in repeats)),
        first.counts,
        statistics.median(m.run_seconds for m in repeats),
    )


def relative_costs(measures: list[Measure]) -> dict[tuple[int, str], float]:
    """Per-item cost of each (rung, stage) over the same stage's at its smallest measured rung."""
    smallest: dict[str, Measure] = {}
    for measure in sorted(measures, key=lambda m: m.rung):
        smallest.setdefault(measure.stage, measure)
    return {(m.rung, m.stage): m.per_item / smallest[m.stage].per_item for m in measures}


def table(measures: list[Measure], repeats: int) -> Table:
    """The results as a rich table, grouped by stage."""
    relative = relative_costs(measures)
    out = Table(title=f"scale ladder (median of {repeats})")
    for column in (
        "rung",
        "stage",
        "items",
        "seconds",
        "run s",
        "stage s",
        "items/s",
        "peak MiB",
        "ms/item",
        "vs smallest",
    ):
        out.add_column(column, justify="left" if column == "stage" else "right")
    ordered = sorted(measures, key=lambda m: (STAGES.index(m.stage), m.rung))
    for index, m in enumerate(ordered):
        last = index + 1 == len(ordered) or ordered[index + 1].stage != m.stage
        out.add_row(
            f"{m.rung:,}",
            m.stage,
            f"{m.items:,} {ITEMS[m.stage]}",
            f"{m.seconds:.1f}",
            f"{m.run_seconds:.1f}",
            f"{m.stage_seconds:.1f}",
            f"{m.items / m.seconds:,.1f}",
            f"{m.peak_bytes / 2**20:,.0f}",
            f"{m.per_item * 1000:.2f}",
            f"{relative[(m.rung, m.stage)]:.2f}x",
            end_section=last,
        )
    return out


def plot(measures: list[Measure], path: Path) -> None:
    """Per-item cost against rung, one line per stage, log-log, as a small PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.6), dpi=110)
    for stage in STAGES:
        points = sorted((m.rung, m.per_item * 1000) for m in measures if m.stage == stage)
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", label=f"{stage} (per {ITEMS[stage][:-1]})")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("corpus lines (rung)")
    axes.set_ylabel("ms per item (command wall time)")
    axes.set_title("tracepile: per-item cost by corpus size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, measure every rung, print the table, plot and save when asked."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rungs", type=int, nargs="+", default=[1_000, 10_000, 100_000], help="corpus sizes")
    parser.add_argument(
        "--trace-max", type=int, default=1_000, help="largest rung that is traced and generated"
    )
    parser.add_argument(
        "--tiled-rungs",
        type=int,
        nargs="*",
        default=[],
        help="ingest only, on the largest --rungs corpus repeated to this size (make_scale_corpus.tile)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="repeats per rung (figures are medians)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed")
    parser.add_argument("--sample-ms", type=float, default=100.0, help="memory sampling interval")
    parser.add_argument("--plot", action="store_true", help="write a PNG of per-item cost against rung")
    parser.add_argument("--plot-path", type=Path, default=BENCH / "scale.png")
    parser.add_argument("--json", type=Path, help="also write every measure (all repeats) here")
    parser.add_argument(
        "--load",
        type=Path,
        nargs="+",
        help="measure nothing: print (and --plot) the measures of earlier --json files together",
    )
    args = parser.parse_args(argv)
    console = Console(width=150)
    everything: list[Measure] = []
    summary: list[Measure] = []
    if args.load:
        loaded = [
            Measure(**row) for path in args.load for row in json.loads(path.read_text(encoding="utf-8"))
        ]
        groups: dict[tuple[int, str], list[Measure]] = {}
        for measure in loaded:
            groups.setdefault((measure.rung, measure.stage), []).append(measure)
        summary = [median_measure(repeats) for repeats in groups.values()]
        everything, args.rungs = loaded, []
    base = max(args.rungs, default=0)
    ladder = [(rung, 0) for rung in sorted(args.rungs)] + [(rung, base) for rung in sorted(args.tiled_rungs)]
    for rung, tiled_from in ladder:
        runs = [
            measure_rung(rung, args.seed, args.trace_max, args.sample_ms / 1000, console, tiled_from)
            for _ in range(args.repeats)
        ]
        for stage_index in range(len(runs[0])):
            repeats = [run[stage_index] for run in runs]
            everything.extend(repeats)
            summary.append(median_measure(repeats))
    repeats = max(len([m for m in everything if (m.rung, m.stage) == (s.rung, s.stage)]) for s in summary)
    console.print(table(summary, repeats))
    if args.json:
        args.json.write_text(json.dumps([asdict(m) for m in everything], indent=1) + "\n", encoding="utf-8")
    if args.plot:
        plot(summary, args.plot_path)
        console.print(f"plot: {args.plot_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
