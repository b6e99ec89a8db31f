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

from tracepile.vocab import SCRIPT_MODES, RunMode

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
    run_mode: str = RunMode.CALL  # a script's result (return_json) is the text it printed

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Execution:
        return cls(
            row["entry_point"],
            row["input_json"],
            row["return_json"],
            json.loads(row["steps_json"]),
            row.get("run_mode") or RunMode.CALL,
        )

    @property
    def script(self) -> bool:
        return self.run_mode in SCRIPT_MODES


def _in_main(step: dict[str, Any]) -> bool:
    return step.get("depth") == 1 and step.get("function") == "main"


@dataclass(frozen=True)
class LineStep:
    """One executed line of the entry function and what executing it changed."""

    line: int
    source: str
    changes: dict[str, str]


def line_steps(steps: Sequence[dict[str, Any]], entry_point: str = "") -> list[LineStep]:
    """Executed lines of the traced unit with their effects: the entry function's frame (depth
    0), and for a script whose entry is ``main`` that function's frame too (depth 1). snoop
    reports a line's changes at the next event, so each line takes the ``changed`` of the
    event after it."""
    top = [s for s in steps if s.get("depth", 0) == 0 or (entry_point == "main" and _in_main(s))]
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


def _opening(execution: Execution) -> str:
    if not execution.script:
        return f"We call {_call(execution)} and follow the code line by line."
    stdin = json.loads(execution.input_json).get("stdin", "")
    given = f"with standard input {json.dumps(stdin)}" if stdin else "with no input"
    return f"We run the program {given} and follow the code line by line."


def script_answer(printed: str) -> str:
    """How a script's printed output is stated as a final answer: the line itself when it is
    one line, else the whole text as a JSON string."""
    text = printed.strip()
    return text if text and "\n" not in text else json.dumps(printed)


def _closing(execution: Execution) -> list[str]:
    if not execution.script:
        answer = json.dumps(json.loads(execution.return_json))
        return [f"The function returns {answer}.", f"{FINAL_ANSWER} {answer}"]
    printed = json.loads(execution.return_json)
    return [f"The program prints {json.dumps(printed)}.", f"{FINAL_ANSWER} {script_answer(printed)}"]


def render_coe(execution: Execution) -> str:
    """Step-by-step reasoning for one execution, ending with ``Final answer: <JSON>`` (for a
    script, ``Final answer: <printed output>``)."""
    steps = line_steps(execution.steps, execution.entry_point if execution.script else "")
    text = [_opening(execution)]
    if len(steps) > DETAIL_STEPS + TAIL_STEPS:
        head, middle, tail = steps[:DETAIL_STEPS], steps[DETAIL_STEPS:-TAIL_STEPS], steps[-TAIL_STEPS:]
        text += [_describe(s) for s in head]
        text += _summary(middle)
        text += [_describe(s) for s in tail]
    else:
        text += [_describe(s) for s in steps]
    text += _closing(execution)
    return "\n".join(text)
