"""Reading a Chain-of-Execution text's final answer and checking it against the run's result.

A text states its result on a final-answer line (``Final answer: <value>``; the last one
counts). A called function's text without one may state it in prose, where the value that
follows is a whole Python literal (or JSON) that can be checked: "The function returns 6.",
"so the result is [1, 2]", "The output of the code is:" and a code block holding only the
value, "Output: 6", "The output is 2, which means ..."; then every result it states so must
be the return value. A description ("returns the gcd of the two numbers"), code, or a value
with words after it is no answer.
A script's printed output is read only from its final-answer line.
"""

from __future__ import annotations

import contextlib
import json
import re

from tracepile.analysis.answers import result_matches
from tracepile.analysis.pyast import holding_ast_lock
from tracepile.analysis.values import decode, to_literal, values_equal
from tracepile.translation.template import FINAL_ANSWER
from tracepile.translation.trace_model import UNPARSED, literal
from tracepile.vocab import SCRIPT_MODES, GenerateOutcome, RunMode

_FINAL = re.compile(rf"^\W*{re.escape(FINAL_ANSWER)}\**\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
# where a text without a final-answer line states its result in prose: "The function returns
# 6.", "so the result is [1, 2]", "The output of the code is:" and a code block, "Output: 6"
_PROSE_ANSWER = re.compile(
    r"\b(?:the\s+)?(?:final\s+)?(?:output|answer|result|return(?:ed)?\s+value)"
    r"(?:\s+of\s+(?:the\s+)?(?:above\s+|given\s+)?(?:function|program|code|call|`?[A-Za-z_]\w*(?:\(\))?`?(?:\s+function)?))?"
    r"\s+(?:is|will\s+be|would\s+be)\s*:?"
    r"|\bthe\s+(?:function|program|code)\s+(?:returns|will\s+return|would\s+return|outputs|gives)\s*:?"
    r"|^[^\w\n]*output\s*:",
    re.IGNORECASE | re.MULTILINE,
)
_FENCE = re.compile(r"^\s*```[\w+-]*\s*$")
_PROSE_SENTENCE_END = re.compile(r"\.(?:\s|$)")
# "2, which means ...": where a value may end inside a sentence
_VALUE_THEN_CLAUSE = re.compile(r",\s+(?:which|so|because|meaning|since|as)\b", re.IGNORECASE)


def final_answer(text: str) -> str | None:
    """The value of the last final-answer line, as written."""
    found = _FINAL.findall(text)
    return found[-1] if found else None


def _stated_after(text: str, position: int) -> str | None:
    """The value written right after a prose answer's lead: the rest of its line (or of its
    sentence), or, after a line-ending lead ("is:"), the next line or code block, when that
    is a whole literal; None otherwise."""
    line_end = text.find("\n", position)
    rest = text[position : line_end if line_end >= 0 else len(text)].strip()
    if rest:
        cut = _PROSE_SENTENCE_END.search(rest)
        candidates = [rest[: cut.start()], rest] if cut else [rest]
        candidates += [rest[: clause.start()] for clause in _VALUE_THEN_CLAUSE.finditer(rest)]
    else:
        following = (
            [line for line in text[line_end + 1 :].splitlines() if line.strip()] if line_end >= 0 else []
        )
        if not following:
            return None
        if _FENCE.match(following[0]):
            block = []
            for line in following[1:]:
                if _FENCE.match(line):
                    break
                block.append(line)
            candidates = ["\n".join(block).strip()]
        else:
            candidates = [following[0].strip()]
    for candidate in candidates:
        if candidate and literal(candidate) is not UNPARSED:
            return candidate
    return None


ANSWER_LINE_ADDED = "final answer line added (stated in prose)"  # a verified outcome's detail


def with_answer_line(text: str, return_json: str) -> tuple[str, bool]:
    """A verified text as gold keeps it, and whether it changed: one whose (checked) result
    is stated only in prose gets the final-answer line every training prompt asks for."""
    if final_answer(text) is not None:
        return text, False
    return f"{text}\n\n{FINAL_ANSWER} {to_literal(decode(return_json))}", True


def prose_answers(text: str) -> list[str]:
    """Every result a text states in prose (for a text without a final-answer line), as
    written, in order: only values that are whole literals, never a description."""
    found = []
    for lead in _PROSE_ANSWER.finditer(text):
        if (stated := _stated_after(text, lead.end())) is not None:
            found.append(stated)
    return found


def _states_printed(stated: str, return_json: str, run_mode: str) -> bool:
    """Whether a stated final answer is what a script printed: as written, or as the JSON
    string a multi-line output is stated as; compared as the run mode compares outputs."""
    candidates = [stated]
    with contextlib.suppress(ValueError):
        if isinstance(decoded := json.loads(stated), str):
            candidates.append(decoded)
    return any(result_matches(run_mode, return_json, json.dumps(c)) for c in candidates)


@holding_ast_lock
def answer_problem(text: str, return_json: str, run_mode: str = RunMode.CALL) -> tuple[str, str] | None:
    """(reason, detail) when the text's final answer is missing or is not ``return_json``. A
    called function's text without a final-answer line may state its result in prose
    (``prose_answers``); then every result it states must be the return value."""
    stated = final_answer(text)
    stated_all = [stated] if stated is not None else []
    if stated is None and run_mode not in SCRIPT_MODES:
        stated_all = prose_answers(text)
    if not stated_all:
        return GenerateOutcome.NO_FINAL_ANSWER, "no line starting 'Final answer:'"
    for stated in stated_all:
        if run_mode in SCRIPT_MODES:
            right = _states_printed(stated, return_json, run_mode)
        else:
            answer = literal(stated)
            right = answer is not UNPARSED and values_equal(answer, decode(return_json))
        if not right:
            break
    if not right:
        return (
            GenerateOutcome.WRONG_FINAL_ANSWER,
            f"states {stated[:200]!r}, the program {'printed' if run_mode in SCRIPT_MODES else 'returned'} "
            f"{return_json[:200]}",
        )
    return None
