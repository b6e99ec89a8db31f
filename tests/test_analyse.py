"""The per-batch analysis (the dedup stage's mapInArrow body), without Spark."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from tracepile.analysis.filters import FilterLimits
from tracepile.cli import sample_path
from tracepile.sources.codeio import parse_codeio_record
from tracepile.udfs import analyse_programs as analysis
from tracepile.udfs.analyse_programs import DedupOptions, analyse_table

OPTIONS = DedupOptions(FilterLimits(), shingle_size=5, num_perm=128, seed=1, bands=16, rows=8)


def _batch() -> pa.Table:
    with open(sample_path(), "rb") as lines:
        records = [parse_codeio_record(line) for line in lines]
    columns = ("program_id", "code", "entry_point", "problem", "inputs")
    return pa.Table.from_pylist([{c: r[c] for c in columns} for r in records])


def test_every_row_comes_back_with_keys_or_a_reason() -> None:
    batch = _batch()
    out = analyse_table(batch, OPTIONS).to_pylist()
    assert [r["program_id"] for r in out] == batch.column("program_id").to_pylist()
    for row in out:
        assert row["reject_reason"] is None, row["reject_detail"]
        assert len(row["band_keys"]) == 16 and len(row["signature"]) == 128 * 4
        assert len(row["exact_key"]) == 32 and row["inputs"]
    # the batch-wide MinHash equals each program's own
    alone = analyse_table(batch.slice(3, 1), OPTIONS).to_pylist()[0]
    assert np.array_equal(
        np.frombuffer(alone["signature"], np.uint32), np.frombuffer(out[3]["signature"], np.uint32)
    )


def test_a_program_whose_analysis_fails_is_rejected_and_the_batch_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch = _batch()
    victim = batch.column("code")[2].as_py()
    real = analysis.normalised_tokens

    def failing(code: str, *args: object) -> list[str]:
        if code == victim:  # stands in for a bug that only one odd program reaches
            raise RecursionError("maximum recursion depth exceeded")
        return real(code, *args)

    monkeypatch.setattr(analysis, "normalised_tokens", failing)
    out = analyse_table(batch, OPTIONS).to_pylist()
    assert out[2]["reject_reason"] == "analysis_error" and "RecursionError" in out[2]["reject_detail"]
    assert all(row["reject_reason"] is None for i, row in enumerate(out) if i != 2)
    assert json.loads(out[0]["inputs"][0]["input_json"])
