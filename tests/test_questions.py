"""Variable-tracing questions on real sandbox traces: known answers for hand-written programs,
every question about 20 sample programs checked against an independent re-execution, the
choice's determinism, model-free answers that verify, and planted wrong answers rejected.

The independent re-execution does not read line events at all: it runs the program in this
process with the entry function's statements instrumented (a call before and after each
simple statement, every if/while condition wrapped, a call at the top of each for body),
recording only what the outermost call's frame does.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.reexecute import expected_answer, reexecute
from tracepile.analysis.values import decode, to_literal, values_equal
from tracepile.cli import sample_path
from tracepile.translation.question_answers import render_answer, verify_answer
from tracepile.translation.questions import Question, question_prompt, questions_for
from tracepile.translation.verify import UNPARSED
from tracepile.udfs.sandbox import RunResult, Sandbox
from tracepile.vocab import GenerateOutcome, QuestionKind, Status

ENTRY = "main_solution"
EVERY = 10**6  # per_kind that keeps every candidate

BRANCHES = """\
def main_solution(n, items):
    total = 0
    values = [
        x * 2
        for x in items
    ]
    for v in values:
        if v > 4:
            total += v
        elif v == 2:
            total -= 1
        else:
            total = (total +
                     100)
    k = 0
    while k < n:
        k += 1
    big = list(range(50))
    if n > 100: total = 0
    return total + k
"""
BRANCHES_INPUT = '{"n": 2, "items": [1, 3, 0]}'

FACTORIAL = """\
def main_solution(n):
    if n <= 1:
        return 1
    rest = main_solution(n - 1)
    return n * rest
"""

PARSE = """\
def main_solution(words):
    count = 0
    for w in words:
        try:
            count += int(w)
        except ValueError:
            count -= 1
    return count
"""

SHORTENED = """\
def main_solution(n):
    big = list(range(50))
    text = "ab" * 100
    short = "ab" * n
    y = ((x := 5) +
         (x := n))
    return y
"""

POINTS = """\
from collections import namedtuple
Point = namedtuple("Point", "x y")

def main_solution(n):
    p = Point(n, n + 1)
    pairs = [p.x, p.y]
    total = p.x + p.y
    return total
