"""The competition record parser on CodeContests, APPS and TACO rows (pure Python, no Spark).

The fixtures under tests/fixtures/competition are shaped like the published rows (field names,
nesting, JSON-in-string fields, type quirks); codecontests.parquet is the JSONL written with the
published Arrow types (make_parquet.py). Their solutions are run here too: every kept solution
passes all its tests except the two the fixtures plant as wrong.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tracepile.analysis.hashing import canonical_json, content_id
from tracepile.config import CompetitionConfig
from tracepile.sources.competition import (
    FORMAT_APPS,
    FORMAT_CODECONTESTS,
    STDIN_REQUIREMENTS,
    detect_format,
    parse_problem,
)
from tracepile.sources.records import Rejection
from tracepile.vocab import SCRIPT_ENTRY, Domain, IngestReason, RunMode, SourceKind

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "competition"
SETTINGS = CompetitionConfig()
CONTENT_KEYS = (
    "source_kind", "source", "category", "problem", "io_requirements", "code", "entry_point",
    "run_mode", "inputs",
)  # fmt: skip


def records(name: str) -> list[dict[str, Any]]:
    path = FIXTURES / name
    if name.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def parse(record: Any, settings: CompetitionConfig = SETTINGS) -> list[dict[str, Any] | Rejection]:
    return list(parse_problem(record, settings))


def programs(record: Any, settings: CompetitionConfig = SETTINGS) -> list[dict[str, Any]]:
    out = parse(record, settings)
    assert out and not any(isinstance(item, Rejection) for item in out), out
    return out  # type: ignore[return-value]


def rejection(record: Any) -> Rejection:
    out = parse(record)
    assert len(out) == 1 and isinstance(out[0], Rejection), out
    assert out[0].detail
    return out[0]


def meta(program: dict[str, Any]) -> dict[str, Any]:
    return json.loads(program["meta_json"])


def stdin_of(item: dict[str, Any]) -> str:
    return json.loads(item["input_json"])["stdin"]


def by_name(fixture: str, key: str, value: Any) -> dict[str, Any]:
    return next(record for record in records(fixture) if record.get(key) == value)


def apps_record(**fields: Any) -> dict[str, Any]:
    """An APPS row: JSON-in-string ``solutions`` and ``input_output`` unless given as text."""
    record = {
        "problem_id": 1, "question": "Print n doubled.", "difficulty": "introductory", "url": "",
        "starter_code": "",
        "solutions": ["print(2 * int(input()))\n"],
        "input_output": {"inputs": ["2\n"], "outputs": ["4\n"]},
    }  # fmt: skip
    record.update(fields)
    for key in ("solutions", "input_output"):
        if not isinstance(record[key], str):
            record[key] = json.dumps(record[key])
    return record


def codecontests_record(**fields: Any) -> dict[str, Any]:
    record = {
        "name": "1_A. Double", "description": "Print n doubled.",
        "public_tests": {"input": ["2\n"], "output": ["4\n"]},
        "private_tests": {"input": [], "output": []}, "generated_tests": {"input": [], "output": []},
        "source": 2, "difficulty": 7,
        "solutions": {"language": [3], "solution": ["print(2 * int(input()))\n"]},
        "incorrect_solutions": {"language": [], "solution": []},
    }  # fmt: skip
    record.update(fields)
    return record


def passes(program: dict[str, Any]) -> bool:
    """Whether the program gives every expected output: run in this process (the fixtures' own
    tiny solutions), stdout compared token-wise, return values JSON-equal."""
    for item in program["inputs"]:
        expected = json.loads(item["expected_output_json"])
        if program["run_mode"] == RunMode.CALL:
            namespace: dict[str, Any] = {}
            exec(program["code"], namespace)
            got = json.loads(json.dumps(namespace[program["entry_point"]](**json.loads(item["input_json"]))))
            if got != expected:
                return False
            continue
        stdout, stdin = io.StringIO(), sys.stdin
        try:
            sys.stdin = io.StringIO(stdin_of(item))
            with contextlib.redirect_stdout(stdout):
                exec(program["code"], {"__name__": "__main__"})
        finally:
            sys.stdin = stdin
        if stdout.getvalue().split() != expected.split():
            return False
    return True


def test_formats_are_detected_per_record() -> None:
    assert {detect_format(r) for r in records("codecontests.jsonl")} == {FORMAT_CODECONTESTS}
    assert {detect_format(r) for r in records("codecontests.parquet")} == {FORMAT_CODECONTESTS}
    assert {detect_format(r) for r in records("apps.jsonl")} == {FORMAT_APPS}
    assert {detect_format(r) for r in records("taco.jsonl.gz")} == {FORMAT_APPS}
    assert [detect_format(r) for r in records("wrong_format.jsonl")] == [None]
    assert detect_format({"question": "q", "solutions": "[]"}) is None  # no input_output


def test_codecontests_problem_keeps_the_first_python3_solutions_and_counts_the_rest() -> None:
    record = by_name("codecontests.jsonl", "name", "977_A. Wrong Subtraction")
    rows = programs(record)
    # languages 2, 1, 3, 3 (a copy), 3 (Python 2 code), 4, 3, 3, 3: the cap of 3 is reached at index 7
    assert [meta(row)["solution_index"] for row in rows] == [2, 6, 7]
    assert [row["entry_point"] for row in rows] == [SCRIPT_ENTRY, "main", SCRIPT_ENTRY]
    assert len({row["program_id"] for row in rows}) == 3
    for row in rows:
        assert row["run_mode"] == RunMode.STDIN and row["io_requirements"] == STDIN_REQUIREMENTS
        assert row["source_kind"] == SourceKind.COMPETITION and row["domain"] == Domain.COMPETITION
        assert row["source"] == "codecontests:codeforces"
        assert row["category"] == "difficulty A; tags implementation"
        assert row["problem"] == record["description"]
        assert row["code"] == record["solutions"]["solution"][meta(row)["solution_index"]].lstrip(
            "\ufeff"
        ).replace("\r\n", "\n")
        assert row["program_id"] == content_id({key: row[key] for key in CONTENT_KEYS})
        # enum members would not unpickle in classic Spark: plain str only
        for key in ("source_kind", "run_mode", "domain"):
            assert type(row[key]) is str
    assert "\r" not in rows[1]["code"] and not rows[1]["code"].startswith("\ufeff")

    tests = record["public_tests"], record["private_tests"], record["generated_tests"]
    ordered = [(i, o) for split in tests for i, o in zip(split["input"], split["output"], strict=True)]
    assert [(stdin_of(item), json.loads(item["expected_output_json"])) for item in rows[0]["inputs"]] == (
        ordered[:10]
    )
    assert rows[0]["inputs"][0] == {
        "input_json": canonical_json({"stdin": "512 4\n"}),
        "expected_output_json": canonical_json("50\n"),
    }
    assert meta(rows[0]) == {
        "name": "977_A. Wrong Subtraction", "site": "codeforces", "difficulty": "A",
        "cf_contest_id": 977, "cf_index": "A", "cf_points": 0.0, "cf_rating": 800,
        "cf_tags": ["implementation"], "is_description_translated": False,
        "time_limit_seconds": 1.0, "memory_limit_bytes": 256000000,
        "solutions_total": 9, "python3_solutions": 6, "solutions_other_language": 3,
        "solutions_duplicate": 1, "solutions_skipped": {"syntax_error": 1},
        "solutions_skipped_over_cap": 1, "incorrect_solutions": 2,
        "tests_total": 12, "tests_dropped": 0, "tests_duplicate": 0, "tests_taken": 10,
        "tests_unfit": 0, "solution_index": 2,
    }  # fmt: skip


def test_a_wrong_solution_in_solutions_is_kept_for_the_sandbox_to_fail() -> None:
    record = by_name("codecontests.jsonl", "name", "4_A. Watermelon")
    rows = programs(record)
    assert [meta(row)["solution_index"] for row in rows] == [0, 2]  # the C++ one between is skipped
    # generated "8\n" repeats the public test: taken once
    assert [stdin_of(item) for item in rows[0]["inputs"]] == [
        "8\n", "2\n", "5\n", "100\n", "1\n", "4\n", "99\n", "6\n",
    ]  # fmt: skip
    assert meta(rows[0])["tests_duplicate"] == 1 and meta(rows[0])["tests_total"] == 9
    assert meta(rows[0])["incorrect_solutions"] == 1
    assert (passes(rows[0]), passes(rows[1])) == (False, True)


def test_a_problem_with_only_cpp_and_python2_is_one_rejection() -> None:
    record = by_name("codecontests.jsonl", "name", "p02388 X Cubic")
    assert rejection(record).reason == IngestReason.NO_PYTHON_SOLUTION


def test_caps_on_solutions_and_tests() -> None:
    record = by_name("codecontests.jsonl", "name", "977_A. Wrong Subtraction")
    (row,) = programs(record, CompetitionConfig(solutions_per_problem=1, tests_per_solution=2))
    assert [stdin_of(item) for item in row["inputs"]] == ["512 4\n", "1000000000 9\n"]  # public first
    assert meta(row)["solutions_skipped_over_cap"] == 5  # of the 6 Python 3 solutions
    assert meta(row)["tests_taken"] == 2
    wide = programs(record, CompetitionConfig(solutions_per_problem=10, tests_per_solution=50))
    assert [meta(r)["solution_index"] for r in wide] == [2, 6, 7, 8]
    assert {len(r["inputs"]) for r in wide} == {12}
    assert meta(wide[0])["solutions_skipped_over_cap"] == 0


def test_parquet_rows_give_the_same_programs_as_jsonl() -> None:
    from_jsonl = [parse(record) for record in records("codecontests.jsonl")]
    from_parquet = [parse(record) for record in records("codecontests.parquet")]
    assert from_parquet == from_jsonl
    assert sum(not isinstance(row, Rejection) for rows in from_jsonl for row in rows) == 5


def test_protobuf_json_shape_of_codecontests_reads_the_same() -> None:
    """DeepMind's own tooling writes lists of messages and enum names; same problem, same programs."""
    record = by_name("codecontests.jsonl", "name", "4_A. Watermelon")
    proto = dict(record, source="CODEFORCES", difficulty="A")
    for split in ("public_tests", "private_tests", "generated_tests"):
        proto[split] = [{"input": i, "output": o} for i, o in zip(*record[split].values(), strict=True)]
    solutions = record["solutions"]
    proto["solutions"] = [
        {"language": ["UNKNOWN_LANGUAGE", "PYTHON", "CPP", "PYTHON3", "JAVA"][lang], "solution": code}
        for lang, code in zip(solutions["language"], solutions["solution"], strict=True)
    ]
    assert [row["program_id"] for row in programs(proto)] == [row["program_id"] for row in programs(record)]


