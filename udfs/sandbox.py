"""Running untrusted programs: a pool of zygote processes, one forked child per run.

``Sandbox.run`` sends one program, entry point and input to an idle zygote
(``udfs/zygote.py``) and returns a ``RunResult``. Zygotes are separate, single-threaded
interpreters started with a scrubbed environment; the engine's own process never forks.
A zygote that dies is replaced; all are killed when the sandbox closes or the process
exits, and at once by ``kill_all`` (Ctrl-C: a run in flight then ends as an error, and no
zygote is started again).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import weakref
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import IO, Any

from tracepile.analysis.answers import result_matches
from tracepile.analysis.pyast import function_definitions
from tracepile.config import SandboxLimits
from tracepile.vocab import TRACE_DEPTH_DEFS, RunMode, Status


@dataclass(frozen=True)
class RunResult:
    status: str
    return_json: str | None
    stdout: str
    error: str | None
    cpu_s: float
    wall_s: float
    isolated_network: bool | None = None
    trace_text: str | None = None
    steps: list[dict[str, Any]] | None = None
    steps_digest: str | None = None  # a traced ok run's steps, hashed (asked for with steps_digest)
    # execute: whether the run under the other hash seed took the same steps (None: not known)
    steps_seed_stable: bool | None = None


class SandboxStartError(RuntimeError):
    """A zygote could not start or is not safe to fork from; no run can happen."""


class SandboxClosed(RuntimeError):
    """The sandbox was closed (or killed by Ctrl-C) while a run was asked of it."""


_live: weakref.WeakSet[Sandbox] = weakref.WeakSet()  # the process's open sandboxes, for kill_all


def kill_all() -> None:
    """Kill every zygote of every open sandbox of this process (with the runs they fork) at
    once, and keep the sandboxes from starting new ones: the runs in flight end as errors, so
    the tasks running them end too. For Ctrl-C; each sandbox still cleans up at close."""
    for sandbox in list(_live):
        sandbox.kill()


def _shipped_archive_path() -> dict[str, str]:
    """``PYTHONPATH`` naming the archive tracepile was imported from (``spark-submit
    --py-files``), so the zygote imports the same code; empty where tracepile is installed."""
    archive = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))  # <archive>/tracepile/udfs/
    return {"PYTHONPATH": archive} if zipfile.is_zipfile(archive) else {}


class _Zygote:
    def __init__(self, hash_seed: int, root: str) -> None:
        descriptor, self.log_path = tempfile.mkstemp(prefix="zygote-", suffix=".log", dir=root)
        with os.fdopen(descriptor, "w") as log:
            # -s -P: no user site, no script dir on sys.path; the environment is replaced
            # whole, so nothing of the host's reaches it. BLAS libraries are held to one
            # thread: the zygote must stay single-threaded to fork.
            self.process = subprocess.Popen(
                [sys.executable, "-s", "-P", "-m", "tracepile.udfs.zygote"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env={
                    "PATH": "/usr/bin:/bin",
                    "LANG": "C.UTF-8",
                    "PYTHONHASHSEED": str(hash_seed),
                    "OPENBLAS_NUM_THREADS": "1",
                    "OMP_NUM_THREADS": "1",
                    "MKL_NUM_THREADS": "1",
                    "TRACEPILE_SANDBOX_PARENT": str(os.getpid()),
                    "TRACEPILE_SANDBOX_ROOT": root,
                    **_shipped_archive_path(),
                },
                text=True,
                start_new_session=True,  # a Ctrl-C for the job is handled by the job, not here
            )
        self.isolated_network = False

    def wait_ready(self) -> None:
        """Read the zygote's first line; raise with its words (or its stderr) if it is not ready."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        hello = json.loads(line) if line.startswith("{") else {}
        if not hello.get("ready"):
            self.close()
            with open(self.log_path, errors="replace") as log:
                said = log.read()[-2000:].strip()
            if hello:
                said = f"it runs {hello['threads']} threads, and forking is only safe from one. {said}"
            raise SandboxStartError(f"sandbox worker did not start: {said or 'no output'}")
        self.isolated_network = bool(hello["isolated_network"])

    def request(self, message: dict[str, Any]) -> dict[str, Any] | None:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps(message) + "\n")
            stdin.flush()
            line = stdout.readline()
        except (BrokenPipeError, OSError):
            return None
        return json.loads(line) if line else None

    def kill(self) -> None:
        """SIGKILL to the zygote's process group (the runs it forked die with it: each is
        in a session of its own, with a parent-death signal)."""
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: pgid == pid

    def close(self) -> None:
        """End of input lets the zygote reap its children and exit; killed if it does not."""
        _close_quietly(self.process.stdin)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            _close_quietly(stream)


def _close_quietly(stream: IO[str] | None) -> None:
    try:
        if stream is not None:
            stream.close()
    except OSError:
        pass


