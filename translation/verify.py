"""Checking a generated Chain-of-Execution text against the execution it describes.

A text enters gold only if:

- it has a final answer line (``Final answer: <value>``), or for a called function a result
  stated in prose (``final_answers.py``), whose value equals the execution's return value
  (JSON-equal, floats within 1e-6: ``tracepile/analysis/values.py``);
- every state it claims for a traced variable, written as inline code ``name = value``,
  is a value that variable really held at some step of the trace;
- every computation it writes out (``name = 3 * (4 + 1) = 15``, or ``3 * 2 = 6`` for a
  returned value) evaluates to the result it states, by a restricted evaluator of
  literals and operators (never ``eval``); the result is a value the name held; and when
  the text names the line ("line N"), the computation is the one that line made at some
  point of the run, with the values its variables held just before;
- every truth value it states for a condition (``6 % 4 == 0`` is false) is the
  expression's value when it can be evaluated, and, after "line N", the branch the trace
  took there: the text's conditions for a line must follow the run's outcomes in order;
- every history (``name: 0 → 1 → 5``) is, in order, values the variable held, and every
  recursive call stated (``f(n=2) = 2``) is a call the trace made with that result;
- it tells the truth in the ways a text can without a wrong value (text truth): no
  computation restates a bare value (``m = 0 = 0``: ``tautology``); lines said to "keep
  repeating" run in every round of a stretch of the run (``false_repetition``); a line said
  to return is a return the run made, not a line that raised (``false_return``); and code
  in it is Python, not JSON (``f(flag=true)``: ``json_in_code``).

Values are compared as Python values: a text states them as Python literals (the JSON a
model may write, ``true`` or ``null``, is read where it is no Python literal, except
inside code); the return value is typed JSON. Claims about names the trace never saw
(code, like ``best = [0] * n``) and values that are not literals are not claims and are
skipped; claims about values snoop truncated (``[1, 2, ...]``) cannot be checked and are
counted, not rejected.

A rejected text's verdict carries its first contradiction (``Contradiction``: the claim, what
the run held, the line), which the revision round hands back to the model; ``audit`` goes on
past it and counts every claim, for the figures of what the verifier reads in real prose.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracepile.analysis.pyast import holding_ast_lock
from tracepile.analysis.values import decode, values_equal
from tracepile.translation.final_answers import answer_problem, final_answer, prose_answers
from tracepile.translation.template import ARROW
from tracepile.translation.trace_model import (
    TRUNCATED,
    UNPARSED,
    Execution,
    Program,
    call_text,
    computations,
    condition_outcomes,
    evaluate,
    evaluates_to,
    frame_calls,
    is_literal,
    keeps_repeating,
    literal,
    returned_lines,
    substitute,
    trace_value,
    traced_functions,
    traced_lines,
    truth,
)
from tracepile.vocab import SCRIPT_MODES, GenerateOutcome

__all__ = ["Contradiction", "Verdict", "answer_problem", "audit", "final_answer", "prose_answers", "verify"]

TAUTOLOGY, FALSE_REPETITION = GenerateOutcome.TAUTOLOGY, GenerateOutcome.FALSE_REPETITION
FALSE_RETURN, JSON_IN_CODE = GenerateOutcome.FALSE_RETURN, GenerateOutcome.JSON_IN_CODE

_CLAIM = re.compile(r"`\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([^`=][^`]*?)\s*`")
_SPAN = re.compile(r"`([^`\n]+)`")
_TRUTH = re.compile(r"`([^`\n]+)`\s+is\s+(true|false)\b")
_LINE = re.compile(r"\bline (\d+)\b", re.IGNORECASE)
# a line of prose that is only a claim, as a model may write one without inline code: "a = 18",
# "- total = 3 + 4 = 7" (lines in code blocks are code, not claims)
_BARE_CLAIM = re.compile(r"^\s*(?:[-*•]\s+)?([A-Za-z_][A-Za-z0-9_]*\s*=\s*[^=`\s][^`]*?)\s*[.,;]?\s*$")
_FENCE = re.compile(r"^\s*```")
_HISTORY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*): (.+)$")
_JSON_WORDS = {"true": "Python writes True", "false": "Python writes False", "null": "Python writes None"}
# "line 7 returns", "line 7 gives back ...", "the return on line 7" (inline code blanked out)
_RETURN_CLAIM = re.compile(
    r"\bline (\d+)\b(?:(?!\bline \d)[^.;!?])*?\b(?:returns?|gives back|hands back|passes\b[^.;!?]*\bback)\b"
    r"|\breturn on line (\d+)\b",
    re.IGNORECASE,
)
# "lines 4, 5 keep repeating", "the same lines (4, 5, 7) keep repeating"
_REPEATING = re.compile(
    r"\blines?\s*\(?(\d+(?:\s*(?:,\s*(?:and\s+)?|and\s+)\d+)*)\)?\s+keeps?\s+repeating\b", re.IGNORECASE
)
_STEPS = re.compile(r"\b(\d+)\s+(?:more\s+)?steps\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


@dataclass(frozen=True)
class Contradiction:
    """The first thing a rejected text gets wrong, as the revision round hands it back: what the
    text claims, what the run held there (a value as Python writes it, or what the run did),
    and the program line it is about, where one is known."""

    claim: str
    held: str
    line: int | None = None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str | None  # no_final_answer | wrong_final_answer | wrong_intermediate_value
    detail: str
    claims_checked: int
    claims_unverifiable: int
    contradiction: Contradiction | None = None  # the first one found, for a rejected text


def traced_values(execution: Execution) -> dict[str, list[Any]]:
    """Every value each variable held, parsed (``UNPARSED`` where snoop's repr is no literal or
    snoop shortened it)."""
    values: dict[str, list[Any]] = {}
    for step in execution.steps:
        for name, shown in step.get("changed", {}).items():
            values.setdefault(name, []).append(UNPARSED if TRUNCATED in shown else trace_value(shown))
    return values


WRONG_COMPUTATION, WRONG_BRANCH = GenerateOutcome.WRONG_COMPUTATION, GenerateOutcome.WRONG_BRANCH


class _Rejected(Exception):
    def __init__(
        self,
        detail: str,
        reason: str = GenerateOutcome.WRONG_INTERMEDIATE_VALUE,
        contradiction: Contradiction | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail, self.reason, self.contradiction = detail, reason, contradiction


def _shown(values: list[Any], most: int = 8) -> str:
    """Values as Python writes them, in order, repeats dropped: ``0, 1, 5``."""
    kept: list[str] = []
    for value in values:
        written = "(not readable)" if value is UNPARSED else repr(value)
        if not kept or kept[-1] != written:
            kept.append(written)
    return ", ".join(kept[:most]) + (", ..." if len(kept) > most else "")


def _value_of(expression: str) -> str:
    """What a closed expression evaluates to, as Python writes it; '?' where it cannot."""
    try:
        return repr(evaluate(ast.parse(expression, mode="eval")))
    except Exception:
        return "?"


@dataclass
class _Tally:
    checked: int = 0
    unverifiable: int = 0


def _parsed(expression: str) -> str | None:
    """The expression's tree as text, to compare two writings of it; None if not Python."""
    try:
        return ast.dump(ast.parse(expression.strip(), mode="eval"))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _equals(shown: str | None, value: Any) -> bool:
    """Whether a traced repr is ``value``."""
    return shown is not None and values_equal(trace_value(shown), value)