def test_apps_stdin_problem_joins_line_lists_and_skips_python2() -> None:
    record = by_name("apps.jsonl", "problem_id", 4236)
    rows = programs(record)
    assert [meta(row)["solution_index"] for row in rows] == [0, 2]
    assert all(row["source"] == "apps" and row["run_mode"] == RunMode.STDIN for row in rows)
    assert rows[0]["category"] == "difficulty introductory"
    # the second test is stored as a list of lines, input and output
    assert stdin_of(rows[0]["inputs"][1]) == "1\n3\n1 2 4"
    assert json.loads(rows[0]["inputs"][1]["expected_output_json"]) == "3"
    info = meta(rows[0])
    assert info["problem_id"] == 4236 and info["url"] == "https://codeforces.com/problemset/problem/1234/A"
    assert info["solutions_skipped"] == {"syntax_error": 1}
    assert (info["solutions_total"], info["python3_solutions"], info["tests_total"]) == (3, 3, 3)


def test_apps_call_based_problem_names_arguments_by_each_solutions_parameters() -> None:
    record = by_name("apps.jsonl", "problem_id", 2718)
    rows = programs(record)
    # solution 1 is a lambda, solution 2 takes *divisors: neither can be called with kwargs
    assert [meta(row)["solution_index"] for row in rows] == [0, 3]
    first, renamed = rows
    assert first["run_mode"] == RunMode.CALL and first["entry_point"] == "is_divisible"
    assert first["io_requirements"].startswith("Defines is_divisible(n, x, y),")
    assert json.loads(first["inputs"][0]["input_json"]) == {"n": 3, "x": 1, "y": 3}
    assert json.loads(renamed["inputs"][0]["input_json"]) == {"number": 3, "a": 1, "b": 3}
    # every output was [value]: unwrapped; the repeated [3, 1, 3] is taken once
    assert [item["expected_output_json"] for item in first["inputs"]] == [
        "true",
        "true",
        "false",
        "false",
        "true",
    ]
    info = meta(first)
    assert info["solutions_skipped"] == {"unsupported_call_form": 1, "no_tests": 1}
    assert info["tests_duplicate"] == 1 and info["tests_taken"] == 5


