"""The ingest stage's second task: inputs for programs that came with an input generator.

``fill_generated_inputs`` is a ``mapInPandas`` body over the parsed rows of
``read_files.parse_files_arrow``. A program row with no inputs whose ``meta_json`` carries an
``input_generator`` (``sources/codeio.py``) gets the distinct inputs that generator draws in
the sandbox (``sources/input_generators.py``), or becomes a reject row when it draws none.
Every other row passes through as it is. The sandbox is the stage's per-process one
(``setup()``), started only when a batch holds such a row; rows of a batch run concurrently,
one per zygote (threads only wait on pipes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol

import pandas as pd

from tracepile.analysis.hashing import content_id
from tracepile.config import TracepileConfig
from tracepile.failures import StepFailed, guarded
from tracepile.sources.codeio import GENERATOR_FIELD
from tracepile.sources.input_generators import generated_inputs
from tracepile.sources.records import Rejection
from tracepile.udfs.frames import outcome_frame, records
from tracepile.udfs.sandbox import RunResult, Sandbox
from tracepile.udfs.worker_state import WorkerSetup, worker_state
from tracepile.vocab import IngestReason

# What a reject row keeps of its program row; the program's own fields are nulled.
_REJECT_KEEPS = ("source_kind", "source_file", "source_line")
_MARKER = f'"{GENERATOR_FIELD}":'  # the key as canonical JSON writes it


class InputGeneratingStage(WorkerSetup, Protocol):
    """What the task needs of its stage: the config, and a sandbox made by ``setup()``."""

    config: TracepileConfig


def _generator(row: dict[str, Any]) -> str | None:
    """The row's input generator when it is a program still waiting for its inputs."""
    if row["outcome"] != "program" or len(row["inputs"]) or not isinstance(row["meta_json"], str):
        return None
    meta = json.loads(row["meta_json"])
    generator = meta.get(GENERATOR_FIELD) if isinstance(meta, dict) else None
    return generator if isinstance(generator, str) else None


def _reject(row: dict[str, Any], rejection: Rejection, generator: str, raw_chars: int) -> dict[str, Any]:
    """The row as a reject: where it came from, why, and the generator that failed."""
    rejected: dict[str, Any] = dict.fromkeys(row)
    rejected.update({column: row[column] for column in _REJECT_KEEPS})
    rejected.update(
        outcome="reject",
        reject_id=content_id([row["source_file"], int(row["source_line"]), GENERATOR_FIELD]),
        reject_reason=str(rejection.reason),
        reject_detail=rejection.detail,
        raw_record=generator[:raw_chars],
    )
    return rejected


def _fill(
    row: dict[str, Any], generator: str, sandbox: Sandbox, stage: InputGeneratingStage
) -> dict[str, Any]:
    """The program row with its generator's inputs, or its reject row."""
    ingest, limits = stage.config.ingest, stage.config.trace  # a generator runs as any program does

    def run(code: str, entry: str, input_json: str) -> RunResult:
        return sandbox.run(code, entry, input_json, limits)

    got = generated_inputs(run, generator, ingest.generated_inputs, ingest.generator_seed, row["code"])
    if isinstance(got, Rejection):
        return _reject(row, got, generator, ingest.reject_raw_chars)
    return {**row, "inputs": got}


def _guarded_fill(
    row: dict[str, Any], generator: str, sandbox: Sandbox, stage: InputGeneratingStage
) -> dict[str, Any]:
    """``_fill``, or the row's reject (``internal_error``) where drawing its inputs raised."""
    filled = guarded(_fill, row, generator, sandbox, stage)
    if isinstance(filled, StepFailed):
        failure = Rejection(IngestReason.INTERNAL_ERROR, filled.detail)
        return _reject(row, failure, generator, stage.config.ingest.reject_raw_chars)
    return filled


def fill_generated_inputs(
    batches: Iterator[pd.DataFrame], stage: InputGeneratingStage
) -> Iterator[pd.DataFrame]:
    """The ``mapInPandas`` body: parsed rows in, the same columns out, generators' inputs filled."""
    pool: ThreadPoolExecutor | None = None
    try:
        for batch in batches:
            # a cheap first look (meta_json is canonical JSON), the exact test on the rows it finds
            looks = zip(batch["outcome"], batch["meta_json"], strict=True)
            found = [
                position
                for position, (outcome, meta) in enumerate(looks)
                if outcome == "program" and isinstance(meta, str) and _MARKER in meta
            ]
            rows = records([batch]) if found else []
            waiting = [(p, generator) for p in found if (generator := _generator(rows[p])) is not None]
            if not waiting:
                yield batch
                continue
            sandbox: Sandbox = worker_state(stage)
            pool = pool or ThreadPoolExecutor(max_workers=sandbox.workers)
            fill = partial(_guarded_fill, sandbox=sandbox, stage=stage)
            positions = [position for position, _ in waiting]
            filled = pool.map(fill, [rows[p] for p in positions], [generator for _, generator in waiting])
            for position, row in zip(positions, filled, strict=True):
                rows[position] = row
            yield outcome_frame(rows, list(batch.columns))
    finally:
        if pool is not None:
            pool.shutdown()
