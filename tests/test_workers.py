"""The worker pool: same results as inline, in order, only the slice's rows shipped."""

from __future__ import annotations

import os

import pyarrow as pa

from tracepile.udfs.workers import map_batches, shutdown_pool, worker_peak_rss_mb


def tag_rows(batch: pa.RecordBatch, options: dict) -> pa.RecordBatch:
    values = [f"{options['prefix']}{v}:{os.getpid()}" for v in batch.column("v").to_pylist()]
    return pa.RecordBatch.from_pydict({"v": values, "rows": [batch.num_rows] * batch.num_rows})


def test_pool_and_inline_agree_and_keep_order() -> None:
    batches = [pa.RecordBatch.from_pydict({"v": list(range(n, n + 250))}) for n in (0, 250, 500)]
    inline = list(map_batches(tag_rows, iter(batches), {"prefix": "p"}, workers=1, chunk_rows=100))
    try:
        pooled = list(map_batches(tag_rows, iter(batches), {"prefix": "p"}, workers=2, chunk_rows=100))
        peaks = worker_peak_rss_mb()
    finally:
        shutdown_pool()

    def values(results: list[pa.RecordBatch]) -> list[str]:
        return [v.split(":")[0] for b in results for v in b.column("v").to_pylist()]

    assert values(pooled) == values(inline) == [f"p{i}" for i in range(750)]
    assert [b.num_rows for b in pooled] == [100, 100, 50] * 3  # each task saw only its slice
    worker_pids = {v.split(":")[1] for b in pooled for v in b.column("v").to_pylist()}
    assert str(os.getpid()) not in worker_pids and 1 <= len(worker_pids) <= 2
    assert len(peaks) == 2 and all(0 < peak < 1024 for peak in peaks)