def _computation(span: str) -> tuple[str | None, str, str] | None:
    """(target or None, expression, stated value) of ``[name =] expression = value``."""
    pieces = span.split(" = ")
    target = pieces[0].strip() if len(pieces) >= 3 and pieces[0].strip().isidentifier() else None
    rest = pieces[1:] if target else pieces
    for cut in range(len(rest) - 1, 0, -1):  # a string value may itself hold " = "
        expression, value = " = ".join(rest[:cut]), " = ".join(rest[cut:])
        if literal(value) is not UNPARSED and _parsed(expression) is not None:
            return target, expression, value
    return None


def _sentence_start(text: str, position: int) -> int:
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, position)]
    return ends[-1] if ends else 0


def _sentence_end(text: str, position: int) -> int:
    found = _SENTENCE_END.search(text, position)
    return found.end() if found else len(text)


def _line_before(text_line: str, position: int) -> int | None:
    """The last "line N" before ``position``, outside inline code."""
    blanked = _SPAN.sub(lambda m: " " * len(m.group(0)), text_line[:position])
    found = _LINE.findall(blanked)
    return int(found[-1]) if found else None


@functools.lru_cache(maxsize=16384)
def _json_words_in(span: str) -> tuple[str, ...]:
    """The JSON words (``true``, ``false``, ``null``) a span of inline code uses as Python
    names; none where it does not parse or is only one name (prose). Cached: spans recur."""
    try:
        tree = ast.parse(span, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    match tree.body:
        case [ast.Expr(value=ast.Name())]:
            return ()
    return tuple(node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id in _JSON_WORDS)


class RunFacts:
    """What the verifier reads of a run, whatever text it checks: made once per execution
    and shared by every text about it (several questions ask about one run). It depends on the
    code and steps, not on the return value."""

    def __init__(self, execution: Execution) -> None:
        self.set_on: dict[str, int] = {}  # the line each variable first took a value on
        for step in execution.steps:
            for name in step.get("changed", {}):
                self.set_on.setdefault(name, step["line"])
        self.program = Program(execution.code)
        self.held = traced_values(execution)
        self.truncated = {
            name
            for step in execution.steps
            for name, shown in step.get("changed", {}).items()
            if TRUNCATED in shown
        }
        self.computed = computations(execution)
        self.outcomes = condition_outcomes(execution)
        self.calls = frame_calls(execution.steps)
        self.lines = [step.line for step in traced_lines(execution)]


class _Checker:
    """Checks a text's claims one by one. It stops at the first contradiction; with ``collect``
    it goes on and keeps them all (``audit``), counting each claim once."""

    def __init__(self, execution: Execution, collect: bool = False, facts: RunFacts | None = None) -> None:
        self.execution = execution
        self.collect, self.found, self.contradictions = collect, 0, list[_Rejected]()
        self.facts = facts or RunFacts(execution)
        self.tally = _Tally()
        self.last_outcome = -1  # the text's conditions must follow the run's outcomes in order

    def state(self, name: str, shown: str) -> None:
        if name not in self.facts.held:
            return  # code or prose, not a claim about a traced variable
        claim = literal(shown)
        if claim is UNPARSED:
            return
        known = [v for v in self.facts.held[name] if v is not UNPARSED]
        if not known:
            self.tally.unverifiable += 1
            return
        if not any(values_equal(claim, value) for value in known):
            if name in self.facts.truncated:  # it may be the value snoop shortened
                self.tally.unverifiable += 1
                return
            raise _Rejected(
                f"states `{name} = {shown[:120]}`; the trace has {name} in {self.facts.held[name][:8]}",
                contradiction=Contradiction(
                    f"`{name} = {shown[:120]}`", f"{name} = {_shown(known)}", self.facts.set_on.get(name)
                ),
            )
        self.tally.checked += 1

    def code(self, span: str) -> None:
        """Inline code is Python: JSON's ``true``, ``false`` and ``null`` are no values there
        (unless the program has such a name). A span that is only the word is prose."""
        for word in _json_words_in(span):
            if word not in self.facts.program.names:
                raise _Rejected(
                    f"`{span[:120]}` writes JSON's {word} in Python code ({_JSON_WORDS[word]})",
                    JSON_IN_CODE,
                    Contradiction(f"`{span[:120]}`", f"Python code ({_JSON_WORDS[word]})"),
                )

    def computation(self, target: str | None, expression: str, shown: str, line: int | None) -> None:
        if is_literal(expression):
            raise _Rejected(
                f"`{expression} = {shown[:120]}` restates a value: it computes nothing",
                TAUTOLOGY,
                Contradiction(f"`{expression} = {shown[:120]}`", "no computation there", line),
            )
        if trace_value(shown) is UNPARSED and (word := shown.strip()) in _JSON_WORDS:
            raise _Rejected(
                f"`{expression} = {word}` writes JSON's {word} ({_JSON_WORDS[word]})",
                JSON_IN_CODE,
                Contradiction(f"`{expression} = {word}`", f"Python values ({_JSON_WORDS[word]})", line),
            )
        value = literal(shown)
        right = evaluates_to(expression, value)
        if right is None:
            self._call(expression, value)
            return
        self.tally.checked += 1
        if not right:
            raise _Rejected(
                f"computation `{expression} = {shown[:120]}` does not hold",
                WRONG_COMPUTATION,
                Contradiction(
                    f"`{expression} = {shown[:120]}`", f"{expression} = {_value_of(expression)}", line
                ),
            )
        if target is not None:
            self.state(target, shown)
        made = [c for c in self.facts.computed if c[0] == line and c[1] == target and c[2] is not None]
        if line is None or not made:
            return
        tree = _parsed(expression)
        if not any(_parsed(sub) == tree and _equals(result, value) for _, _, sub, result in made):
            raise _Rejected(
                f"line {line} never computed `{expression} = {shown[:120]}` with the values it held",
                WRONG_COMPUTATION,
                Contradiction(
                    f"`{expression} = {shown[:120]}`",
                    "; ".join(sorted({f"{sub} = {result}" for _, _, sub, result in made}))[:300],
                    line,
                ),
            )

    def _call(self, expression: str, value: Any) -> None:
        """``f(n=2) = 2``: a call of a traced function with those arguments returned that."""
        try:
            call = ast.parse(expression.strip(), mode="eval").body
        except SyntaxError:
            return
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and not call.args):
            return
        traced = [c for c in self.facts.calls if c[0] == call.func.id]
        if not traced or value is UNPARSED:
            return
        self.tally.checked += 1
        stated = {k.arg: literal(ast.unparse(k.value)) for k in call.keywords}
        for _, arguments, returned in traced:
            same = arguments.keys() == stated.keys() and all(
                _equals(v, stated[k]) for k, v in arguments.items()
            )
            if same and _equals(returned, value):
                return
        calls = [f"{call_text(name, arguments)} = {returned}" for name, arguments, returned in traced]
        raise _Rejected(
            f"no traced call `{expression}` returned {value!r}",
            WRONG_COMPUTATION,
            Contradiction(f"`{expression} = {value!r}`", "; ".join(calls[:6])[:300]),
        )

    def history(self, name: str, shown: str) -> None:
        """The values stated, in order, are values the variable held, in order."""
        if name not in self.facts.held:
            return
        stated = [literal(v) for v in shown.split(ARROW.strip()) if v.strip() not in ("…", "...")]
        position = 0
        held = self.facts.held[name]
        for value in stated:
            if value is UNPARSED:
                continue
            while position < len(held) and not values_equal(held[position], value):
                position += 1
            if position == len(held):
                raise _Rejected(
                    f"`{name}` does not run through {shown[:160]} in the trace",
                    contradiction=Contradiction(
                        f"`{name}: {shown[:160]}`", f"{name} = {_shown(held)}", self.facts.set_on.get(name)
                    ),
                )
            position += 1
        self.tally.checked += 1

    def condition(self, expression: str, stated: bool, line: int | None) -> None:
        value = truth(expression)
        if value is not None:
            self.tally.checked += 1
            if value != stated:
                raise _Rejected(
                    f"`{expression}` is {str(value).lower()}, the text says {str(stated).lower()}",
                    WRONG_BRANCH,
                    Contradiction(
                        f"`{expression}` is {str(stated).lower()}",
                        str(value),
                        line,
                    ),
                )
        here = [i for i, (step, _, _) in enumerate(self.facts.outcomes) if step.line == line]
        if line is None or not here:
            if value is None:
                self.tally.unverifiable += 1
            return
        tree = _parsed(expression)
        for index in here:
            step, test, taken = self.facts.outcomes[index]
            if index <= self.last_outcome or taken != stated:
                continue
            forms = {_parsed(ast.unparse(test)), _parsed(substitute(test, step.before) or "")}
            if value is None or tree in forms:
                self.last_outcome = index
                self.tally.checked += 1
                return
        later = [
            taken
            for i, (_, _, taken) in enumerate(self.facts.outcomes)
            if i > self.last_outcome and i in here
        ]
        raise _Rejected(
            f"the condition on line {line} is not {str(stated).lower()} at this point of the run",
            WRONG_BRANCH,
            Contradiction(
                f"`{expression}` is {str(stated).lower()}",
                f"the condition {str(later[0]).lower() if later else 'not tested again'} at that point",
                line,
            ),
        )

    def returns(self, line: int) -> None:
        """A text says line ``line`` returns: when that line is a return statement of a function
        the trace followed, some run of it returned (a frame an exception left did not)."""
        node = self.facts.program.by_line.get(line)
        function = self.facts.program.function_of.get(line)
        if not isinstance(node, ast.Return) or function not in traced_functions(self.execution.steps):
            return
        self.tally.checked += 1
        if not returned_lines(self.execution.steps) & set(range(node.lineno, (node.end_lineno or line) + 1)):
            raise _Rejected(
                f"says line {line} returns; it never returned in the run (it raised)",
                FALSE_RETURN,
                Contradiction(f"that line {line} returns", "an exception there, no return", line),
            )

    def repeating(self, lines: set[int], steps: int | None) -> None:
        """ "Lines 4, 5 keep repeating" (for N steps): true of every round of some stretch."""
        self.tally.checked += 1
        if not keeps_repeating(self.facts.lines, lines, steps):
            stretch = f" for {steps} steps" if steps is not None else ""
            why = f"says lines {sorted(lines)} keep repeating{stretch}; no stretch runs them in every round"
            raise _Rejected(
                why,
                FALSE_REPETITION,
                Contradiction(
                    f"that lines {sorted(lines)} keep repeating", "no such repeating stretch", min(lines)
                ),
            )

    def prose(self, text_line: str) -> None:
        """The claims a line of text makes outside its inline code: returns and repetitions."""
        blanked = _SPAN.sub(lambda m: " " * len(m.group(0)), text_line)
        for claim in _RETURN_CLAIM.finditer(blanked):
            self.each(self.returns, int(claim.group(1) or claim.group(2)))
        for claim in _REPEATING.finditer(blanked):
            sentence = blanked[_sentence_start(blanked, claim.start()) : _sentence_end(blanked, claim.end())]
            stated = _STEPS.search(sentence)
            self.each(
                self.repeating,
                {int(n) for n in re.findall(r"\d+", claim.group(1))},
                int(stated[1]) if stated else None,
            )

    def each(self, check: Callable[..., None], *arguments: Any) -> None:
        """One claim checked: a contradiction stops the check, or, collecting, is kept (the
        claim counted as checked once, whatever the check counted before it failed). Code is
        looked at for JSON words too, but is no claim found."""
        self.found += check != self.code
        before = self.tally.checked
        try:
            check(*arguments)
        except _Rejected as rejected:
            if not self.collect:
                raise
            self.contradictions.append(rejected)
            self.tally.checked = before + 1

    def bare(self, text: str) -> None:
        """Claims written as whole lines of prose, outside inline code and code blocks."""
        in_code = False
        for text_line in text.splitlines():
            if _FENCE.match(text_line):
                in_code = not in_code
                continue
            if in_code or (found := _BARE_CLAIM.match(text_line)) is None:
                continue
            content = found.group(1)
            if (parts := _computation(content)) and not parts[1].strip().isidentifier():
                self.each(self.computation, *parts, None)
            elif (name := content.partition("=")[0].strip()) in self.facts.held:
                self.each(self.state, name, content.partition("=")[2].strip())

    def check(self, text: str) -> None:
        for span in _SPAN.finditer(text):
            self.each(self.code, span.group(1).strip())
        for name, shown in _CLAIM.findall(text):
            if name in self.facts.held:
                self.each(self.state, name, shown)
        self.bare(text)
        for text_line in text.splitlines():
            self.prose(text_line)
            for span in _SPAN.finditer(text_line):
                content = span.group(1).strip()
                if history := _HISTORY.match(content):
                    self.each(self.history, *history.groups())
                elif (parts := _computation(content)) and not parts[1].strip().isidentifier():
                    self.each(self.computation, *parts, _line_before(text_line, span.start()))
            for claim in _TRUTH.finditer(text_line):
                line = _line_before(text_line, claim.start())
                self.each(self.condition, claim.group(1), claim.group(2) == "true", line)