def test_apps_outputs_are_unwrapped_only_when_all_are_one_element_lists() -> None:
    io_spec = {"fn_name": "pair", "inputs": [[1], [2]], "outputs": [[[1, 1]], [2, 2]]}
    row = programs(apps_record(solutions=["def pair(k):\n    return [k, k]\n"], input_output=io_spec))[0]
    assert [item["expected_output_json"] for item in row["inputs"]] == ["[[1,1]]", "[2,2]"]
    io_spec["outputs"] = [[[1, 1]], [[2, 2]]]
    row = programs(apps_record(solutions=["def pair(k):\n    return [k, k]\n"], input_output=io_spec))[0]
    assert [item["expected_output_json"] for item in row["inputs"]] == ["[1,1]", "[2,2]"]


def test_apps_wrong_empty_and_leetcode_problems() -> None:
    wrong = programs(by_name("apps.jsonl", "problem_id", 4441))
    assert [passes(row) for row in wrong] == [False, True]
    assert rejection(by_name("apps.jsonl", "problem_id", 4873)).reason == IngestReason.NO_PYTHON_SOLUTION
    leetcode = rejection(by_name("apps.jsonl", "problem_id", 2440))
    assert leetcode.reason == IngestReason.UNSUPPORTED_CALL_FORM
    assert "unsupported_call_form 2" in leetcode.detail


