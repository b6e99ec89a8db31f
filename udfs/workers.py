"""A process pool for CPU-bound per-batch Python work inside an engine's Python UDF.

The embedded engine (Sail) runs Python UDFs inside its own process, under one GIL, so
CPU-bound Python in ``mapInArrow`` uses one core however many partitions run. This pool
spreads such work over worker processes. Workers are started with "spawn" (fork + exec),
never forked from the engine's multi-threaded process; the pool lives as long as the
process and is shut down at exit. On classic Spark each Python worker is already its own
process, so callers run inline there (``workers <= 1``).
"""

from __future__ import annotations

import atexit
import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

import pyarrow as pa

Options = TypeVar("Options")

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_size = 0


def shared_pool(workers: int) -> ProcessPoolExecutor:
    """The process-wide pool, (re)started with ``workers`` processes."""
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != workers:
            if _pool is not None:
                _pool.shutdown(cancel_futures=True)
            _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            _pool_size = workers
        return _pool


def shutdown_pool() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(cancel_futures=True)
            _pool = None


atexit.register(shutdown_pool)


def map_batches(
    function: Callable[[pa.RecordBatch, Options], pa.RecordBatch],
    batches: Iterator[pa.RecordBatch],
    options: Options,
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
    pool = shared_pool(workers)
    pending: deque[Future[pa.RecordBatch]] = deque()
    for batch in batches:
        for start in range(0, batch.num_rows, chunk_rows):
            pending.append(pool.submit(function, batch.slice(start, chunk_rows), options))
            while len(pending) >= 2 * workers:
                yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
