"""Text truth (issue 23, items 3 and 7), on real sandbox traces: the template states values as
Python literals and never restates a bare value, claims a repetition only for lines that run
in every round, tells a line that raised as raising, and writes Python calls; the verifier
rejects each of those faults in any text, by its reason. The template never raises on an
execution: a value it cannot work out is left unworked (``max()`` of an empty list), and a
malformed row is an ``Unrenderable`` the backend turns into a reject."""

from __future__ import annotations

import re

import pytest

from tracepile.analysis.values import decode, encode
from tracepile.translation.backends import UNRENDERABLE, Request, TemplateBackend, finish
from tracepile.translation.template import Unrenderable, render_coe
from tracepile.translation.trace_model import Execution, keeps_repeating, traced_lines
from tracepile.translation.verify import FALSE_REPETITION, FALSE_RETURN, JSON_IN_CODE, TAUTOLOGY, verify
from tracepile.udfs.sandbox import Sandbox
from tracepile.vocab import GenerateOutcome, Status

# TheAlgorithms/Python maths/prime_factors.py: line 6 runs in some rounds of the while loop only
PRIME_FACTORS = """\
def prime_factors(n: int) -> list[int]:
    i = 2
    factors = []
    while i * i <= n:
        if n % i:
            i += 1
        else:
            n //= i
            factors.append(i)
    if n > 1:
        factors.append(n)
    return factors
"""

LARGEST = """\
def main_solution(xs, floor):
    m = max(xs) if xs else floor
    top = max(m, floor)
    return top
"""

PARSE = """\
def main_solution(text, use_pascal):
    try:
        return int(text)
    except ValueError:
        pass
    words = text.split("_")
    if use_pascal:
        return "".join(w.capitalize() for w in words)
    return words[0] + "".join(w.capitalize() for w in words[1:])
"""

PAIRS = """\
def main_solution(n):
    pair = (n, n + 1)
    index = {n: "a", n + 1: "b"}
    return pair, index
"""

TAUTOLOGY_TEXT = re.compile(r"`(?:\w+ = )?(-?\d+) = \1`")


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


def _run(sandbox: Sandbox, code: str, entry: str, arguments: dict) -> Execution:
    input_json = encode(arguments)
    result = sandbox.execute(code, entry, input_json)
    assert result.status == Status.OK, result.error
    return Execution(entry, input_json, result.return_json, result.steps, code=code)


def _verdict(text: str, execution: Execution) -> tuple[str | None, str]:
    verdict = verify(text, execution)
    return verdict.reason, verdict.detail


def test_repetition_is_claimed_only_for_lines_that_run_in_every_round(sandbox) -> None:
    execution = _run(sandbox, PRIME_FACTORS, "prime_factors", {"n": 2 * 3 * 5 * 7 * 11 * 13})
    text = render_coe(execution)
    claim = re.search(r"lines? \(?([\d, ]+)\)? keep repeating", text, re.IGNORECASE)
    assert claim, text
    claimed = {int(n) for n in claim.group(1).split(", ")}
    assert claimed == {4, 5} and "lines 6, 8, 9" in text.lower()  # told apart: they skip rounds
    assert verify(text, execution).ok
    lines = [step.line for step in traced_lines(execution)]
    sentence = next(line for line in text.splitlines() if "keep repeating" in line)
    steps = int(re.search(r"(\d+) (?:more )?steps", sentence).group(1))
    assert keeps_repeating(lines, {4, 5}, steps) and not keeps_repeating(lines, {4, 5, 6, 8}, steps)
    # the claim as the earlier template made it: every line the stretch ran
    wrong = text.replace(claim.group(1), "4, 5, 6, 8, 9", 1)
    assert _verdict(wrong, execution)[0] == FALSE_REPETITION


def test_a_line_that_runs_in_every_other_round_does_not_keep_repeating() -> None:
    # a while loop on line 4 whose line 6 runs in alternate rounds (the issue's "line 7 ran
    # in half the rounds"), then the loop exits to line 10
    lines = [2, 3] + [4, 5, 6, 4, 5] * 6 + [4, 10]
    assert keeps_repeating(lines, {4, 5}, None) and keeps_repeating(lines, {4, 5}, 20)
    assert not keeps_repeating(lines, {4, 5, 6}, None) and not keeps_repeating(lines, {4, 5, 6}, 20)
    assert not keeps_repeating(lines, {4, 5}, 4)  # too short a stretch for two whole rounds
    assert not keeps_repeating(lines, {2, 3}, None)  # lines that run once repeat nothing


def test_no_computation_restates_a_bare_value_and_the_verifier_rejects_one(sandbox) -> None:
    execution = _run(sandbox, LARGEST, "main_solution", {"xs": [0, 0], "floor": 0})
    text = render_coe(execution)
    assert not TAUTOLOGY_TEXT.search(text), text  # the earlier template wrote `m = 0 = 0`
    assert verify(text, execution).ok
    planted = text.replace("Final answer:", "So `m = 0 = 0`.\nFinal answer:")
    assert _verdict(planted, execution) == (TAUTOLOGY, "`0 = 0` restates a value: it computes nothing")


