"""The sandbox zygote: a clean single-threaded interpreter that forks one child per run.

Started by ``udfs/sandbox.py`` as ``python -I -m tracepile.udfs.zygote`` with a scrubbed
environment; it imports what programs commonly use once, then serves requests (one JSON
line on stdin) with one JSON line on stdout. Each run happens in a forked child that,
before any program code runs: starts its own session (so the whole group can be killed),
moves into a fresh temp dir, leaves the network (a new network namespace when root),
sets resource limits, points stdin at /dev/null and stdout/stderr at a capped pipe,
drops to user ``nobody`` when root (then no new processes or threads at all), closes
every other descriptor, and installs an audit hook as a second layer. The zygote
enforces the wall clock and the output cap, kills the child's group, and removes the
temp dir.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pwd
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

from tracepile.udfs.tracing import PROGRAM_FILENAME, Recorder, snooped

# Modules programs commonly import: loaded here once, because after dropping to
# ``nobody`` an interpreter installed under a private home cannot read its stdlib.
PRELOADED = (
    "array", "bisect", "collections", "copy", "dataclasses", "datetime", "decimal", "enum",
    "fractions", "functools", "heapq", "itertools", "json", "math", "numbers", "operator",
    "random", "re", "statistics", "string", "typing", "unicodedata", "cmath", "textwrap",
)  # fmt: skip
CLONE_NEWNET = 0x40000000
_FORBIDDEN_EVENTS = (
    "socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.fork", "os.kill",
    "os.killpg", "os.putenv", "os.unsetenv", "ctypes.", "pty.", "signal.pthread_kill", "sys.setprofile",
    "shutil.rmtree", "os.remove", "os.rmdir", "os.rename", "os.chmod", "os.chown", "os.link",
    "os.symlink", "os.truncate", "webbrowser.",
)  # fmt: skip


def _preload() -> None:
    import importlib

    for name in PRELOADED:
        importlib.import_module(name)
    with contextlib.suppress(ImportError):  # optional: many generated programs use numpy
        importlib.import_module("numpy")


def _leave_network() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.unshare(CLONE_NEWNET) == 0


def _child(request: dict[str, Any], workdir: str, output_w: int, result_w: int) -> None:
    """Runs in the forked child; never returns."""
    limits = request["limits"]
    violations: list[str] = []
    try:
        os.setsid()
        os.chdir(workdir)
        isolated_network = os.getuid() == 0 and _leave_network()
        cpu = max(1, int(limits["cpu_seconds"] + 0.999))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(output_w, 1)
        os.dup2(output_w, 2)
        os.dup2(result_w, 3)
        os.closerange(4, 65536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
        if os.getuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
        sys.dont_write_bytecode = True
        os.environ.clear()
        os.environ.update({"PATH": "/nonexistent", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"})
        sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", errors="replace")
        sys.stderr = sys.stdout
        sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the child

        def audit(event: str, args: tuple[Any, ...]) -> None:
            if event.startswith(_FORBIDDEN_EVENTS) or (event == "open" and _writes_outside(args, workdir)):
                violations.append(event)
                raise PermissionError(f"sandbox: {event} is not allowed")

        sys.addaudithook(audit)
    except BaseException as exc:  # setup failed: report, never run the program
        os.write(result_w, json.dumps({"status": "error", "error": f"sandbox setup: {exc!r}"}).encode())
        os._exit(70)

    # Bound before the program runs, so that patching json or os does not reach the report.
    encode, write, exit_now = json.JSONEncoder().encode, os.write, os._exit
    kwargs = json.loads(request["input_json"])
    recorder = None
    if request.get("trace"):

        def too_long(why: str) -> None:  # stop at once: never finish a trace to throw it away
            write(3, encode({"status": "too_long", "error": why}).encode())
            exit_now(0)

        recorder = Recorder(limits["trace_lines"], limits["trace_bytes"], too_long)
    result: dict[str, Any]
    try:
        namespace: dict[str, Any] = {"__name__": "__sandbox__"}
        exec(compile(request["code"], PROGRAM_FILENAME, "exec"), namespace)
        function = namespace[request["entry"]]
        if recorder is not None:
            function = snooped(function, request["code"], recorder, limits["trace_depth"])
        value = function(**kwargs)
        result = {"status": "ok", "return_json": encode(value)}
    except MemoryError:
        result = {"status": "memory", "error": "MemoryError"}
    except BaseException as exc:  # the program's own failure, SystemExit included
        result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:2000]}
    if violations:
        result = {"status": "sandbox_violation", "error": f"blocked: {', '.join(sorted(set(violations)))}"}
    if recorder is not None and result["status"] == "ok":
        result |= {"trace_text": recorder.text(), "steps": recorder.steps}
    result["isolated_network"] = isolated_network
    with contextlib.suppress(BaseException):  # the program may have broken its own stdout
        sys.stdout.flush()
    write(3, encode(result).encode())
    exit_now(0)


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _writes_outside(args: tuple[Any, ...], workdir: str) -> bool:
    """Whether an ``open`` audit event (path, mode, flags) writes outside the run's directory."""
    path, mode, flags = (*args, None, None)[:3]
    writing = (isinstance(mode, str) and any(flag in mode for flag in "wax+")) or (
        isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
    )
    if not writing or not isinstance(path, str | bytes):
        return False
    full = os.path.realpath(os.fsdecode(path))
    return not full.startswith(workdir + os.sep)


