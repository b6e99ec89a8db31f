"""The sandbox zygote: a clean single-threaded interpreter that forks one child per run.

Started by ``udfs/sandbox.py`` as ``python -s -P -m tracepile.udfs.zygote`` with a replaced
environment. It imports what programs commonly use once, leaves the network (a new, empty
network namespace), checks that it is still single-threaded, says it is ready, then serves
requests (one JSON line on stdin) with one JSON line on stdout. Each run happens in a
forked child that, before any program code runs: starts its own session (so the whole
group can be killed), moves into a fresh directory, sets resource limits, points stdin at
/dev/null and stdout/stderr at a capped pipe, drops to user ``nobody`` when root, may
start no process or thread, closes every other descriptor, and installs an audit hook as
a second layer. The zygote enforces the wall clock and the output cap, kills the child's
group, and removes the directory.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import hashlib
import json
import os
import pwd
import re
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import types
from collections import OrderedDict
from types import CodeType
from typing import Any

from tracepile.analysis.values import decode as decode_value
from tracepile.analysis.values import encode as encode_value
from tracepile.udfs.namespaces import LIBC, leave_network, open_interpreter_to_runs, preload_lazy
from tracepile.vocab import SCRIPT_MODES, RunMode, Status

PROGRAM_MODULE = "__sandbox__"  # the name programs run under (not __main__: no main guard runs)

# Modules programs commonly import: loaded here once, because after dropping to
# ``nobody`` an interpreter installed under a private home cannot read its stdlib.
PRELOADED = (
    "array", "bisect", "collections", "copy", "dataclasses", "datetime", "decimal", "enum",
    "fractions", "functools", "heapq", "itertools", "json", "math", "numbers", "operator",
    "random", "re", "statistics", "string", "typing", "unicodedata", "cmath", "textwrap",
    "encodings.idna",  # codecs load lazily: a host name reaches the audit hook, not a LookupError
)  # fmt: skip
# Doors to native code, shut for every run whatever the allowlist says: importing them raises.
SHUT_MODULES = ("ctypes", "_ctypes", "numpy.ctypeslib", "cffi", "_cffi_backend")
STDIN_FILE, STDOUT_FILE = "stdin", "stdout"  # a script's standard streams, in its run directory
_FORBIDDEN_EVENTS = (
    "socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.fork", "os.kill",
    "os.killpg", "os.putenv", "os.unsetenv", "ctypes.", "pty.", "signal.pthread_kill", "sys.setprofile",
    "shutil.rmtree", "os.remove", "os.rmdir", "os.rename", "os.chmod", "os.chown", "os.link",
    "os.symlink", "os.truncate", "webbrowser.",
)  # fmt: skip


def _preload() -> None:
    """Import what runs need, then freeze it all out of the garbage collector's reach.

    snoop registers a repr for pandas at import, which would load pandas and pyarrow, and
    with them jemalloc's background thread: the zygote must stay single-threaded to fork,
    so pandas is hidden while snoop loads. ``gc.freeze`` keeps a child's collections from
    touching (and so copying) every page the zygote holds.
    """
    import gc
    import importlib

    sys.modules["pandas"] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        importlib.import_module("tracepile.udfs.tracing")
    finally:
        del sys.modules["pandas"]
    for name in PRELOADED:
        importlib.import_module(name)
    with contextlib.suppress(ImportError):  # optional: many generated programs use numpy
        importlib.import_module("numpy")
        importlib.import_module("numpy.random")  # a submodule: its name is never a word of the code
    gc.freeze()


PR_SET_PDEATHSIG = 1


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _die_with_parent(parent: int) -> None:
    """SIGKILL when the parent dies, so nothing outlives a killed zygote or job."""
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request was in place
        os._exit(1)


def script_stdin(input_json: str) -> str:
    """A script's standard input: the ``stdin`` text of its input (none for ``answer`` runs)."""
    text = json.loads(input_json).get("stdin", "")
    if not isinstance(text, str):
        raise ValueError(f"stdin must be text, got {type(text).__name__}")
    return text


_WORD = re.compile(r"[A-Za-z_]\w*")
# Standard modules whose import does something (opens a browser, prints, starts a GUI): never
# imported for a program by the zygote itself.
_ACTING_ON_IMPORT = frozenset(
    {"antigravity", "this", "__hello__", "__phello__", "idlelib", "tkinter", "turtle", "turtledemo"}
)


