"""Input prediction, the second task of the CodeI/O line of work: the code and one output of a
called function; the answer is an input for which the call returns that output.

- ``input_prompt`` is the training prompt (the user turn): the problem, the code, the output
  as a Python literal, and the request to end with ``Final answer: f(<arguments>)``;
  ``input_messages`` is what a model backend is asked: the prompt and, as the translator of a
  CoE gets it, the record of the recorded run (whose input is one answer of many).
- ``template_response`` writes the model-free text from the recorded run: the output sought,
  the recorded call followed line by line (``question_answers.render_answer``'s walk of the
  return-value question), and the recorded input as the final answer.
- ``read_input`` reads the input an answer states: the last final-answer line, as a call of
  the entry function, bare call arguments or a dict of keyword arguments, every argument a
  literal (``parse_call_arguments``: parsed, never evaluated), bound to the function's
  parameters as the keyword arguments the sandbox calls it with. A wrong reading is a
  reason (``InputPredictionOutcome``), never an exception.

Whether the input gives the output is for the sandbox to say (``udfs/predict_inputs.py``):
any input that does is accepted, not only the recorded one. ``input_answer_problem`` is the
export's re-check that a text's final answer is the input kept for it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from tracepile.analysis.hashing import content_id
from tracepile.analysis.pyast import holding_ast_lock
from tracepile.analysis.values import (
    NotALiteral,
    call_literal,
    decode,
    encode,
    parse_call_arguments,
    to_literal,
    values_equal,
)
from tracepile.translation.question_answers import render_answer
from tracepile.translation.questions import Question
from tracepile.translation.template import FINAL_ANSWER
from tracepile.vocab import GenerateOutcome, InputPredictionOutcome, QuestionKind

PROMPT_VERSION = "input-v1"  # part of the prompt hash: change it when the wording changes

INPUT_REQUEST = (
    "Given the code below and an output of `{entry}`, predict an input (the arguments of a call of "
    "`{entry}`) for which the call returns exactly this output; any such input is correct. Reason "
    "step by step without writing code, then end with a line "
    "'Final answer: {entry}(<the arguments as Python literals>)'."
)
INPUT_INSTRUCTIONS = (
    "You find an input for which a program's function returns a given output. You are given the "
    "code, the output and a line-by-line record of one run of the code that returned it. Reason "
    "step by step in plain language from the output back to an input, write every value you state "
    "for a variable as inline code like `total = 12`, never mention a record, a trace or a log, "
    "and end with one line: Final answer: <the call of the function with its arguments as Python "
    "literals, like f(a=1, b=[2, 3])>"
)

_FINAL = re.compile(rf"^\W*{re.escape(FINAL_ANSWER)}\**\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_CALLED = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)\s*\((.*)\)$", re.DOTALL)
# names whose call is a literal's spelling (``parse_literal``), not a call of the function
_LITERAL_CALLS = {"set", "frozenset", "tuple", "list", "bytearray", "dict", "float", "complex"}
_MOST_SHOWN = 200  # characters of a stated input quoted in a reason's detail


@dataclass(frozen=True)
class Signature:
    """The entry function's parameters: names in order, which have a default, and whether it
    takes any other keyword (``**kwargs``). ``known`` is False where the code gave no
    signature and the recorded input's names stand in for it."""

    names: tuple[str, ...]
    optional: frozenset[str] = frozenset()
    any_keyword: bool = False
    known: bool = True

    @classmethod
    def of_names(cls, names: list[str]) -> Signature:
        """Parameters known only by name (an input's keys): none required."""
        return cls(tuple(names), frozenset(names), False, False)


@holding_ast_lock
def signature(code: str, entry_point: str, input_json: str) -> Signature:
    """The parameters of the code's (last) definition of ``entry_point``; where there is none
    to read, the names of the recorded input, in order."""
    try:
        found = [
            node
            for node in ast.walk(ast.parse(code))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point
        ]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        found = []
    if not found:
        return Signature.of_names(list(decode(input_json)))
    arguments = found[-1].args
    positional = [*arguments.posonlyargs, *arguments.args]
    optional = {a.arg for a in positional[len(positional) - len(arguments.defaults) :]}
    optional |= {a.arg for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True) if d}
    names = tuple(a.arg for a in [*positional, *arguments.kwonlyargs])
    return Signature(names, frozenset(optional), arguments.kwarg is not None)


