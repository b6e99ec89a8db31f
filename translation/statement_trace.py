"""The entry function's outermost call read off a trace as executions of its statements:
what the variable-tracing questions (``questions.py``) ask about and their model-free answers
(``question_answers.py``) walk through.

The call is the depth-0 frame of ``steps_json``; recursive calls, comprehensions and
helpers run in frames of their own and never count. snoop reports line events, not
statements: a multi-line statement gives several events (``x = f(\\n a)`` gives lines 1,
2, 1; ``r = (\\n a\\n)`` starts on line 2), and it reports what a statement changed at the
frame's next event. So the code's AST decides which statement each line belongs to,
consecutive events of one statement are one execution of it, and an execution's effects
are the changes reported from its second event up to the next execution's first. Lines
holding two statements (``if x: y = 1``, ``a = 1; b = 2``) cannot be told apart in a trace
and are known only by their lines (never asked about), nor is a value snoop truncated
taken as whole.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tracepile.analysis.pyast import parse
from tracepile.analysis.values import NoForm, encode, values_equal
from tracepile.translation.trace_model import TRUNCATED, UNPARSED, trace_value
from tracepile.vocab import SCRIPT_ENTRY

BRANCHING = (ast.If, ast.While)
_NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)  # bodies run in frames of their own
_CONTAINERS = frozenset({"list", "tuple", "dict", "set", "frozenset"})


@dataclass(frozen=True)
class Statement:
    """What a line event of the outermost frame belongs to: a statement of the entry
    function, or (``node`` None) a line several statements share, never asked about."""

    line: int  # the statement's first line (for a compound statement, its header's)
    source: str  # its header's lines (all its lines when simple), as questions quote it
    node: ast.stmt | None

    def body_lines(self) -> range:
        """The lines of an if/while/for body: where the frame goes next when it is entered."""
        assert isinstance(self.node, ast.If | ast.While | ast.For)
        return range(_start(self.node.body[0]), (self.node.body[-1].end_lineno or 0) + 1)

    def tests_constant(self) -> bool:
        return isinstance(self.node, BRANCHING) and isinstance(self.node.test, ast.Constant)

    def branch_visible(self) -> bool:
        """Whether the trace shows which way the condition went: it is not a constant, and the
        body's first statement has a line event of its own when it runs."""
        return isinstance(self.node, BRANCHING) and _emits(self.node.body[0]) and not self.tests_constant()


@dataclass(eq=False)  # an execution is itself: two are never the same one
class StatementRun:
    """One execution of a statement in the outermost frame, from the trace."""

    statement: Statement
    occurrence: int  # 1-based, among the executions of its statement
    # each variable's values as snoop reported them while it ran, in order
    reported: dict[str, list[str]] = field(default_factory=dict)
    finished: bool = True  # False: an exception left the statement
    next_line: int | None = None  # the frame's next line event; None when it returned or raised

    @property
    def line(self) -> int:
        return self.statement.line

    @property
    def changes(self) -> dict[str, str]:
        return {name: shown[-1] for name, shown in self.reported.items()}

    def taken(self) -> bool | None:
        """For an if/while: whether its condition held (its body ran next); None if unknown."""
        if self.next_line is None or not self.finished or not self.statement.branch_visible():
            return None
        return self.next_line in self.statement.body_lines()


@dataclass(frozen=True)
class TracedCall:
    """The outermost call of the entry function as executions of its statements."""

    statements: list[Statement]  # every askable statement of the entry function
    initial: dict[str, str]  # the arguments as snoop showed them
    runs: list[StatementRun]
    # the program makes subclasses of builtin types (a namedtuple): snoop shows their instances
    # as the base's literal (``P(x=1, y=2)`` as ``(1, 2)``), so no container value is whole
    disguised: bool

    def runs_of(self, statement: Statement) -> list[StatementRun]:
        return [run for run in self.runs if run.statement == statement]

    def whole(self, shown: str) -> Any:
        """A reported value; ``UNPARSED`` when snoop shortened it, it is no literal, or it may
        stand for another type."""
        if TRUNCATED in shown:
            return UNPARSED
        value = trace_value(shown)
        if value is UNPARSED or (self.disguised and isinstance(value, list | tuple | dict | set | frozenset)):
            return UNPARSED
        try:
            encode(value)
        except NoForm:  # nothing a literal gives, but kept in step with what a column holds
            return UNPARSED
        return value


def _start(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _emits(node: ast.stmt) -> bool:
    return not isinstance(node, ast.Global | ast.Nonlocal) and not (
        isinstance(node, ast.AnnAssign) and node.value is None
    )


def _blocks(node: ast.stmt) -> list[list[ast.stmt]]:
    if isinstance(node, _NESTED_SCOPES):
        return []
    blocks = [getattr(node, name) for name in ("body", "orelse", "finalbody") if hasattr(node, name)]
    blocks += [handler.body for handler in getattr(node, "handlers", [])]
    blocks += [case.body for case in getattr(node, "cases", [])]
    return blocks


def _clause_lines(node: ast.stmt) -> list[int]:
    """Lines where a clause of ``node`` starts with code of its own (``except E:``, ``case p:``)."""
    lines = [handler.lineno for handler in getattr(node, "handlers", [])]
    return lines + [case.pattern.lineno for case in getattr(node, "cases", [])]


def _header_end(node: ast.stmt) -> int:
    if isinstance(node, BRANCHING):
        return node.test.end_lineno or node.lineno
    if isinstance(node, ast.For):
        return node.iter.end_lineno or node.lineno
    return node.lineno if _blocks(node) else node.end_lineno or node.lineno


def _entry_function(tree: ast.Module, entry_point: str) -> ast.FunctionDef | None:
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry_point]
    return found[-1] if found else None  # the last definition is the one a call reaches


