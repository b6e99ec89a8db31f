"""The codeio record parser on real and planted records (pure Python, no Spark)."""

from __future__ import annotations

import json
import math

import pytest

from tests.corruption import BAD_LINES, GOOD
from tracepile.analysis.values import decode
from tracepile.sources.codeio import domain_for_category, parse_codeio_record
from tracepile.sources.records import Rejection


def test_real_pyedu_record_is_normalised(pyedu_toy) -> None:
    raw = pyedu_toy.read_bytes().splitlines()[0]
    record = json.loads(raw)
    parsed = parse_codeio_record(raw)
    assert not isinstance(parsed, Rejection)
    assert parsed["code"] == record["refcode"]
    assert parsed["entry_point"] == "main_solution"
    assert parsed["problem"] == record["problem_description"]
    assert len(parsed["inputs"]) == len(record["ios"])
    first = parsed["inputs"][0]
    assert json.loads(first["input_json"]) == record["ios"][0]["input"]
    assert json.loads(first["expected_output_json"]) == record["ios"][0]["output"]
    assert json.loads(parsed["meta_json"]) == record["meta"]
    assert len(parsed["program_id"]) == 32


def test_program_id_is_content_hash_independent_of_key_order_and_meta() -> None:
    base = parse_codeio_record(json.dumps(GOOD).encode())
    reordered = dict(reversed(list(GOOD.items())))
    reordered["meta"] = {"repo_name": "elsewhere"}
    same = parse_codeio_record(json.dumps(reordered, indent=2).encode())
    changed = parse_codeio_record(json.dumps({**GOOD, "refcode": GOOD["refcode"] + " "}).encode())
    assert base["program_id"] == same["program_id"]
    assert base["program_id"] != changed["program_id"]


@pytest.mark.parametrize(("raw", "reason"), BAD_LINES, ids=[r for _, r in BAD_LINES])
def test_each_planted_bad_line_is_rejected_with_its_reason(raw: bytes, reason: str) -> None:
    parsed = parse_codeio_record(raw)
    assert isinstance(parsed, Rejection)
    assert parsed.reason == reason
    assert parsed.detail


def test_missing_output_is_unknown_but_null_output_is_none() -> None:
    record = {**GOOD, "ios": [{"input": {"a": 1}}, {"input": {"a": 2}, "output": None}]}
    parsed = parse_codeio_record(json.dumps(record).encode())
    assert [i["expected_output_json"] for i in parsed["inputs"]] == [None, "null"]


def test_optional_fields_may_be_missing() -> None:
    minimal = {k: GOOD[k] for k in ("refcode", "funcname", "ios")}
    parsed = parse_codeio_record(json.dumps(minimal).encode())
    assert parsed["source"] == "unknown"
    assert parsed["problem"] == ""
    assert parsed["domain"] == "general"
    assert parsed["meta_json"] is None


@pytest.mark.parametrize(
    ("category", "domain"),
    [
        ("Mathematics and Number Theory", "math"),
        ("Classical Algorithms and Data Structures", "algorithms"),
        ("Competition Programming", "competition"),
        ("Modeling of Logical Puzzles and Complex Reasoning Processes", "logic_puzzles"),
        ("Web scraping", "general"),
    ],
)
def test_domain_from_category(category: str, domain: str) -> None:
    assert domain_for_category(category) == domain


PYTHON_RECORD = {
    "refcode": "def main_solution(pairs, table, key=None):\n    return tuple(table[p] for p in pairs)\n",
    "funcname": "main_solution",
    "io_format": "python",
    "ios": [
        {"input": "[(1, 2), (3, 4)], {(1, 2): {'a'}, (3, 4): b'x'}", "output": "({'a'}, b'x')"},
        {"input": "pairs=[], table={1: float('nan')}, key=frozenset()", "output": "()"},
    ],
}


def test_python_io_format_reads_tuples_sets_bytes_and_int_keys_by_literal_parsing() -> None:
    parsed = parse_codeio_record(json.dumps(PYTHON_RECORD).encode())
    assert not isinstance(parsed, Rejection), parsed
    first, second = parsed["inputs"]
    assert decode(first["input_json"]) == {"pairs": [(1, 2), (3, 4)], "table": {(1, 2): {"a"}, (3, 4): b"x"}}
    assert decode(first["expected_output_json"]) == ({"a"}, b"x")
    kwargs = decode(second["input_json"])
    assert kwargs["key"] == frozenset() and math.isnan(kwargs["table"][1])
    assert decode(second["expected_output_json"]) == ()


@pytest.mark.parametrize(
    ("field", "text", "reason", "says"),
    [
        ("input", "__import__('os').system('true')", "wrong_type", "not call arguments of literals"),
        ("input", "1, 2, 3, 4", "unsupported_call_form", "4 positional arguments; the entry takes 3"),
        ("input", "[1], pairs=[2]", "wrong_type", "pairs twice"),
        ("output", "open('/etc/passwd')", "wrong_type", "not a Python literal"),
        ("output", "[1, 2", "wrong_type", "not a Python literal"),
    ],
)
def test_python_io_format_never_evaluates_and_says_what_is_wrong(
    field: str, text: str, reason: str, says: str
) -> None:
    ios = [{"input": "[1], {}", "output": "()"} | {field: text}]
    parsed = parse_codeio_record(json.dumps({**PYTHON_RECORD, "ios": ios}).encode())
    assert isinstance(parsed, Rejection)
    assert parsed.reason == reason and says in parsed.detail, parsed


def test_dict_key_order_inside_inputs_is_kept() -> None:
    """A function whose result depends on key order runs on the record's own input."""
    record = {**GOOD, "ios": [{"input": {"b": {"z": 1, "a": 2}, "a": 0}, "output": ["z", "a"]}]}
    parsed = parse_codeio_record(json.dumps(record).encode())
    assert not isinstance(parsed, Rejection)
    assert list(decode(parsed["inputs"][0]["input_json"])["b"]) == ["z", "a"]