class Unread(ValueError):
    """An answer whose input cannot be read: ``reason`` (an ``InputPredictionOutcome``) and why."""

    def __init__(self, reason: InputPredictionOutcome, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def stated_input(text: str) -> str:
    """What the last final-answer line states, as written (code quotes and a closing period
    taken off); ``Unread(no_input)`` where the text has no such line."""
    found = _FINAL.findall(text)
    if not found:
        raise Unread(InputPredictionOutcome.NO_INPUT, f"no line starting {FINAL_ANSWER!r}")
    stated = found[-1].strip()
    for _ in range(2):
        stated = stated.strip("`").strip().removesuffix(".").strip()
    return stated


def _arguments(stated: str, entry_point: str | None) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword values an input states: inside ``f(...)`` (``f`` the entry
    function where one is named), or bare call arguments."""
    called = _CALLED.match(stated)
    inner = stated
    name = called.group(1) if called else None
    if called and name == (entry_point or name) and name not in _LITERAL_CALLS:
        inner = called.group(2)  # any other call is no literal: parsing it below says so
    try:
        return parse_call_arguments(inner)
    except NotALiteral as exc:
        raise Unread(
            InputPredictionOutcome.INPUT_NOT_PARSED,
            f"{stated[:_MOST_SHOWN]!r} is not call arguments of literals ({str(exc)[:120]})",
        ) from None


def bind(positional: list[Any], keywords: dict[str, Any], parameters: Signature) -> dict[str, Any]:
    """The keyword arguments a call with ``positional`` and ``keywords`` makes of the
    parameters: positional ones first, in order, then the keywords as written. A dict of
    keyword arguments given alone (the JSON form of an input) counts as them, where every key
    is a parameter and it does not fit as the one positional value."""
    names = parameters.names
    if (
        len(positional) == 1
        and not keywords
        and isinstance(positional[0], dict)
        and positional[0]
        and all(isinstance(key, str) and key in names for key in positional[0])
    ):
        positional, keywords = [], positional[0]
    if len(positional) > len(names):
        raise Unread(
            InputPredictionOutcome.ARGUMENTS_DO_NOT_FIT,
            f"{len(positional)} positional arguments for {len(names)} parameters",
        )
    bound = dict(zip(names, positional, strict=False))
    for name, value in keywords.items():
        if name in bound:
            raise Unread(InputPredictionOutcome.ARGUMENTS_DO_NOT_FIT, f"{name} is given twice")
        if name not in names and not parameters.any_keyword:
            raise Unread(InputPredictionOutcome.ARGUMENTS_DO_NOT_FIT, f"no parameter {name}")
        bound[name] = value
    missing = [name for name in names if name not in bound and name not in parameters.optional]
    if missing:
        raise Unread(InputPredictionOutcome.ARGUMENTS_DO_NOT_FIT, f"no value for {', '.join(missing)}")
    return bound


@holding_ast_lock
def read_input(text: str, entry_point: str, parameters: Signature) -> str:
    """The input an answer states, as the typed JSON of the keyword arguments the sandbox
    calls ``entry_point`` with; ``Unread`` with the reason where there is none to read."""
    positional, keywords = _arguments(stated_input(text), entry_point)
    bound = bind(positional, keywords, parameters)
    try:
        return encode(bound)
    except ValueError as exc:  # a value the typed JSON cannot hold
        raise Unread(InputPredictionOutcome.INPUT_NOT_PARSED, str(exc)[:_MOST_SHOWN]) from None


def _call(entry_point: str, input_json: str) -> str:
    return f"{entry_point}({call_literal(decode(input_json))})"


def input_prompt(problem: str, code: str, entry_point: str, output_json: str) -> str:
    """The user turn of a training example: the problem, the request, the code and the output."""
    parts = [problem.strip()] if problem.strip() else []
    parts += [
        INPUT_REQUEST.format(entry=entry_point),
        f"Code:\n```python\n{code.strip()}\n```",
        f"Output of {entry_point}: {to_literal(decode(output_json))}",
    ]
    return "\n\n".join(parts)


def input_messages(prompt: str, trace_text: str) -> list[dict[str, str]]:
    """What a model is asked: the training prompt with the record of the recorded run."""
    record = f"Record of one run that returned this output:\n{trace_text.strip()}"
    return [
        {"role": "system", "content": INPUT_INSTRUCTIONS},
        {"role": "user", "content": f"{prompt}\n\n{record}"},
    ]


@holding_ast_lock
def template_response(
    code: str, entry_point: str, input_json: str, return_json: str, steps: list[dict[str, Any]]
) -> str:
    """A model-free answer from the recorded run: the output sought, the recorded call
    followed line by line to the value it returns, and that call as the final answer.
    ValueError where the trace is not one call of ``entry_point`` in ``code``."""
    asked = Question(
        content_id([code, input_json]), QuestionKind.RETURN_VALUE, "", return_json, None, None, None
    )
    lines = render_answer(asked, code, entry_point, input_json, steps).split("\n")
    walk = lines[1:-2]  # render_answer: the opening, the walk, the return sentence, the final answer
    output, call = to_literal(decode(return_json)), _call(entry_point, input_json)
    opening = (
        f"We need arguments for which `{entry_point}` returns `{output}`. A candidate is checked by "
        f"following the call it makes: take `{call}` and follow that call line by line."
    )
    closing = f"The call returns `{output}`, the output we need, so this input gives it."
    return "\n".join([opening, *walk, closing, f"{FINAL_ANSWER} {call}"])


def prediction_id(execution_id: str, backend: str, model: str, prompt_hash: str) -> str:
    """32 hex digits naming one prediction: the execution, who answered, and the exact prompt."""
    return content_id([execution_id, backend, model, prompt_hash])


@holding_ast_lock
def input_answer_problem(text: str, input_json: str) -> tuple[str, str] | None:
    """(reason, detail) when a text's final answer does not state ``input_json`` (the input kept
    for it, keyword arguments); None when it does. The names come from the kept input."""
    try:
        positional, keywords = _arguments(stated_input(text), None)
        kept = decode(input_json)
        stated = bind(positional, keywords, Signature.of_names(list(kept)))
    except Unread as unread:
        return unread.reason, unread.detail
    if not values_equal(stated, kept):
        shown = to_literal(stated)[:_MOST_SHOWN]
        kept_shown = input_json[:_MOST_SHOWN]
        return GenerateOutcome.WRONG_FINAL_ANSWER, f"states {shown}, the input kept is {kept_shown}"
    return None
