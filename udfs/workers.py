"""A process pool for CPU-bound per-batch Python work inside an engine's Python UDF.

The embedded engine (Sail) runs Python UDFs inside its own process, under one GIL, so
CPU-bound Python in ``mapInArrow`` uses one core however many partitions run. This pool
spreads such work over worker processes. Workers are started with "spawn" (fork + exec),
never forked from the engine's multi-threaded process; the pool lives as long as the
process and is shut down at exit. On classic Spark each Python worker is already its own
process, so callers run inline there (``workers <= 1``).

Each task carries only its rows, as Arrow IPC (pickling a slice would carry the whole
parent batch); the function and its options reach each worker once, when it starts.
"""

from __future__ import annotations

import atexit
import multiprocessing
import pickle
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa

BatchFunction = Callable[[pa.RecordBatch, Any], pa.RecordBatch]

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_key: tuple[int, bytes] | None = None
_task: tuple[BatchFunction, Any] | None = None  # set in each worker by _start_worker


def _start_worker(function: BatchFunction, options: Any) -> None:
    global _task
    _task = (function, options)


def _run_task(payload: bytes) -> pa.RecordBatch:
    assert _task is not None, "worker started without a task"
    function, options = _task
    return function(pa.ipc.open_stream(payload).read_next_batch(), options)


def _to_ipc(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def shared_pool(workers: int, function: BatchFunction, options: Any) -> ProcessPoolExecutor:
    """The process-wide pool for this (workers, function, options); restarted when they change."""
    global _pool, _pool_key
    key = (workers, pickle.dumps((function, options)))
    with _lock:
        if _pool is None or _pool_key != key:
            if _pool is not None:
                _pool.shutdown(cancel_futures=True)
            _pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(function, options),
            )
            _pool_key = key
        return _pool


def shutdown_pool() -> None:
    global _pool, _pool_key
    with _lock:
        if _pool is not None:
            _pool.shutdown(cancel_futures=True)
            _pool, _pool_key = None, None


atexit.register(shutdown_pool)


def worker_peak_rss_mb() -> list[float]:
    """Peak resident memory of each live pool worker (Linux ``/proc``; empty elsewhere)."""
    with _lock:
        pids = list(_pool._processes) if _pool is not None else []  # no public accessor
    peaks = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
        except OSError:
            continue
        peaks += [int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")]
    return peaks


def map_batches(
    function: BatchFunction,
    batches: Iterator[pa.RecordBatch],
    options: Any,
    workers: int,
    chunk_rows: int,
) -> Iterator[pa.RecordBatch]:
    """``function(chunk, options)`` over ``chunk_rows``-row slices of the batches, in order.

    With ``workers > 1`` the slices run in the shared pool, at most ``2 * workers`` in
    flight per caller, so memory stays bounded; otherwise inline.
    """
    if workers <= 1:
        for batch in batches:
            for start in range(0, batch.num_rows, chunk_rows):
                yield function(batch.slice(start, chunk_rows), options)
        return
    pool = shared_pool(workers, function, options)
    pending: deque[Future[pa.RecordBatch]] = deque()
    for batch in batches:
        for start in range(0, batch.num_rows, chunk_rows):
            pending.append(pool.submit(_run_task, _to_ipc(batch.slice(start, chunk_rows))))
            while len(pending) >= 2 * workers:
                yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
