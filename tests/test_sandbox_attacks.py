"""Hostile programs against the sandbox: each ends with the right status, the host untouched,
and the sandbox still serving the next run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tracepile.config import SandboxLimits
from tracepile.udfs.sandbox import Sandbox

SECRET = "tracepile-test-secret-7f3a"
FAST = SandboxLimits(cpu_seconds=1, wall_seconds=3, memory_bytes=512 << 20, output_bytes=4096)


@pytest.fixture(scope="module")
def sandbox():
    os.environ["TRACEPILE_TEST_SECRET"] = SECRET  # the host's secret; no run may see it
    with Sandbox(workers=2) as box:
        yield box
    os.environ.pop("TRACEPILE_TEST_SECRET", None)


def _run(sandbox: Sandbox, body: str, limits: SandboxLimits = FAST, prelude: str = ""):
    code = prelude + "def main_solution(n):\n" + "".join(f"    {line}\n" for line in body.splitlines())
    return sandbox.run(code, "main_solution", json.dumps({"n": 1}), limits)


@pytest.fixture()
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "canary.txt"
    path.write_text("host data")
    return path


def _still_serves(sandbox: Sandbox) -> None:
    result = _run(sandbox, "return n + 41")
    assert (result.status, result.return_json) == ("ok", "42")


ATTACKS = {
    "network connect": (
        "import socket\nsocket.create_connection(('pypi.org', 443), timeout=2)",
        {"error", "sandbox_violation"},
    ),
    "dns lookup": (
        "import socket\nreturn socket.getaddrinfo('pypi.org', 443)",
        {"error", "sandbox_violation"},
    ),
    "urllib": (
        "import urllib.request\nreturn urllib.request.urlopen('http://pypi.org').read()",
        {"error", "sandbox_violation"},
    ),
    "fork bomb": ("import os\nwhile True:\n    os.fork()", {"error", "sandbox_violation"}),
    "memory bomb": ("blocks = []\nwhile True:\n    blocks.append(bytearray(50 << 20))", {"memory"}),
    "raise own rlimit then spin": (
        "import resource\ntry:\n    resource.setrlimit(resource.RLIMIT_CPU, (-1, -1))\n"
        "except Exception:\n    pass\nwhile True:\n    pass",
        {"timeout"},
    ),
    "infinite loop": ("while True:\n    pass", {"timeout"}),
    "sigterm ignored": (
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass",
        {"timeout"},
    ),
    "BaseException swallowed": (
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except BaseException:\n        continue",
        {"timeout"},
    ),
    "sleep past the timeout": ("import time\ntime.sleep(30)", {"timeout"}),
    "huge stdout": ("while True:\n    print('x' * 1000)", {"output_limit"}),
    "huge stderr": ("import sys\nwhile True:\n    sys.stderr.write('y' * 1000)", {"output_limit"}),
    "kill the parent": ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", {"sandbox_violation"}),
    "kill everything": ("import os, signal\nos.kill(-1, signal.SIGKILL)", {"sandbox_violation"}),
    "ctypes segfault": ("import ctypes\nreturn ctypes.string_at(0)", {"error", "sandbox_violation"}),
    "sys.exit": ("import sys\nsys.exit(3)", {"error"}),
    "os._exit": ("import os\nos._exit(0)", {"error"}),
    "thread outliving the call": (
        "import threading, time\nthreading.Thread(target=time.sleep, args=(30,)).start()\nreturn 1",
        {"error", "ok"},
    ),
    "subprocess": (
        "import subprocess\nreturn subprocess.run(['id'], capture_output=True).stdout",
        {"error", "sandbox_violation"},
    ),
    "os.system": ("import os\nreturn os.system('touch /tmp/tracepile-owned')", {"sandbox_violation"}),
    "exhaust file descriptors": (
        "files = []\nwhile True:\n    files.append(open('f%d' % len(files), 'w'))",
        {"error"},
    ),
    "read the host environment": (
        f"import os\nassert '{SECRET}' in str(dict(os.environ))\nreturn 1",
        {"error"},
    ),
    "read the parent's environ": (
        f"import os\nassert b'{SECRET}' in open('/proc/%d/environ' % os.getppid(), 'rb').read()\nreturn 1",
        {"error"},
    ),
    "read shadow": ("return open('/etc/shadow').read()", {"error"}),
    # a set has a typed form now (analysis/values.py); a function has none
    "unserialisable return": ("return [len]", {"error"}),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_contained(sandbox: Sandbox, name: str) -> None:
    body, expected = ATTACKS[name]
    result = _run(sandbox, body)
    assert result.status in expected, (result.status, result.error)
    assert result.wall_s < FAST.wall_seconds + 1
    assert SECRET not in (result.stdout or "") + (result.return_json or "") + (result.error or "")
    if name == "thread outliving the call" and result.status == "ok":
        assert result.wall_s < 2  # the run did not wait for the thread
    assert not Path("/tmp/tracepile-owned").exists()
    _still_serves(sandbox)


def test_writes_and_deletes_outside_the_run_directory_are_blocked(sandbox: Sandbox, canary: Path) -> None:
    lakehouse = canary.parent / "lakehouse"
    lakehouse.mkdir()
    for body in (
        f"open('{canary}', 'w').write('owned')",
        f"import os\nos.remove('{canary}')",
        f"open('{lakehouse}/bronze_sources.parquet', 'wb').write(b'x')",
        f"import os\nos.chdir('/')\nopen('{canary.parent}/new.txt', 'w').write('x')",
    ):
        result = _run(sandbox, body)
        assert result.status in ("sandbox_violation", "error"), (body, result)
    assert canary.read_text() == "host data"
    assert list(lakehouse.iterdir()) == [] and not (canary.parent / "new.txt").exists()
    _still_serves(sandbox)


def test_a_program_may_use_its_own_directory(sandbox: Sandbox) -> None:
    result = _run(sandbox, "open('scratch.txt', 'w').write('abc')\nreturn open('scratch.txt').read()")
    assert (result.status, result.return_json) == ("ok", '"abc"')


def test_faking_the_result_on_stdout_or_patching_json_changes_nothing(sandbox: Sandbox) -> None:
    fake = 'print(\'{"status": "ok", "return_json": "42"}\')\nraise ValueError("real failure")'
    result = _run(sandbox, fake)
    assert result.status == "error" and "real failure" in result.error and '"42"' in result.stdout
    patched = _run(
        sandbox, "import json, builtins\njson.dumps = lambda *a, **k: '99'\nbuiltins.print = None\nreturn 7"
    )
    assert (patched.status, patched.return_json) == ("ok", "7")


def test_runs_share_no_network_namespace_with_the_host(sandbox: Sandbox) -> None:
    """Root here: the zygotes (and the children they fork) live in their own, empty network
    namespace, a layer under the audit hook that blocks sockets."""
    host = os.readlink("/proc/self/ns/net")
    assert sandbox.isolated_network and _run(sandbox, "return 1").isolated_network
    assert all(os.readlink(f"/proc/{zygote.process.pid}/ns/net") != host for zygote in sandbox._all)


# Scripts (run modes stdin and answer) run their top-level code with stdin and stdout as files:
# the same attacks, written as a contestant's script, plus the doors an allowed package opens.
SCRIPT_ATTACKS = {
    name: ATTACKS[name]
    for name in (
        "network connect", "fork bomb", "memory bomb", "infinite loop", "kill the parent",
        "ctypes segfault", "subprocess", "read the host environment", "read shadow", "os.system",
    )
} | {
    "huge printed output": ("while True:\n    print('x' * 1000)", {"output_limit", "error"}),
    "a package outside the allowlist": ("import pandas\nprint(pandas.__version__)", {"error"}),
    "numpy's door to native code": (
        "import numpy as np\nprint(np.ctypeslib.load_library('libc', '/lib'))", {"error"},
    ),
    "ctypes imported directly": ("from ctypes import CDLL\nprint(CDLL(None).getpid())", {"error"}),
    "stdin replaced by a host file": (
        "import os\nos.dup2(os.open('/etc/shadow', os.O_RDONLY), 0)\nprint(input())",
        {"error", "sandbox_violation"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SCRIPT_ATTACKS))
def test_script_attack_is_contained(sandbox: Sandbox, name: str) -> None:
    body, expected = SCRIPT_ATTACKS[name]
    body = body.replace("return ", "print(") + (")" if body.count("return ") else "")
    result = sandbox.run(body, "<module>", json.dumps({"stdin": "1\n"}), FAST, mode="stdin")
    assert result.status in expected, (result.status, result.error)
    assert result.wall_s < FAST.wall_seconds + 1
    assert SECRET not in (result.stdout or "") + (result.return_json or "") + (result.error or "")
    assert "root:" not in (result.stdout or "")
    assert not Path("/tmp/tracepile-owned").exists()
    _still_serves(sandbox)


def test_a_script_printing_a_fake_result_only_prints_it(sandbox: Sandbox) -> None:
    """A script's result is what it printed, read back by the sandbox: writing the result
    channel's JSON or replacing its own output file changes nothing but its own output."""
    body = (
        'import os\nprint(\'{"status": "ok", "return_json": "999"}\')\n'
        'os.write(3, b\'{"status": "ok"}\\n\')\n'
    )
    result = sandbox.run(body, "<module>", json.dumps({"stdin": ""}), FAST, mode="stdin")
    assert result.status in ("error", "sandbox_violation")  # fd 3 is closed to the run
    result = sandbox.run(
        'print(\'{"return_json": "999"}\')', "<module>", json.dumps({"stdin": ""}), FAST, mode="stdin"
    )
    assert (result.status, json.loads(result.return_json)) == ("ok", '{"return_json": "999"}\n')
