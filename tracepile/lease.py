"""One writing run at a time per lakehouse: the lease a run takes before it changes a table.

Why: every stage decides its new rows by an anti-join against the published table, then
appends, and Delta lets two blind appends of the same keys both commit; two runs at once
would duplicate keys. So a run holds the lakehouse's lease from before its first write to
its end; a second run waits for it (``lease.wait_seconds``) or stops, naming the holder.

A holder that died (``kill -9``, a lost node) does not block the next run: on its own host
its process is looked up (pid, start time, zombie state), which settles it at once; from
another host its heartbeat, renewed every ``lease.heartbeat_seconds``, is taken as dead
after ``lease.stale_seconds``. A process that quits at once (a second Ctrl-C) marks its
lease as left (``quit_at``), which settles it at once from any host. A holder that finds
its lease taken over stops before its next publish (``LeaseLost``).

The lease is a JSON file, ``holder.json`` in ``<lakehouse>/_lease`` (or ``lease.dir``),
read and changed only under a mutex: a file created with ``O_EXCL``, held for
milliseconds, which is atomic on local and network file systems and Databricks volumes
(mounted paths). Object-store URIs have no such primitive: a lakehouse there needs
``lease.dir`` on a shared mounted path, else its runs are not serialised (a warning says so).
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from tracepile.config import LeaseConfig
from tracepile.interrupts import raise_if_requested

log = logging.getLogger(__name__)

HOLDER_FILE = "holder.json"
_MUTEX_FILE = "mutex"
_MUTEX_STALE_SECONDS = 30.0  # the mutex is held for milliseconds; older means its holder died in it
_WAIT_STEP_SECONDS = 1.0
_WAITING_NOTE_SECONDS = 60.0


class LeaseHeld(RuntimeError):
    """Another live run holds the lakehouse, and this run waited as long as it may."""


class LeaseLost(RuntimeError):
    """This run's lease was taken over (it was judged dead): it must not publish again."""


