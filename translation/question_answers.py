"""Model-free answers to the variable-tracing questions (``questions.py``), and the check of
any answer text.

``render_answer`` writes a Chain-of-Execution of the call up to the moment a question asks
about: each execution of a statement as a sentence, values stated as ``name = value``, a
long stretch summarised, a concluding sentence and ``Final answer: <Python literal>``.
``verify_answer`` checks any text the way ``verify.py`` checks a CoE: the final answer, and
every ``name = value`` it states. The executions come from ``statement_trace.py``.
"""

from __future__ import annotations

import ast
from collections import Counter
from typing import Any

from tracepile.analysis.pyast import holding_ast_lock
from tracepile.analysis.values import decode, to_literal, values_equal
from tracepile.translation.questions import Question, entry_call, n_times, ordinal
from tracepile.translation.statement_trace import (
    StatementRun,
    TracedCall,
    first_values,
    is_one_line,
    traced_call,
)
from tracepile.translation.template import DETAIL_STEPS, FINAL_ANSWER, TAIL_STEPS, VALUES_LISTED
from tracepile.translation.trace_model import Execution, as_text, lines_in_every_round, rounds_in
from tracepile.translation.verify import RunFacts, verify
from tracepile.vocab import QuestionKind


def _narrate(run: StatementRun, counted: int | None) -> str:
    """One execution as a sentence: what the condition did or what changed."""
    said = []
    if not run.finished:
        said.append("it raises an exception")
    if (taken := run.taken()) is not None:
        said.append(f"the condition is {'true' if taken else 'false'}")
    elif isinstance(run.statement.node, ast.For) and run.next_line not in run.statement.body_lines():
        said.append("the loop is over")
    if run.changes:
        said.append("now " + ", ".join(f"`{name} = {as_text(shown)}`" for name, shown in run.changes.items()))
    if counted == run.line and run.statement.node is not None:
        said.append(f"that is its {ordinal(run.occurrence)} run")
    return f"Line {run.line}, `{run.statement.source}`: {'; '.join(said) or 'nothing changes'}."


def _walk(runs: list[StatementRun], counted: int | None) -> list[str]:
    """The executions in order; a long stretch in the middle summarised: the lines that run in
    every round of its loop, how often the counted line runs in it, and the values each
    variable runs through."""
    if len(runs) <= DETAIL_STEPS + TAIL_STEPS:
        return [_narrate(run, counted) for run in runs]
    start, stop = DETAIL_STEPS, len(runs) - TAIL_STEPS
    middle = runs[start:stop]
    text = [_narrate(run, counted) for run in runs[:start]]
    text.append(_repetition(runs, start, stop))
    if counted is not None:
        times = sum(run.line == counted and run.statement.node is not None for run in middle)
        text.append(f"Line {counted} runs {n_times(times)} among them.")
    history: dict[str, list[str]] = {}
    for run in middle:
        for name, shown in run.changes.items():
            history.setdefault(name, []).append(as_text(shown))
    for name, values in history.items():
        listed = ", ".join(values[:VALUES_LISTED]) + (", ..." if len(values) > VALUES_LISTED else "")
        text.append(f"Along the way {name} takes the values {listed}, ending at `{name} = {values[-1]}`.")
    return text + [_narrate(run, counted) for run in runs[stop:]]


def _repetition(runs: list[StatementRun], start: int, stop: int) -> str:
    """What runs in the stretch ``start``..``stop``. "Keep repeating" names only lines that
    run in every complete round of the outermost loop there, and only one-line statements
    (a line event of their own: what the verifier reads rounds from)."""
    lines = [run.line for run in runs]
    times = Counter(lines[start:stop])
    loops = [
        run.line
        for run in runs[start:stop]
        if isinstance(run.statement.node, ast.For | ast.While) and times[run.line] >= 3
    ]
    rounds = rounds_in(lines, min(loops), start, stop) if loops else []
    one_line = {run.line for run in runs if is_one_line(run.statement)}
    every = sorted(lines_in_every_round(lines, rounds) & one_line)
    ran = sorted(times)
    if len(rounds) < 2 or len(every) < 2:
        return f"The next {stop - start} statement runs go through {_line_list(ran)}."
    sentence = f"Lines {', '.join(map(str, every))} keep repeating for {stop - start} more statement runs."
    if others := [line for line in ran if line not in every]:
        sentence += f" {_line_list(others).capitalize()} also run(s) there, but not in every round."
    return sentence


