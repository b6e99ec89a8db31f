"""The one runner: everything around a stage, the same for every stage and every way in.

``run_stages`` is a whole run (the CLI's commands, ``spark-submit jobs/submit.py`` through the
CLI, the Databricks notebook): the lakehouse's lease (``lease.py``: one writing run at a
time; a dead holder's run is recorded as abandoned), SIGTERM and Ctrl-C handling, the
engine session (or the caller's), migrations of tables written by an earlier version, each
stage in order, the run's row in ``meta/runs`` and its summary. ``run_stage`` is one
stage: its summary and timing, staging and its cleanup, and, through ``StageRun``, the
engine, the counting of its outcomes (once per batch, for the summary, the gate's rates and
the run page) and write-audit-publish of each batch it plans (``quality/gate.py``) or
quarantine.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow.fs as pafs
from pyspark.sql import functions as F

from tracepile import interrupts, preload
from tracepile.config import TracepileConfig, config_to_toml
from tracepile.console import console
from tracepile.engine import python_partitions, spark_session
from tracepile.failures import crash_point, stall_point
from tracepile.insights.page import write_run_page
from tracepile.lakehouse import Lakehouse
from tracepile.lease import Holder, Lease, lease_dir
from tracepile.migrations import migrate
from tracepile.quality import gate
from tracepile.quality.gate_report import gate_report_location
from tracepile.quality.validate import CheckResult
from tracepile.stage import Stage
from tracepile.storage import filesystem_for
from tracepile.summary import BatchProgress, RunSummary, StageSummary, new_run_id, step
from tracepile.tables import ALL_TABLES, RUNS, TableSpec
from tracepile.udfs.sandbox import kill_all as kill_sandboxes
from tracepile.udfs.worker_state import release as release_worker_state
from tracepile.vocab import RunStatus

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

TRACEBACK_CHARS = 20_000  # a failed run's traceback kept in its record: the frames nearest the error


class _StageRun:
    """``stage.StageRun`` for one stage of one run."""

    def __init__(
        self, stage: Stage, lakehouse: Lakehouse, run_id: str, summary: StageSummary, lease: Lease | None
    ) -> None:
        self._stage_name, self._tally, self._lease = stage.name, stage.tally, lease
        self._config = stage.config
        self._verdicts: list[gate.Verdict] = []
        self.lakehouse, self.run_id, self.summary = lakehouse, run_id, summary

    @property
    def spark(self) -> SparkSession:
        return self.lakehouse.spark

    def stage(self, df: DataFrame, name: str) -> DataFrame:
        staged = self.lakehouse.stage(df, name, self.run_id)
        crash_point(f"{self._stage_name}:staged:{name}")
        return staged

    def python_partitions(self, wanted: int) -> int:
        return python_partitions(self._config, wanted)

    def mix(self, programs: DataFrame) -> dict[str, int]:
        rows = programs.groupBy("source_kind", "domain").count().collect()
        return {f"{r['source_kind']}/{r['domain']}": r["count"] for r in sorted(rows, key=lambda r: r[:2])}

    def step(self, message: str) -> AbstractContextManager[None]:
        # a step repeated per batch is summed under one name
        label = re.sub(r"^batch \d+ of \d+[:,] ", "", message)
        return step(f"{self._stage_name}: {message}", self.summary.steps, label)

    def progress(self, rows: int, batches: int) -> BatchProgress:
        return BatchProgress(self._stage_name, rows, batches)

    def write(
        self, tables: Sequence[tuple[TableSpec, DataFrame]], outcomes: DataFrame | None = None
    ) -> gate.Batch:
        batch = gate.stage_batch(self.lakehouse, self.run_id, self._stage_name, list(tables))
        if outcomes is not None:
            self._count(batch, outcomes)
        return batch

    def count(self, outcomes: Mapping[tuple[str, str | None], int]) -> None:
        assert self._tally is not None, f"the {self._stage_name} stage counts outcomes but declares no tally"
        self.summary.tally(self._tally, outcomes)

    def _count(self, batch: gate.Batch, outcomes: DataFrame) -> None:
        """The one count of a batch's outcomes: into the stage's summary by its tally, and
        onto the batch for the gate's rates (those the tally says are gated)."""
        tally = self._tally
        assert tally is not None, f"the {self._stage_name} stage gives outcomes but declares no tally"
        columns = ["outcome", *([tally.by] if tally.by else [])]
        counts = {
            (row["outcome"], row[tally.by] if tally.by else None): row["count"]
            for row in outcomes.groupBy(*columns).count().collect()
        }
        self.count(counts)
        gated = [outcome for outcome in {o for o, _ in counts} if tally.gated(outcome)]
        kept = F.col("outcome").isin(*gated) if gated else F.lit(False)
        batch.outcomes = outcomes.where(kept).select("outcome")
        batch.outcome_counts = {o: sum(n for (k, _), n in counts.items() if k == o) for o in gated}

    def publish(self, batch: gate.Batch) -> None:
        if self._lease is not None:
            self._lease.check()
        self._verdicts.append(gate.publish(self.lakehouse, self._config, batch).verdict)
        self.summary.notes.update(gate.verdict_notes(self._verdicts))

    def audit(self, results: list[CheckResult], passed: str, failed: str) -> None:
        verdict = gate.decide(
            self.lakehouse, self._config, self.run_id, self._stage_name, results, passed, failed
        )
        self.summary.notes.update(verdict.notes())
        if verdict.stopping:
            raise gate.GateBlocked(
                gate.failure_list(f"the {self._stage_name} checks failed", verdict.stopping), verdict.stopping
            )


