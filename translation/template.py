"""The ``template`` backend: Chain-of-Execution text rendered from an execution's steps.

No model: the text is built from the structured steps snoop recorded (``steps_json``),
so every value it states is a value the program really held. It reads as step-by-step
reasoning: each assignment with its computation (the values the variables held just
before the line substituted, then the result), each condition with its truth value and
the branch taken (read from the line that ran next, never worked out), loops told round
by round and long ones summarised (the first steps in full, then the lines that run in
every round, the values each variable runs through, then the last steps), helper calls
with what they returned, a line that raised told as raising, and a final answer line.
Each kind of sentence has several phrasings, chosen by a hash of the execution and the
step, so the corpus is not one sentence pattern yet the same execution always gives the
same text.

Values are written as Python literals (a tuple as a tuple, ``float('nan')``), and
calls as Python calls. Claims are inline code the verifier (``verify.py``) reads back:

- ``name = value``: a state (the convention the model backends are asked to follow);
- ``name = 3 * (4 + 1) = 15``: a computation, the substituted expression and its result
  (never a bare value restated: ``m = 0 = 0`` computes nothing);
- ``6 % 4 == 0`` is false: a condition's truth value, after the nearest "line N" before it;
- ``name: 0 → 1 → 5 → …``: the values a variable runs through, in order;
- "lines 4, 5 keep repeating": lines that run in every round of the stretch summarised.

What the renderer and the verifier both read off a trace is in ``trace_model.py``; the
phrasings of each kind of sentence, and the seeded choice among them, in ``phrases.py``.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence

from tracepile.analysis.pyast import holding_ast_lock
from tracepile.analysis.values import NoForm, decode, to_literal
from tracepile.translation.phrases import Phrasing
from tracepile.translation.trace_model import (
    UNPARSED,
    Execution,
    LineStep,
    Program,
    as_text,
    assignment,
    branch,
    call_text,
    evaluates_to,
    frame_variables,
    is_literal,
    keyword_arguments,
    lines_in_every_round,
    rounds_in,
    substitute,
    trace_value,
    traced_lines,
    truth,
    whole,
)

FINAL_ANSWER = "Final answer:"
DETAIL_STEPS = 24  # line steps written out in full before a loop is summarised
TAIL_STEPS = 6  # line steps written out in full at the end
VALUES_LISTED = 6  # values listed per variable in a summary
ARROW = " → "  # separates the values of a history claim `name: a → b → …`


class Unrenderable(Exception):
    """An execution the template cannot tell (its steps or values are not what a trace
    holds): the caller rejects the row with this message."""


def _code(text: str) -> str:
    return f"`{text}`"


def _states(changes: dict[str, str]) -> str:
    return ", ".join(f"`{name} = {as_text(value)}`" for name, value in changes.items())


def _lines(lines: Sequence[int]) -> str:
    """``[4]`` as "line 4", ``[4, 5, 7]`` as "lines 4, 5, 7" (as the verifier reads a list)."""
    return f"line {lines[0]}" if len(lines) == 1 else "lines " + ", ".join(map(str, lines))


# --- rendering -------------------------------------------------------------------------------


class _Narrator:
    """Turns line steps into sentences, one per step, keeping the loop rounds counted."""

    def __init__(self, execution: Execution) -> None:
        self.program = Program(execution.code)
        self.function = execution.entry_point
        self.phrasing = Phrasing(execution)
        self.rounds: dict[int, int] = {}  # for-loop header line -> rounds started so far

    def describe(self, place: int, step: LineStep) -> str:
        node, from_code = self.program.statement(step)
        sentence = self._sentence(place, step, node, from_code)
        if step.inner_calls:
            calls = ", ".join(
                f"`{call_text(self.function, {k: as_text(v) for k, v in args.items()})} = {as_text(value)}`"
                for args, value in step.inner_calls
            )
            sentence += " " + self.phrasing.say("recursion", place, calls=calls)
        return sentence

    def _sentence(self, place: int, step: LineStep, node: ast.stmt | None, from_code: bool) -> str:
        say, line = self.phrasing.say, step.line
        source = _code(step.source)
        nxt = step.next_line if step.next_line is not None else line
        if step.next_event == "exception" and not isinstance(node, ast.For):
            # the line raised (a handler or a caller takes it): it assigned, returned nothing.
            # A for header's exception event may be the StopIteration that ends its loop.
            return say("raises", place, line=line, source=source)
        if (assigned := assignment(node)) is not None:
            return self._assignment(place, step, *assigned)
        if isinstance(node, ast.If | ast.While):
            return self._condition(place, step, node, from_code)
        if isinstance(node, ast.For):
            return self._loop(place, step, node, from_code)
        if isinstance(node, ast.Return):
            return self._return(place, step, node)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return say("define", place, line=line, name=_code(node.name))
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = ", ".join(_code(alias.asname or alias.name) for alias in node.names)
            return say("import", place, line=line, names=names)
        if isinstance(node, ast.Break | ast.Continue):
            return say("break" if isinstance(node, ast.Break) else "continue", place, line=line)
        if isinstance(node, ast.Expr):
            if step.changes:
                return say("call_changes", place, line=line, source=source, states=_states(step.changes))
            return say("call_plain", place, line=line, source=source)
        if isinstance(node, ast.Assign) and step.changes:
            return say("several", place, line=line, states=_states(step.changes))
        if step.changes:
            return say("other_changes", place, line=line, source=source, states=_states(step.changes))
        return say("other", place, line=line, source=source, next=nxt)

    def _assignment(self, place: int, step: LineStep, name: str, expression: ast.expr) -> str:
        say, line = self.phrasing.say, step.line
        after = step.changes.get(name, step.before.get(name))
        others = {k: v for k, v in step.changes.items() if k != name}
        if after is None or step.next_event not in ("line", "return"):
            if step.changes:
                return say("several", place, line=line, states=_states(step.changes))
            return say("other", place, line=line, source=_code(step.source))
        shown = as_text(after)
        state = f"`{name} = {shown}`"
        fields = {"line": line, "name": _code(name), "source": _code(ast.unparse(expression)), "state": state}
        substituted = substitute(expression, step.before)
        if substituted == after and not any(isinstance(n, ast.Name) for n in ast.walk(expression)):
            sentence = say("const", place, **fields)
        elif isinstance(expression, ast.Name) and expression.id != name:
            sentence = say("copy", place, **fields)
        elif self._computes(substituted, after):
            calc = f"`{name} = {substituted} = {shown}`"
            sentence = say("calc", place, **fields, calc=calc)
        elif name not in step.changes and name in step.before:
            sentence = say("same", place, **fields)
        elif isinstance(expression, ast.Call):
            sentence = say("helper", place, **fields)
        else:
            sentence = say("value", place, **fields)
        if others:
            sentence = sentence[:-1] + "; also " + _states(others) + "."
        return sentence

    def _condition(self, place: int, step: LineStep, node: ast.If | ast.While, from_code: bool) -> str:
        say, line = self.phrasing.say, step.line
        taken = branch(step, node) if from_code else None
        nxt = step.next_line if step.next_line is not None else line
        if taken is None:
            return say("test_unknown", place, line=line, source=_code(ast.unparse(node.test)), next=nxt)
        shown = ast.unparse(node.test)
        substituted = substitute(node.test, step.before)
        # a test that reduces to a bare value reads as "`True` is true": the test says more
        if substituted is not None and not is_literal(substituted) and truth(substituted) == taken:
            shown = substituted
        kind = ("while_" if isinstance(node, ast.While) else "if_") + ("true" if taken else "false")
        return say(kind, place, line=line, test=_code(shown), next=nxt)

    def _loop(self, place: int, step: LineStep, node: ast.For, from_code: bool) -> str:
        say, line = self.phrasing.say, step.line
        taken = branch(step, node) if from_code else None
        if taken is None and step.changes:
            taken = True  # the header assigned its target: a new round began
        rounds = self._count_round(line, taken)
        if taken:
            states = _states(step.changes) or f"{_code(ast.unparse(node.target))} as before"
            return say("for_round", place, line=line, round=rounds, states=states)
        if taken is None:
            return say("for_unknown", place, line=line, source=_code(step.source))
        nxt = step.next_line if step.next_line is not None else line
        return say("for_done", place, line=line, rounds=rounds, next=nxt)

    def _count_round(self, line: int, taken: bool | None) -> int:
        """Rounds of the for loop on ``line``: one more when it begins one, and the count is
        over (the loop may run again later, from round 1) when it finishes."""
        if taken:
            self.rounds[line] = self.rounds.get(line, 0) + 1
            return self.rounds[line]
        return self.rounds.pop(line, 0) if taken is False else self.rounds.get(line, 0)

    @staticmethod
    def _computes(substituted: str | None, result: str | None) -> bool:
        """Whether ``substituted = result`` is worth stating and true: it computes something
        (not a bare value restated, ``m = 0 = 0``) and evaluates to the result."""
        if substituted is None or result is None or whole(result) is None or is_literal(substituted):
            return False
        value = trace_value(result)
        return value is not UNPARSED and bool(evaluates_to(substituted, value))

    def _return(self, place: int, step: LineStep, node: ast.Return) -> str:
        say, line = self.phrasing.say, step.line
        expression = node.value if node.value is not None else ast.Constant(None)
        source = _code(ast.unparse(expression))
        substituted = substitute(expression, step.before)
        if self._computes(substituted, step.returned):
            calc = f"`{substituted} = {as_text(step.returned or '')}`"
            return say("return_calc", place, line=line, source=source, calc=calc)
        return say("return_plain", place, line=line, source=source)

    def summary(self, place: int, steps: Sequence[LineStep], start: int, stop: int) -> list[str]:
        """The steps ``start``..``stop`` in a few sentences: the lines that run in every round
        of the loop there ("keep repeating" only when each does), how many rounds that is,
        the values each variable runs through, and where each ends."""
        middle = steps[start:stop]
        lines = [s.line for s in steps]
        header, rounds = self._loop_rounds(middle, lines, start, stop)
        every = sorted(lines_in_every_round(lines, rounds))
        ran = sorted(set(lines[start:stop]))
        if len(rounds) >= 2 and len(every) >= 2:
            text = [self.phrasing.say("summary", place, lines=", ".join(map(str, every)), count=len(middle))]
            if others := [line for line in ran if line not in every]:
                text[0] += " " + self.phrasing.say("summary_some", place, lines=_lines(others))
        else:
            text = [self.phrasing.say("summary_plain", place, lines=_lines(ran), count=len(middle))]
        begun = 0
        for step in middle:
            node, from_code = self.program.statement(step)
            if isinstance(node, ast.For | ast.While) and from_code:
                taken = branch(step, node)
                begun += bool(taken) and step.line == header
                if isinstance(node, ast.For):
                    self._count_round(step.line, taken)
        if begun and isinstance(self.program.by_line.get(header), ast.For | ast.While):
            text[0] += " " + self.phrasing.say("summary_rounds", place, rounds=begun, line=header)
        history: dict[str, list[str]] = {}
        for step in middle:
            for name, value in step.changes.items():
                history.setdefault(name, []).append(as_text(value))
        for offset, (name, values) in enumerate(history.items(), 1):
            shown = ARROW.join(values[:VALUES_LISTED]) + (ARROW + "…" if len(values) > VALUES_LISTED else "")
            text.append(
                self.phrasing.say(
                    "history", place + offset, name=_code(name), history=f"`{name}: {shown}`",
                    state=f"`{name} = {values[-1]}`",
                )
            )  # fmt: skip
        return text

    def _loop_rounds(
        self, middle: Sequence[LineStep], lines: Sequence[int], start: int, stop: int
    ) -> tuple[int | None, list[tuple[int, int]]]:
        """The loop whose rounds make up the stretch, and its complete rounds there: the
        outermost loop header (by the code; any line without it) that runs at least three
        times in it, so that it holds two rounds."""
        counts: dict[int, int] = {}
        for step in middle:
            counts[step.line] = counts.get(step.line, 0) + 1
        for line in sorted(counts):
            loop = isinstance(self.program.by_line.get(line), ast.For | ast.While)
            if counts[line] >= 3 and (loop or not self.program.by_line):
                return line, rounds_in(lines, line, start, stop)
        return None, []


_INLINE_CODE = re.compile(r"`[^`\n]*`")
_NUMBER = re.compile(r"\d+")


def phrasing_variety(texts: Sequence[str], n: int = 4) -> float:
    """Distinct word n-grams over all n-grams of the texts, each inline-code span and each
    number counted as one word: how far the phrasing (not the values or the line numbers)
    varies across a corpus."""
    grams: list[tuple[str, ...]] = []
    for text in texts:
        words = re.findall(r"\w+", _NUMBER.sub(" N ", _INLINE_CODE.sub(" CODE ", text)))
        grams += [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def _call(execution: Execution) -> str:
    return f"`{execution.entry_point}({keyword_arguments(execution.input_json)})`"


def _opening(execution: Execution, phrasing: Phrasing) -> list[str]:
    if not execution.script:
        text = [phrasing.say("open_call", -1, call=_call(execution))]
        first = next((s for s in execution.steps if s.get("event") == "call"), None)
        if first and (arguments := frame_variables(first)):
            text.append(phrasing.say("arguments", -1, states=_states(arguments)))
        return text
    stdin = decode(execution.input_json).get("stdin", "")
    given = f"with standard input {to_literal(stdin)}" if stdin else "with no input"
    return [phrasing.say("open_script", -1, given=given)]


def script_answer(printed: str) -> str:
    """How a script's printed output is stated as a final answer: the line itself when it is
    one line, else the whole text as a JSON string (which is a Python string literal too)."""
    text = printed.strip()
    return text if text and "\n" not in text else json.dumps(printed)


def _closing(execution: Execution, phrasing: Phrasing) -> list[str]:
    if not execution.script:
        answer = to_literal(decode(execution.return_json))
        return [phrasing.say("close_call", -2, answer=_code(answer)), f"{FINAL_ANSWER} {answer}"]
    printed = decode(execution.return_json)
    return [
        phrasing.say("close_script", -2, printed=json.dumps(printed)),
        f"{FINAL_ANSWER} {script_answer(printed)}",
    ]


@holding_ast_lock
def render_coe(execution: Execution) -> str:
    """Step-by-step reasoning for one execution, ending with ``Final answer: <Python literal>``
    (for a script, ``Final answer: <printed output>``). ``Unrenderable`` when the execution's
    values or steps are not what a run records (the caller rejects the row)."""
    try:
        return _render(execution)
    except (NoForm, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as error:
        # a malformed row, never a program's behaviour: the values a program computes are
        # worked out under Unevaluable, which the rendering catches where it arises
        raise Unrenderable(f"{type(error).__name__}: {str(error)[:300]}") from error


def _render(execution: Execution) -> str:
    steps = traced_lines(execution)
    narrator = _Narrator(execution)
    text = _opening(execution, narrator.phrasing)
    if len(steps) > DETAIL_STEPS + TAIL_STEPS:
        tail_start = len(steps) - TAIL_STEPS
        text += [narrator.describe(i, s) for i, s in enumerate(steps[:DETAIL_STEPS])]
        text += narrator.summary(DETAIL_STEPS, steps, DETAIL_STEPS, tail_start)
        text += [narrator.describe(tail_start + i, s) for i, s in enumerate(steps[tail_start:])]
    else:
        text += [narrator.describe(i, s) for i, s in enumerate(steps)]
    text += _closing(execution, narrator.phrasing)
    return "\n".join(text)