def _statements(code: str, function: ast.FunctionDef) -> dict[int, Statement]:
    """Each line of the entry function's body to what its line events belong to: the
    innermost statement spanning it, or the line alone when two statements (or a statement
    and a clause such as ``except E:``) meet on it. A statement touching such a line is
    known only by its lines (``node`` None)."""
    lines = code.splitlines()
    present: dict[int, list[ast.AST]] = {}  # the statements with code of their own on each line
    nodes: list[ast.stmt] = []

    def visit(block: list[ast.stmt]) -> None:
        for node in block:
            nodes.append(node)
            children = [range(_start(c), (c.end_lineno or c.lineno) + 1) for b in _blocks(node) for c in b]
            for line in range(_start(node), (node.end_lineno or node.lineno) + 1):
                if line == _start(node) or not any(line in span for span in children):
                    present.setdefault(line, []).append(node)
            for line in _clause_lines(node):
                present.setdefault(line, []).append(node)
            for child in _blocks(node):
                visit(child)

    visit(function.body)
    shared = {line for line, here in present.items() if len(here) > 1}
    statements = {line: Statement(line, lines[line - 1].strip(), None) for line in shared}
    for node in nodes:
        own = [line for line, here in present.items() if node in here]
        header = range(_start(node), _header_end(node) + 1)
        source = " ".join(lines[line - 1].strip() for line in header)
        statement = Statement(node.lineno, source, None if shared.intersection(own) else node)
        statements.update((line, statement) for line in own if line not in shared)
    return statements


def _subclasses_builtins(tree: ast.Module) -> bool:
    """Whether the program makes a namedtuple or a class deriving from a builtin container:
    instances snoop shows in their base type's literal form."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in ("namedtuple", "NamedTuple"):
                return True
        if isinstance(node, ast.ClassDef) and any(
            isinstance(base, ast.Name) and base.id in _CONTAINERS for base in node.bases
        ):
            return True
    return False


def _depth0(steps: Sequence[dict[str, Any]], entry_point: str) -> list[dict[str, Any]] | None:
    """The outermost call's events, or None when the trace is not one whole call of it."""
    frame = [step for step in steps if step.get("depth") == 0]
    whole = (
        len(frame) >= 2
        and frame[0]["event"] == "call"
        and frame[-1]["event"] == "return"
        and sum(step["event"] == "call" for step in frame) == 1
        and all(step.get("function") == entry_point for step in frame)
    )
    return frame if whole else None


def traced_call(code: str, entry_point: str, steps: Sequence[dict[str, Any]]) -> TracedCall | None:
    """The outermost call mapped onto the code's statements; None for a script, or when the
    trace and the code disagree (another function's frame, lines that are not the code's)."""
    frame = _depth0(steps, entry_point)
    if entry_point == SCRIPT_ENTRY or frame is None:
        return None  # a script's result is what it prints: these questions are about calls
    try:
        tree = parse(code)
    except (SyntaxError, ValueError):
        return None
    function = _entry_function(tree, entry_point)
    if function is None or frame[0]["line"] != _start(function):
        return None
    lines = code.splitlines()
    statements = _statements(code, function)
    # consecutive line events of one statement are one execution of it
    spans: list[tuple[Statement, int, int]] = []  # (statement, first event, last event)
    for index, step in enumerate(frame):
        if step["event"] != "line":
            continue
        line = step["line"]
        if not 0 < line <= len(lines) or step.get("source", "") != lines[line - 1].strip():
            return None
        statement = statements.get(line) or Statement(line, lines[line - 1].strip(), None)
        if spans and spans[-1][0] == statement and spans[-1][2] == index - 1:
            spans[-1] = (statement, spans[-1][1], index)
        else:
            spans.append((statement, index, index))
    runs: list[StatementRun] = []
    seen: Counter[Statement] = Counter()
    for position, (statement, first, last) in enumerate(spans):
        seen[statement] += 1
        after = frame[last + 1]  # there is one: the call's return event is last
        run = StatementRun(statement, seen[statement], finished=after["event"] != "exception")
        run.next_line = after["line"] if after["event"] == "line" else None
        # what it changed is reported from its second event to the next execution's first
        until = spans[position + 1][1] if position + 1 < len(spans) else len(frame) - 1
        for step in frame[first + 1 : until + 1]:
            for name, shown in step.get("changed", {}).items():
                if name.isidentifier():  # not snoop's extras such as len(x)
                    run.reported.setdefault(name, []).append(shown)
        runs.append(run)
    askable = [s for s in dict.fromkeys(statements.values()) if s.node is not None]
    return TracedCall(askable, dict(frame[0].get("changed", {})), runs, _subclasses_builtins(tree))


@dataclass(frozen=True)
class FirstValue:
    """A value a variable takes for the first time, and the execution after which it holds it."""

    variable: str
    value: Any
    run: StatementRun
    kept: bool  # still the variable's value when the execution ends


def first_values(call: TracedCall) -> list[FirstValue]:
    """Each whole value each variable takes for the first time in the call, in order."""
    held: dict[str, list[Any]] = {name: [call.whole(shown)] for name, shown in call.initial.items()}
    firsts = []
    for run in call.runs:
        for name, shown_all in run.reported.items():
            for position, shown in enumerate(shown_all):
                value = call.whole(shown)
                earlier = held.setdefault(name, [])
                if value is UNPARSED or any(values_equal(value, old) for old in earlier):
                    continue
                earlier.append(value)
                firsts.append(FirstValue(name, value, run, position == len(shown_all) - 1))
    return firsts


def is_one_line(statement: Statement) -> bool:
    """Whether the statement is on one line, header and all: a line event of its own each run."""
    node = statement.node
    return node is not None and _start(node) == _header_end(node) == node.lineno
