"""A process pool for CPU-bound per-batch Python work inside an engine's Python UDF.

The embedded engine (Sail) runs Python UDFs inside its own process, under one GIL, so
CPU-bound Python in ``mapInArrow`` uses one core however many partitions run. This pool
spreads such work over worker processes. Workers are started with "spawn" (fork + exec),
never forked from the engine's multi-threaded process, and with SIGINT blocked (Ctrl-C is
the job's to handle); the pool lives as long as the process (``worker_state.py``) and is
shut down at exit. On classic Spark each Python worker
is already its own process, so callers run inline there (``workers <= 1``).

Each task carries only its rows, as Arrow IPC (pickling a slice would carry the whole
parent batch); the function and its options reach each worker once, when it starts.
"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from tracepile.udfs.worker_state import current, release, worker_state

BatchFunction = Callable[[pa.RecordBatch, Any], pa.RecordBatch]
POOL_SLOT = "batch-pool"

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


class BatchPool:
    """``workers`` spawned processes, each given ``function`` and ``options`` once at start."""

    def __init__(self, workers: int, function: BatchFunction, options: Any) -> None:
        self.workers = workers
        self._executor = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(function, options),
        )

    def submit(self, batch: pa.RecordBatch) -> Future[pa.RecordBatch]:
        payload = _to_ipc(batch)
        # the first submit starts the workers: with SIGINT blocked, which they keep. A
        # terminal's Ctrl-C goes to the whole process group; the job stops its workers itself
        # (a worker that took it would die with a traceback)
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            return self._executor.submit(_run_task, payload)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def peak_rss_mb(self) -> list[float]:
        """Peak resident memory of each live worker (Linux ``/proc``; empty elsewhere)."""
        peaks = []
        for pid in list(self._executor._processes):  # no public accessor
            try:
                status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
            except OSError:
                continue
            peaks += [
                int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")
            ]
        return peaks

    def close(self) -> None:
        self._executor.shutdown(cancel_futures=True)


@dataclass(frozen=True)
class _PoolSetup:
    """The pool as per-worker state (``worker_state.py``): one per process, restarted when the
    function or its options change."""

    workers: int
    function: BatchFunction
    options: Any

    def worker_key(self) -> tuple[str, Hashable]:
        return POOL_SLOT, (self.workers, pickle.dumps((self.function, self.options)))

    def setup(self) -> BatchPool:
        return BatchPool(self.workers, self.function, self.options)

    def teardown(self, pool: BatchPool) -> None:
        pool.close()


def shutdown_pool() -> None:
    release(POOL_SLOT)


def worker_peak_rss_mb() -> list[float]:
    """Peak resident memory of each live pool worker."""
    pool = current(POOL_SLOT)
    return pool.peak_rss_mb() if pool is not None else []


def map_batches(
    function: BatchFunction,
    batches: Iterator[pa.RecordBatch],
    options: Any,
    workers: int,
    chunk_rows: int,
) -> Iterator[pa.RecordBatch]:
    """``function(chunk, options)`` over ``chunk_rows``-row slices of the batches, in order.

    With ``workers > 1`` the slices run in this process's pool, at most ``2 * workers`` in
    flight per caller, so memory stays bounded; otherwise inline.
    """
    if workers <= 1:
        for batch in batches:
            for start in range(0, batch.num_rows, chunk_rows):
                yield function(batch.slice(start, chunk_rows), options)
        return
    pool: BatchPool = worker_state(_PoolSetup(workers, function, options))
    pending: deque[Future[pa.RecordBatch]] = deque()
    for batch in batches:
        for start in range(0, batch.num_rows, chunk_rows):
            pending.append(pool.submit(batch.slice(start, chunk_rows)))
            while len(pending) >= 2 * workers:
                yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
