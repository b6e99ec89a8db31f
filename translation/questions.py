"""Variable-tracing questions about one execution, chosen and answered from its real trace.

A question asks about one moment of the entry function's outermost call (the depth-0 frame
of ``steps_json``): a variable's value right after a statement, how often a statement
runs, which way a condition goes, what the call returns, or after which line a variable
first holds a value. Recursive calls, comprehensions and helpers run in frames of their
own and never count.

Which statements are asked about, and how each question is worded, is here; the call's
statements and their executions, read off the trace, are in ``statement_trace.py``.

Every answer is read off the trace; nothing is evaluated. Answers are Python values, held
as typed JSON (``answer_json``, ``given_json``: ``tracepile/analysis/values.py``) and
written in texts as Python literals. ``question_answers.py`` writes a model-free answer to
a question and checks any answer text.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import xxhash

from tracepile.analysis.hashing import content_id
from tracepile.analysis.pyast import holding_ast_lock
from tracepile.analysis.values import decode, encode, to_literal
from tracepile.translation.statement_trace import (
    BRANCHING,
    FirstValue,
    Statement,
    TracedCall,
    first_values,
    traced_call,
)
from tracepile.translation.trace_model import UNPARSED, keyword_arguments
from tracepile.vocab import QuestionKind


@dataclass(frozen=True)
class Question:
    question_id: str
    kind: QuestionKind
    question: str
    answer_json: str  # typed JSON
    variable: str | None
    line: int | None  # the statement's first line, 1-based in the program's code
    occurrence: int | None  # 1-based
    given_json: str | None = None  # first_line_with_value: the value asked about (typed JSON)


# Statements whose every execution shows as a line event of their own. A function's
# docstring, ``global`` and a bare annotation compile to nothing; compound statements other
# than if/while/for are not asked about (``with`` reports its line again on exit, ``try``'s
# clauses are lines of their own).
_SIMPLE = (
    ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return, ast.Delete, ast.Raise,
    ast.Assert, ast.Import, ast.ImportFrom, ast.Pass, ast.Break, ast.Continue,
)  # fmt: skip
_ASSIGNING = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)  # finish and go on: a value after them


def _first_value_askable(first: FirstValue) -> bool:
    """Whether "after which line" has a clean answer: the value appeared when an assignment,
    a loop header or a condition finished, and stayed."""
    node = first.run.statement.node
    return first.kept and first.run.finished and isinstance(node, (*_ASSIGNING, *BRANCHING, ast.For))


def _counted(statement: Statement) -> bool:
    """Whether the trace counts the statement's executions: one line event each."""
    node = statement.node
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return False  # a bare constant (a docstring) may compile to nothing
    return isinstance(node, _SIMPLE) or (isinstance(node, BRANCHING) and not statement.tests_constant())


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def n_times(n: int) -> str:
    return f"{n} time" if n == 1 else f"{n} times"


def _keyword(statement: Statement) -> str:
    if isinstance(statement.node, ast.While):
        return "while"
    return "elif" if statement.source.startswith("elif") else "if"


def entry_call(entry_point: str, input_json: str) -> str:
    return f"{entry_point}({keyword_arguments(input_json)})"


@dataclass(frozen=True)
class _Ask:
    """A candidate question before it is worded."""

    kind: QuestionKind
    answer: Any
    statement: Statement | None = None  # the statement asked about (not for return_value, first_line)
    variable: str | None = None
    occurrence: int | None = None
    given_json: str | None = None

    @property
    def line(self) -> int | None:
        return self.statement.line if self.statement else None

    @property
    def group(self) -> Any:
        """Candidates of one group are alike: the choice spreads over groups first."""
        return self.variable if self.kind == QuestionKind.FIRST_LINE_WITH_VALUE else self.line


def _asks(call: TracedCall, return_json: str) -> Iterator[_Ask]:
    for statement in call.statements:
        runs = call.runs_of(statement)
        if isinstance(statement.node, _ASSIGNING) and all(run.finished for run in runs):
            for run in runs:
                for name, shown in run.changes.items():
                    if (value := call.whole(shown)) is not UNPARSED:
                        yield _Ask(QuestionKind.VALUE_AFTER_LINE, value, statement, name, run.occurrence)
        if _counted(statement):
            yield _Ask(QuestionKind.LINE_COUNT, len(runs), statement)
        for run in runs:
            if (taken := run.taken()) is not None:
                yield _Ask(QuestionKind.BRANCH_TAKEN, taken, statement, occurrence=run.occurrence)
    yield _Ask(QuestionKind.RETURN_VALUE, decode(return_json))
    for first in first_values(call):
        if _first_value_askable(first):
            given = encode(first.value)
            yield _Ask(QuestionKind.FIRST_LINE_WITH_VALUE, first.run.line, None, first.variable, None, given)