def _final_contradiction(text: str, execution: Execution) -> Contradiction:
    """The final answer's contradiction: what the text states, what the program gave, and the
    line its last return was made on."""
    stated = final_answer(text)
    if stated is None and not execution.script:
        stated = next(
            (s for s in prose_answers(text) if not values_equal(literal(s), decode(execution.return_json))),
            None,
        )
    returns = [step["line"] for step in execution.steps if step.get("event") == "return"]
    gave = "printed" if execution.run_mode in SCRIPT_MODES else "returned"
    value = execution.return_json
    if not execution.script:
        with contextlib.suppress(ValueError):
            value = repr(decode(value))
    claim = f"the final answer {stated[:200]!r}" if stated is not None else "no final answer line"
    return Contradiction(claim, f"{gave} {value[:200]}", returns[-1] if returns else None)


@holding_ast_lock
def verify(text: str, execution: Execution, facts: RunFacts | None = None) -> Verdict:
    """The verdict on ``text`` about ``execution``; ``facts`` (``RunFacts`` of the same run)
    saves reading the run again for each text about it."""
    if problem := answer_problem(text, execution.return_json, execution.run_mode):
        return Verdict(False, *problem, 0, 0, _final_contradiction(text, execution))
    checker = _Checker(execution, facts=facts)
    try:
        checker.check(text)
    except _Rejected as rejected:
        tally = checker.tally
        return Verdict(
            False,
            rejected.reason,
            rejected.detail,
            tally.checked,
            tally.unverifiable,
            rejected.contradiction,
        )
    return Verdict(True, None, "", checker.tally.checked, checker.tally.unverifiable)


@holding_ast_lock
def audit(text: str, execution: Execution) -> tuple[int, int, int]:
    """(claims found, checked, false) over the whole text, not only up to the first
    contradiction as ``verify`` stops: the figures of how much of a model's prose the
    verifier reads and what it finds. The final answer is not counted here."""
    checker = _Checker(execution, collect=True)
    checker.check(text)
    return checker.found, checker.tally.checked, len(checker.contradictions)
