"""Decontamination by code form: benchmark functions shorter than the n-gram window, renamed
and reformatted, are caught in a program; textbook code that is not the benchmark's is not.

The benchmark is a slice of the published HumanEval (``tests/fixtures/humaneval``, MIT).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pyarrow as pa
import pytest

from tracepile.analysis.decontam import BenchmarkIndex, code_forms
from tracepile.cli import sample_path
from tracepile.config import DedupConfig, FilterConfig
from tracepile.sources.codeio import parse_codeio_record
from tracepile.udfs.analyse_programs import ANALYSIS_COLUMNS, DedupOptions, analyse_table

HUMANEVAL = Path(__file__).parent / "fixtures" / "humaneval"

# HumanEval/23 (7 words with its signature) and HumanEval/29, renamed and reformatted, each
# the helper of a program whose entry point calls it
STRLEN_COPY = """
# how long is it
def size_of(text: str) -> int:
    return (len(text))   # the answer


def main_solution(words):
    return [size_of(w) for w in words]
"""
PREFIX_COPY = """from typing import List
def keep(items: List[str], start: str) -> List[str]:
    '''Only the items that start with start.'''
    return [item for item in items
            if item.startswith(start)]

def main_solution(items, start):
    return keep(items, start)
"""


@pytest.fixture(scope="module")
def index() -> BenchmarkIndex:
    return BenchmarkIndex.from_files([str(HUMANEVAL)], ngram_size=13)


@pytest.mark.parametrize("code", [STRLEN_COPY, PREFIX_COPY], ids=["strlen", "filter_by_prefix"])
def test_a_short_benchmark_function_renamed_and_reformatted_is_caught(
    index: BenchmarkIndex, code: str
) -> None:
    detail = index.overlap({"problem": "How long is each word?", "code": code})
    assert detail is not None and "up to names and formatting" in detail
    assert (
        dataclasses.replace(index, forms={}).overlap({"problem": "", "code": code}) is None
    )  # n-grams miss it


def test_the_detail_names_the_function_and_the_benchmark_item(index: BenchmarkIndex) -> None:
    detail = index.overlap({"problem": "", "code": STRLEN_COPY})
    item = "humaneval/HumanEval_slice.jsonl:4 (HumanEval/23)"
    assert detail == f"code: function size_of is the code of {item}'s strlen up to names and formatting"


def test_another_operator_or_constant_is_another_function(index: BenchmarkIndex) -> None:
    add = "def plus(a: int, b: int):\n    return a + b\n\ndef main_solution(a, b):\n    return plus(a, b)\n"
    assert index.overlap({"problem": "", "code": add}) is not None  # HumanEval/53
    assert index.overlap({"problem": "", "code": add.replace("a + b", "a - b")}) is None
    sums = "def total(n: int):\n    return sum(range(n + 1))\n"
    assert index.overlap({"problem": "", "code": sums}) is not None  # HumanEval/60
    assert index.overlap({"problem": "", "code": sums.replace("n + 1", "n + 2")}) is None


def test_untyped_textbook_code_equal_to_a_typed_solution_is_not_a_copy(index: BenchmarkIndex) -> None:
    """Euclid's gcd is HumanEval/13's solution; the bundled sample has it without the
    benchmark's typed signature, as every textbook does."""
    euclid = "def main_solution(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n"
    assert index.overlap({"problem": "", "code": euclid}) is None
    typed = euclid.replace("(a, b):", "(a: int, b: int) -> int:")
    assert "HumanEval/13" in (index.overlap({"problem": "", "code": typed}) or "")


def test_trivial_forms_are_not_indexed(tmp_path: Path) -> None:
    benchmark = tmp_path / "tiny.jsonl"
    benchmark.write_text(json.dumps({"task_id": "t/0", "code": "def ident(x):\n    return x\n"}) + "\n")
    assert list(code_forms("def ident(x):\n    return x\n")) == []  # 10 tokens < MIN_FORM_TOKENS
    tiny = BenchmarkIndex.from_files([str(benchmark)], ngram_size=13)
    assert tiny.forms == {}
    assert tiny.overlap({"problem": "", "code": "def main_solution(y):\n    return y\n"}) is None


def test_number_runs_and_code_idioms_are_not_shared_text(tmp_path: Path) -> None:
    """Windows of keywords, builtins, numbers and short names only match programs that share
    nothing but the language with the benchmark."""
    benchmark = tmp_path / "bench.jsonl"
    primes = "[2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43]"
    idiom = "for i in range(2, num):\n        if num % i == 0:\n            return False\n    return True"
    text = f"assert candidate(50) == {primes}\ndef is_prime(num):\n    {idiom}\n"
    benchmark.write_text(json.dumps({"task_id": "t/0", "test": text}) + "\n")
    # n-grams alone: the function itself is the benchmark's, which its code form tells
    ngrams = dataclasses.replace(BenchmarkIndex.from_files([str(benchmark)], ngram_size=13), forms={})
    program = f"PRIMES = {primes}\n\ndef main_solution(num):\n    {idiom}\n"
    assert ngrams.overlap({"problem": "", "code": program}) is None
    telling = "Return whether the given number is prime, checking every divisor from two up to it"
    benchmark.write_text(json.dumps({"task_id": "t/0", "prompt": telling, "test": text}) + "\n")
    ngrams = dataclasses.replace(BenchmarkIndex.from_files([str(benchmark)], ngram_size=13), forms={})
    assert "t/0" in (ngrams.overlap({"problem": telling.lower(), "code": program}) or "")


def _records(path: Path | str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def test_no_program_of_the_samples_is_flagged(index: BenchmarkIndex, pyedu_toy: Path) -> None:
    flagged = [
        (record["refcode"][:80], detail)
        for record in _records(sample_path()) + _records(pyedu_toy)
        if (detail := index.overlap({"problem": record["problem_description"], "code": record["refcode"]}))
    ]
    assert flagged == []


def test_the_dedup_batch_rejects_the_copy_as_contaminated(index: BenchmarkIndex) -> None:
    records = _records(sample_path())[:3]
    records[1] = {**records[1], "refcode": STRLEN_COPY, "ios": [{"input": {"words": ["ab"]}, "output": [2]}]}
    rows = [parse_codeio_record(json.dumps(record).encode("utf-8")) for record in records]
    table = pa.Table.from_pylist([{c: row[c] for c in ANALYSIS_COLUMNS} for row in rows])
    options = DedupOptions(FilterConfig(), DedupConfig(), benchmarks=index)
    out = analyse_table(table, options).to_pylist()
    assert [r["reject_reason"] for r in out] == [None, "contaminated", None]
    assert out[1]["rejected_by"] == "decontamination" and "HumanEval/23" in out[1]["reject_detail"]
