"""Rows that once stopped a whole stage, each on the real step it stopped, without Spark: a line
of invalid UTF-8 longer than a reject keeps, a lone surrogate escape, a parsed value Arrow cannot
hold, nulls as pandas 3 hands them over, and a backend that raises on one row of its batch (the
template's ``max()`` of an empty sequence). The whole pipeline with a planted fault in every
stage is ``test_fault_injection.py``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from tracepile.config import GenerateConfig, IngestConfig, TracepileConfig
from tracepile.failures import FAULT_ENV, PlantedFault, StepFailed, fault_point, guarded, isolating
from tracepile.sources.files import parse_file
from tracepile.translation.backends import Generation, Request, TemplateBackend
from tracepile.udfs.ask_questions import stable_questions
from tracepile.udfs.frames import outcome_frame, records
from tracepile.udfs.read_files import PARSED_ARROW_SCHEMA, arrow_batch
from tracepile.udfs.sandbox import Sandbox
from tracepile.udfs.write_coe import GenerateOptions, generate_rows
from tracepile.vocab import INTERNAL_ERROR, IngestReason, QuestionKind

GOOD = {
    "refcode": "def f(x):\n    return x + 1\n",
    "funcname": "f",
    "ios": [{"input": {"x": 1}, "output": 2}],
}
LOOP = "def main_solution(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"


def test_a_long_invalid_utf8_line_and_a_lone_surrogate_are_rejected_within_the_reject_limits(
    tmp_path: Path,
) -> None:
    invalid = json.dumps({**GOOD, "refcode": "# caf" + "é" * 4576}, ensure_ascii=False).encode("latin-1")
    surrogate = json.dumps({**GOOD, "problem_description": "\ud800"}).encode()
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"\n".join([json.dumps(GOOD).encode(), invalid, surrogate]) + b"\n")
    options = IngestConfig()
    rows = list(parse_file("codeio", str(path), options))
    assert [row["outcome"] for row in rows] == ["program", "reject", "reject"]
    assert rows[1]["reject_reason"] == IngestReason.INVALID_UTF8 and len(invalid) > options.reject_raw_chars
    # each invalid byte shows as four characters: the text is cut after decoding
    assert len(rows[1]["raw_record"]) == options.reject_raw_chars
    assert rows[1]["raw_record"].startswith('{"refcode": "# caf\\xe9\\xe9')
    assert rows[2]["reject_reason"] == IngestReason.INVALID_JSON and "pair" in rows[2]["reject_detail"]
    assert json.dumps(rows).encode()  # every value is text Arrow and Delta can hold


def test_a_parsed_row_arrow_cannot_hold_becomes_a_reject_of_its_line(tmp_path: Path) -> None:
    path = tmp_path / "good.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    (row,) = [
        {**r, "piece_start": 0, "piece_row": 0} for r in parse_file("codeio", str(path), IngestConfig())
    ]
    bad = {**row, "source_line": 2, "piece_row": 1, "code": "def f(x):\n    return '\ud800'\n"}
    kept = arrow_batch([row, bad], IngestConfig())
    assert kept.schema == PARSED_ARROW_SCHEMA
    good, rejected = kept.to_pylist()
    assert good["outcome"] == "program" and good["code"] == GOOD["refcode"]
    assert rejected["outcome"] == "reject" and rejected["reject_reason"] == INTERNAL_ERROR
    assert (rejected["source_file"], rejected["source_line"]) == (str(path), 2)
    assert "UnicodeEncodeError" in rejected["reject_detail"] and (rejected["piece_row"]) == 1


def test_nulls_come_in_as_none_and_go_out_as_nulls_whatever_the_column_holds() -> None:
    frame = pd.DataFrame(
        {"code": pd.array(["x", None], dtype="str"), "meta_json": pd.array([None, None], dtype="str")}
    )
    assert isinstance(frame.to_dict("records")[1]["code"], float)  # pandas 3: a missing string is NaN
    rows = records([frame])
    assert rows == [{"code": "x", "meta_json": None}, {"code": None, "meta_json": None}]
    out = outcome_frame([{"code": "y"}, {"meta_json": float("nan")}], ["code", "meta_json", "n"])
    schema = pa.schema([("code", pa.string()), ("meta_json", pa.string()), ("n", pa.int64())])
    arrow = pa.Table.from_pandas(out, schema=schema, preserve_index=False)
    assert arrow.to_pylist() == [
        {"code": "y", "meta_json": None, "n": None},
        {"code": None, "meta_json": None, "n": None},
    ]


def test_the_guard_names_the_exception_and_where_our_code_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    failed = guarded(json.loads, "{")
    assert isinstance(failed, StepFailed) and failed.detail.startswith("JSONDecodeError: ")
    assert guarded(sum, [1, 2]) == 3
    monkeypatch.setenv(FAULT_ENV, "trace:abc,generate:def")
    fault_point("trace", "xyz")  # not listed: nothing happens
    with pytest.raises(PlantedFault, match="generate:def"):
        fault_point("generate", None, "def")
    planted = guarded(fault_point, "trace", "abc")
    assert isinstance(planted, StepFailed)
    assert planted.detail == "PlantedFault: planted fault at trace:abc"


def test_isolating_finds_the_one_bad_item_in_a_few_calls() -> None:
    calls = []

    def step(items: Sequence[int]) -> list[int]:
        calls.append(len(items))
        if 13 in items:
            raise ValueError("max() arg is an empty sequence")
        return [item * 2 for item in items]

    results = isolating(step, list(range(32)))
    assert results[:13] == [2 * i for i in range(13)] and results[14:] == [2 * i for i in range(14, 32)]
    assert isinstance(results[13], StepFailed) and "max() arg is an empty sequence" in results[13].detail
    assert len(calls) == 11  # the batch, then two halves at each of five levels


class _RaisesOnOneRow:
    """The template backend as it was (translation/template.py raised ``max()`` of an empty
    sequence on one execution): its one call for a batch raises when the batch holds that row."""

    version = TemplateBackend.version

    def __init__(self, name: str, bad_input: str) -> None:
        self.name, self.model, self.bad_input = name, "template", bad_input
        self.template = TemplateBackend()

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        return self.template.prompt_tokens(messages)

    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        if any(request.execution.input_json == self.bad_input for request in requests):
            raise ValueError("max() arg is an empty sequence")
        return self.template.generate(requests)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with Sandbox(workers=1) as sandbox:
        made = []
        for n in range(6):
            result = sandbox.execute(LOOP, "main_solution", json.dumps({"n": n}))
            assert result.status == "ok", result.error
            made.append(
                {"execution_id": f"{n:032x}", "program_id": "p" * 32, "problem": "Sum below n?", "code": LOOP,
                 "entry_point": "main_solution", "input_json": json.dumps({"n": n}),
                 "return_json": result.return_json, "trace_text": result.trace_text,
                 "steps_json": json.dumps(result.steps), "run_mode": "call", "source": "s", "domain": "math"}
            )  # fmt: skip
        return made


@pytest.mark.parametrize(("backend", "outcome"), [("template", INTERNAL_ERROR), ("openai", "backend_error")])
def test_a_backend_raising_on_one_row_rejects_that_row_and_the_batch_goes_on(
    rows: list[dict[str, str]], backend: str, outcome: str
) -> None:
    """The template's exception is the row's (internal_error, in gold/coe_rejects); a model
    engine's may be the engine's, so the row stays pending (backend_error)."""
    raising = _RaisesOnOneRow(backend, rows[3]["input_json"])
    options = GenerateOptions(GenerateConfig(), 10_000, retry_with_feedback=False, min_checked_claims=1)
    outcomes = generate_rows(rows, raising, options)
    assert [o["outcome"] for o in outcomes] == ["verified"] * 3 + [outcome] + ["verified"] * 2
    assert "ValueError: max() arg is an empty sequence" in outcomes[3]["detail"]
    assert outcomes[0]["response"].endswith("Final answer: 0")


def test_a_row_whose_execution_cannot_be_read_is_rejected_before_generation(
    rows: list[dict[str, str]],
) -> None:
    broken = {**rows[1], "steps_json": "not json"}
    outcomes = generate_rows(
        [rows[0], broken],
        TemplateBackend(),
        GenerateOptions(GenerateConfig(), 10_000, False, min_checked_claims=1),
    )
    assert [o["outcome"] for o in outcomes] == ["verified", INTERNAL_ERROR]
    assert outcomes[1]["detail"].startswith("JSONDecodeError")


def test_a_row_whose_shown_problem_gives_its_answer_is_rejected_not_generated(
    rows: list[dict[str, str]],
) -> None:
    """A problem text with a worked example of this very input would teach copying: the
    row is rejected as answer_in_prompt; a row whose input the example does not give is not."""
    answer = rows[4]["return_json"]
    shown = {**rows[4], "problem": f"Sum below n?\n\n>>> main_solution(4)\n{answer}\n"}
    other = {**rows[2], "problem": shown["problem"]}
    outcomes = generate_rows(
        [shown, other],
        TemplateBackend(),
        GenerateOptions(GenerateConfig(), 10_000, False, min_checked_claims=1),
    )
    assert [o["outcome"] for o in outcomes] == ["answer_in_prompt", "verified"]


def test_the_return_value_is_not_asked_where_the_shown_problem_gives_it(rows: list[dict[str, str]]) -> None:
    shown = {**rows[4], "problem": f"Sum below n?\n\n>>> main_solution(4)\n{rows[4]['return_json']}\n"}
    config = TracepileConfig()
    with Sandbox(workers=1) as sandbox:
        plain, _ = stable_questions(rows[4], sandbox, config)
        kept, _ = stable_questions(shown, sandbox, config)
    assert QuestionKind.RETURN_VALUE in {question.kind for question in plain}
    assert {question.kind for question in kept} == {question.kind for question in plain} - {
        QuestionKind.RETURN_VALUE
    }
