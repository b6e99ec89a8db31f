"""The ingest stage's task: ``mapInArrow`` over (source_kind, path, piece) rows, one task per
file or piece of a file.

Each piece is read by ``sources/files.py`` (exact line numbers, gzip by magic bytes, bad lines
rejected with a reason); its parsed rows go back to Spark in bounded Arrow batches (a row
whose values Arrow cannot hold becomes its line's reject).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from tracepile.config import IngestConfig
from tracepile.failures import StepFailed, guarded
from tracepile.sources.files import Piece, failed_row, parse_file
from tracepile.tables import INPUTS_ARROW_TYPE

FILES_SCHEMA_DDL = "source_kind string, path string, context string, start long, end long, first_line long"
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
        # where the row was read: with source_file, unique per row of one ingest
        ("piece_start", pa.int64()),
        ("piece_row", pa.int64()),
    ]
)


def _arrow_row(row: dict[str, Any]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([row], schema=PARSED_ARROW_SCHEMA)


def arrow_batch(rows: list[dict[str, Any]], options: IngestConfig) -> pa.RecordBatch:
    """The rows as one Arrow batch; where that fails, row by row, and a row whose values do not
    fit the schema becomes its line's ``internal_error`` reject rather than failing the task."""
    try:
        return pa.RecordBatch.from_pylist(rows, schema=PARSED_ARROW_SCHEMA)
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        pass  # which row: each alone below
    batches = []
    for row in rows:
        converted = guarded(_arrow_row, row)
        if isinstance(converted, StepFailed):
            keep = {"piece_start": row["piece_start"], "piece_row": row["piece_row"]}
            converted = _arrow_row({**failed_row(row, converted.detail, options), **keep})
        batches.append(converted)
    return pa.Table.from_batches(batches, PARSED_ARROW_SCHEMA).combine_chunks().to_batches()[0]


def _batched(rows: Iterable[dict[str, Any]], options: IngestConfig, piece: Piece) -> Iterator[pa.RecordBatch]:
    batch: list[dict[str, Any]] = []
    for number, row in enumerate(rows):
        batch.append({**row, "piece_start": piece.start, "piece_row": number})
        if len(batch) >= options.batch_rows:
            yield arrow_batch(batch, options)
            batch = []
    if batch:
        yield arrow_batch(batch, options)


def parse_files_arrow(batches: Iterable[pa.RecordBatch], options: IngestConfig) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` body: (source_kind, path, context, piece) rows in, parsed rows out, in
    bounded batches."""
    names = ("source_kind", "path", "context", "start", "end", "first_line")
    for files in batches:
        for kind, path, context, start, end, first_line in zip(
            *(files.column(name).to_pylist() for name in names), strict=True
        ):
            piece = Piece(start, end, first_line)
            yield from _batched(parse_file(kind, path, options, context, piece), options, piece)
