"""What a run did, per stage: counts, drop reasons, time; printed on one screen and kept as JSON."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tracepile.console import console
from tracepile.interrupts import raise_if_requested
from tracepile.vocab import RunStatus


def new_run_id(now: datetime | None = None) -> str:
    """Names a run (not data): UTC start time plus a random suffix, sortable by time."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


RETRY_NEXT_RUN = "retry_next_run"  # the count of rows a stage leaves for the next run to try again


@dataclass(frozen=True)
class Tally:
    """How a stage's outcomes are counted: one outcome per input record (the ``kept`` value or
    the reason it went no further), counted once per batch by the runner for the stage
    summary, the gate's rates and the run page. Count names may use ``{outcome}`` and
    ``{by}`` (the value of the column ``by``, which splits the counts, e.g. by kind)."""

    kept: str
    kept_as: str = "kept"
    dropped_as: str = "rejected"  # each dropped outcome is also a reason, when ``reasons``
    # outcomes the next run tries again (a server that was down, a run of ours that raised):
    # counted as ``retry_next_run`` and as reasons, never in the gate's rates
    retried: frozenset[str] = frozenset()
    aside: Mapping[str, str] = field(default_factory=dict)  # outcome -> count name; no reason, no rate
    by: str | None = None
    total_as: str | None = None  # a count of every outcome, when named
    reasons: bool = True  # whether dropped outcomes are reasons (retried ones always are)

    def gated(self, outcome: str) -> bool:
        """Whether rows with ``outcome`` count in the gate's rates."""
        return outcome not in self.retried and outcome not in self.aside

    def names(self) -> list[str]:
        """The counts every run of the stage shows, zero or not (those not split by a value)."""
        fixed = [self.total_as, self.kept_as, self.dropped_as, *self.aside.values()]
        fixed += [RETRY_NEXT_RUN] if self.retried else []
        return [n for n in dict.fromkeys(fixed) if n is not None and "{" not in n]


@dataclass
class StageSummary:
    stage: str
    reads: str
    writes: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    mix: dict[str, int] = field(default_factory=dict)  # programs per "source_kind/domain"
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)  # seconds per step, summed over batches

    def add(self, name: str, count: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + count

    def tally(self, tally: Tally, counts: Mapping[tuple[str, str | None], int]) -> None:
        """Add one batch's ``(outcome, by value) -> rows`` to the counts and reasons: the one
        place a stage's outcomes become its summary."""
        for (outcome, by), count in sorted(counts.items(), key=lambda item: (item[0][0], item[0][1] or "")):
            if tally.total_as:
                self.add(tally.total_as, count)
            if outcome in tally.aside:
                self.add(tally.aside[outcome], count)
                continue
            retried = outcome in tally.retried
            name = tally.kept_as if outcome == tally.kept else tally.dropped_as
            name = RETRY_NEXT_RUN if retried else name
            self.add(name.format(outcome=outcome, by=by), count)
            if retried or (outcome != tally.kept and tally.reasons):
                self.reasons[outcome] = self.reasons.get(outcome, 0) + count
        self.reasons = dict(sorted(self.reasons.items()))


@dataclass
class RunSummary:
    run_id: str
    command: str
    engine: str
    lakehouse: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = RunStatus.RUNNING
    error: str | None = None
    stages: list[StageSummary] = field(default_factory=list)
    tables: dict[str, int | None] = field(default_factory=dict)
    gate_report: str | None = None
    run_page: str | None = None  # the run's HTML page with plots (``insights/page.py``), once written
    migrations: list[str] = field(default_factory=list)  # columns added to tables of an earlier version
    failed_stage: str | None = None  # the stage a run that did not succeed stopped in
    traceback: str | None = None  # a failed run's, its last TRACEBACK_CHARS (folded on its page)

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str, sort_keys=True)

    def render(self, out: Console | None = None) -> None:
        out = out or Console()
        seconds = (self.finished_at - self.started_at).total_seconds() if self.finished_at else 0.0
        colour = {RunStatus.SUCCEEDED: "green", RunStatus.BLOCKED: "yellow"}.get(self.status, "red")
        out.print(
            f"[bold]tracepile {self.command}[/]: run [cyan]{self.run_id}[/] "
            f"[{colour}]{self.status}[/] in {seconds:.1f} s  "
            f"(engine {self.engine}, lakehouse {self.lakehouse})"
        )
        if self.error:
            label = "blocked" if self.status == RunStatus.BLOCKED else "error"
            out.print(f"[red]{label}:[/] ", end="")
            out.print(self.error, markup=False, highlight=False)
        for migration in self.migrations:
            out.print("[cyan]migrated[/] ", end="")
            out.print(migration, markup=False, highlight=False)
        if self.stages:
            stages = Table(title="stages", title_justify="left")
            stages.add_column("stage")
            stages.add_column("measure")
            stages.add_column("value", justify="right")
            for stage in self.stages:
                stages.add_row(stage.stage, f"reads {stage.reads}", "", end_section=False)
                stages.add_row("", f"writes {', '.join(stage.writes)}", "")
                for name, value in stage.counts.items():
                    stages.add_row("", name, f"{value:,}")
                for kind_domain, value in stage.mix.items():
                    stages.add_row("", f"[cyan]programs: {kind_domain}[/]", f"{value:,}")
                for reason, value in stage.reasons.items():
                    stages.add_row("", f"[yellow]rejected: {reason}[/]", f"{value:,}")
                for name, text in stage.notes.items():
                    stages.add_row("", name, text)
                stages.add_row("", "time", f"{stage.seconds:.1f} s", end_section=True)
            out.print(stages)
        if self.tables:
            tables = Table(title="tables", title_justify="left")
            tables.add_column("table")
            tables.add_column("rows", justify="right")
            for name, rows in self.tables.items():
                tables.add_row(name, "-" if rows is None else f"{rows:,}")
            out.print(tables)
        if self.gate_report:
            out.print(f"gate report: {self.gate_report}")
        if self.run_page:
            out.print(f"run page: {self.run_page}")


