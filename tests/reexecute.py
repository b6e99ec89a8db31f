"""An independent re-execution for checking variable-tracing questions: the program with its
entry function instrumented statement by statement (no line events, no snoop), run in the
sandbox like any untrusted program, reporting what its outermost call did."""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tracepile.analysis.values import decode, values_equal
from tracepile.translation.questions import Question
from tracepile.translation.verify import UNPARSED, literal
from tracepile.udfs.sandbox import Sandbox
from tracepile.vocab import QuestionKind, Status

RECORDER = """
import sys as _reexecute_sys


class _ReexecuteRecorder:
    def __init__(self):
        self.outer = None
        self.starts = {}
        self.conditions = {}
        self.afters = []

    def _outer(self):
        frame = _reexecute_sys._getframe(2)
        self.outer = self.outer or frame
        return frame if frame is self.outer else None

    def start(self, line):
        if self._outer():
            self.starts[line] = self.starts.get(line, 0) + 1

    def after(self, line):
        if frame := self._outer():
            self.afters.append([line, {k: repr(v) for k, v in frame.f_locals.items()}])

    def condition(self, line, value):
        if frame := self._outer():
            self.conditions.setdefault(line, []).append(bool(value))
            self.afters.append([line, {k: repr(v) for k, v in frame.f_locals.items()}])
        return value


__q = _ReexecuteRecorder()
"""
WRAPPER = "__reexecuted__"


def _hook(name: str, line: int, *arguments: ast.expr) -> ast.Call:
    return ast.Call(
        ast.Attribute(ast.Name("__q", ast.Load()), name, ast.Load()), [ast.Constant(line), *arguments], []
    )


def _instrumented(block: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for node in block:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.append(node)  # runs in frames of its own
            continue
        if isinstance(node, ast.If | ast.While):
            node.test = _hook("condition", node.lineno, node.test)
        for name in ("body", "orelse", "finalbody"):
            if isinstance(getattr(node, name, None), list):
                setattr(node, name, _instrumented(getattr(node, name)))
        for clause in [*getattr(node, "handlers", []), *getattr(node, "cases", [])]:
            clause.body = _instrumented(clause.body)
        if isinstance(node, ast.For):
            node.body.insert(0, ast.Expr(_hook("after", node.lineno)))  # the loop variable is set
        if isinstance(node, ast.If | ast.While | ast.For | ast.Try | ast.With | ast.Match):
            out.append(node)
        else:
            out += [ast.Expr(_hook("start", node.lineno)), node, ast.Expr(_hook("after", node.lineno))]
    return out


def instrumented(code: str, entry: str) -> str:
    """The program with its entry function's statements reporting to a recorder, and a wrapper
    that calls it and returns what the recorder saw (as JSON data)."""
    tree = ast.parse(code)
    function = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry][-1]
    function.body = _instrumented(function.body)
    wrapper = (
        f"def {WRAPPER}(**kwargs):\n    returned = {entry}(**kwargs)\n"
        "    return {'returned': repr(returned), 'starts': {str(k): v for k, v in __q.starts.items()},\n"
        "            'conditions': {str(k): v for k, v in __q.conditions.items()}, 'afters': __q.afters}\n"
    )
    return f"{RECORDER}\n{ast.unparse(ast.fix_missing_locations(tree))}\n\n\n{wrapper}"


@dataclass(frozen=True)
class Observed:
    """What the re-executed outermost call did."""

    returned: str
    starts: Counter[int]
    conditions: dict[int, list[bool]]
    afters: list[tuple[int, dict[str, str]]]


def reexecute(sandbox: Sandbox, code: str, entry: str, input_json: str) -> Observed:
    """Run the instrumented program in the sandbox, under the hash seed the trace ran with."""
    result = sandbox.run(instrumented(code, entry), WRAPPER, input_json, hash_seed=sandbox.hash_seeds[-1])
    assert result.status == Status.OK, result.error
    seen = decode(result.return_json or "null")
    return Observed(
        seen["returned"],
        Counter({int(k): v for k, v in seen["starts"].items()}),
        {int(k): v for k, v in seen["conditions"].items()},
        [(line, state) for line, state in seen["afters"]],
    )


def expected_answer(question: Question, observed: Observed) -> Any:
    """The question's answer as the re-execution saw it."""
    if question.kind == QuestionKind.RETURN_VALUE:
        return literal(observed.returned)
    if question.kind == QuestionKind.LINE_COUNT:
        return len(observed.conditions.get(question.line, [])) or observed.starts[question.line]
    if question.kind == QuestionKind.BRANCH_TAKEN:
        return observed.conditions[question.line][question.occurrence - 1]
    if question.kind == QuestionKind.VALUE_AFTER_LINE:
        states = [state for line, state in observed.afters if line == question.line]
        return literal(states[question.occurrence - 1][question.variable])
    given = decode(question.given_json or "null")
    return next(
        line
        for line, state in observed.afters
        if question.variable in state
        and (value := literal(state[question.variable])) is not UNPARSED
        and values_equal(value, given)
    )
