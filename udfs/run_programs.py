"""The trace stage's per-partition work: each (program, input) row through the sandbox.

``trace_batches`` is the ``mapInPandas`` function. One ``Sandbox`` per executor process
(the trace stage's ``setup()``, sized to its cores) is started on first use, reused across
partitions and closed at exit; rows of a batch run concurrently, one per zygote pair
(threads only wait on pipes). A row whose run raises comes out with its ids and a
``failure`` instead of a result, and the others go on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import pandas as pd

from tracepile.config import TracepileConfig
from tracepile.failures import StepFailed, crash_point, fault_point, guarded
from tracepile.tables import SILVER_EXECUTIONS
from tracepile.udfs.frames import outcome_frame, records
from tracepile.udfs.sandbox import RunResult, Sandbox
from tracepile.udfs.unordered import unordered_map
from tracepile.udfs.worker_state import WorkerSetup, worker_state


class TracingStage(WorkerSetup, Protocol):
    """What the trace task needs of its stage: the config, and a sandbox made by ``setup()``."""

    config: TracepileConfig


# silver/executions but run_id, which the stage adds; then why the run could not be made
# (null for every row that ran: a row whose step raised has only its ids and this)
EXECUTION_COLUMNS = [f.name for f in SILVER_EXECUTIONS.schema if f.name != "run_id"]
FAILURE = "failure"
TRACE_COLUMNS = [*EXECUTION_COLUMNS, FAILURE]

CHUNK_ROWS = 64  # rows per yielded frame: traces can be large, so frames stay small


def _ids(row: dict[str, Any]) -> dict[str, object]:
    return {
        "execution_id": row["execution_id"],
        "program_id": row["program_id"],
        "input_index": int(row["input_index"]),
        "input_json": row["input_json"],
        "expected_output_json": row["expected_output_json"],
    }


def _row(row: dict[str, Any], result: RunResult) -> dict[str, object]:
    return {
        **_ids(row),
        "status": result.status,
        "return_json": result.return_json,
        "stdout": result.stdout,
        "error": result.error,
        "cpu_s": float(result.cpu_s),
        "wall_s": float(result.wall_s),
        "trace_text": result.trace_text,
        "steps_json": json.dumps(result.steps) if result.steps is not None else None,
        "trace_lines": result.trace_text.count("\n") if result.trace_text else 0,
        "steps_seed_stable": result.steps_seed_stable,
    }


def trace_batches(batches: Iterator[pd.DataFrame], stage: TracingStage) -> Iterator[pd.DataFrame]:
    """The ``mapInPandas`` body: each row through this process's sandbox (``stage.setup()``);
    a row whose run raises comes out with its ids and the ``failure``, the others go on."""
    sandbox: Sandbox = worker_state(stage)
    limits = stage.config.trace
    # the questions stage asks about these runs: its second-seed check is made here, in the
    # determinism run, so that it need not trace them again
    compare_steps = stage.config.questions.enabled

    def run(row: dict[str, Any]) -> dict[str, object]:
        fault_point("trace", row["program_id"], row["execution_id"])
        result = sandbox.execute(
            row["code"], row["entry_point"], row["input_json"], row["expected_output_json"], limits,
            row["run_mode"], compare_steps,
        )  # fmt: skip
        return _row(row, result)

    def execute(row: dict[str, Any]) -> dict[str, object]:
        done = guarded(run, row)
        return {**_ids(row), FAILURE: done.detail} if isinstance(done, StepFailed) else done

    rows = (row for batch in batches for row in records([batch]))
    finished: list[dict[str, object]] = []
    with ThreadPoolExecutor(max_workers=sandbox.workers) as pool:
        # twice the workers in flight, so a worker that finishes finds its next row queued
        for result in unordered_map(pool, execute, rows, in_flight=2 * sandbox.workers):
            finished.append(result)
            if len(finished) == CHUNK_ROWS:
                crash_point("trace:running")
                yield outcome_frame(finished, TRACE_COLUMNS)
                finished = []
    if finished:
        crash_point("trace:running")
        yield outcome_frame(finished, TRACE_COLUMNS)