def _wording(ask: _Ask, entry_point: str, input_json: str) -> str:
    if ask.kind == QuestionKind.RETURN_VALUE:
        return f"What does the call `{entry_call(entry_point, input_json)}` return?"
    if ask.kind == QuestionKind.FIRST_LINE_WITH_VALUE:
        return (
            f"After which line does the variable `{ask.variable}` first hold the value "
            f"`{to_literal(decode(ask.given_json or 'null'))}`? Answer with the line number."
        )
    assert ask.statement is not None
    quoted = f"line {ask.line} (`{ask.statement.source}`)"
    if ask.kind == QuestionKind.VALUE_AFTER_LINE:
        return (
            f"What is the value of `{ask.variable}` right after the statement at {quoted} finishes "
            f"executing for the {ordinal(ask.occurrence or 0)} time?"
        )
    if ask.kind == QuestionKind.BRANCH_TAKEN:
        return (
            f"The {ordinal(ask.occurrence or 0)} time the condition of the `{_keyword(ask.statement)}` at "
            f"{quoted} is evaluated, is it true? Answer True or False."
        )
    if isinstance(ask.statement.node, BRANCHING):
        return f"How many times is the condition of the `{_keyword(ask.statement)}` at {quoted} evaluated?"
    return f"How many times does the statement at {quoted} execute?"


def _question(ask: _Ask, entry_point: str, input_json: str, execution_id: str) -> Question:
    key = [execution_id, ask.kind, ask.variable, ask.line, ask.occurrence, ask.given_json]
    return Question(
        content_id(key),
        ask.kind,
        _wording(ask, entry_point, input_json),
        encode(ask.answer),
        ask.variable,
        ask.line,
        ask.occurrence,
        ask.given_json,
    )


@holding_ast_lock
def questions_for(
    code: str,
    entry_point: str,
    input_json: str,
    return_json: str,
    steps: list[dict[str, Any]],
    per_kind: int,
    seed: int,
    execution_id: str | None = None,
) -> list[Question]:
    """At most ``per_kind`` questions of each kind the execution supports, the same ones on
    every run: candidates are ranked by a seeded hash of their id, spread over lines (or
    variables) first. ``execution_id`` defaults to a content id of the code, entry and input."""
    call = traced_call(code, entry_point, steps)
    if call is None:
        return []
    execution_id = execution_id or content_id([code, entry_point, input_json])
    by_kind: dict[QuestionKind, list[tuple[int, Any, Question]]] = {kind: [] for kind in QuestionKind}
    for ask in _asks(call, return_json):
        question = _question(ask, entry_point, input_json, execution_id)
        rank = xxhash.xxh3_64_intdigest(f"{seed}\x1f{question.question_id}".encode())
        by_kind[ask.kind].append((rank, ask.group, question))
    chosen = []
    for candidates in by_kind.values():
        candidates.sort(key=lambda candidate: candidate[0])
        groups: set[Any] = set()
        first_of_group, rest = [], []
        for _, group, question in candidates:
            (rest if group in groups else first_of_group).append(question)
            groups.add(group)
        chosen += (first_of_group + rest)[:per_kind]
    return chosen


QUESTION_REQUEST = (
    "Answer the question below about running the code on the given input. Lines are numbered "
    "from 1; a question about lines or variables is about the call itself: lines run inside "
    "recursive calls, comprehensions or other functions it calls do not count. Reason step by "
    "step through the execution, then end with a line 'Final answer: <the answer as a Python literal>'."
)


def question_prompt(problem: str, code: str, entry_point: str, input_json: str, question: Question) -> str:
    """The user turn of a training example: the problem, the code with line numbers, the input
    and the question."""
    numbered = "\n".join(f"{number:>4} | {text}" for number, text in enumerate(code.splitlines(), 1))
    parts = [problem.strip()] if problem.strip() else []
    parts += [
        QUESTION_REQUEST,
        f"Code:\n```python\n{numbered}\n```",
        f"Input (keyword arguments of {entry_point}): {keyword_arguments(input_json)}",
        f"Question: {question.question}",
    ]
    return "\n\n".join(parts)