def _line_list(lines: list[int]) -> str:
    return f"line {lines[0]}" if len(lines) == 1 else "lines " + ", ".join(map(str, lines))


def _up_to(call: TracedCall, question: Question) -> tuple[list[StatementRun], str]:
    """The executions to walk through for ``question`` and the sentence that concludes it."""
    value = decode(question.answer_json)
    answer = to_literal(value)
    if question.kind == QuestionKind.RETURN_VALUE:
        return call.runs, f"The function returns `{answer}`."
    if question.kind == QuestionKind.LINE_COUNT:
        return call.runs, f"In all, line {question.line} runs {n_times(value)}."
    if question.kind == QuestionKind.FIRST_LINE_WITH_VALUE:
        given = decode(question.given_json or "null")
        target = next(
            first.run
            for first in first_values(call)
            if first.variable == question.variable and values_equal(first.value, given)
        )
        closing = (
            f"After line {target.line}, `{question.variable} = {to_literal(given)}`: the first time it "
            "holds this value."
        )
    else:
        statement = next(s for s in call.statements if s.line == question.line)
        target = call.runs_of(statement)[(question.occurrence or 0) - 1]
        closing = (
            f"So right after line {target.line} runs for the {ordinal(target.occurrence)} time, "
            f"`{question.variable} = {answer}`."
            if question.kind == QuestionKind.VALUE_AFTER_LINE
            else f"So the {ordinal(target.occurrence)} time the condition at line {target.line} is "
            f"evaluated, it is {answer}."
        )
    return call.runs[: call.runs.index(target) + 1], closing


@holding_ast_lock
def render_answer(
    question: Question,
    code: str,
    entry_point: str,
    input_json: str,
    steps: list[dict[str, Any]],
    call: TracedCall | None = None,
) -> str:
    """A model-free answer: the call's executions up to the moment asked, values stated as
    ``name = value``, a concluding sentence and ``Final answer: <Python literal>`` (``call``:
    ``traced_call`` of the same run, made once for all the questions about it)."""
    call = call or traced_call(code, entry_point, steps)
    if call is None:
        raise ValueError(f"the trace is not one call of {entry_point} in this code")
    runs, closing = _up_to(call, question)
    counted = question.line if question.kind == QuestionKind.LINE_COUNT else None
    opening = f"We call `{entry_call(entry_point, input_json)}` and follow that call line by line."
    final = f"{FINAL_ANSWER} {to_literal(decode(question.answer_json))}"
    return "\n".join([opening, *_walk(runs, counted), closing, final])


def _answered(steps: list[dict[str, Any]], answer_json: str) -> Execution:
    return Execution("", "{}", answer_json, steps)


@holding_ast_lock
def answer_facts(steps: list[dict[str, Any]]) -> RunFacts:
    """What ``verify_answer`` reads of a run, once for all the questions about it."""
    return RunFacts(_answered(steps, "null"))


@holding_ast_lock
def verify_answer(
    text: str, question: Question, steps: list[dict[str, Any]], facts: RunFacts | None = None
) -> tuple[bool, str | None, str]:
    """(ok, reason, detail) for an answer text, as ``verify.py`` checks a CoE: the final answer
    must equal ``answer_json`` and every ``name = value`` stated a value the variable held
    (``facts``: ``answer_facts(steps)``, made once per run)."""
    verdict = verify(text, _answered(steps, question.answer_json), facts)
    return verdict.ok, verdict.reason, verdict.detail