def test_taco_rows_without_problem_id() -> None:
    benches, digital_root, painters = records("taco.jsonl.gz")
    rows = programs(benches)
    assert [row["entry_point"] for row in rows] == [SCRIPT_ENTRY, "main"]
    assert all(row["source"] == "taco" for row in rows)
    assert rows[0]["category"] == "difficulty EASY; tags Combinatorics, Mathematics"
    info = meta(rows[0])
    assert info["problem_key"] == benches["url"] and "problem_id" not in info
    assert (info["site"], info["tags"], info["time_limit"]) == (
        "codeforces", ["Combinatorics", "Mathematics"], "0.5 seconds",
    )  # fmt: skip
    calls = programs(digital_root)
    assert json.loads(calls[0]["inputs"][0]["input_json"]) == {"n": 16}
    assert calls[0]["inputs"][0]["expected_output_json"] == "7"
    # GeeksforGeeks: a bare class Solution, its tests not stdin
    assert rejection(painters).reason == IngestReason.UNSUPPORTED_CALL_FORM
    # without a url the statement's hash is the key
    keyless = programs(dict(benches, url=None))
    assert meta(keyless[0])["problem_key"] == content_id(benches["question"])


def test_other_formats_are_unknown() -> None:
    (record,) = records("wrong_format.jsonl")
    assert rejection(record).reason == IngestReason.UNKNOWN_FORMAT


def test_every_kept_fixture_solution_passes_but_the_planted_wrong_ones() -> None:
    failing = []
    for fixture in ("codecontests.jsonl", "apps.jsonl", "taco.jsonl.gz"):
        for record in records(fixture):
            rows = [
                row
                for row in parse(record, CompetitionConfig(solutions_per_problem=50))
                if isinstance(row, dict)
            ]
            failing += [(fixture, meta(row)["solution_index"]) for row in rows if not passes(row)]
    assert failing == [("codecontests.jsonl", 0), ("apps.jsonl", 0)]  # Watermelon, Candies


