"""Ctrl-C during a run: the first stops it within 2 s, keeping every published batch, the second
at once; a rerun finishes the work.

The end-to-end test interrupts real runs of the sample (``tracepile run --sample``), started
as a terminal starts them (their own process group, SIGINT to the group), at several points,
on one lakehouse, each run resuming the one before: during ingest, after trace's first batch
(then a second Ctrl-C), after generate's first batch, and during questions with a cleanup
that hangs (the backstop). A last run finishes, and the lakehouse then holds what one
uninterrupted run writes.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from tests.conftest import read_delta, run_tracepile
from tests.lakehouse_rows import DATA_TABLES, duplicate_keys, exists, rows, start_tracepile
from tracepile import interrupts
from tracepile.config import LeaseConfig
from tracepile.failures import STALL_ENV
from tracepile.lease import HOLDER_FILE, Lease
from tracepile.summary import step
from tracepile.tables import GOLD_COE, GOLD_INPUT_PREDICTIONS, GOLD_QUESTIONS, SILVER_EXECUTIONS, TableSpec
from tracepile.udfs.workers import BatchPool
from tracepile.vocab import RunStatus

# three batches in trace and in generate, so that an interrupt can land between two
BATCHES = ["--set", "trace.batch_rows=150", "--set", "generate.batch_rows=150"]
GOLD = [GOLD_COE, GOLD_QUESTIONS, GOLD_INPUT_PREDICTIONS]
LIMIT_SECONDS = 2.0  # from the Ctrl-C to the process's exit


def test_first_ctrl_c_stops_at_once_after_cancelling_the_work_in_flight() -> None:
    previous = signal.getsignal(signal.SIGINT)
    interrupts.install()
    cancelled, reached = [], []
    try:
        with (
            interrupts.on_interrupt(cancel=lambda: cancelled.append("cancelled")),
            pytest.raises(KeyboardInterrupt),
            step("a long step"),
        ):
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs before the next line
            reached.append("the line after the Ctrl-C")
        assert cancelled == ["cancelled"]
        assert reached == []
        assert interrupts.requested()
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupts.reset()  # the backstop cancelled: this process lives on
    assert not interrupts.requested()


def test_a_ctrl_c_during_commits_that_belong_together_stops_the_run_after_them() -> None:
    previous = signal.getsignal(signal.SIGINT)
    interrupts.install()
    committed = []
    try:
        with (
            interrupts.on_interrupt(cancel=lambda: None),
            pytest.raises(KeyboardInterrupt),
            interrupts.deferred(),
        ):
            committed.append("the batch's first table")
            os.kill(os.getpid(), signal.SIGINT)
            committed.append("its second table")
        assert committed == ["the batch's first table", "its second table"]
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupts.reset()


def test_a_lease_left_by_a_process_quitting_at_once_is_taken_over_at_once(tmp_path: Path) -> None:
    settings = LeaseConfig(wait_seconds=0, heartbeat_seconds=0.05, stale_seconds=3600)
    quitting = Lease(tmp_path, "quitting-run", "run", settings)
    quitting.acquire(print, lambda holder, why: None)
    quitting.abandon()  # what a second Ctrl-C does before its exit: this process still lives
    taken, before, why = Lease(tmp_path, "next-run", "run", settings).try_acquire()
    assert taken and before is not None and before.run_id == "quitting-run"
    assert why is not None and why.endswith("without cleaning up (Ctrl-C twice)")


def echo_pid(batch: pa.RecordBatch, options: None) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"pid": [os.getpid()] * batch.num_rows})


def test_pool_workers_leave_ctrl_c_to_the_job() -> None:
    """A terminal's Ctrl-C reaches the whole process group: a pool worker must not die of it
    (with a traceback of its own) but be stopped by the job."""
    pool = BatchPool(1, echo_pid, None)
    try:
        worker = (
            pool.submit(pa.RecordBatch.from_pydict({"v": [1]})).result(timeout=60).column("pid")[0].as_py()
        )
        os.kill(worker, signal.SIGINT)
        time.sleep(0.3)
        again = pool.submit(pa.RecordBatch.from_pydict({"v": [2]})).result(timeout=60)
        assert again.column("pid")[0].as_py() == worker  # the same worker, alive
    finally:
        pool.close()


class _Run:
    """One ``tracepile run`` of the sample, its output read line by line as it comes."""

    def __init__(self, lake: Path, stall: bool = False) -> None:
        env = {STALL_ENV: "interrupted:unwinding"} if stall else None
        self.process = start_tracepile("run", "--sample", "--lakehouse", str(lake), *BATCHES, env=env)
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            self._new.put(line)
        self._new.put(None)

    @property
    def run_id(self) -> str:
        """The run's id, from its first line (``tracepile run: run ID on engine ...``)."""
        return self.output.split(": run ", 1)[1].split()[0]

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def said(self) -> str:
        """The output with its line breaks as spaces: the console wraps long messages."""
        return " ".join(self.output.split())

    def wait_for(self, text: str) -> None:
        while True:
            line = self._new.get(timeout=300)
            assert line is not None, f"the run ended before {text!r}:\n{self.output[-3000:]}"
            if text in line:
                return

    def interrupt(self) -> float:
        """SIGINT to the run's process group, as a terminal's Ctrl-C; when it was sent."""
        os.killpg(self.process.pid, signal.SIGINT)
        return time.monotonic()

    def exit(self, since: float) -> tuple[int, float]:
        """The exit code, and the seconds from ``since`` to the exit."""
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise
        took = time.monotonic() - since
        time.sleep(0.2)  # the last lines
        return code, took