def test_max_of_an_empty_list_in_a_branch_not_taken_does_not_stop_the_template(sandbox) -> None:
    # `max(xs) if xs else floor` with xs == []: the substitution must not compute max([])
    execution = _run(sandbox, LARGEST, "main_solution", {"xs": [], "floor": 3})
    text = render_coe(execution)
    assert text.endswith("Final answer: 3") and verify(text, execution).ok


def test_a_line_that_raised_is_told_as_raising_and_a_return_there_is_rejected(sandbox) -> None:
    execution = _run(sandbox, PARSE, "main_solution", {"text": "snake_case", "use_pascal": True})
    text = render_coe(execution)
    assert re.search(r"[Ll]ine 3\b[^.]*(raises|fails)", text), text
    assert not re.search(r"line 3\b[^.]*\breturns", text, re.IGNORECASE), text
    assert verify(text, execution).ok
    planted = text.replace("Final answer:", "Line 3 returns `int(text)`.\nFinal answer:")
    assert _verdict(planted, execution)[0] == FALSE_RETURN
    # a return the run did make is no fault
    returned = text.replace("Final answer:", "Line 8 returns the joined words.\nFinal answer:")
    assert verify(returned, execution).ok


def test_calls_and_values_are_python_and_json_in_code_is_rejected(sandbox) -> None:
    execution = _run(sandbox, PARSE, "main_solution", {"text": "snake_case", "use_pascal": True})
    text = render_coe(execution)
    assert "`main_solution(text='snake_case', use_pascal=True)`" in text and "`use_pascal = True`" in text
    assert "true" not in re.sub(r"[^`]*`([^`]*)`[^`]*", r"\1 ", text)  # no JSON word in any code span
    planted = text.replace("use_pascal=True)", "use_pascal=true)", 1)
    assert _verdict(planted, execution)[0] == JSON_IN_CODE
    stated = text.replace("`use_pascal = True`", "`use_pascal = true`", 1)
    assert _verdict(stated, execution)[0] == JSON_IN_CODE
    # outside code, a model's JSON answer reads where it is no Python literal
    assert verify(text.rsplit("Final answer:", 1)[0] + 'Final answer: "SnakeCase"', execution).ok


def test_tuples_and_int_keys_are_stated_as_python_has_them(sandbox) -> None:
    execution = _run(sandbox, PAIRS, "main_solution", {"n": 1})
    assert decode(execution.return_json) == ((1, 2), {1: "a", 2: "b"})
    text = render_coe(execution)
    assert "= (1, 2)`" in text and "= {1: 'a', 2: 'b'}`" in text
    assert text.endswith("Final answer: ((1, 2), {1: 'a', 2: 'b'})") and verify(text, execution).ok
    head = text.rsplit("Final answer:", 1)[0]
    # the JSON forms of those values are other values: a list is no tuple, "1" no 1
    for wrong in ('[[1, 2], {"1": "a", "2": "b"}]', "((1, 2), {'1': 'a', '2': 'b'})"):
        assert _verdict(head + f"Final answer: {wrong}", execution)[0] == GenerateOutcome.WRONG_FINAL_ANSWER
    stated = text.replace("Final answer:", "So `pair = [1, 2]`.\nFinal answer:")
    assert _verdict(stated, execution)[0] == GenerateOutcome.WRONG_INTERMEDIATE_VALUE
    computed = text.replace("= (1, 2)`", "= [1, 2]`")
    assert _verdict(computed, execution)[0] == GenerateOutcome.WRONG_COMPUTATION


def test_a_bool_answer_reads_as_python_or_as_json(sandbox) -> None:
    code = "def main_solution(n):\n    even = n % 2 == 0\n    return even\n"
    execution = _run(sandbox, code, "main_solution", {"n": 4})
    text = render_coe(execution)
    assert text.endswith("Final answer: True")
    head = text.rsplit("Final answer:", 1)[0]
    assert verify(head + "Final answer: true", execution).ok  # unambiguous: no Python literal reads it
    assert _verdict(head + "Final answer: 1", execution)[0] == GenerateOutcome.WRONG_FINAL_ANSWER


def test_a_malformed_row_is_unrenderable_and_the_backend_rejects_it_alone(sandbox) -> None:
    good = _run(sandbox, LARGEST, "main_solution", {"xs": [2, 5], "floor": 0})
    broken = Execution("main_solution", good.input_json, "{not json", good.steps, code=LARGEST)
    with pytest.raises(Unrenderable, match="JSONDecodeError"):
        render_coe(broken)
    missing = Execution("main_solution", good.input_json, good.return_json, [{"line": 2}], code=LARGEST)
    with pytest.raises(Unrenderable, match="KeyError"):
        render_coe(missing)
    generations = TemplateBackend().generate([Request([], good), Request([], broken)])
    assert finish(generations[0])[1] is None and verify(generations[0].text or "", good).ok
    text, reason, detail = finish(generations[1])
    assert (text, reason) == (None, UNRENDERABLE) and "JSONDecodeError" in detail