def _load_named_modules(request: dict[str, Any]) -> None:
    """Import the standard modules and allowed packages a program names into the zygote, once,
    so that its children inherit them: a child runs as ``nobody`` and may not read the
    interpreter's files, and would pay for each import itself (sympy takes a second). A
    module is library code, not the program's: importing it here runs nothing of the request's."""
    import gc
    import importlib

    importable = sys.stdlib_module_names | set(request["limits"]["allowed_packages"])
    words = set(_WORD.findall(request["code"]))
    wanted = sorted((words & importable) - sys.modules.keys() - _ACTING_ON_IMPORT)
    for name in wanted:
        with contextlib.suppress(Exception):  # a module this platform lacks stays missing
            importlib.import_module(name)
    if wanted:
        if _threads() != 1:  # forking is only safe from one thread
            raise RuntimeError(f"importing {', '.join(wanted)} started a thread in the sandbox zygote")
        gc.freeze()


_PREPARED: OrderedDict[tuple[str, str | None], CodeType | None] = OrderedDict()
PREPARED_PROGRAMS = 32


def _prepared(request: dict[str, Any]) -> CodeType | None:
    """The program compiled (for a traced run at depth 1 with its entry function's calls
    made untraced, see ``tracing.Pauser``), the modules it names loaded, and for traced runs
    snoop's parsed view of its source: made once per zygote and inherited by every child,
    because a program's inputs are run one after another and a child pays again for whatever
    it builds itself. Nothing of this runs program code; a program that does not compile is
    compiled in the child, which reports the error."""
    from tracepile.udfs.tracing import PROGRAM_FILENAME, compile_for_tracing, prepare_source

    code, traced = request["code"], bool(request.get("trace"))
    limits = request["limits"]
    calling = request.get("mode", RunMode.CALL) == RunMode.CALL
    pausing = traced and calling and limits["trace_depth"] == 1 and limits["untraced_calls"]
    key = (code, request["entry"] if pausing else None)
    if key not in _PREPARED:
        _load_named_modules(request)
        try:
            if pausing:
                _PREPARED[key] = compile_for_tracing(code, request["entry"])
            else:
                _PREPARED[key] = compile(code, PROGRAM_FILENAME, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            _PREPARED[key] = None
        if len(_PREPARED) > PREPARED_PROGRAMS:
            _PREPARED.popitem(last=False)
    compiled = _PREPARED[key]
    if traced and compiled is not None:
        prepare_source(code, keep=PREPARED_PROGRAMS)
    return compiled


def _importable(allowed_packages: list[str]) -> frozenset[str]:
    """What a run may import: the standard library, the configured packages, and what the
    zygote loaded already (the tracer's own libraries). Made here, once per zygote state:
    a child that walked ``sys.modules`` itself would touch, and so copy, hundreds of pages."""
    key = (tuple(allowed_packages), len(sys.modules))
    if key not in _IMPORTABLE:
        _IMPORTABLE.clear()
        loaded = {name.partition(".")[0] for name in sys.modules}
        _IMPORTABLE[key] = frozenset({*sys.stdlib_module_names, *allowed_packages, *loaded})
    return _IMPORTABLE[key]


_IMPORTABLE: dict[tuple[tuple[str, ...], int], frozenset[str]] = {}


@functools.cache
def _nobody() -> pwd.struct_passwd:
    return pwd.getpwnam("nobody")


def _child(
    request: dict[str, Any],
    compiled: CodeType | None,
    importable: frozenset[str],
    workdir: str,
    output_w: int,
    result_w: int,
    zygote: int,
) -> None:
    """Runs in the forked child; never returns."""
    limits = request["limits"]
    violations: list[str] = []
    try:
        os.setsid()
        os.chdir(workdir)
        cpu = max(1, int(limits["cpu_seconds"] + 0.999))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        script = request.get("mode", RunMode.CALL) in SCRIPT_MODES
        if script:  # its input is a file on stdin, its printed output a file (read back at the end)
            os.dup2(os.open(STDIN_FILE, os.O_RDONLY), 0)
            os.dup2(os.open(STDOUT_FILE, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600), 1)
        else:
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(output_w, 1)
        os.dup2(output_w, 2)
        os.dup2(result_w, 3)
        os.closerange(4, 65536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
        if os.getuid() == 0:  # root ignores the process limit and may read anything
            nobody = _nobody()
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # no new processes or threads
        _die_with_parent(zygote)  # after setuid, which clears the parent-death signal
        sys.dont_write_bytecode = True
        os.environ.clear()
        os.environ.update({"PATH": "/nonexistent", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"})
        # a script's output is a file, written in blocks; a function's goes to the pipe as it comes
        sys.stdout = os.fdopen(1, "w", buffering=-1 if script else 1, encoding="utf-8", errors="replace")
        sys.stderr = os.fdopen(2, "w", buffering=1, encoding="utf-8", errors="replace")
        sys.stdin = os.fdopen(0, encoding="utf-8", errors="replace")
        for name in SHUT_MODULES:
            sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
        # the "import" audit event fires only for modules not loaded yet

        def audit(event: str, args: tuple[Any, ...]) -> None:
            if event.startswith(_FORBIDDEN_EVENTS) or (event == "open" and _writes_outside(args, workdir)):
                violations.append(event)
                raise PermissionError(f"sandbox: {event} is not allowed")
            if event == "import" and args[0].partition(".")[0] not in importable:
                raise ImportError(f"sandbox: {args[0]} is not importable (not in trace.allowed_packages)")

        sys.addaudithook(audit)
    except BaseException as exc:  # setup failed: report, never run the program
        os.write(result_w, json.dumps({"status": Status.ERROR, "error": f"sandbox setup: {exc!r}"}).encode())
        os._exit(70)

    from tracepile.udfs.tracing import PROGRAM_FILENAME, Recorder, script_function, snooped, traced

    # Bound before the program runs, so that patching json or os does not reach the report.
    encode, write, exit_now, usage, pread, sha256 = (
        json.JSONEncoder().encode, os.write, os._exit, resource.getrusage, os.pread, hashlib.sha256,
    )  # fmt: skip
    recorder = None
    if request.get("trace"):

        def too_long(why: str) -> None:  # stop at once: never finish a trace to throw it away
            spent = usage(resource.RUSAGE_SELF)
            record = {"status": Status.TOO_LONG, "error": why, "cpu_s": spent.ru_utime + spent.ru_stime}
            write(3, encode(record).encode() + b"\n")
            exit_now(0)

        recorder = Recorder(limits["trace_lines"], limits["trace_bytes"], too_long)
    result: dict[str, Any]
    try:
        code = compiled or compile(request["code"], PROGRAM_FILENAME, "exec", dont_inherit=True)
        if script:
            result = _run_script(request, code, recorder, script_function, traced)
        else:
            result = _call_entry(request, code, recorder, snooped, encode_value, decode_value)
    except MemoryError:
        result = {"status": Status.MEMORY, "error": "MemoryError"}
    except BaseException as exc:  # the program's own failure, SystemExit included
        result = {"status": Status.ERROR, "error": f"{type(exc).__name__}: {exc}"[:2000]}
    if violations:
        result = {
            "status": Status.SANDBOX_VIOLATION,
            "error": f"blocked: {', '.join(sorted(set(violations)))}",
        }
    if recorder is not None and result["status"] == Status.OK:
        if request.get("steps_digest"):  # what another run's steps are compared by
            result["steps_digest"] = sha256(encode(recorder.steps).encode()).hexdigest()
        if request.get("keep_trace", True):
            result |= {"trace_text": recorder.text(), "steps": recorder.steps}
    with contextlib.suppress(BaseException):  # the program may have broken its own stdout
        sys.stdout.flush()
    if script:
        result = _with_printed(result, pread, limits["output_bytes"], encode)
    spent = usage(resource.RUSAGE_SELF)
    result["cpu_s"] = spent.ru_utime + spent.ru_stime
    # one line: the zygote answers as soon as it has it, without waiting for the exit
    write(3, encode(result).encode() + b"\n")
    exit_now(0)


def _program_module(name: str) -> dict[str, Any]:
    """A fresh module for the program's code, registered: dataclasses, typing and pickle look
    their class's module up in ``sys.modules``. As in CPython, ``__main__`` sees the
    ``builtins`` module as ``__builtins__`` (other modules get its dict from ``exec``)."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    if name == "__main__":
        module.__dict__["__builtins__"] = builtins
    return module.__dict__


def _call_entry(
    request: dict[str, Any], code: CodeType, recorder: Any, snooped: Any, encode: Any, decode: Any
) -> dict[str, Any]:
    """Mode ``call``: define the program, call its entry function with the input's keyword
    arguments (traced when ``recorder``); the result is its return value, in the typed
    encoding of ``analysis/values.py`` (a value with no form there is the run's error)."""
    limits = request["limits"]
    kwargs = decode(request["input_json"])
    namespace = _program_module(PROGRAM_MODULE)
    exec(code, namespace)
    function = namespace[request["entry"]]
    if recorder is not None:
        depth, pausing = limits["trace_depth"], limits["untraced_calls"]
        function = snooped(namespace, request["entry"], request["code"], recorder, depth, pausing)
    return {"status": Status.OK, "return_json": encode(function(**kwargs), "the return value")}


def _run_script(
    request: dict[str, Any], code: CodeType, recorder: Any, script_function: Any, traced: Any
) -> dict[str, Any]:
    """Modes ``stdin`` and ``answer``: run the code as the main script (its top-level code
    traced when ``recorder``, and a ``main()`` it defines one frame further down); the
    result, its printed output, is read back by ``_with_printed``. ``sys.exit()`` or
    ``sys.exit(0)`` is a normal end of a script."""
    limits = request["limits"]
    function = script_function(code, _program_module("__main__"))
    if recorder is not None:
        depth = max(limits["trace_depth"], 2 if request["entry"] == "main" else 1)
        function = traced(function, request["code"], recorder, depth)
    try:
        function()
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            return {"status": Status.ERROR, "error": f"SystemExit: {exit_.code}"[:2000]}
    return {"status": Status.OK}


def _with_printed(result: dict[str, Any], pread: Any, cap: int, encode: Any) -> dict[str, Any]:
    """A script's result with what it printed: its ``stdout``, and its return value when ok."""
    try:
        printed = pread(1, cap + 1, 0)
    except OSError as exc:  # the program closed or replaced its own standard output
        return result | {"status": Status.ERROR, "error": f"standard output unreadable: {exc}", "stdout": ""}
    text = printed[:cap].decode("utf-8", "replace")
    if len(printed) > cap:
        return result | {"status": Status.OUTPUT_LIMIT, "error": f"printed over {cap} bytes", "stdout": text}
    if result["status"] == Status.OK:
        result["return_json"] = encode(text)
    return result | {"stdout": text}


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


# Children that reported and are exiting: reaped (and their directories removed) later,
# so a run's answer does not wait for the teardown of a forked interpreter.
_exiting: list[tuple[int, str]] = []


def _reap(block: bool) -> None:
    for pid, workdir in list(_exiting):
        done, _, _ = os.wait4(pid, 0 if block else os.WNOHANG)
        if done:
            _exiting.remove((pid, workdir))
            shutil.rmtree(workdir, ignore_errors=True)


def _drain(fd: int, output: bytearray, cap: int) -> bool:
    """Read what is left in the output pipe without blocking; False when over the cap."""
    os.set_blocking(fd, False)
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 65536):
            output += chunk
            if len(output) > cap:
                return False
    return True


def run_one(request: dict[str, Any]) -> dict[str, Any]:
    """Fork a child for one run and watch it; returns the result record."""
    _reap(block=False)
    limits = request["limits"]
    compiled = _prepared(request)
    importable = _importable(limits["allowed_packages"])
    workdir = os.path.realpath(tempfile.mkdtemp(prefix="run-", dir=os.environ.get("TRACEPILE_SANDBOX_ROOT")))
    if os.getuid() == 0:
        os.chown(workdir, _nobody().pw_uid, _nobody().pw_gid)
    if request.get("mode", RunMode.CALL) in SCRIPT_MODES:
        with open(os.path.join(workdir, STDIN_FILE), "w", encoding="utf-8") as stdin:
            stdin.write(script_stdin(request["input_json"]))
    output_r, output_w = os.pipe()
    result_r, result_w = os.pipe()
    started = time.perf_counter()
    zygote = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(output_r)
        os.close(result_r)
        _child(request, compiled, importable, workdir, output_w, result_w, zygote)
    os.close(output_w)
    os.close(result_w)
    output, result_bytes = bytearray(), bytearray()
    status: str | None = None
    deadline = started + limits["wall_seconds"]
    open_fds = {output_r, result_r}
    while open_fds and not result_bytes.endswith(b"\n"):
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            status = Status.TIMEOUT
            break
        ready, _, _ = select.select(list(open_fds), [], [], remaining)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
            elif fd == result_r:
                result_bytes += chunk
            else:
                output += chunk
                if len(output) > limits["output_bytes"]:
                    status = Status.OUTPUT_LIMIT
        if status:
            break
    reported = status is None and result_bytes.endswith(b"\n")
    if reported and not _drain(output_r, output, limits["output_bytes"]):
        status, reported = Status.OUTPUT_LIMIT, False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)  # whatever is left of the run: nothing outlives it
    wall = time.perf_counter() - started
    for fd in (output_r, result_r):
        os.close(fd)
    stdout = bytes(output[: limits["output_bytes"]]).decode("utf-8", "replace")
    if reported:
        _exiting.append((pid, workdir))
        record = json.loads(result_bytes)
        status, cpu = record["status"], record["cpu_s"]
    else:
        _, wait_status, usage = os.wait4(pid, 0)
        shutil.rmtree(workdir, ignore_errors=True)
        cpu = usage.ru_utime + usage.ru_stime
        if status is not None:
            record = {"error": f"{status}: stopped by the sandbox"}
        elif os.WIFSIGNALED(wait_status):
            signame = signal.Signals(os.WTERMSIG(wait_status)).name
            # SIGXCPU is the CPU limit itself; a SIGKILL near the limit is its hard edge
            over_cpu = signame == "SIGXCPU" or (signame == "SIGKILL" and cpu >= 0.9 * limits["cpu_seconds"])
            status, record = (Status.TIMEOUT if over_cpu else Status.ERROR), {"error": f"killed by {signame}"}
        else:
            code = os.WEXITSTATUS(wait_status)
            status, record = Status.ERROR, {"error": f"exited with code {code} and no result"}
    return {
        "status": status,
        "return_json": record.get("return_json"),
        "stdout": record.get("stdout", stdout),  # a script's: what it printed; else stdout and stderr
        "error": record.get("error"),
        "cpu_s": round(cpu, 4),
        "wall_s": round(wall, 4),
        "isolated_network": ISOLATED_NETWORK,  # the zygote's own fact, not the run's word
        "trace_text": record.get("trace_text"),
        "steps": record.get("steps"),
        "steps_digest": record.get("steps_digest"),
    }


ISOLATED_NETWORK = False
READABLE_LIBRARY = False  # runs may import what plain Python may (else: lazy modules preloaded)


def main() -> None:
    global ISOLATED_NETWORK, READABLE_LIBRARY
    _die_with_parent(int(os.environ.get("TRACEPILE_SANDBOX_PARENT", os.getppid())))
    _preload()
    READABLE_LIBRARY = os.getuid() != 0 or open_interpreter_to_runs(
        [*sys.path, os.environ.get("TRACEPILE_SANDBOX_ROOT") or tempfile.gettempdir()]
    )
    if not READABLE_LIBRARY:
        preload_lazy()
    # One empty network namespace for the zygote and every child it forks: creating one
    # per run costs about a millisecond, and children (as nobody) cannot configure it.
    ISOLATED_NETWORK = leave_network()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    # forking is only safe from a single thread: a library that started one must not slip in
    threads = _threads()
    ready = {
        "ready": threads == 1,
        "isolated_network": ISOLATED_NETWORK,
        "readable_library": READABLE_LIBRARY,
        "threads": threads,
    }
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    if threads != 1:
        sys.exit(3)
    for line in sys.stdin:
        try:
            response = run_one(json.loads(line))
        except Exception as exc:  # a broken request must not kill the zygote
            response = {
                "status": Status.ERROR,
                "return_json": None,
                "stdout": "",
                "error": f"sandbox: {exc!r}",
                "cpu_s": 0.0,
                "wall_s": 0.0,
            }
        sys.stdout.write(json.dumps(response) + "\n")
        sys.stdout.flush()
    _reap(block=True)


if __name__ == "__main__":
    main()