def _runs(lake: Path) -> list[dict[str, object]]:
    table = read_delta(lake / "meta" / "runs")
    if not table.num_rows:
        return []
    return sorted(table.select(["run_id", "status", "started_at"]).to_pylist(), key=lambda r: r["started_at"])


def _holder(lake: Path) -> dict[str, str] | None:
    path = lake / "_lease" / HOLDER_FILE
    return json.loads(path.read_text()) if path.exists() else None


def _assert_stopped(run: _Run, code: int, took: float, what: str) -> None:
    assert code == 130, f"{what}: exit {code}\n{run.output[-3000:]}"
    assert took <= LIMIT_SECONDS, f"{what}: {took:.2f} s from Ctrl-C to exit\n{run.output[-2000:]}"
    assert "Traceback" not in run.output, f"{what}:\n{run.output[-3000:]}"
    assert "batches already published are kept" in run.said


def _assert_recorded_or_left(run: _Run, lake: Path, what: str) -> int:
    """1 if the interrupted run unwound and recorded itself as interrupted, releasing the lease
    (what happens within the backstop's 1.6 s); 0 if the backstop quit first, which a machine
    busy with other work can cause: then the run is not in meta/runs and its lease is marked as
    left, for the next run to take over at once and record it as abandoned."""
    mine = [r["status"] for r in _runs(lake) if r["run_id"] == run.run_id]
    if "did not stop in time" in run.said:
        holder = _holder(lake)
        assert mine == [] and holder is not None and holder["quit_at"], f"{what}: {mine} {holder}"
        return 0
    assert mine == [RunStatus.INTERRUPTED], f"{what}:\n{run.output[-3000:]}"
    assert _holder(lake) is None, what  # released: the next run takes the lakehouse at once
    return 1


def _assert_consistent(lake: Path, reference: Path, what: str) -> None:
    """Every published row is one the uninterrupted run wrote, once; nothing is staged."""
    assert duplicate_keys(lake) == {}, what
    for spec in DATA_TABLES:
        extra = Counter(map(repr, rows(lake, spec))) - Counter(map(repr, rows(reference, spec)))
        assert not extra, f"{what}: {spec.qualified_name}"
    assert not any((lake / "_staging").glob("*/*")), f"{what}: staging left behind"


def _assert_part(lake: Path, reference: Path, spec: TableSpec, what: str) -> None:
    """Some, not all, of the table's rows: the batches published before the Ctrl-C stayed."""
    kept, full = len(rows(lake, spec)), len(rows(reference, spec))
    assert 0 < kept < full, f"{what}: {kept} of {full} rows of {spec.qualified_name}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted run of the sample, for every comparison."""
    lake = tmp_path_factory.mktemp("reference") / "lake"
    done = run_tracepile("run", "--sample", "--lakehouse", str(lake), *BATCHES)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert all(rows(lake, spec) for spec in GOLD)
    return lake