def run_stage(stage: Stage, lakehouse: Lakehouse, run_id: str, lease: Lease | None = None) -> StageSummary:
    """One stage: plan, then write-audit-publish each batch (each checking ``lease`` first);
    staging removed however it ends. A blocked batch raises ``GateBlocked`` carrying this
    stage's summary."""
    summary = StageSummary(
        stage=stage.name,
        reads=stage.source_description(),
        writes=stage.target_description(),
        notes={"resources": stage.resources().describe()},
        counts=dict.fromkeys(stage.tally.names() if stage.tally else [], 0),
    )
    started = time.perf_counter()
    crash_point(f"{stage.name}:start")
    try:
        stage.plan(_StageRun(stage, lakehouse, run_id, summary, lease))
    except gate.GateBlocked as blocked:
        blocked.stage_summaries.append(summary)
        raise
    finally:
        lakehouse.drop_staging(run_id)
        summary.seconds = time.perf_counter() - started
    return summary


def run_stages(
    command: str, stages: Sequence[Stage], config: TracepileConfig, spark: SparkSession | None = None
) -> RunSummary:
    """A whole run: the stages in order on ``spark`` (else a session for ``config.engine``,
    stopped at the end), recorded in ``meta/runs`` however it ends. The status says how it
    went (succeeded, blocked, failed); Ctrl-C and SIGTERM are recorded, then re-raised, and
    an engine that cannot start raises ``EngineError``. The process's signal handlers are
    only taken when the run owns its session (not in a notebook, whose kernel keeps its own)."""
    if spark is None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop engines, drop staging
        interrupts.install(before_exit=release_worker_state)
    summary = RunSummary(
        run_id=new_run_id(),
        command=command,
        engine=config.engine,
        lakehouse=config.lakehouse,
        started_at=datetime.now(UTC),
    )
    console.print(f"[bold]tracepile {command}[/]: run {summary.run_id} on engine {config.engine}")
    preload.start()  # the gate's and the page's libraries, while the engine starts
    with _leased(config, summary) as (lease, dead):
        session = nullcontext(spark) if spark is not None else spark_session(config)
        with session as active, interrupts.on_interrupt(cancel=lambda: _cancel(active)):
            lakehouse = Lakehouse(active, config.lakehouse, config.table_format)
            summary.lakehouse = lakehouse.location
            with _recorded(summary, lakehouse, config, lease.abandon if lease else None):
                for holder, why in dead:
                    _record_abandoned(lakehouse, holder, why)
                summary.migrations = [m.describe() for m in migrate(lakehouse, summary.run_id)]
                for stage in stages:
                    summary.failed_stage = stage.name  # until it ends well
                    summary.stages.append(run_stage(stage, lakehouse, summary.run_id, lease))
                summary.failed_stage = None
    return summary


def _cancel(spark: SparkSession) -> None:
    """Ctrl-C: the work in flight stopped, so the run unwinds at once. The sandbox's workers
    are killed (the runs in a trace or questions task end as errors, and their task with them),
    then the engine's queries are interrupted. The batch in flight is never published: the
    main thread, the only one that publishes, is stopped by the interrupt."""
    kill_sandboxes()
    spark.interruptAll()


