"""Per-batch work of the dedup stage: filters (decontamination included), exact key, MinHash, LSH keys
(salted with the program's literals: ``tracepile/analysis/normalize.py``).

``analyse_batches`` is the ``mapInArrow`` function: a batch of ``bronze/sources`` rows in,
one analysed row per program out, naming the filter that rejected it (``rejected_by``).
Each program is parsed once; its AST serves the static filters and the normalisation.
Shingle hashing, MinHash and band keys run over the whole batch in numpy
(``tracepile/analysis/minhash.py``). No Spark session is used here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tracepile.analysis.decontam import BenchmarkIndex
from tracepile.analysis.filters import (
    Filter,
    FilterOutcome,
    Program,
    error_detail,
    parse_program,
    program_filters,
    run_filters,
)
from tracepile.analysis.minhash import band_keys, estimated_jaccard, shingle_hashes, signatures, token_hashes
from tracepile.analysis.normalize import (
    exact_key,
    literal_key,
    normalised_tokens,
    python_tokens,
    shingle_tokens,
)
from tracepile.config import DedupConfig, FilterConfig
from tracepile.failures import fault_point
from tracepile.tables import INPUTS_ARROW_TYPE
from tracepile.udfs.workers import map_batches
from tracepile.vocab import DedupReason, InputDrop

ANALYSIS_COLUMNS = ("program_id", "code", "entry_point", "problem", "inputs", "run_mode")
INPUT_DROP_REASONS = tuple(InputDrop)
ANALYSED_ARROW_SCHEMA = pa.schema(
    [
        pa.field("program_id", pa.string(), nullable=False),
        pa.field("reject_reason", pa.string()),
        pa.field("reject_detail", pa.string()),
        # the filter (filters.FILTER_NAMES) that rejected the program; null when it passed them
        # all, also when the work after them failed (reject_reason analysis_error)
        pa.field("rejected_by", pa.string()),
        pa.field("inputs", INPUTS_ARROW_TYPE),
        *(pa.field(reason, pa.int64(), nullable=False) for reason in INPUT_DROP_REASONS),
        # how inputs bind: the run mode and the entry function's parameters as written; exact
        # duplicates share inputs only when it is the same (the normalised form renames
        # parameters, and a call's inputs name them)
        pa.field("interface", pa.string()),
        pa.field("exact_key", pa.string()),
        pa.field("band_keys", pa.list_(pa.int64())),
        pa.field("signature", pa.binary()),
    ]
)


@dataclass(frozen=True)
class DedupOptions:
    limits: FilterConfig
    minhash: DedupConfig  # shingle_size, num_perm, seed, bands, rows
    benchmarks: BenchmarkIndex | None = None
    workers: int = 1  # processes for the per-batch work; 1 = inline
    chunk_rows: int = 512


def _analyse_program(
    code: str,
    entry_point: str,
    problem: str,
    inputs: list[dict[str, str]],
    run_mode: str,
    filters: list[Filter],
) -> tuple[FilterOutcome, list[str], str]:
    """The filters' outcome, the normalised tokens (empty when rejected) and the interface
    (see ``ANALYSED_ARROW_SCHEMA``) of one program."""
    parsed = parse_program(code)
    code_tokens = python_tokens(code) if isinstance(parsed, ast.Module) else []
    program = Program(code, parsed, entry_point, inputs, problem, run_mode, set(code_tokens))
    outcome = run_filters(program, filters)
    if outcome.reason is not None:
        return outcome, [], ""
    parameters = "" if outcome.function is None else ast.unparse(outcome.function.args)
    return outcome, normalised_tokens(program.tree, entry_point), f"{run_mode}({parameters})"


def analyse_table(batch: pa.Table | pa.RecordBatch, options: DedupOptions) -> pa.RecordBatch:
    """One analysed row per input row; rejected rows carry a reason and no keys."""
    columns = {name: batch.column(name).to_pylist() for name in ANALYSIS_COLUMNS}
    rows = len(columns["program_id"])
    reasons: list[str | None] = [None] * rows
    details: list[str | None] = [None] * rows
    rejected_by: list[str | None] = [None] * rows
    kept_inputs: list[list[dict[str, str]] | None] = [None] * rows
    interfaces: list[str | None] = [None] * rows
    drops = {reason: [0] * rows for reason in INPUT_DROP_REASONS}
    keys = _Keys(rows)
    filters = program_filters(options.limits, options.benchmarks)
    for index in range(rows):
        try:
            fault_point("dedup", columns["program_id"][index])
            analysed = _analyse_program(
                columns["code"][index],
                columns["entry_point"][index],
                columns["problem"][index],
                columns["inputs"][index],
                columns["run_mode"][index],
                filters,
            )
        except Exception as exc:  # one odd program must not fail the batch; it is rejected
            reasons[index], details[index] = DedupReason.ANALYSIS_ERROR, error_detail(exc)
            continue
        outcome, program_tokens, interface = analysed
        for reason, count in outcome.dropped.items():
            drops[reason][index] = count
        if outcome.reason is not None:
            reasons[index], details[index] = outcome.reason, outcome.detail
            rejected_by[index] = outcome.rejected_by
            continue
        kept_inputs[index] = outcome.inputs
        interfaces[index] = interface
        keys.add(index, program_tokens)
    band_column, signature_column = keys.minhash(options.minhash)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(columns["program_id"], pa.string()),
            pa.array(reasons, pa.string()),
            pa.array(details, pa.string()),
            pa.array(rejected_by, pa.string()),
            pa.array(kept_inputs, INPUTS_ARROW_TYPE),
            *(pa.array(drops[reason], pa.int64()) for reason in INPUT_DROP_REASONS),
            pa.array(interfaces, pa.string()),
            pa.array(keys.exact, pa.string()),
            pa.array(band_column, pa.list_(pa.int64())),
            pa.array(signature_column, pa.binary()),
        ],
        schema=ANALYSED_ARROW_SCHEMA,
    )


class _Keys:
    """The exact keys, band keys and signatures of one batch's programs, added one by one
    (by row index) and MinHashed together; None for the rows never added."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.exact: list[str | None] = [None] * rows
        self._positions: list[int] = []
        self._tokens: list[str] = []  # every added program's shingle tokens, back to back
        self._lengths: list[int] = []
        self._literals: list[int] = []  # each added program's literal_key: its band keys' salt

    def add(self, index: int, program_tokens: list[str]) -> None:
        self.exact[index] = exact_key(program_tokens)
        self._tokens.extend(shingle_tokens(program_tokens))
        self._lengths.append(len(program_tokens))
        self._literals.append(literal_key(program_tokens))
        self._positions.append(index)

    def minhash(self, settings: DedupConfig) -> tuple[list[list[int] | None], list[bytes | None]]:
        band_column: list[list[int] | None] = [None] * self.rows
        signature_column: list[bytes | None] = [None] * self.rows
        if self._positions:
            shingles, counts = shingle_hashes(
                token_hashes(self._tokens), np.array(self._lengths), settings.shingle_size
            )
            signature_rows = signatures(shingles, counts, settings.num_perm, settings.seed)
            keys = band_keys(signature_rows, settings.bands, settings.rows, self._literals)
            for position, index in enumerate(self._positions):
                band_column[index] = keys[position].tolist()
                signature_column[index] = signature_rows[position].tobytes()
        return band_column, signature_column