@pytest.mark.spark
@pytest.mark.slow
def test_ctrl_c_at_several_points_stops_within_2_s_and_a_rerun_finishes(
    tmp_path: Path, reference: Path
) -> None:
    lake = tmp_path / "lake"
    timings = {}

    # 1. during ingest: nothing may be published yet; the run is recorded as interrupted
    run = _Run(lake)
    run.wait_for("done ingest: parsing")
    time.sleep(0.2)
    code, timings["ingest"] = run.exit(run.interrupt())
    _assert_stopped(run, code, timings["ingest"], "during ingest")
    recorded = _assert_recorded_or_left(run, lake, "during ingest")
    _assert_consistent(lake, reference, "during ingest")

    # 2. after trace's first batch, with a cleanup that hangs: a second Ctrl-C quits at once,
    # leaving the lease marked as left (its process quit)
    run = _Run(lake, stall=True)
    run.wait_for("trace: batch 1 of 3 published")
    time.sleep(0.3)
    run.interrupt()
    run.wait_for("interrupt: stopping now")
    time.sleep(0.3)
    code, timings["second Ctrl-C"] = run.exit(run.interrupt())
    _assert_stopped(run, code, timings["second Ctrl-C"], "a second Ctrl-C")
    assert "interrupted again: quitting now" in run.said
    holder = _holder(lake)
    assert holder is not None and holder["quit_at"], holder
    _assert_part(lake, reference, SILVER_EXECUTIONS, "after trace's first batch")
    assert not exists(lake, GOLD_COE)

    # 3. after generate's first batch: this run took the lease over at once, the trace done
    run = _Run(lake)
    run.wait_for("generate: batch 1 of 3 published")
    time.sleep(0.3)
    code, timings["generate"] = run.exit(run.interrupt())
    _assert_stopped(run, code, timings["generate"], "during generate")
    assert f"took over the lakehouse from run {holder['run_id']}" in run.said
    assert "without cleaning up (Ctrl-C twice)" in run.said
    recorded += _assert_recorded_or_left(run, lake, "during generate")
    assert rows(lake, SILVER_EXECUTIONS) == rows(reference, SILVER_EXECUTIONS)
    _assert_part(lake, reference, GOLD_COE, "after generate's first batch")
    _assert_consistent(lake, reference, "during generate")

    # 4. during questions, with a cleanup that hangs and no second Ctrl-C: the backstop
    run = _Run(lake, stall=True)
    run.wait_for("done questions: finding")
    time.sleep(0.5)
    code, timings["backstop"] = run.exit(run.interrupt())
    _assert_stopped(run, code, timings["backstop"], "the backstop")
    assert "did not stop in time" in run.said
    assert rows(lake, GOLD_COE) == rows(reference, GOLD_COE)
    assert not rows(lake, GOLD_QUESTIONS)
    _assert_consistent(lake, reference, "during questions")

    # 5. a rerun finishes the work: the lakehouse holds what one uninterrupted run wrote
    done = run_tracepile("run", "--sample", "--lakehouse", str(lake), *BATCHES)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for spec in DATA_TABLES:
        assert rows(lake, spec) == rows(reference, spec), spec.qualified_name
    assert [len(rows(lake, spec)) for spec in GOLD] == [len(rows(reference, spec)) for spec in GOLD]
    assert duplicate_keys(lake) == {}
    statuses = [r["status"] for r in _runs(lake)]
    assert Counter(statuses) == {
        RunStatus.INTERRUPTED: recorded,  # 1 and 3, where each unwound before the backstop
        RunStatus.ABANDONED: 4 - recorded,  # 2 and 4 (and 1 or 3 otherwise), found by the run after each
        RunStatus.SUCCEEDED: 1,
    }, statuses
    assert recorded >= 1, "no interrupted run unwound and recorded itself before the backstop"
    print("seconds from Ctrl-C to exit:", {k: round(v, 2) for k, v in timings.items()})
