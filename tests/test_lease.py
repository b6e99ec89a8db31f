"""The lakehouse lease: one holder at a time, dead holders replaced at once, live ones waited for."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_tracepile
from tracepile.config import LeaseConfig
from tracepile.lease import HOLDER_FILE, Holder, Lease, LeaseHeld, LeaseLost, holder_is_dead, lease_dir

NO_WAIT = LeaseConfig(wait_seconds=0, heartbeat_seconds=0.05, stale_seconds=60)


def _silent(_: str) -> None:
    pass


def _unexpected_takeover(holder: Holder, why: str) -> None:
    raise AssertionError(f"took over a live holder {holder.run_id}: {why}")


def _holder_file(directory: Path) -> dict[str, object]:
    return json.loads((directory / HOLDER_FILE).read_text())


def test_second_run_stops_naming_the_holder(tmp_path: Path) -> None:
    first = Lease(tmp_path, "run-1", "run", NO_WAIT)
    first.acquire(_silent, _unexpected_takeover)
    try:
        with pytest.raises(LeaseHeld, match=r"run-1 \(tracepile run, user .*, pid \d+ on "):
            Lease(tmp_path, "run-2", "trace", NO_WAIT).acquire(_silent, _unexpected_takeover)
        assert _holder_file(tmp_path)["run_id"] == "run-1"
    finally:
        first.release()
    assert not (tmp_path / HOLDER_FILE).exists()


def test_a_waiting_run_goes_on_when_the_holder_releases(tmp_path: Path) -> None:
    first = Lease(tmp_path, "run-1", "run", NO_WAIT)
    first.acquire(_silent, _unexpected_takeover)
    threading.Timer(1.5, first.release).start()
    said: list[str] = []
    second = Lease(tmp_path, "run-2", "run", NO_WAIT.model_copy(update={"wait_seconds": 30}))
    started = time.monotonic()
    second.acquire(said.append, _unexpected_takeover)
    try:
        assert 1.0 < time.monotonic() - started < 10
        assert said and "waiting for run run-1" in said[0]
        assert _holder_file(tmp_path)["run_id"] == "run-2"
    finally:
        second.release()


def test_a_killed_holder_on_this_host_is_replaced_at_once(tmp_path: Path) -> None:
    """A holder killed with SIGKILL (here: a real process that took the lease) blocks nobody;
    a zombie (killed, not yet reaped by its parent) counts as dead too."""
    holder_code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from tracepile.config import LeaseConfig\n"
        "from tracepile.lease import Lease\n"
        "Lease(Path(sys.argv[1]), 'killed-run', 'run', LeaseConfig(heartbeat_seconds=3600))"
        ".acquire(print, print)\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", holder_code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(LeaseHeld, match="killed-run"):
            Lease(tmp_path, "run-2", "run", NO_WAIT).acquire(_silent, _unexpected_takeover)
        os.kill(child.pid, signal.SIGKILL)
        time.sleep(0.2)  # not reaped yet: a zombie
        taken: list[tuple[str, str]] = []
        said: list[str] = []
        second = Lease(tmp_path, "run-2", "run", NO_WAIT)
        second.acquire(said.append, lambda holder, why: taken.append((holder.run_id, why)))
        second.release()
    finally:
        child.kill()
        child.wait()
    assert taken == [("killed-run", f"its process {child.pid} is gone")]
    assert "took over the lakehouse from run killed-run" in said[0]


def _holder(**changes: object) -> Holder:
    now = datetime.now(UTC).isoformat()
    base = Holder("r", "run", "u", "another-host", "boot", 1, "1", now, now)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_holder_elsewhere_is_dead_only_when_its_heartbeat_is_stale() -> None:
    now = datetime.now(UTC)
    fresh = _holder(heartbeat_at=(now - timedelta(seconds=30)).isoformat())
    stale = _holder(heartbeat_at=(now - timedelta(seconds=90)).isoformat())
    assert holder_is_dead(fresh, 60, now) is None
    assert holder_is_dead(stale, 60, now) == "no heartbeat for 90 s"


def test_a_reused_pid_does_not_keep_a_dead_holder_alive(tmp_path: Path) -> None:
    me = Lease(tmp_path, "me", "run", NO_WAIT)._me(datetime.now(UTC).isoformat())
    assert holder_is_dead(me, 60) is None  # this very process: alive
    assert holder_is_dead(replace(me, process_start="1"), 60) == (
        f"its process {me.pid} is gone (the pid now belongs to another process)"
    )


def test_heartbeat_renews_and_a_taken_over_holder_stops_publishing(tmp_path: Path) -> None:
    lease = Lease(tmp_path, "run-1", "run", NO_WAIT)
    lease.acquire(_silent, _unexpected_takeover)
    first_beat = _holder_file(tmp_path)["heartbeat_at"]
    time.sleep(0.3)
    assert _holder_file(tmp_path)["heartbeat_at"] > first_beat  # type: ignore[operator]
    lease.check()  # still ours
    # another run judged this one dead and took over
    usurper = asdict(_holder(run_id="run-2", host="elsewhere"))
    (tmp_path / HOLDER_FILE).write_text(json.dumps(usurper))
    time.sleep(0.3)
    with pytest.raises(LeaseLost, match="run-1 lost the lakehouse's lease"):
        lease.check()
    lease.release()
    assert _holder_file(tmp_path)["run_id"] == "run-2"  # release leaves another's lease alone


def _race(directory: str, name: str, wins: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    lease = Lease(Path(directory), name, "run", NO_WAIT)
    taken, _, _ = lease.try_acquire()
    wins.put((name, taken))
    time.sleep(1.0)  # hold it while the others try


def test_processes_racing_for_the_lease_get_one_winner(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    wins = context.Queue()
    racers = [context.Process(target=_race, args=(str(tmp_path), f"run-{i}", wins)) for i in range(8)]
    for racer in racers:
        racer.start()
    results = [wins.get(timeout=30) for _ in racers]
    for racer in racers:
        racer.join()
    winners = [name for name, taken in results if taken]
    assert len(winners) == 1
    assert _holder_file(tmp_path)["run_id"] == winners[0]


def test_where_the_lease_lives() -> None:
    assert lease_dir("lh", LeaseConfig()) == Path(os.path.abspath("lh")) / "_lease"
    assert lease_dir("catalog:main.corpus", LeaseConfig()) is None
    assert lease_dir("s3://bucket/lh", LeaseConfig()) is None
    assert lease_dir("catalog:main.corpus", LeaseConfig(dir="/Volumes/main/corpus/state")) == Path(
        "/Volumes/main/corpus/state"
    )


def test_status_names_the_run_holding_the_lakehouse(tmp_path: Path) -> None:

    lake = tmp_path / "lake"
    holder = Lease(lake / "_lease", "20261126T000000Z-status", "trace", NO_WAIT)
    holder.acquire(_silent, _unexpected_takeover)
    try:
        done = run_tracepile("status", "--lakehouse", str(lake))
    finally:
        holder.release()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "in use by run 20261126T000000Z-status (tracepile trace" in " ".join(done.stdout.split())