"""

LONG_LOOP = (
    "def main_solution(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"
)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


def _run(sandbox: Sandbox, code: str, input_json: str) -> RunResult:
    result = sandbox.execute(code, ENTRY, input_json)
    assert result.status == Status.OK, result.error
    return result


def _all(code: str, input_json: str, result: RunResult) -> list[Question]:
    return questions_for(code, ENTRY, input_json, result.return_json, result.steps, EVERY, 0)


def _answers(questions: list[Question], kind: QuestionKind) -> dict[tuple[Any, ...], Any]:
    """(line, occurrence, variable, given_json) -> answer, for one kind."""
    return {
        (q.line, q.occurrence, q.variable, q.given_json): decode(q.answer_json)
        for q in questions
        if q.kind == kind
    }


def test_known_answers_for_loops_branches_and_multi_line_statements(sandbox) -> None:
    result = _run(sandbox, BRANCHES, BRANCHES_INPUT)
    questions = _all(BRANCHES, BRANCHES_INPUT, result)
    after = _answers(questions, QuestionKind.VALUE_AFTER_LINE)
    assert after[(9, 1, "total", None)] == 5
    assert after[(11, 1, "total", None)] == -1
    assert after[(13, 1, "total", None)] == 105  # snoop reports lines 13, 14, 13: one execution
    assert after[(3, 1, "values", None)] == [2, 6, 0]  # lines 3, 5, 3 and a comprehension frame
    assert after[(17, 2, "k", None)] == 2
    counts = {line: answer for (line, *_), answer in _answers(questions, QuestionKind.LINE_COUNT).items()}
    assert counts == {2: 1, 3: 1, 8: 3, 9: 1, 10: 2, 11: 1, 13: 1, 15: 1, 16: 3, 17: 2, 18: 1, 20: 1}
    branches = {
        (line, k): answer for (line, k, *_), answer in _answers(questions, QuestionKind.BRANCH_TAKEN).items()
    }
    assert branches == {
        (8, 1): False, (8, 2): True, (8, 3): False,
        (10, 1): True, (10, 2): False,
        (16, 1): True, (16, 2): True, (16, 3): False,
    }  # fmt: skip
    assert _answers(questions, QuestionKind.RETURN_VALUE) == {(None, None, None, None): 107}
    first = {
        (v, given): line
        for (_, _, v, given), line in _answers(questions, QuestionKind.FIRST_LINE_WITH_VALUE).items()
    }
    assert first[("total", "5")] == 9 and first[("total", "105")] == 13 and first[("v", "6")] == 7
    assert first[("values", "[2,6,0]")] == 3 and first[("k", "2")] == 17
    # the truncated list and the line holding two statements are never asked about
    assert not any(q.variable == "big" or q.line == 19 for q in questions)
    # the question names the line and quotes its statement whole
    (q13,) = [q for q in questions if q.kind == QuestionKind.LINE_COUNT and q.line == 13]
    assert "line 13 (`total = (total + 100)`)" in q13.question


def test_recursive_calls_do_not_count_as_lines_of_the_call(sandbox) -> None:
    result = _run(sandbox, FACTORIAL, '{"n": 4}')
    assert sum(s["event"] == "call" for s in result.steps) == 4  # the inner calls are in the trace
    questions = _all(FACTORIAL, '{"n": 4}', result)
    counts = {line: answer for (line, *_), answer in _answers(questions, QuestionKind.LINE_COUNT).items()}
    assert counts == {2: 1, 3: 0, 4: 1, 5: 1}  # `return 1` runs only in the innermost call
    assert _answers(questions, QuestionKind.BRANCH_TAKEN) == {(2, 1, None, None): False}
    assert _answers(questions, QuestionKind.VALUE_AFTER_LINE) == {(4, 1, "rest", None): 6}
    assert _answers(questions, QuestionKind.RETURN_VALUE) == {(None, None, None, None): 24}
    # rest holds 1, 2, 6 in the inner frames: only the outermost frame's value is a first value
    assert _answers(questions, QuestionKind.FIRST_LINE_WITH_VALUE) == {(None, None, "rest", "6"): 4}


def test_a_statement_an_exception_left_is_counted_but_has_no_value_after_it(sandbox) -> None:
    input_json = '{"words": ["1", "x", "2"]}'
    questions = _all(PARSE, input_json, _run(sandbox, PARSE, input_json))
    counts = {line: answer for (line, *_), answer in _answers(questions, QuestionKind.LINE_COUNT).items()}
    assert counts[5] == 3 and counts[7] == 1 and counts[2] == 1
    after = _answers(questions, QuestionKind.VALUE_AFTER_LINE)
    assert not any(line == 5 for line, *_ in after)  # `count += int(w)` raised once
    assert after[(7, 1, "count", None)] == 0


def test_values_snoop_shortened_or_that_did_not_last_are_not_asked_about(sandbox) -> None:
    result = _run(sandbox, SHORTENED, '{"n": 2}')
    shown = {name: value for step in result.steps for name, value in step["changed"].items()}
    assert "..." in shown["big"] and "..." in shown["text"]  # "'abab...abab'" parses as a string
    questions = _all(SHORTENED, '{"n": 2}', result)
    assert not any(q.variable in ("big", "text") for q in questions)
    assert _answers(questions, QuestionKind.VALUE_AFTER_LINE)[(4, 1, "short", None)] == "abab"
    # x holds 5 only inside the statement at line 5: after it, x is 2
    firsts = {(q.variable, q.given_json): decode(q.answer_json) for q in questions if q.given_json}
    assert firsts[("x", "2")] == 5 and ("x", "5") not in firsts


def test_containers_are_not_asked_about_where_snoop_may_show_a_namedtuple_as_a_tuple(sandbox) -> None:
    result = _run(sandbox, POINTS, '{"n": 3}')
    assert any(step["changed"].get("p") == "(3, 4)" for step in result.steps)  # not Point(x=3, y=4)
    after = _answers(_all(POINTS, '{"n": 3}', result), QuestionKind.VALUE_AFTER_LINE)
    assert after == {(7, 1, "total", None): 7}


@pytest.fixture(scope="module")
def sample_runs(sandbox) -> list[tuple[dict[str, Any], str, RunResult]]:
    """Every input of the first 20 sample programs that runs within the trace budget."""
    records = [json.loads(line) for line in Path(sample_path()).read_text(encoding="utf-8").splitlines()]
    runs = []
    for record in records[:20]:
        for io in record["ios"]:
            input_json = json.dumps(io["input"])
            result = sandbox.execute(record["refcode"], record["funcname"], input_json)
            if result.status == Status.OK:
                runs.append((record, input_json, result))
    assert len({record["refcode"] for record, _, _ in runs}) == 20
    return runs


def test_every_question_on_sample_programs_matches_an_independent_reexecution(sandbox, sample_runs) -> None:
    checked: Counter[str] = Counter()
    for record, input_json, result in sample_runs:
        code, entry = record["refcode"], record["funcname"]
        observed = reexecute(sandbox, code, entry, input_json)
        for question in questions_for(code, entry, input_json, result.return_json, result.steps, EVERY, 0):
            expected = expected_answer(question, observed)
            assert expected is not UNPARSED
            assert values_equal(decode(question.answer_json), expected), (
                code,
                input_json,
                question,
                expected,
            )
            checked[question.kind] += 1
    assert set(checked) == set(QuestionKind), checked
    assert sum(checked.values()) > 1000 and min(checked.values()) >= 20, checked


def test_model_free_answers_verify_on_sample_programs(sample_runs) -> None:
    for record, input_json, result in sample_runs:
        code, entry = record["refcode"], record["funcname"]
        for question in questions_for(code, entry, input_json, result.return_json, result.steps, 2, 7):
            text = render_answer(question, code, entry, input_json, result.steps)
            assert verify_answer(text, question, result.steps) == (True, None, ""), text
            assert text.splitlines()[-1] == f"Final answer: {to_literal(decode(question.answer_json))}"


def test_the_choice_is_deterministic_balanced_and_moves_with_the_seed(sandbox) -> None:
    result = _run(sandbox, BRANCHES, BRANCHES_INPUT)
    first = questions_for(BRANCHES, ENTRY, BRANCHES_INPUT, result.return_json, result.steps, 2, 11)
    again = questions_for(BRANCHES, ENTRY, BRANCHES_INPUT, result.return_json, result.steps, 2, 11)
    assert first == again
    assert Counter(q.kind for q in first) == {
        kind: 1 if kind == QuestionKind.RETURN_VALUE else 2 for kind in QuestionKind
    }
    # two picks of one kind come from two different lines while there are lines enough
    for kind in (QuestionKind.VALUE_AFTER_LINE, QuestionKind.LINE_COUNT, QuestionKind.BRANCH_TAKEN):
        assert len({q.line for q in first if q.kind == kind}) == 2
    choices = {
        tuple(
            q.question_id
            for q in questions_for(BRANCHES, ENTRY, BRANCHES_INPUT, result.return_json, result.steps, 2, seed)
        )
        for seed in range(6)
    }
    assert len(choices) > 1
    every = _all(BRANCHES, BRANCHES_INPUT, result)
    assert len({q.question_id for q in every}) == len(every)  # ids tell every candidate apart
    assert {q.question_id for q in first} <= {q.question_id for q in every}


def test_a_long_loop_is_summarised_and_still_counts_and_verifies(sandbox) -> None:
    result = _run(sandbox, LONG_LOOP, '{"n": 60}')
    questions = _all(LONG_LOOP, '{"n": 60}', result)
    (count,) = [q for q in questions if q.kind == QuestionKind.LINE_COUNT and q.line == 4]
    assert decode(count.answer_json) == 60
    text = render_answer(count, LONG_LOOP, ENTRY, '{"n": 60}', result.steps)
    assert "keep repeating" in text and "Line 4 runs 47 times among them." in text
    assert len(text.splitlines()) < 50 and verify_answer(text, count, result.steps)[0]
    (late,) = [q for q in questions if q.kind == QuestionKind.VALUE_AFTER_LINE and q.occurrence == 50]
    assert decode(late.answer_json) == sum(range(50))
    assert verify_answer(
        render_answer(late, LONG_LOOP, ENTRY, '{"n": 60}', result.steps), late, result.steps
    )[0]


def _question(
    questions: list[Question], kind: QuestionKind, line: int | None, occurrence: int | None
) -> Question:
    return next(q for q in questions if q.kind == kind and q.line == line and q.occurrence == occurrence)


@pytest.mark.parametrize(
    ("kind", "line", "occurrence", "plant", "reason"),
    [
        (
            QuestionKind.VALUE_AFTER_LINE,
            9,
            1,
            ("Final answer: 5", "Final answer: 6"),
            GenerateOutcome.WRONG_FINAL_ANSWER,
        ),
        (
            QuestionKind.VALUE_AFTER_LINE,
            9,
            1,
            ("Final answer: 5", "So it is 5."),
            GenerateOutcome.NO_FINAL_ANSWER,
        ),
        (
            QuestionKind.VALUE_AFTER_LINE,
            9,
            1,
            ("`total = -1`", "`total = -2`"),
            GenerateOutcome.WRONG_INTERMEDIATE_VALUE,
        ),
        (
            QuestionKind.BRANCH_TAKEN,
            8,
            2,
            ("Final answer: True", "Final answer: False"),
            GenerateOutcome.WRONG_FINAL_ANSWER,
        ),
        (
            QuestionKind.LINE_COUNT,
            8,
            None,
            ("Final answer: 3", "Final answer: 4"),
            GenerateOutcome.WRONG_FINAL_ANSWER,
        ),
        (QuestionKind.LINE_COUNT, 8, None, ("`v = 6`", "`v = 7`"), GenerateOutcome.WRONG_INTERMEDIATE_VALUE),
        (
            QuestionKind.RETURN_VALUE,
            None,
            None,
            ("Final answer: 107", "Final answer: 108"),
            GenerateOutcome.WRONG_FINAL_ANSWER,
        ),
    ],
)
def test_planted_wrong_answers_and_values_are_rejected(
    sandbox, kind, line, occurrence, plant, reason
) -> None:
    result = _run(sandbox, BRANCHES, BRANCHES_INPUT)
    question = _question(_all(BRANCHES, BRANCHES_INPUT, result), kind, line, occurrence)
    text = render_answer(question, BRANCHES, ENTRY, BRANCHES_INPUT, result.steps)
    assert verify_answer(text, question, result.steps) == (True, None, "")
    right, wrong = plant
    assert right in text
    ok, why, detail = verify_answer(text.replace(right, wrong), question, result.steps)
    assert (ok, why) == (False, reason) and detail


def test_first_line_answers_name_the_line_not_the_value(sandbox) -> None:
    result = _run(sandbox, BRANCHES, BRANCHES_INPUT)
    questions = _all(BRANCHES, BRANCHES_INPUT, result)
    (question,) = [
        q for q in questions if q.kind == QuestionKind.FIRST_LINE_WITH_VALUE and q.given_json == "105"
    ]
    text = render_answer(question, BRANCHES, ENTRY, BRANCHES_INPUT, result.steps)
    assert text.endswith(
        "After line 13, `total = 105`: the first time it holds this value.\nFinal answer: 13"
    )
    assert verify_answer(text, question, result.steps)[0]
    assert verify_answer(text.replace("Final answer: 13", "Final answer: 14"), question, result.steps)[1] == (
        GenerateOutcome.WRONG_FINAL_ANSWER
    )
    assert verify_answer(text.replace("Final answer: 13", "Final answer: 105"), question, result.steps)[
        1
    ] == (GenerateOutcome.WRONG_FINAL_ANSWER)


def test_the_prompt_numbers_the_lines_and_asks_for_a_final_answer(sandbox) -> None:
    result = _run(sandbox, BRANCHES, BRANCHES_INPUT)
    question = _question(_all(BRANCHES, BRANCHES_INPUT, result), QuestionKind.VALUE_AFTER_LINE, 13, 1)
    prompt = question_prompt("Add things up.", BRANCHES, ENTRY, BRANCHES_INPUT, question)
    assert prompt.startswith("Add things up.\n\n")
    assert "  13 |             total = (total +\n  14 |                      100)" in prompt
    assert f"Input (keyword arguments of {ENTRY}): n=2, items=[1, 3, 0]" in prompt
    assert (
        prompt.endswith(f"Question: {question.question}")
        and "Final answer: <the answer as a Python literal>" in prompt
    )


def test_no_questions_when_the_trace_is_not_a_whole_call_of_this_code(sandbox) -> None:
    result = _run(sandbox, FACTORIAL, '{"n": 3}')
    assert questions_for(FACTORIAL, ENTRY, '{"n": 3}', result.return_json, result.steps, 3, 0)
    cut = result.steps[:-1]  # no return event: the trace stopped early
    assert questions_for(FACTORIAL, ENTRY, '{"n": 3}', result.return_json, cut, 3, 0) == []
    edited = FACTORIAL.replace("rest = main_solution(n - 1)", "rest = main_solution(n - 2)")
    assert questions_for(edited, ENTRY, '{"n": 3}', result.return_json, result.steps, 3, 0) == []
