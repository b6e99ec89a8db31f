"""Checking a generated Chain-of-Execution text against the execution it describes.

A text enters gold only if:

- it has a final answer line (``Final answer: <value>``) whose value equals the execution's
  return value (JSON-equal, floats within 1e-6: ``tracepile/analysis/values.py``);
- every state it claims for a traced variable, written as inline code ``name = value``,
  is a value that variable really held at some step of the trace.

Claims about names the trace never saw (code, like ``best = [0] * n``) and values that
are not literals are not claims and are skipped; claims about values snoop truncated
(``[1, 2, ...]``) cannot be checked and are counted, not rejected.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

from tracepile.analysis.answers import result_matches
from tracepile.analysis.values import values_equal
from tracepile.translation.template import FINAL_ANSWER, Execution
from tracepile.vocab import SCRIPT_MODES, GenerateOutcome, RunMode

_FINAL = re.compile(rf"^\W*{re.escape(FINAL_ANSWER)}\**\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_CLAIM = re.compile(r"`\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([^`=][^`]*?)\s*`")
_UNPARSED = object()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str | None  # no_final_answer | wrong_final_answer | wrong_intermediate_value
    detail: str
    claims_checked: int
    claims_unverifiable: int


def literal(text: str) -> Any:
    """A stated value as data: JSON first, then a Python literal; ``_UNPARSED`` otherwise."""
    text = text.strip().rstrip(".").strip("`").strip()
    for parse in (json.loads, ast.literal_eval):
        try:
            return _as_json_data(parse(text))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return _UNPARSED


def _as_json_data(value: Any) -> Any:
    """Tuples as lists, sets as sorted lists: the forms a return value takes in JSON. A value
    holding ``...`` is one snoop truncated: ValueError, it says nothing checkable."""
    if value is Ellipsis:
        raise ValueError("truncated value")
    if isinstance(value, tuple | list):
        return [_as_json_data(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_as_json_data(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _as_json_data(v) for k, v in value.items()}
    return value


def traced_values(execution: Execution) -> dict[str, list[Any]]:
    """Every value each variable held, parsed (``_UNPARSED`` where snoop's repr is not a literal)."""
    values: dict[str, list[Any]] = {}
    for step in execution.steps:
        for name, shown in step.get("changed", {}).items():
            values.setdefault(name, []).append(literal(shown))
    return values


def final_answer(text: str) -> str | None:
    """The value of the last final-answer line, as written."""
    found = _FINAL.findall(text)
    return found[-1] if found else None


def _states_printed(stated: str, return_json: str, run_mode: str) -> bool:
    """Whether a stated final answer is what a script printed: as written, or as the JSON
    string a multi-line output is stated as; compared as the run mode compares outputs."""
    candidates = [stated]
    with contextlib.suppress(ValueError):
        if isinstance(decoded := json.loads(stated), str):
            candidates.append(decoded)
    return any(result_matches(run_mode, return_json, json.dumps(c)) for c in candidates)


def answer_problem(text: str, return_json: str, run_mode: str = RunMode.CALL) -> tuple[str, str] | None:
    """(reason, detail) when the text's final answer is missing or is not ``return_json``."""
    stated = final_answer(text)
    if stated is None:
        return GenerateOutcome.NO_FINAL_ANSWER, "no line starting 'Final answer:'"
    if run_mode in SCRIPT_MODES:
        right = _states_printed(stated, return_json, run_mode)
    else:
        answer = literal(stated)
        right = answer is not _UNPARSED and values_equal(answer, json.loads(return_json))
    if not right:
        return (
            GenerateOutcome.WRONG_FINAL_ANSWER,
            f"states {stated[:200]!r}, the program {'printed' if run_mode in SCRIPT_MODES else 'returned'} "
            f"{return_json[:200]}",
        )
    return None


def verify(text: str, execution: Execution) -> Verdict:
    if problem := answer_problem(text, execution.return_json, execution.run_mode):
        return Verdict(False, *problem, 0, 0)
    held = traced_values(execution)
    checked = unverifiable = 0
    for name, shown in _CLAIM.findall(text):
        if name not in held:
            continue  # code or prose, not a claim about a traced variable
        claim = literal(shown)
        if claim is _UNPARSED:
            continue
        known = [v for v in held[name] if v is not _UNPARSED]
        if not known:
            unverifiable += 1
            continue
        checked += 1
        if not any(values_equal(claim, value) for value in known):
            detail = f"states `{name} = {shown[:120]}`; the trace has {name} in {held[name][:8]}"
            return Verdict(False, GenerateOutcome.WRONG_INTERMEDIATE_VALUE, detail, checked, unverifiable)
    return Verdict(True, None, "", checked, unverifiable)
