"""The trace stage's per-partition work: each (program, input) row through the sandbox.

``trace_batches`` is the ``mapInPandas`` function. One ``Sandbox`` per executor process,
sized to its cores, is started on first use, reused across partitions and closed at
exit; rows of a batch run concurrently, one per zygote pair (threads only wait on pipes).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd

from tracepile.udfs.sandbox import Limits, RunResult, Sandbox

EXECUTION_COLUMNS = (
    "execution_id", "program_id", "input_index", "input_json", "expected_output_json", "status",
    "return_json", "stdout", "error", "cpu_s", "wall_s", "trace_text", "steps_json", "trace_lines",
)  # fmt: skip

_lock = threading.Lock()
_sandbox: Sandbox | None = None


@dataclass(frozen=True)
class TraceOptions:
    limits: Limits
    workers: int = 0  # 0: one per core of this process's machine
    chunk_rows: int = 64  # rows per yielded frame: traces can be large, so frames stay small


def shared_sandbox(workers: int) -> Sandbox:
    global _sandbox
    with _lock:
        if _sandbox is None:
            _sandbox = Sandbox(workers=workers or os.cpu_count() or 1)
        return _sandbox


def _row(row: pd.Series, result: RunResult) -> dict[str, object]:
    return {
        "execution_id": row["execution_id"],
        "program_id": row["program_id"],
        "input_index": int(row["input_index"]),
        "input_json": row["input_json"],
        "expected_output_json": row["expected_output_json"],
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


def trace_batches(batches: Iterator[pd.DataFrame], options: TraceOptions) -> Iterator[pd.DataFrame]:
    sandbox = shared_sandbox(options.workers)

    def execute(row: pd.Series) -> dict[str, object]:
        result = sandbox.execute(
            row["code"], row["entry_point"], row["input_json"], row["expected_output_json"], options.limits
        )
        return _row(row, result)

    with ThreadPoolExecutor(max_workers=sandbox.workers) as pool:
        for batch in batches:
            for start in range(0, len(batch), options.chunk_rows):
                rows = [row for _, row in batch.iloc[start : start + options.chunk_rows].iterrows()]
                yield pd.DataFrame(list(pool.map(execute, rows)), columns=list(EXECUTION_COLUMNS))