@dataclass(frozen=True)
class Holder:
    """Who holds the lease: enough to tell whether it still lives, and to name it to people."""

    run_id: str
    command: str
    user: str
    host: str
    boot_id: str
    pid: int
    process_start: str  # the process's start time as the kernel counts it: tells a reused pid apart
    started_at: str
    heartbeat_at: str
    quit_at: str = ""  # set by a process quitting at once (a second Ctrl-C): dead, whatever else says

    def describe(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        beat = (now - datetime.fromisoformat(self.heartbeat_at)).total_seconds()
        return (
            f"run {self.run_id} (tracepile {self.command}, user {self.user}, pid {self.pid} on {self.host}, "
            f"started {self.started_at[:19]}Z, last heartbeat {beat:.0f} s ago)"
        )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return f"uid {os.getuid()}"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None when there is no such live
    process (gone, or a zombie: killed and not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc here: ask the kernel whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return ""
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ", whatever comm holds
    return None if fields[0] == "Z" else fields[19]


def holder_is_dead(holder: Holder, stale_seconds: float, now: datetime | None = None) -> str | None:
    """Why ``holder`` is dead, or None while it may still live."""
    if holder.quit_at:
        return f"it quit at {holder.quit_at[:19]}Z without cleaning up (Ctrl-C twice)"
    if holder.host == socket.gethostname() and holder.boot_id == _boot_id():
        start = _process_start(holder.pid)
        if start is None:
            return f"its process {holder.pid} is gone"
        if start and holder.process_start and start != holder.process_start:
            return f"its process {holder.pid} is gone (the pid now belongs to another process)"
        return None
    now = now or datetime.now(UTC)
    silent = (now - datetime.fromisoformat(holder.heartbeat_at)).total_seconds()
    return f"no heartbeat for {silent:.0f} s" if silent > stale_seconds else None


def lease_dir(lakehouse: str, settings: LeaseConfig) -> Path | None:
    """Where the lakehouse's lease lives, or None where no atomic file creation is to be had."""
    if settings.dir:
        return Path(settings.dir)
    if lakehouse.startswith("catalog:") or "://" in lakehouse:
        return None
    return Path(os.path.abspath(lakehouse)) / "_lease"


def current_holder(lakehouse: str, settings: LeaseConfig) -> Holder | None:
    """The run holding the lakehouse now, if any (for people: ``tracepile status``)."""
    directory = lease_dir(lakehouse, settings)
    return None if directory is None else Lease(directory, "", "status", settings).read_holder()


class Lease:
    """The lease of one lakehouse for one run. ``acquire`` (waiting as configured), then
    ``check`` before each publish; ``release`` at the end. ``on_takeover`` is told about a
    dead holder replaced, to clean up after it."""

    def __init__(self, directory: Path, run_id: str, command: str, settings: LeaseConfig) -> None:
        self.directory, self.settings = directory, settings
        self.run_id, self.command = run_id, command
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._abandoned = False

    @property
    def _holder_path(self) -> Path:
        return self.directory / HOLDER_FILE

    @contextmanager
    def _mutex(self, wait: float | None = None) -> Iterator[None]:
        """The mutex held for the body; ``TimeoutError`` after ``wait`` seconds, where given."""
        path = self.directory / _MUTEX_FILE
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            try:
                descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                break
            except FileExistsError:
                try:
                    if time.time() - path.stat().st_mtime > _MUTEX_STALE_SECONDS:
                        path.unlink(missing_ok=True)
                        continue
                except FileNotFoundError:
                    continue
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"the lease's mutex {path} stayed taken") from None
                time.sleep(0.01)
        os.close(descriptor)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)

    def read_holder(self) -> Holder | None:
        """The holder the lease file names now, or None when the lease is free."""
        try:
            return Holder(**json.loads(self._holder_path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:  # a torn or foreign file: nobody can prove it lives
            log.warning("unreadable lease %s (%s): taken as free", self._holder_path, exc)
            return None

    def _write(self, holder: Holder) -> None:
        temporary = self.directory / f".{HOLDER_FILE}.{self.run_id}"
        temporary.write_text(json.dumps(asdict(holder), sort_keys=True))
        os.replace(temporary, self._holder_path)  # readers see the old or the new file, never half

    def _me(self, started_at: str) -> Holder:
        now = datetime.now(UTC).isoformat()
        pid = os.getpid()
        return Holder(
            run_id=self.run_id,
            command=self.command,
            user=_user(),
            host=socket.gethostname(),
            boot_id=_boot_id(),
            pid=pid,
            process_start=_process_start(pid) or "",
            started_at=started_at,
            heartbeat_at=now,
        )

    def try_acquire(self) -> tuple[bool, Holder | None, str | None]:
        """One attempt: (taken, the holder before, why it was judged dead)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._mutex():
            current = self.read_holder()
            if current is not None and current.run_id == self.run_id:
                return True, None, None
            dead = None if current is None else holder_is_dead(current, self.settings.stale_seconds)
            if current is not None and dead is None:
                return False, current, None
            self._write(self._me(datetime.now(UTC).isoformat()))
            return True, current, dead

    def acquire(self, say: Callable[[str], None], on_takeover: Callable[[Holder, str], None]) -> None:
        """Take the lease, waiting up to ``lease.wait_seconds`` for a live holder (``say`` tells
        people who and how long); a dead holder is replaced at once and handed to
        ``on_takeover``. ``LeaseHeld`` when the wait runs out."""
        deadline = time.monotonic() + self.settings.wait_seconds
        next_note = 0.0
        while True:
            taken, before, dead = self.try_acquire()
            if taken:
                if before is not None and dead is not None:
                    say(f"took over the lakehouse from {before.describe()}: {dead}")
                    on_takeover(before, dead)
                break
            assert before is not None
            if time.monotonic() >= deadline:
                raise LeaseHeld(
                    f"the lakehouse is in use by {before.describe()}; waited "
                    f"{self.settings.wait_seconds:.0f} s (lease.wait_seconds). If that run is gone for "
                    f"good, remove {self._holder_path}"
                )
            if time.monotonic() >= next_note:
                left = deadline - time.monotonic()
                say(f"waiting for {before.describe()} to finish (up to {left:.0f} s more)")
                next_note = time.monotonic() + _WAITING_NOTE_SECONDS
            time.sleep(_WAIT_STEP_SECONDS)
            raise_if_requested()
        self._heartbeat = threading.Thread(target=self._beat, name="tracepile-lease", daemon=True)
        self._heartbeat.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_seconds):
            try:
                with self._mutex():
                    current = self.read_holder()
                    if current is None or current.run_id != self.run_id:
                        self._lost.set()
                        return
                    now = datetime.now(UTC).isoformat()
                    self._write(Holder(**{**asdict(current), "heartbeat_at": now}))
            except OSError as exc:  # storage hiccup: the next beat tries again
                log.warning("lease heartbeat failed: %s", exc)

    def check(self) -> None:
        """``LeaseLost`` when another run took the lease over: this one must not publish."""
        if self._lost.is_set():
            raise LeaseLost(
                f"run {self.run_id} lost the lakehouse's lease (another run judged it dead and took it "
                "over); it stops before publishing again"
            )

    def release(self) -> None:
        """The lease given up (one that was abandoned stays as left, for the next run)."""
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        if self._abandoned:
            return
        with self._mutex():
            self._drop_if_mine()

    def abandon(self) -> None:
        """For a process about to exit at once (a second Ctrl-C): the lease marked as left by
        a dead holder, so that the next run, on any host, takes it over at once and cleans up
        after this one (its staging removed, its end recorded as abandoned). The heartbeat is
        told to stop, not awaited, and the mutex awaited briefly: without it the file is
        changed all the same when it names this run, the one live process that may change it."""
        self._stop.set()
        self._abandoned = True
        try:
            with self._mutex(wait=0.05):
                self._mark_quit()
        except TimeoutError:
            self._mark_quit()

    def _mark_quit(self) -> None:
        current = self.read_holder()
        if current is not None and current.run_id == self.run_id:
            now = datetime.now(UTC).isoformat()
            self._write(Holder(**{**asdict(current), "heartbeat_at": now, "quit_at": now}))

    def _drop_if_mine(self) -> None:
        current = self.read_holder()
        if current is not None and current.run_id == self.run_id:
            self._holder_path.unlink(missing_ok=True)