@contextmanager
def _leased(
    config: TracepileConfig, summary: RunSummary
) -> Iterator[tuple[Lease | None, list[tuple[Holder, str]]]]:
    """The lakehouse's lease for the whole run (waiting for another run as configured), with
    the dead holders it replaced; none where the lakehouse has no place for one."""
    directory = lease_dir(config.lakehouse, config.lease)
    if directory is None:
        console.print(
            f"[yellow]runs on {config.lakehouse} are not serialised: set lease.dir to a shared mounted "
            "path to keep two runs from writing at once[/]"
        )
        yield None, []
        return
    lease = Lease(directory, summary.run_id, summary.command, config.lease)
    dead: list[tuple[Holder, str]] = []
    lease.acquire(
        lambda message: console.print(f"[yellow]{message}[/]", highlight=False),
        lambda holder, why: dead.append((holder, why)),
    )
    try:
        with interrupts.on_interrupt(last_resort=lease.abandon):
            yield lease, dead
    finally:
        lease.release()


def _record_abandoned(lakehouse: Lakehouse, holder: Holder, why: str) -> None:
    """A run that died holding the lease: its staging data removed, its end recorded in
    ``meta/runs`` (at its last heartbeat) so the run history shows it."""
    lakehouse.drop_staging(holder.run_id)
    if lakehouse.exists(RUNS) and lakehouse.read(RUNS).where(F.col("run_id") == holder.run_id).count():
        return
    abandoned = RunSummary(
        run_id=holder.run_id,
        command=holder.command,
        engine="unknown",
        lakehouse=lakehouse.location,
        started_at=datetime.fromisoformat(holder.started_at),
        finished_at=datetime.fromisoformat(holder.heartbeat_at),
        status=RunStatus.ABANDONED,
        error=f"died without recording an end ({why}); found by the next run",
    )
    _append_run(lakehouse, abandoned, config_toml="")


@contextmanager
def _recorded(
    summary: RunSummary,
    lakehouse: Lakehouse,
    config: TracepileConfig,
    unrecorded: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Sets the run's status from how the body ends, then records the run in ``meta/runs``.
    An interrupted run that cannot be recorded calls ``unrecorded`` (its lease is left as
    a dead holder's, so the next run records it as abandoned and removes its staging)."""
    interrupted: BaseException | None = None
    try:
        yield
        summary.status = RunStatus.SUCCEEDED
    except gate.GateBlocked as blocked:
        summary.stages.extend(blocked.stage_summaries)
        blocked.stage_summaries = list(summary.stages)  # the caller's view: every stage so far
        summary.status, summary.error = RunStatus.BLOCKED, str(blocked)
    except (KeyboardInterrupt, SystemExit) as exc:
        summary.status, summary.error, interrupted = RunStatus.INTERRUPTED, type(exc).__name__, exc
        stall_point("interrupted:unwinding")
        interrupts.settle()  # the cancelled queries ended: the record below is not one of them
    except Exception as exc:  # recorded in meta/runs and shown; the exit code says failed
        console.print_exception(max_frames=8)
        summary.status, summary.error = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
        summary.traceback = "".join(traceback.format_exception(exc))[-TRACEBACK_CHARS:]
    summary.finished_at = datetime.now(UTC)
    try:
        if interrupted is None:  # an interrupted run has a second or two: its record comes first
            summary.tables = {
                spec.qualified_name: lakehouse.count(spec) for spec in ALL_TABLES if spec != RUNS
            }
        summary.gate_report = _existing_gate_report(lakehouse, config, summary.run_id)
        _append_run(lakehouse, summary, config_to_toml(config))
    except Exception as exc:
        if interrupted is None:
            raise
        console.print(f"[yellow]the interrupted run could not be recorded: {exc}[/]")
        if unrecorded is not None:
            unrecorded()
    if interrupted is None:
        try:
            summary.run_page = write_run_page(lakehouse, config, json.loads(summary.to_json()))
        except Exception as exc:  # the page shows the run; it must never fail it
            console.print(f"[yellow]the run page could not be written: {exc}[/]")
    if interrupted is not None:
        raise interrupted


def _append_run(lakehouse: Lakehouse, summary: RunSummary, config_toml: str) -> None:
    row = (
        summary.run_id,
        summary.command,
        str(summary.status),  # the plain string: classic Spark's JVM cannot unpickle str subclasses
        summary.started_at,
        summary.finished_at,
        summary.engine,
        config_toml,
        summary.to_json(),
    )
    lakehouse.append(RUNS, lakehouse.spark.createDataFrame([row], RUNS.schema))


def _existing_gate_report(lakehouse: Lakehouse, config: TracepileConfig, run_id: str) -> str | None:
    """The run's gate report, if a gate of this run wrote one."""
    location = gate_report_location(lakehouse, config, run_id)
    if location is None:
        return None
    fs, path, _ = filesystem_for(location)
    return location if fs.get_file_info(path).type == pafs.FileType.File else None
