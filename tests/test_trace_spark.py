"""The trace stage on the embedded engine: sample programs and hostile ones side by side."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import read_delta
from tracepile.cli import sample_path
from tracepile.config import load_config
from tracepile.jobs.dedup_stage import DedupStage
from tracepile.jobs.ingest_stage import IngestStage
from tracepile.jobs.trace_stage import TraceStage
from tracepile.lakehouse import Lakehouse
from tracepile.runner import run_stage
from tracepile.tables import SILVER_EXECUTIONS, SILVER_PROGRAMS

pytestmark = pytest.mark.spark

# Programs that pass the static filters (no trigger word) but misbehave at run time.
HOSTILE = {
    # traced first, a spinning program meets the trace budget before the CPU limit
    "spin": ("def main_solution(n):\n    while True:\n        n += 1\n", "too_long"),
    "hog": (
        "def main_solution(n):\n    held = []\n    while True:\n        held.append(bytearray(n << 20))\n",
        "memory",
    ),
    "escape": (
        "def main_solution(n):\n    o = __builtins__['op' + 'en']\n"
        "    return o('/tmp/tracepile-escaped', 'w').write('x')\n",
        "sandbox_violation",
    ),
    "liar": ("def main_solution(n):\n    return n + 1\n", "mismatch"),
}


def _records() -> list[dict]:
    sample = [json.loads(line) for line in Path(sample_path()).read_text(encoding="utf-8").splitlines()]
    hostile = [
        {
            "problem_description": f"hostile program {name}",
            "io_requirements": "",
            "refcode": code,
            "funcname": "main_solution",
            "ios": [{"input": {"n": 50}, "output": 0}],
            "source": "attack",
            "category": "test",
        }
        for name, (code, _) in HOSTILE.items()
    ]
    return sample + hostile


def test_every_input_runs_once_with_the_right_status_and_reruns_skip(spark, tmp_path) -> None:
    source = tmp_path / "batch.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in _records()), encoding="utf-8")
    root = tmp_path / "lake"
    config = load_config(
        overrides={"lakehouse": str(root)},
        assignments=[
            "trace.cpu_seconds=1",
            "trace.wall_seconds=3",
            "trace.memory_bytes=536870912",
            "trace.partitions=64",
        ],
        environ={},
    )
    lakehouse = Lakehouse(spark, str(root))
    run_stage(IngestStage(config, [f"codeio:{source}"]), lakehouse, "ingest")
    run_stage(DedupStage(config), lakehouse, "dedup")
    report = run_stage(TraceStage(config), lakehouse, "trace-1")
    # the embedded engine runs every partition at once: more than one per core only costs memory
    cores = os.cpu_count() or 1
    if cores < 64:
        assert report.notes["partitions"] == (
            f"trace.partitions 64 taken as {cores} (one per core) on the embedded engine"
        )

    programs = read_delta(lakehouse.ref(SILVER_PROGRAMS)).to_pylist()
    executions = read_delta(lakehouse.ref(SILVER_EXECUTIONS)).to_pylist()
    assert len(executions) == sum(len(p["inputs"]) for p in programs) == report.counts["runs"]
    by_program = {p["program_id"]: p for p in programs}
    statuses = Counter()
    for execution in executions:
        program = by_program[execution["program_id"]]
        if program["source"] == "attack":
            expected = HOSTILE[program["problem"].split()[-1]][1]
            assert execution["status"] == expected, (program["problem"], execution["error"])
        else:
            statuses[execution["status"]] += 1
            if execution["status"] == "ok":
                assert execution["trace_text"].startswith(" >>> Call to main_solution")
                assert json.loads(execution["steps_json"])[-1]["event"] == "return"
                assert 0 < execution["trace_lines"] <= 300
    unusable = [(e["status"], e["error"]) for e in executions if e["status"] not in ("ok", "too_long")]
    assert set(statuses) <= {"ok", "too_long"} and statuses["ok"] > 100, unusable  # the sample is correct
    assert not Path("/tmp/tracepile-escaped").exists()

    again = run_stage(TraceStage(config), lakehouse, "trace-2")
    assert again.counts["runs"] == 0 and again.counts["executions_new"] == 0