class Sandbox:
    """``workers`` zygotes per hash seed; ``run`` is thread-safe (one run per zygote at a time).

    Two hash seeds by default: the determinism check runs a program once under each, so
    output that depends on set or dict-of-set iteration order shows up as a difference.
    """

    def __init__(self, workers: int = 1, hash_seeds: tuple[int, ...] = (1, 2)) -> None:
        self._idle: dict[int, queue.Queue[_Zygote]] = {seed: queue.Queue() for seed in hash_seeds}
        self._all: list[_Zygote] = []
        self._lock = threading.Lock()
        self._killed = False
        # Zygotes die with the *thread* that started them (PR_SET_PDEATHSIG), so they are all
        # started from this one, which lives as long as the sandbox; a Spark task's thread
        # or a batch's thread pool may end long before.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracepile-sandbox-spawner")
        self.hash_seeds = hash_seeds
        self.workers = workers
        # every run directory lives under this one, removed at close even if a zygote was killed
        self._root = tempfile.mkdtemp(prefix="tracepile-sandbox-")
        os.chmod(self._root, 0o711)  # runs (as nobody) may enter their own directory, not list
        atexit.register(self.close)
        _live.add(self)
        started = [(seed, self._spawn(seed)) for seed in hash_seeds for _ in range(workers)]
        with self._lock:
            self._all = [zygote for _, zygote in started]
        try:
            for seed, zygote in started:  # started together, awaited in turn
                zygote.wait_ready()
                self._idle[seed].put(zygote)
        except SandboxStartError:
            self.close()
            raise
        # whether runs are cut off from the network by a namespace, or by the audit hook only
        self.isolated_network = all(zygote.isolated_network for _, zygote in started)

    def _spawn(self, seed: int) -> _Zygote:
        return self._spawner.submit(_Zygote, seed, self._root).result()

    def _replace(self, zygote: _Zygote, seed: int) -> None:
        with self._lock:
            if self._killed:
                raise SandboxClosed("the sandbox was stopped (interrupted)")
            self._all.remove(zygote)
        zygote.close()
        fresh = self._spawn(seed)
        with self._lock:
            self._all.append(fresh)
        fresh.wait_ready()
        self._idle[seed].put(fresh)

    def run(
        self,
        code: str,
        entry: str,
        input_json: str,
        limits: SandboxLimits | None = None,
        trace: bool = False,
        hash_seed: int | None = None,
        mode: str = RunMode.CALL,
        steps_digest: bool = False,
        keep_trace: bool = True,
    ) -> RunResult:
        """One run in a fresh child; ``trace`` adds snoop's text and the structured steps
        (``steps_digest``: their hash too; ``keep_trace`` False: the hash alone comes back).
        ``mode`` (``vocab.RunMode``) says how: a call of ``entry`` with the input's keyword
        arguments, or the code as a script (``entry`` "main" traces its ``main()`` too) whose
        printed output is the result."""
        settings = (limits or SandboxLimits()).model_dump(include=set(SandboxLimits.model_fields))
        if settings["trace_depth"] == TRACE_DEPTH_DEFS:
            settings["trace_depth"] = max(1, function_definitions(code))
        request = {
            "code": code,
            "entry": entry,
            "input_json": input_json,
            "limits": settings,
            "trace": trace,
            "mode": str(mode),
            "steps_digest": steps_digest,
            "keep_trace": keep_trace,
        }
        seed = self.hash_seeds[0] if hash_seed is None else hash_seed
        zygote = self._idle[seed].get()
        response = zygote.request(request) if not self._killed else None
        if response is None and self._killed:  # kill_all: back for the next caller to fail fast
            self._idle[seed].put(zygote)
            raise SandboxClosed("the sandbox was stopped (interrupted)")
        if response is None:  # the zygote died (it should not): replace it, report the run
            self._replace(zygote, seed)
            return RunResult(Status.ERROR, None, "", "sandbox worker died", 0.0, 0.0)
        self._idle[seed].put(zygote)
        return RunResult(**response)

    def execute(
        self,
        code: str,
        entry: str,
        input_json: str,
        expected_json: str | None = None,
        limits: SandboxLimits | None = None,
        mode: str = RunMode.CALL,
        compare_steps: bool = False,
    ) -> RunResult:
        """The stage's unit of work: a run traced by snoop, then a run under the other hash
        seed; ``nondeterministic`` when their results differ, ``mismatch`` when the result is
        not the expected output (``answers.result_matches``). The traced run goes first
        because it stops at the trace budget: a program too long to trace is not also run to
        its end.

        The second run is untraced, unless ``compare_steps``: then it is traced to a hash of
        its steps (no text kept), and ``steps_seed_stable`` says whether the two runs took the
        same steps, so that every question about the run has one answer and the questions
        stage need not trace it again. Such a second run that passes the trace budget (its
        steps differ) is made again untraced, for the results."""
        first, second = self.hash_seeds[-1], self.hash_seeds[0]
        traced = self.run(
            code, entry, input_json, limits, trace=True, hash_seed=first, mode=mode,
            steps_digest=compare_steps,
        )  # fmt: skip
        if traced.status != Status.OK:
            return traced
        other = self.run(
            code, entry, input_json, limits, trace=compare_steps, hash_seed=second, mode=mode,
            steps_digest=compare_steps, keep_trace=False,
        )  # fmt: skip
        if other.status == Status.TOO_LONG:
            other = self.run(code, entry, input_json, limits, trace=False, hash_seed=second, mode=mode)
        if compare_steps:
            stable = other.steps_digest is not None and other.steps_digest == traced.steps_digest
            traced = replace(traced, steps_seed_stable=stable)
        if other.status != Status.OK:
            return replace(
                other,
                status=Status.NONDETERMINISTIC,
                error=f"second run: {other.status}: {other.error}",
            )
        if (other.return_json, other.stdout) != (traced.return_json, traced.stdout):
            what = "return value" if other.return_json != traced.return_json else "stdout"
            return replace(traced, status=Status.NONDETERMINISTIC, error=f"{what} differs between two runs")
        if expected_json is not None and not result_matches(
            mode, traced.return_json or "null", expected_json
        ):
            return replace(traced, status=Status.MISMATCH, error=f"expected {expected_json[:200]}")
        return traced

    def kill(self) -> None:
        """Kill every zygote now and start none again (``kill_all``)."""
        with self._lock:
            self._killed = True
            zygotes = list(self._all)
        for zygote in zygotes:
            zygote.kill()

    def close(self) -> None:
        _live.discard(self)
        with self._lock:
            zygotes, self._all = self._all, []
        for zygote in zygotes:
            zygote.close()
        self._spawner.shutdown()
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
