"""Programs run by plain Python, outside the project's sandbox: the reference a sandboxed run
must agree with (tests/test_sandbox_agreement.py, bench/bench_public_code.py).

One process of the same interpreter runs each program in a fresh module namespace, calls its
entry function with the input's keyword arguments and writes the result in the same typed
encoding (``analysis/values.py``), so the two sides compare as text. This runs public code
unconfined: use it on the data sets the tests and benches name, never on a user's sources.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

# The jobs come on stdin and the results go out on stdout, so a program's own printing goes to
# stderr and it reads an empty stdin: neither may shift the lines the runner exchanges.
RUNNER = r"""
import io, json, signal, sys, types
from tracepile.analysis.values import decode, encode

def alarm(*_):
    raise TimeoutError("plain run over its time")

signal.signal(signal.SIGALRM, alarm)
jobs, results = sys.stdin, sys.stdout
for line in jobs:
    job = json.loads(line)
    sys.stdin, sys.stdout = io.StringIO(""), sys.stderr
    module = types.ModuleType("__plain__")
    sys.modules["__plain__"] = module
    signal.alarm(10)
    try:
        exec(compile(job["code"], "<program>", "exec", dont_inherit=True), module.__dict__)
        value = module.__dict__[job["entry"]](**decode(job["input_json"]))
        out = {"status": "ok", "return_json": encode(value, "the return value")}
    except BaseException as exc:
        out = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        signal.alarm(0)
    results.write(json.dumps(out) + "\n")
    results.flush()
"""


def run_plainly(jobs: list[dict[str, Any]], workdir: Path) -> list[dict[str, Any]]:
    """Each job (``code``, ``entry``, ``input_json``) run by plain Python: ``status`` ok with
    ``return_json``, or error with ``error``; in the jobs' order."""
    completed = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input="".join(json.dumps(job) + "\n" for job in jobs),
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=60 + 11 * len(jobs),
        check=True,
    )
    return [json.loads(line) for line in completed.stdout.splitlines()]


def run_plainly_twice(jobs: list[dict[str, Any]], workdir: Path) -> list[dict[str, Any] | None]:
    """As ``run_plainly``, None where two plain runs disagree (the program is not a function
    of its input: an unseeded random draw, the clock)."""
    first, second = run_plainly(jobs, workdir), run_plainly(jobs, workdir)
    return [one if one == two else None for one, two in zip(first, second, strict=True)]
