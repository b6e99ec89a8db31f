"""The one runner: everything around a stage, the same for every stage and every way in.

``run_stages`` is a whole run (the CLI's commands, ``spark-submit jobs/*.py`` through the
CLI, the Databricks notebook): SIGTERM and Ctrl-C handling, the engine session (or the
caller's), migrations of tables written by an earlier version, each stage in order, the
run's row in ``meta/runs`` and its summary. ``run_stage`` is one stage: its report and
timing, staging and its cleanup, and, through ``StageRun``, write-audit-publish of each
batch it plans (``quality/gate.py``) or quarantine.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

from tracepile import interrupts
from tracepile.config import TracepileConfig, config_to_toml
from tracepile.console import console
from tracepile.engine import spark_session
from tracepile.lakehouse import Lakehouse
from tracepile.migrations import migrate
from tracepile.quality import gate
from tracepile.quality.html_report import report_location
from tracepile.quality.validate import CheckResult
from tracepile.report import RunReport, StageReport, new_run_id, step
from tracepile.stage import Stage
from tracepile.storage import filesystem_for
from tracepile.tables import ALL_TABLES, RUNS, TableSpec
from tracepile.vocab import RunStatus

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class _StageRun:
    """``stage.StageRun`` for one stage of one run."""

    def __init__(self, stage: Stage, lakehouse: Lakehouse, run_id: str, report: StageReport) -> None:
        self._stage_name = stage.name
        self.config, self.lakehouse, self.run_id, self.report = stage.config, lakehouse, run_id, report

    @property
    def spark(self) -> SparkSession:
        return self.lakehouse.spark

    def stage(self, df: DataFrame, name: str) -> DataFrame:
        return self.lakehouse.stage(df, name, self.run_id)

    def mix(self, programs: DataFrame) -> dict[str, int]:
        rows = programs.groupBy("source_kind", "domain").count().collect()
        return {f"{r['source_kind']}/{r['domain']}": r["count"] for r in sorted(rows, key=lambda r: r[:2])}

    def step(self, message: str) -> AbstractContextManager[None]:
        return step(f"{self._stage_name}: {message}")

    def write(
        self, tables: Sequence[tuple[TableSpec, DataFrame]], outcomes: DataFrame | None = None
    ) -> gate.Batch:
        return gate.stage_batch(self.lakehouse, self.run_id, self._stage_name, list(tables), outcomes)

    def publish(self, batch: gate.Batch) -> None:
        self.report.notes.update(gate.publish(self.lakehouse, self.config, batch).verdict.notes())

    def audit(self, results: list[CheckResult], passed: str, failed: str) -> None:
        verdict = gate.decide(
            self.lakehouse, self.config, self.run_id, self._stage_name, results, passed, failed
        )
        self.report.notes.update(verdict.notes())
        if verdict.stopping:
            raise gate.GateBlocked(
                gate.failure_list(f"the {self._stage_name} checks failed", verdict.stopping), verdict.stopping
            )


def run_stage(stage: Stage, lakehouse: Lakehouse, run_id: str) -> StageReport:
    """One stage: plan, then write-audit-publish each batch; staging removed however it ends.
    A blocked batch raises ``GateBlocked`` carrying this stage's report."""
    report = StageReport(
        stage=stage.name,
        reads=stage.source_description(),
        writes=stage.target_description(),
        notes={"resources": stage.resources().describe()},
    )
    started = time.perf_counter()
    try:
        stage.plan(_StageRun(stage, lakehouse, run_id, report))
    except gate.GateBlocked as blocked:
        blocked.stage_reports.append(report)
        raise
    finally:
        lakehouse.drop_staging(run_id)
        report.seconds = time.perf_counter() - started
    return report


def run_stages(
    command: str, stages: Sequence[Stage], config: TracepileConfig, spark: SparkSession | None = None
) -> RunReport:
    """A whole run: the stages in order on ``spark`` (else a session for ``config.engine``,
    stopped at the end), recorded in ``meta/runs`` however it ends. The status says how it
    went (succeeded, blocked, failed); Ctrl-C and SIGTERM are recorded, then re-raised, and
    an engine that cannot start raises ``EngineError``. The process's signal handlers are
    only taken when the run owns its session (not in a notebook, whose kernel keeps its own)."""
    if spark is None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop engines, drop staging
        interrupts.install()
    report = RunReport(
        run_id=new_run_id(),
        command=command,
        engine=config.engine,
        lakehouse=config.lakehouse,
        started_at=datetime.now(UTC),
    )
    console.print(f"[bold]tracepile {command}[/]: run {report.run_id} on engine {config.engine}")
    session = nullcontext(spark) if spark is not None else spark_session(config)
    with session as active:
        lakehouse = Lakehouse(active, config.lakehouse, config.table_format)
        report.lakehouse = lakehouse.location
        with _recorded(report, lakehouse, config):
            report.migrations = [m.describe() for m in migrate(lakehouse, report.run_id)]
            for stage in stages:
                report.stages.append(run_stage(stage, lakehouse, report.run_id))
    return report


@contextmanager
def _recorded(report: RunReport, lakehouse: Lakehouse, config: TracepileConfig) -> Iterator[None]:
    """Sets the run's status from how the body ends, then records the run in ``meta/runs``."""
    interrupted: BaseException | None = None
    try:
        yield
        report.status = RunStatus.SUCCEEDED
    except gate.GateBlocked as blocked:
        report.stages.extend(blocked.stage_reports)
        blocked.stage_reports = list(report.stages)  # the caller's view: every stage so far
        report.status, report.error = RunStatus.BLOCKED, str(blocked)
    except (KeyboardInterrupt, SystemExit) as exc:
        report.status, report.error, interrupted = RunStatus.INTERRUPTED, type(exc).__name__, exc
    except Exception as exc:  # recorded in meta/runs and shown; the exit code says failed
        console.print_exception(max_frames=8)
        report.status, report.error = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
    report.finished_at = datetime.now(UTC)
    try:
        report.tables = {spec.qualified_name: lakehouse.count(spec) for spec in ALL_TABLES if spec != RUNS}
        report.quality_report = _existing_report(lakehouse, config, report.run_id)
        _record_run(lakehouse, report, config)
    except Exception as exc:
        if interrupted is None:
            raise
        console.print(f"[yellow]the interrupted run could not be recorded: {exc}[/]")
    if interrupted is not None:
        raise interrupted


def _record_run(lakehouse: Lakehouse, report: RunReport, config: TracepileConfig) -> None:
    row = (
        report.run_id,
        report.command,
        str(report.status),  # the plain string: classic Spark's JVM cannot unpickle str subclasses
        report.started_at,
        report.finished_at,
        config.engine,
        config_to_toml(config),
        report.to_json(),
    )
    lakehouse.append(RUNS, lakehouse.spark.createDataFrame([row], RUNS.schema))


def _existing_report(lakehouse: Lakehouse, config: TracepileConfig, run_id: str) -> str | None:
    """The run's HTML quality report, if a gate of this run wrote one."""
    location = report_location(lakehouse, config, run_id)
    if location is None:
        return None
    fs, path, _ = filesystem_for(location)
    return location if fs.get_file_info(path).type == pafs.FileType.File else None
