"""The trace stage's per-partition work: each (program, input) row through the sandbox.

``trace_batches`` is the ``mapInPandas`` function. One ``Sandbox`` per executor process
(the trace stage's ``setup()``, sized to its cores) is started on first use, reused across
partitions and closed at exit; rows of a batch run concurrently, one per zygote pair
(threads only wait on pipes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import pandas as pd

from tracepile.config import TracepileConfig
from tracepile.crashpoints import crash_point
from tracepile.tables import SILVER_EXECUTIONS
from tracepile.udfs.sandbox import RunResult, Sandbox
from tracepile.udfs.unordered import unordered_map
from tracepile.udfs.worker_state import WorkerSetup, worker_state


class TracingStage(WorkerSetup, Protocol):
    """What the trace task needs of its stage: the config, and a sandbox made by ``setup()``."""

    config: TracepileConfig


# silver/executions but run_id, which the stage adds
EXECUTION_COLUMNS = [f.name for f in SILVER_EXECUTIONS.schema if f.name != "run_id"]

CHUNK_ROWS = 64  # rows per yielded frame: traces can be large, so frames stay small


def _expected(row: pd.Series) -> str | None:
    """The expected output's JSON, or None when unknown (pandas gives NaN where a whole
    batch's column is null)."""
    value = row["expected_output_json"]
    return value if isinstance(value, str) else None


def _row(row: pd.Series, result: RunResult) -> dict[str, object]:
    return {
        "execution_id": row["execution_id"],
        "program_id": row["program_id"],
        "input_index": int(row["input_index"]),
        "input_json": row["input_json"],
        "expected_output_json": _expected(row),
        "status": result.status,
        "return_json": result.return_json,
        "stdout": result.stdout,
        "error": result.error,
        "cpu_s": float(result.cpu_s),
        "wall_s": float(result.wall_s),
        "trace_text": result.trace_text,
        "steps_json": json.dumps(result.steps) if result.steps is not None else None,
        "trace_lines": result.trace_text.count("\n") if result.trace_text else 0,
    }


def trace_batches(batches: Iterator[pd.DataFrame], stage: TracingStage) -> Iterator[pd.DataFrame]:
    """The ``mapInPandas`` body: each row through this process's sandbox (``stage.setup()``)."""
    sandbox: Sandbox = worker_state(stage)
    limits = stage.config.trace

    def execute(row: pd.Series) -> dict[str, object]:
        result = sandbox.execute(
            row["code"], row["entry_point"], row["input_json"], _expected(row), limits, row["run_mode"]
        )
        return _row(row, result)

    rows = (row for batch in batches for _, row in batch.iterrows())
    finished: list[dict[str, object]] = []
    with ThreadPoolExecutor(max_workers=sandbox.workers) as pool:
        # twice the workers in flight, so a worker that finishes finds its next row queued
        for result in unordered_map(pool, execute, rows, in_flight=2 * sandbox.workers):
            finished.append(result)
            if len(finished) == CHUNK_ROWS:
                crash_point("trace:running")
                yield pd.DataFrame(finished, columns=EXECUTION_COLUMNS)
                finished = []
    if finished:
        crash_point("trace:running")
        yield pd.DataFrame(finished, columns=EXECUTION_COLUMNS)