def run_one(request: dict[str, Any]) -> dict[str, Any]:
    """Fork a child for one run and watch it; returns the result record."""
    limits = request["limits"]
    workdir = os.path.realpath(tempfile.mkdtemp(prefix="tracepile-run-"))
    if os.getuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(workdir, nobody.pw_uid, nobody.pw_gid)
    output_r, output_w = os.pipe()
    result_r, result_w = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(output_r)
        os.close(result_r)
        _child(request, workdir, output_w, result_w)
    os.close(output_w)
    os.close(result_w)
    output, result_bytes = bytearray(), bytearray()
    status: str | None = None
    deadline = started + limits["wall_seconds"]
    open_fds = {output_r, result_r}
    while open_fds:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            status = "timeout"
            break
        ready, _, _ = select.select(list(open_fds), [], [], remaining)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
            elif fd == output_r:
                output += chunk
                if len(output) > limits["output_bytes"]:
                    status = "output_limit"
            else:
                result_bytes += chunk
        if status:
            break
    if status:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    _, wait_status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    for fd in (output_r, result_r):
        os.close(fd)
    shutil.rmtree(workdir, ignore_errors=True)
    cpu = usage.ru_utime + usage.ru_stime
    stdout = bytes(output[: limits["output_bytes"]]).decode("utf-8", "replace")
    if status is None:
        try:
            record = json.loads(result_bytes)
        except ValueError:
            record = None
        if os.WIFSIGNALED(wait_status):
            signame = signal.Signals(os.WTERMSIG(wait_status)).name
            status = (
                "timeout" if signame in ("SIGXCPU", "SIGKILL") and cpu >= limits["cpu_seconds"] else "error"
            )
            record = {"error": f"killed by {signame}"}
        elif record is None:
            status, record = (
                "error",
                {"error": f"exited with code {os.WEXITSTATUS(wait_status)} and no result"},
            )
        else:
            status = record["status"]
    else:
        record = {"error": f"{status}: stopped by the sandbox"}
    return {
        "status": status,
        "return_json": record.get("return_json"),
        "stdout": stdout,
        "error": record.get("error"),
        "cpu_s": round(cpu, 4),
        "wall_s": round(wall, 4),
        "isolated_network": record.get("isolated_network"),
        "trace_text": record.get("trace_text"),
        "steps": record.get("steps"),
    }


def main() -> None:
    _preload()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    for line in sys.stdin:
        try:
            response = run_one(json.loads(line))
        except Exception as exc:  # a broken request must not kill the zygote
            response = {"status": "error", "error": f"sandbox: {exc!r}"}
        sys.stdout.write(json.dumps(response) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