CALL_F = {"fn_name": "f", "inputs": [[1]], "outputs": [[2]]}  # f(1) == 2
Reason = IngestReason
BAD_RECORDS = [
    ("array", ["question"], Reason.NOT_AN_OBJECT),
    ("no known fields", {"prompt": "x", "completion": "y"}, Reason.UNKNOWN_FORMAT),
    ("question not text", apps_record(question=5), Reason.WRONG_TYPE),
    ("solutions truncated JSON", apps_record(solutions='["print(1)'), Reason.INVALID_JSON),
    ("solutions an object", apps_record(solutions="{}"), Reason.WRONG_TYPE),
    ("input_output bad JSON", apps_record(input_output="{'inputs': []}"), Reason.INVALID_JSON),
    ("input_output an array", apps_record(input_output="[]"), Reason.WRONG_TYPE),
    ("input_output no outputs", apps_record(input_output={"inputs": ["1\n"]}), Reason.MISSING_FIELD),
    ("input_output blank", apps_record(input_output=""), Reason.NO_TESTS),
    ("fn_name a number", apps_record(input_output={**CALL_F, "fn_name": 5}), Reason.WRONG_TYPE),
    ("stdin outputs numbers", apps_record(input_output={"inputs": ["2\n"], "outputs": [4]}), Reason.NO_TESTS),
    ("only Python 2", apps_record(solutions=["print 2 * input()\n", "print input()"]),
     Reason.NO_PYTHON_SOLUTION),
    ("blank solution", apps_record(solutions=["  \n"]), Reason.EMPTY_CODE),
    ("solution a number", apps_record(solutions=[7]), Reason.WRONG_TYPE),
    ("solutions null", apps_record(solutions=None), Reason.NO_PYTHON_SOLUTION),
    ("defines only", apps_record(solutions=["def f(n):\n    return 2 * n\n"]), Reason.UNSUPPORTED_CALL_FORM),
    ("call: no def", apps_record(solutions=["print(1)"], input_output=CALL_F), Reason.UNSUPPORTED_CALL_FORM),
    (
        "call: positional-only",
        apps_record(solutions=["def f(n, /):\n    return 2 * n\n"], input_output=CALL_F),
        Reason.UNSUPPORTED_CALL_FORM,
    ),
    (
        "call: arity never fits",
        apps_record(solutions=["def f(a, b):\n    return a + b\n"], input_output=CALL_F),
        Reason.NO_TESTS,
    ),
    ("description null", codecontests_record(description=None), Reason.WRONG_TYPE),
    ("solutions text", codecontests_record(solutions="print(1)"), Reason.WRONG_TYPE),
    (
        "tests of unequal length",
        codecontests_record(public_tests={"input": ["1\n", "2\n"], "output": ["2\n"]}),
        Reason.WRONG_TYPE,
    ),
    ("tests a string", codecontests_record(private_tests="1\n"), Reason.WRONG_TYPE),
    ("no tests", codecontests_record(public_tests={"input": [], "output": []}), Reason.NO_TESTS),
    (
        "only Java",
        codecontests_record(solutions={"language": [4], "solution": ["class Main {}"]}),
        Reason.NO_PYTHON_SOLUTION,
    ),
]  # fmt: skip


@pytest.mark.parametrize(("record", "reason"), [b[1:] for b in BAD_RECORDS], ids=[b[0] for b in BAD_RECORDS])
def test_malformed_records_are_one_rejection_with_its_reason(record: Any, reason: str) -> None:
    assert rejection(record).reason == reason


def test_the_good_base_records_of_the_bad_ones_are_programs() -> None:
    assert len(programs(apps_record())) == 1
    assert len(programs(codecontests_record())) == 1


def test_odd_values_in_any_field_never_raise() -> None:
    """Each top-level field of each fixture set to values of other types: programs, or one Rejection."""
    odd = [None, 0, 1.5, True, "", "x", "{", [], [None], [1, "a"], {}, {"input": 3}, {"language": "x"}]
    for fixture in ("codecontests.jsonl", "apps.jsonl", "taco.jsonl.gz"):
        for record in records(fixture):
            for key in record:
                for value in odd:
                    out = parse({**record, key: value})
                    rejected = [item for item in out if isinstance(item, Rejection)]
                    assert out and (rejected == out[:1] == out or not rejected), (key, value, out)