KEYS_COLUMNS = ("program_id", "code", "entry_point")
KEYS_ARROW_SCHEMA = pa.schema(
    [
        pa.field("program_id", pa.string(), nullable=False),
        pa.field("exact_key", pa.string()),
        pa.field("band_keys", pa.list_(pa.int64())),
        pa.field("signature", pa.binary()),
    ]
)


def key_table(batch: pa.Table | pa.RecordBatch, options: DedupOptions) -> pa.RecordBatch:
    """Exact key, band keys and signature of programs kept by an earlier run, computed the
    way this version computes them (no filters: they passed them); null where the program
    cannot be normalised any more."""
    columns = {name: batch.column(name).to_pylist() for name in KEYS_COLUMNS}
    keys = _Keys(len(columns["program_id"]))
    for index in range(keys.rows):
        tree = parse_program(columns["code"][index])
        if not isinstance(tree, ast.Module):
            continue
        try:
            program_tokens = normalised_tokens(tree, columns["entry_point"][index])
        except Exception:
            continue
        keys.add(index, program_tokens)
    band_column, signature_column = keys.minhash(options.minhash)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(columns["program_id"], pa.string()),
            pa.array(keys.exact, pa.string()),
            pa.array(band_column, pa.list_(pa.int64())),
            pa.array(signature_column, pa.binary()),
        ],
        schema=KEYS_ARROW_SCHEMA,
    )


def key_batches(batches: Iterator[pa.RecordBatch], options: DedupOptions) -> Iterator[pa.RecordBatch]:
    """The ``mapInArrow`` function of re-keying; spread like ``analyse_batches``."""
    yield from map_batches(key_table, batches, options, options.workers, options.chunk_rows)


def analyse_batches(batches: Iterator[pa.RecordBatch], options: DedupOptions) -> Iterator[pa.RecordBatch]:
    """The ``mapInArrow`` function; spreads the work over ``options.workers`` processes."""
    yield from map_batches(analyse_table, batches, options, options.workers, options.chunk_rows)


EDGE_ARROW_SCHEMA = pa.schema(
    [
        pa.field("src", pa.string(), nullable=False),
        pa.field("dst", pa.string(), nullable=False),
        pa.field("similarity", pa.float64(), nullable=False),
    ]
)


def edge_similarities(batches: Iterator[pa.RecordBatch], num_perm: int) -> Iterator[pa.RecordBatch]:
    """Estimated Jaccard of each candidate edge (src, dst, src_signature, dst_signature)."""
    for batch in batches:
        if not batch.num_rows:
            continue
        first, second = (
            np.frombuffer(b"".join(batch.column(name).to_pylist()), np.uint32).reshape(-1, num_perm)
            for name in ("src_signature", "dst_signature")
        )
        yield pa.RecordBatch.from_arrays(
            [batch.column("src"), batch.column("dst"), pa.array(estimated_jaccard(first, second))],
            schema=EDGE_ARROW_SCHEMA,
        )
