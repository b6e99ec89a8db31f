"""The ingest stage's task: ``mapInArrow`` over (source_kind, path) rows, one task per file.

Each file is read by ``sources/files.py`` (exact line numbers, gzip by magic bytes, bad lines
rejected with a reason); its parsed rows go back to Spark in bounded Arrow batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from tracepile.config import IngestConfig
from tracepile.sources.files import parse_file
from tracepile.tables import INPUTS_ARROW_TYPE

FILES_SCHEMA_DDL = "source_kind string, path string, context string"
PARSED_ARROW_SCHEMA = pa.schema(
    [
        ("outcome", pa.string()),  # program | reject | blank
        ("program_id", pa.string()),
        ("source_kind", pa.string()),
        ("source", pa.string()),
        ("domain", pa.string()),
        ("category", pa.string()),
        ("problem", pa.string()),
        ("io_requirements", pa.string()),
        ("code", pa.string()),
        ("entry_point", pa.string()),
        ("run_mode", pa.string()),
        ("inputs", INPUTS_ARROW_TYPE),
        ("meta_json", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("reject_id", pa.string()),
        ("reject_reason", pa.string()),
        ("reject_detail", pa.string()),
        ("raw_record", pa.string()),
    ]
)


def _batched(rows: Iterable[dict[str, Any]], size: int) -> Iterator[pa.RecordBatch]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield pa.RecordBatch.from_pylist(batch, schema=PARSED_ARROW_SCHEMA)
            batch = []
    if batch:
        yield pa.RecordBatch.from_pylist(batch, schema=PARSED_ARROW_SCHEMA)


def parse_files_arrow(batches: Iterable[pa.RecordBatch], options: IngestConfig) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` body: (source_kind, path, context) rows in, parsed rows out, in bounded batches."""
    for files in batches:
        for kind, path, context in zip(
            *(files.column(name).to_pylist() for name in ("source_kind", "path", "context")), strict=True
        ):
            yield from _batched(parse_file(kind, path, options, context), options.batch_rows)