@contextmanager
def step(message: str, times: dict[str, float] | None = None, label: str | None = None) -> Iterator[None]:
    """A spinner while a long step runs, then one line with its time (plain text when piped);
    the seconds are added to ``times[label]`` where given (a step repeated per batch sums)."""
    started = time.perf_counter()
    with console.status(f"{message} ..."):
        yield
    seconds = time.perf_counter() - started
    if times is not None:
        key = label or message
        times[key] = times.get(key, 0.0) + seconds
    console.print(f"[green]done[/] {message} ({seconds:.1f} s)")
    raise_if_requested()


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class BatchProgress:
    """How far a stage that publishes in batches is: batches done of total, rows per second,
    time left. One line per batch always (under spark-submit or a scheduler that is the
    driver log), and a progress bar on a terminal."""

    def __init__(self, label: str, rows: int, batches: int) -> None:
        self.label, self.rows, self.batches = label, rows, batches
        self.rows_done = self.batches_done = 0
        self._started = time.perf_counter()
        self._bar: Progress | None = None
        self._task: int | None = None

    def __enter__(self) -> BatchProgress:
        if console.is_terminal and self.batches > 1:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("rows · batch {task.fields[batch]} · {task.fields[rate]}"),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.rows, batch=f"0/{self.batches}", rate="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def batch_done(self, rows: int) -> None:
        """Count one published batch of ``rows`` rows, then say how far the stage is."""
        self.rows_done += rows
        self.batches_done += 1
        elapsed = time.perf_counter() - self._started
        rate = self.rows_done / elapsed if elapsed > 0 else 0.0
        left = (self.rows - self.rows_done) / rate if rate > 0 else 0.0
        console.print(
            f"{self.label}: batch {self.batches_done} of {self.batches} published, "
            f"{self.rows_done:,} of {self.rows:,} rows, {rate:,.1f} rows/s, "
            f"about {_duration(left)} left",
            highlight=False,
        )
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task,
                completed=self.rows_done,
                batch=f"{self.batches_done}/{self.batches}",
                rate=f"{rate:,.1f}/s",
            )
        raise_if_requested()
