"""Running untrusted programs: a pool of zygote processes, one forked child per run.

``Sandbox.run`` sends one program, entry point and input to an idle zygote
(``udfs/zygote.py``) and returns a ``RunResult``. Zygotes are separate, single-threaded
interpreters started with a scrubbed environment; the engine's own process never forks.
A zygote that dies is replaced; all are killed when the sandbox closes or the process
exits.
"""

from __future__ import annotations

import atexit
import json
import queue
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from typing import IO, Any

STATUSES = ("ok", "error", "timeout", "memory", "output_limit", "too_long", "sandbox_violation")


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float = 5.0
    wall_seconds: float = 10.0
    memory_bytes: int = 1 << 30
    file_bytes: int = 1 << 20
    open_files: int = 64
    output_bytes: int = 1 << 16
    trace_lines: int = 300  # the published method's filter, enforced while tracing
    trace_bytes: int = 1 << 18
    trace_depth: int = 1  # snoop's depth: 1 traces the entry function itself


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


class _Zygote:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-m", "tracepile.udfs.zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            text=True,
            start_new_session=True,  # a Ctrl-C for the job is handled by the job, not here
        )

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

    def close(self) -> None:
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
    """``workers`` zygotes; ``run`` is thread-safe (one run per zygote at a time)."""

    def __init__(self, workers: int = 1) -> None:
        self._idle: queue.Queue[_Zygote] = queue.Queue()
        self._all: list[_Zygote] = []
        self._lock = threading.Lock()
        for _ in range(workers):
            self._add()
        atexit.register(self.close)

    def _add(self) -> None:
        zygote = _Zygote()
        with self._lock:
            self._all.append(zygote)
        self._idle.put(zygote)

    def run(
        self, code: str, entry: str, input_json: str, limits: Limits | None = None, trace: bool = False
    ) -> RunResult:
        """One run in a fresh child; ``trace`` adds snoop's text and the structured steps."""
        request = {
            "code": code,
            "entry": entry,
            "input_json": input_json,
            "limits": asdict(limits or Limits()),
            "trace": trace,
        }
        zygote = self._idle.get()
        response = zygote.request(request)
        if response is None:  # the zygote died (it should not): replace it, report the run
            with self._lock:
                self._all.remove(zygote)
            zygote.close()
            self._add()
            return RunResult("error", None, "", "sandbox worker died", 0.0, 0.0)
        self._idle.put(zygote)
        return RunResult(**response)

    def close(self) -> None:
        with self._lock:
            zygotes, self._all = self._all, []
        for zygote in zygotes:
            zygote.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
