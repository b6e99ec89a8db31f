"""The `math` record parser on OpenMathInstruct-1, plain and foreign records (pure Python, no
Spark). The fixture programs are also run, as plain scripts, to check that the rewritten
program prints what the dataset's interpreter showed and that its answer is judged right."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tracepile.analysis.answers import answer_matches
from tracepile.config import MathConfig
from tracepile.sources.mathpot import (
    CLAIMED_OUTPUT_CHARS,
    INCORRECT_SOLUTION_REASON,
    IO_REQUIREMENTS,
    parse_math_record,
    print_final_expression,
)
from tracepile.sources.records import Rejection
from tracepile.vocab import SCRIPT_ENTRY, IngestReason

FIXTURES = Path(__file__).parent / "fixtures" / "math"
DEFAULTS = MathConfig()


def _lines(name: str) -> list[bytes]:
    return (FIXTURES / name).read_bytes().splitlines()


def _parsed(raw: bytes, settings: MathConfig = DEFAULTS) -> dict[str, Any]:
    row = parse_math_record(raw, settings)
    assert not isinstance(row, Rejection), row
    return row


def _record(name: str, index: int) -> dict[str, Any]:
    return json.loads(_lines(name)[index])


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(row["meta_json"])


OPENMATH = _lines("openmathinstruct.jsonl")
PLAIN = _lines("plain.jsonl")
# (fixture line, category, expected answer, code blocks, final expression printed by the rewrite)
OPENMATH_ROWS = [
    (0, "gsm8k", "29", 1, True),
    (1, "gsm8k", "10", 2, True),
    (2, "math", "5", 1, False),
    (3, "math", "\\dfrac{1}{9}", 1, False),
    (4, "math", "8", 1, True),
    (5, "gsm8k", "5", 1, True),
    (6, "math", "\\frac{7}{12}", 1, True),
]
TEXT_ONLY = 7
INCORRECT = 5  # is_correct false: its code really computes 20, not 5


@pytest.mark.parametrize(("index", "category", "answer", "blocks", "printed"), OPENMATH_ROWS)
def test_openmathinstruct_record_becomes_an_answer_program(
    index: int, category: str, answer: str, blocks: int, printed: bool
) -> None:
    record = json.loads(OPENMATH[index])
    row = _parsed(OPENMATH[index])
    assert row["source_kind"] == "math" and type(row["source_kind"]) is str  # not a StrEnum member
    assert row["run_mode"] == "answer" and type(row["run_mode"]) is str
    assert (row["domain"], row["source"], row["category"]) == ("math", "openmathinstruct-1", category)
    assert row["entry_point"] == SCRIPT_ENTRY
    assert row["problem"] == record["question"]
    assert row["io_requirements"] == IO_REQUIREMENTS
    assert row["inputs"] == [{"input_json": "{}", "expected_output_json": json.dumps(answer)}]
    meta = _meta(row)
    assert meta["code_blocks"] == blocks
    assert meta["final_expression_printed"] is printed
    for field in ("expected_answer", "predicted_answer", "is_correct", "dataset", "generation_type"):
        assert meta[field] == record[field]
    assert meta["error_message"] == ""
    assert len(row["program_id"]) == 32


def test_real_first_row_is_its_code_block_with_the_final_expression_printed() -> None:
    row = _parsed(OPENMATH[0])
    assert row["code"] == (
        "amount_of_lost_crayons = 18 / 2\n"
        "amount_of_new_crayons = 20\n"
        "total_amount = amount_of_lost_crayons + amount_of_new_crayons\n"
        "print(total_amount)\n"
    )
    assert _meta(row)["claimed_outputs"] == ["29.0"]


def test_code_blocks_are_joined_in_order_into_one_program() -> None:
    row = _parsed(OPENMATH[1])
    assert row["code"] == (
        "hourly_rate = 12\n"
        "minutes_per_hour = 60\n"
        "rate_per_minute = hourly_rate / minutes_per_hour\n"
        "rate_per_minute\n"  # not the last statement: the shell showed it, a script does not
        "minutes_worked = 50\n"
        "earnings = rate_per_minute * minutes_worked\n"
        "print(earnings)\n"
    )
    assert _meta(row)["claimed_outputs"] == ["0.2", "10.0"]


def test_text_only_solution_has_no_code_block() -> None:
    rejection = parse_math_record(OPENMATH[TEXT_ONLY], DEFAULTS)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == IngestReason.NO_CODE_BLOCK


def test_correct_only_skips_what_the_dataset_marks_wrong() -> None:
    strict = MathConfig(correct_only=True)
    rejection = parse_math_record(OPENMATH[INCORRECT], strict)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == INCORRECT_SOLUTION_REASON
    assert "is_correct" in rejection.detail
    # By default it is kept, with the dataset's answer: the sandbox finds it wrong.
    row = _parsed(OPENMATH[INCORRECT])
    assert json.loads(row["inputs"][0]["expected_output_json"]) == "5"
    assert _meta(row)["predicted_answer"] == "20"
    # correct_only keeps every row marked correct unchanged.
    for index, *_ in OPENMATH_ROWS:
        if index != INCORRECT:
            assert _parsed(OPENMATH[index], strict) == _parsed(OPENMATH[index])


def test_plain_records() -> None:
    rows = [_parsed(raw) for raw in PLAIN]
    assert [r["source"] for r in rows] == ["math-plain"] * 3
    assert [json.loads(r["inputs"][0]["expected_output_json"]) for r in rows] == ["1024", "5050", "9"]
    assert rows[1]["code"] == "total = sum(range(1, 101))\nprint(total)\n"  # the answer was JSON 5050
    assert [_meta(r)["final_expression_printed"] for r in rows] == [False, True, False]
    assert rows[0]["category"] == "" and rows[0]["problem"] == "What is $2^{10}$?"


def test_a_record_of_another_kind_is_an_unknown_format() -> None:
    rejection = parse_math_record(_lines("wrong_format.jsonl")[0], DEFAULTS)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == IngestReason.UNKNOWN_FORMAT
    assert "generated_solution" in rejection.detail and "refcode" in rejection.detail


def _variant(index: int, **changes: object) -> bytes:
    record = {**_record("openmathinstruct.jsonl", index), **changes}
    return json.dumps({k: v for k, v in record.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"question": "cut off', IngestReason.INVALID_JSON),
        (b'{"question": "\xff"}', IngestReason.INVALID_UTF8),
        (b'["question", "code", "answer"]', IngestReason.NOT_AN_OBJECT),
        (_variant(0, expected_answer=...), IngestReason.MISSING_FIELD),
        (_variant(0, question=...), IngestReason.MISSING_FIELD),
        (_variant(0, is_correct="yes"), IngestReason.WRONG_TYPE),
        (_variant(0, expected_answer=True), IngestReason.WRONG_TYPE),
        (_variant(0, generated_solution=["<llm-code>x</llm-code>"]), IngestReason.WRONG_TYPE),
        (_variant(0, generated_solution="<llm-code>\nx = (1,\n</llm-code>"), IngestReason.SYNTAX_ERROR),
        (
            _variant(0, generated_solution="<llm-code>\n!pip install sympy\n</llm-code>"),
            IngestReason.SYNTAX_ERROR,
        ),
        (_variant(0, generated_solution="<llm-code>\n\n</llm-code>"), IngestReason.EMPTY_CODE),
        (json.dumps({"question": "q", "code": "print(1)"}).encode(), IngestReason.MISSING_FIELD),
        (json.dumps({"question": "q", "code": 1, "answer": "1"}).encode(), IngestReason.WRONG_TYPE),
        (json.dumps({"problem": "q", "answer": "1"}).encode(), IngestReason.UNKNOWN_FORMAT),
    ],
)
def test_bad_records_are_rejected_with_their_reason(raw: bytes, reason: IngestReason) -> None:
    rejection = parse_math_record(raw, DEFAULTS)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == reason
    assert rejection.detail


def test_problem_field_of_later_releases_is_the_question() -> None:
    record = _record("openmathinstruct.jsonl", 0)
    record["problem"] = record.pop("question")
    row = _parsed(json.dumps(record).encode())
    assert row["problem"] == record["problem"]


def test_program_id_hashes_the_program_not_the_dataset_labels() -> None:
    base = _parsed(OPENMATH[0])["program_id"]
    relabelled = _parsed(_variant(0, is_correct=False, predicted_answer="30", generation_type="x"))
    assert relabelled["program_id"] == base
    assert _parsed(_variant(0, expected_answer="30"))["program_id"] != base
    solution = _record("openmathinstruct.jsonl", 0)["generated_solution"].replace("18 / 2", "18 // 2")
    assert _parsed(_variant(0, generated_solution=solution))["program_id"] != base


def test_claimed_outputs_are_capped() -> None:
    solution = (
        f"<llm-code>\nprint('x' * 5000)\n</llm-code>\n<llm-code-output>\n{'x' * 5000}\n</llm-code-output>"
    )
    claimed = _meta(_parsed(_variant(0, generated_solution=solution)))["claimed_outputs"]
    assert claimed == ["x" * CLAIMED_OUTPUT_CHARS]


def _rewrite(code: str) -> tuple[str, bool]:
    return print_final_expression(code, ast.parse(code))


@pytest.mark.parametrize(
    ("code", "rewritten"),
    [
        ("x = 1\nx\n", "x = 1\nprint(x)\n"),
        ("x = 'é'; x  # the answer\n", "x = 'é'; print(x)  # the answer\n"),  # byte offsets
        ("a = 'ü'\n(a +\n 'b')\n", "a = 'ü'\nprint((a +\n 'b'))\n"),  # the statement spans its parentheses
        ("a, b = 1, 2\na, b\n", "a, b = 1, 2\nprint((a, b))\n"),
        ("'done'\n", "print('done')\n"),
        ("None", "print(None)"),
        ("x = 1\r\nx\r\n", "x = 1\r\nprint(x)\r\n"),
        ("s = '\x0c\u2028'\ns\n", "s = '\x0c\u2028'\nprint(s)\n"),  # characters splitlines breaks at
    ],
)
def test_final_expression_is_printed_in_place(code: str, rewritten: str) -> None:
    assert _rewrite(code) == (rewritten, True)
    before, after = ast.parse(code).body, ast.parse(rewritten).body
    assert [node.lineno for node in before] == [node.lineno for node in after]
    call = after[-1].value
    assert isinstance(call, ast.Call) and call.func.id == "print"
    assert ast.dump(call.args[0]) == ast.dump(before[-1].value)


@pytest.mark.parametrize("code", ["print(x)\n", "x = 1\n", "for i in range(3):\n    i\n", ""])
def test_other_last_statements_are_left_alone(code: str) -> None:
    assert _rewrite(code) == (code, False)


def _needs(code: str) -> list[str]:
    imported = {
        alias.name.split(".")[0] if isinstance(node, ast.Import) else (node.module or "").split(".")[0]
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    return sorted(name for name in imported if importlib.util.find_spec(name) is None)


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return done.stdout


RUNNABLE = [(OPENMATH[index], "openmath") for index, *_ in OPENMATH_ROWS] + [(raw, "plain") for raw in PLAIN]
WRONG_ANSWERS = {OPENMATH[INCORRECT], PLAIN[2]}  # the Betty solution (20, not 5); 8 primes, not 9


@pytest.mark.parametrize(("raw", "kind"), RUNNABLE)
def test_fixture_program_prints_the_claimed_output_and_is_judged(raw: bytes, kind: str) -> None:
    row = _parsed(raw)
    missing = _needs(row["code"])
    if missing:
        pytest.skip(f"not installed here: {missing}")
    printed = _run(row["code"])
    if kind == "openmath":
        assert printed.strip() == _meta(row)["claimed_outputs"][-1]  # as the dataset's shell showed
    expected = json.loads(row["inputs"][0]["expected_output_json"])
    assert answer_matches(printed, expected) is (raw not in WRONG_ANSWERS)
