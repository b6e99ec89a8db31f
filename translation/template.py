"""The ``template`` backend: Chain-of-Execution text rendered from an execution's steps.

No model: the text is built from the structured steps snoop recorded (``steps_json``),
so every value it states is a value the program really held. It reads as step-by-step
reasoning: the call, each executed line with what it changed, long loops summarised
(the first iterations in full, the rest as the values each variable runs through, then
the state after them), and a final answer line.

Values are written as inline code ``name = value``: the same convention the model
backends are asked to follow, which is what ``verify.py`` reads back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

FINAL_ANSWER = "Final answer:"
DETAIL_STEPS = 24  # line steps written out in full before a loop is summarised
TAIL_STEPS = 6  # line steps written out in full at the end
VALUES_LISTED = 6  # values listed per variable in a summary


@dataclass(frozen=True)
class Execution:
    """What a renderer and the verifier need of one ``silver/executions`` row."""

    entry_point: str
    input_json: str
    return_json: str
    steps: list[dict[str, Any]]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Execution:
        return cls(row["entry_point"], row["input_json"], row["return_json"], json.loads(row["steps_json"]))


@dataclass(frozen=True)
class LineStep:
    """One executed line of the entry function and what executing it changed."""

    line: int
    source: str
    changes: dict[str, str]


def line_steps(steps: Sequence[dict[str, Any]]) -> list[LineStep]:
    """Executed lines (depth 0) with their effects. snoop reports a line's changes at the
    next event, so each line takes the ``changed`` of the event after it."""
    top = [s for s in steps if s.get("depth", 0) == 0]
    result = []
    for here, after in pairwise(top):
        if here["event"] == "line":
            changes = {k: v for k, v in after.get("changed", {}).items() if not k.startswith("len(")}
            result.append(LineStep(here["line"], here.get("source", "").strip(), changes))
    return result


def _call(execution: Execution) -> str:
    arguments = json.loads(execution.input_json)
    shown = ", ".join(f"{name}={json.dumps(value)}" for name, value in arguments.items())
    return f"`{execution.entry_point}({shown})`"


def _states(changes: dict[str, str]) -> str:
    return ", ".join(f"`{name} = {value}`" for name, value in changes.items())


def _describe(step: LineStep) -> str:
    effect = f"now {_states(step.changes)}" if step.changes else "nothing changes"
    return f"Line {step.line}, `{step.source}`: {effect}."


def _summary(middle: Sequence[LineStep]) -> list[str]:
    """The skipped steps in a few sentences: which lines repeat, the values each variable
    runs through, and where each ends."""
    lines = sorted({s.line for s in middle})
    history: dict[str, list[str]] = {}
    for step in middle:
        for name, value in step.changes.items():
            history.setdefault(name, []).append(value)
    text = [f"The same lines ({', '.join(map(str, lines))}) keep repeating for {len(middle)} more steps."]
    for name, values in history.items():
        shown = ", ".join(values[:VALUES_LISTED]) + (", ..." if len(values) > VALUES_LISTED else "")
        text.append(f"Along the way {name} takes the values {shown}, ending at `{name} = {values[-1]}`.")
    return text


def render_coe(execution: Execution) -> str:
    """Step-by-step reasoning for one execution, ending with ``Final answer: <JSON>``."""
    steps = line_steps(execution.steps)
    text = [f"We call {_call(execution)} and follow the code line by line."]
    if len(steps) > DETAIL_STEPS + TAIL_STEPS:
        head, middle, tail = steps[:DETAIL_STEPS], steps[DETAIL_STEPS:-TAIL_STEPS], steps[-TAIL_STEPS:]
        text += [_describe(s) for s in head]
        text += _summary(middle)
        text += [_describe(s) for s in tail]
    else:
        text += [_describe(s) for s in steps]
    answer = json.dumps(json.loads(execution.return_json))
    text.append(f"The function returns {answer}.")
    text.append(f"{FINAL_ANSWER} {answer}")
    return "\n".join(text)
