"""The per-batch analysis (the dedup stage's mapInArrow body), without Spark."""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tracepile.analysis.decontam import BenchmarkIndex
from tracepile.analysis.filters import FILTER_NAMES
from tracepile.cli import sample_path
from tracepile.config import DedupConfig, FilterConfig
from tracepile.sources.codeio import parse_codeio_record
from tracepile.udfs import analyse_programs as analysis
from tracepile.udfs.analyse_programs import DedupOptions, analyse_table

OPTIONS = DedupOptions(FilterConfig(), DedupConfig(shingle_size=5, num_perm=128, seed=1, bands=16, rows=8))


def _batch() -> pa.Table:
    with open(sample_path(), "rb") as lines:
        records = [parse_codeio_record(line) for line in lines]
    columns = analysis.ANALYSIS_COLUMNS
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

    def failing(tree: ast.Module, entry_point: str) -> list[str]:
        if ast.unparse(tree) == ast.unparse(ast.parse(victim)):  # a bug only one odd program reaches
            raise RecursionError("maximum recursion depth exceeded")
        return real(tree, entry_point)

    monkeypatch.setattr(analysis, "normalised_tokens", failing)
    out = analyse_table(batch, OPTIONS).to_pylist()
    assert out[2]["reject_reason"] == "analysis_error" and "RecursionError" in out[2]["reject_detail"]
    assert out[2]["rejected_by"] is None  # the normalisation failed, after every filter passed
    assert all(row["reject_reason"] is None for i, row in enumerate(out) if i != 2)
    assert json.loads(out[0]["inputs"][0]["input_json"])


def test_each_rejected_row_names_the_filter_that_rejected_it(tmp_path: Path) -> None:
    rows = _batch().to_pylist()
    bad_signature = [{"input_json": "[1, 2]", "expected_output_json": "3"}]
    not_json = [{"input_json": "{not json", "expected_output_json": "3"}]
    rows[0]["code"] += "#" * 10_000
    rows[1]["code"] += "\n  return (\n"
    rows[2]["entry_point"] = "nowhere"
    rows[3]["code"] = "import socket\n" + rows[3]["code"]
    rows[4]["inputs"] = bad_signature
    rows[5]["inputs"] = not_json  # the inputs filter raises on it
    benchmark = tmp_path / "leaked.txt"
    benchmark.write_text(rows[6]["code"], encoding="utf-8")
    options = replace(OPTIONS, benchmarks=BenchmarkIndex.from_files([str(benchmark)], ngram_size=13))
    out = analyse_table(pa.Table.from_pylist(rows), options).to_pylist()
    expected = [
        ("code_size", "code_too_large"),
        ("syntax", "syntax_error"),
        ("entry_function", "no_entry_function"),
        ("capabilities", "forbidden_capability"),
        ("inputs", "signature_mismatch"),
        ("inputs", "analysis_error"),
        ("decontamination", "contaminated"),
    ]
    assert [(r["rejected_by"], r["reject_reason"]) for r in out[: len(expected)]] == expected
    assert all(r["rejected_by"] is None and r["reject_reason"] is None for r in out[len(expected) :])
    assert {r["rejected_by"] for r in out} - {None} == set(FILTER_NAMES)
