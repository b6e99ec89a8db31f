"""Variable-tracing questions about one execution, answered and checked from its real trace.

A question asks about one moment of the entry function's outermost call (the depth-0 frame
of ``steps_json``): a variable's value right after a statement, how often a statement
runs, which way a condition goes, what the call returns, or after which line a variable
first holds a value. Recursive calls, comprehensions and helpers run in frames of their
own and never count.

snoop reports line events, not statements: a multi-line statement gives several events
(``x = f(\\n a)`` gives lines 1, 2, 1; ``r = (\\n a\\n)`` starts on line 2), and it reports
what a statement changed at the frame's next event. So the code's AST decides which
statement each line belongs to, consecutive events of one statement are one execution
of it, and an execution's effects are the changes reported from its second event up to
the next execution's first. Lines holding two statements (``if x: y = 1``, ``a = 1; b = 2``)
cannot be told apart in a trace and are never asked about, nor is a value snoop truncated.

Every answer is read off the trace; nothing is evaluated. Answers are Python values, held
as typed JSON (``answer_json``, ``given_json``: ``tracepile/analysis/values.py``) and
written in texts as Python literals. ``render_answer`` writes a model-free
Chain-of-Execution up to the moment asked, and ``verify_answer`` checks any text the way
``verify.py`` checks a CoE: the final answer, and every ``name = value`` it states.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import xxhash

from tracepile.analysis.hashing import content_id
from tracepile.analysis.pyast import holding_ast_lock, parse
from tracepile.analysis.values import NoForm, decode, encode, to_literal, values_equal
from tracepile.translation.template import DETAIL_STEPS, FINAL_ANSWER, TAIL_STEPS, VALUES_LISTED
from tracepile.translation.trace_model import (
    TRUNCATED,
    UNPARSED,
    Execution,
    as_text,
    keyword_arguments,
    lines_in_every_round,
    rounds_in,
    trace_value,
)
from tracepile.translation.verify import verify
from tracepile.vocab import SCRIPT_ENTRY, QuestionKind


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
_BRANCHING = (ast.If, ast.While)
_NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)  # bodies run in frames of their own
_CONTAINERS = frozenset({"list", "tuple", "dict", "set", "frozenset"})


@dataclass(frozen=True)
class _Statement:
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
        return isinstance(self.node, _BRANCHING) and isinstance(self.node.test, ast.Constant)

    def branch_visible(self) -> bool:
        """Whether the trace shows which way the condition went: it is not a constant, and the
        body's first statement has a line event of its own when it runs."""
        return isinstance(self.node, _BRANCHING) and _emits(self.node.body[0]) and not self.tests_constant()


@dataclass(eq=False)  # an execution is itself: two are never the same one
class _Run:
    """One execution of a statement in the outermost frame, from the trace."""

    statement: _Statement
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
class _Call:
    """The outermost call of the entry function as executions of its statements."""

    statements: list[_Statement]  # every askable statement of the entry function
    initial: dict[str, str]  # the arguments as snoop showed them
    runs: list[_Run]
    # the program makes subclasses of builtin types (a namedtuple): snoop shows their instances
    # as the base's literal (``P(x=1, y=2)`` as ``(1, 2)``), so no container value is whole
    disguised: bool

    def runs_of(self, statement: _Statement) -> list[_Run]:
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
    if isinstance(node, _BRANCHING):
        return node.test.end_lineno or node.lineno
    if isinstance(node, ast.For):
        return node.iter.end_lineno or node.lineno
    return node.lineno if _blocks(node) else node.end_lineno or node.lineno


def _entry_function(tree: ast.Module, entry_point: str) -> ast.FunctionDef | None:
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry_point]
    return found[-1] if found else None  # the last definition is the one a call reaches


def _statements(code: str, function: ast.FunctionDef) -> dict[int, _Statement]:
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
    statements = {line: _Statement(line, lines[line - 1].strip(), None) for line in shared}
    for node in nodes:
        own = [line for line, here in present.items() if node in here]
        header = range(_start(node), _header_end(node) + 1)
        source = " ".join(lines[line - 1].strip() for line in header)
        statement = _Statement(node.lineno, source, None if shared.intersection(own) else node)
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


def _traced_call(code: str, entry_point: str, steps: Sequence[dict[str, Any]]) -> _Call | None:
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
    spans: list[tuple[_Statement, int, int]] = []  # (statement, first event, last event)
    for index, step in enumerate(frame):
        if step["event"] != "line":
            continue
        line = step["line"]
        if not 0 < line <= len(lines) or step.get("source", "") != lines[line - 1].strip():
            return None
        statement = statements.get(line) or _Statement(line, lines[line - 1].strip(), None)
        if spans and spans[-1][0] == statement and spans[-1][2] == index - 1:
            spans[-1] = (statement, spans[-1][1], index)
        else:
            spans.append((statement, index, index))
    runs: list[_Run] = []
    seen: Counter[_Statement] = Counter()
    for position, (statement, first, last) in enumerate(spans):
        seen[statement] += 1
        after = frame[last + 1]  # there is one: the call's return event is last
        run = _Run(statement, seen[statement], finished=after["event"] != "exception")
        run.next_line = after["line"] if after["event"] == "line" else None
        # what it changed is reported from its second event to the next execution's first
        until = spans[position + 1][1] if position + 1 < len(spans) else len(frame) - 1
        for step in frame[first + 1 : until + 1]:
            for name, shown in step.get("changed", {}).items():
                if name.isidentifier():  # not snoop's extras such as len(x)
                    run.reported.setdefault(name, []).append(shown)
        runs.append(run)
    askable = [s for s in dict.fromkeys(statements.values()) if s.node is not None]
    return _Call(askable, dict(frame[0].get("changed", {})), runs, _subclasses_builtins(tree))


@dataclass(frozen=True)
class _FirstValue:
    """A value a variable takes for the first time, and the execution after which it holds it."""

    variable: str
    value: Any
    run: _Run
    kept: bool  # still the variable's value when the execution ends


def _first_values(call: _Call) -> list[_FirstValue]:
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
                firsts.append(_FirstValue(name, value, run, position == len(shown_all) - 1))
    return firsts


def _first_value_askable(first: _FirstValue) -> bool:
    """Whether "after which line" has a clean answer: the value appeared when an assignment,
    a loop header or a condition finished, and stayed."""
    node = first.run.statement.node
    return first.kept and first.run.finished and isinstance(node, (*_ASSIGNING, *_BRANCHING, ast.For))


def _counted(statement: _Statement) -> bool:
    """Whether the trace counts the statement's executions: one line event each."""
    node = statement.node
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return False  # a bare constant (a docstring) may compile to nothing
    return isinstance(node, _SIMPLE) or (isinstance(node, _BRANCHING) and not statement.tests_constant())


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _times(n: int) -> str:
    return f"{n} time" if n == 1 else f"{n} times"


def _keyword(statement: _Statement) -> str:
    if isinstance(statement.node, ast.While):
        return "while"
    return "elif" if statement.source.startswith("elif") else "if"


def _call_text(entry_point: str, input_json: str) -> str:
    return f"{entry_point}({keyword_arguments(input_json)})"


@dataclass(frozen=True)
class _Ask:
    """A candidate question before it is worded."""

    kind: QuestionKind
    answer: Any
    statement: _Statement | None = None  # the statement asked about (not for return_value, first_line)
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


def _asks(call: _Call, return_json: str) -> Iterator[_Ask]:
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
    for first in _first_values(call):
        if _first_value_askable(first):
            given = encode(first.value)
            yield _Ask(QuestionKind.FIRST_LINE_WITH_VALUE, first.run.line, None, first.variable, None, given)


def _wording(ask: _Ask, entry_point: str, input_json: str) -> str:
    if ask.kind == QuestionKind.RETURN_VALUE:
        return f"What does the call `{_call_text(entry_point, input_json)}` return?"
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
            f"executing for the {_ordinal(ask.occurrence or 0)} time?"
        )
    if ask.kind == QuestionKind.BRANCH_TAKEN:
        return (
            f"The {_ordinal(ask.occurrence or 0)} time the condition of the `{_keyword(ask.statement)}` at "
            f"{quoted} is evaluated, is it true? Answer True or False."
        )
    if isinstance(ask.statement.node, _BRANCHING):
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
    call = _traced_call(code, entry_point, steps)
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


def _narrate(run: _Run, counted: int | None) -> str:
    """One execution as a sentence: what the condition did or what changed."""
    said = []
    if not run.finished:
        said.append("it raises an exception")
    if (taken := run.taken()) is not None:
        said.append(f"the condition is {'true' if taken else 'false'}")
    elif isinstance(run.statement.node, ast.For) and run.next_line not in run.statement.body_lines():
        said.append("the loop is over")
    if run.changes:
        said.append("now " + ", ".join(f"`{name} = {as_text(shown)}`" for name, shown in run.changes.items()))
    if counted == run.line and run.statement.node is not None:
        said.append(f"that is its {_ordinal(run.occurrence)} run")
    return f"Line {run.line}, `{run.statement.source}`: {'; '.join(said) or 'nothing changes'}."


def _walk(runs: list[_Run], counted: int | None) -> list[str]:
    """The executions in order; a long stretch in the middle summarised: the lines that run in
    every round of its loop, how often the counted line runs in it, and the values each
    variable runs through."""
    if len(runs) <= DETAIL_STEPS + TAIL_STEPS:
        return [_narrate(run, counted) for run in runs]
    start, stop = DETAIL_STEPS, len(runs) - TAIL_STEPS
    middle = runs[start:stop]
    text = [_narrate(run, counted) for run in runs[:start]]
    text.append(_repetition(runs, start, stop))
    if counted is not None:
        times = sum(run.line == counted and run.statement.node is not None for run in middle)
        text.append(f"Line {counted} runs {_times(times)} among them.")
    history: dict[str, list[str]] = {}
    for run in middle:
        for name, shown in run.changes.items():
            history.setdefault(name, []).append(as_text(shown))
    for name, values in history.items():
        listed = ", ".join(values[:VALUES_LISTED]) + (", ..." if len(values) > VALUES_LISTED else "")
        text.append(f"Along the way {name} takes the values {listed}, ending at `{name} = {values[-1]}`.")
    return text + [_narrate(run, counted) for run in runs[stop:]]


def _repetition(runs: list[_Run], start: int, stop: int) -> str:
    """What runs in the stretch ``start``..``stop``. "Keep repeating" names only lines that
    run in every complete round of the outermost loop there, and only one-line statements
    (a line event of their own: what the verifier reads rounds from)."""
    lines = [run.line for run in runs]
    times = Counter(lines[start:stop])
    loops = [
        run.line
        for run in runs[start:stop]
        if isinstance(run.statement.node, ast.For | ast.While) and times[run.line] >= 3
    ]
    rounds = rounds_in(lines, min(loops), start, stop) if loops else []
    one_line = {run.line for run in runs if _one_line(run.statement)}
    every = sorted(lines_in_every_round(lines, rounds) & one_line)
    ran = sorted(times)
    if len(rounds) < 2 or len(every) < 2:
        return f"The next {stop - start} statement runs go through {_line_list(ran)}."
    sentence = f"Lines {', '.join(map(str, every))} keep repeating for {stop - start} more statement runs."
    if others := [line for line in ran if line not in every]:
        sentence += f" {_line_list(others).capitalize()} also run(s) there, but not in every round."
    return sentence


def _line_list(lines: list[int]) -> str:
    return f"line {lines[0]}" if len(lines) == 1 else "lines " + ", ".join(map(str, lines))


def _one_line(statement: _Statement) -> bool:
    node = statement.node
    return node is not None and _start(node) == _header_end(node) == node.lineno


def _up_to(call: _Call, question: Question) -> tuple[list[_Run], str]:
    """The executions to walk through for ``question`` and the sentence that concludes it."""
    value = decode(question.answer_json)
    answer = to_literal(value)
    if question.kind == QuestionKind.RETURN_VALUE:
        return call.runs, f"The function returns `{answer}`."
    if question.kind == QuestionKind.LINE_COUNT:
        return call.runs, f"In all, line {question.line} runs {_times(value)}."
    if question.kind == QuestionKind.FIRST_LINE_WITH_VALUE:
        given = decode(question.given_json or "null")
        target = next(
            first.run
            for first in _first_values(call)
            if first.variable == question.variable and values_equal(first.value, given)
        )
        closing = (
            f"After line {target.line}, `{question.variable} = {to_literal(given)}`: the first time it "
            "holds this value."
        )
    else:
        statement = next(s for s in call.statements if s.line == question.line)
        target = call.runs_of(statement)[(question.occurrence or 0) - 1]
        closing = (
            f"So right after line {target.line} runs for the {_ordinal(target.occurrence)} time, "
            f"`{question.variable} = {answer}`."
            if question.kind == QuestionKind.VALUE_AFTER_LINE
            else f"So the {_ordinal(target.occurrence)} time the condition at line {target.line} is "
            f"evaluated, it is {answer}."
        )
    return call.runs[: call.runs.index(target) + 1], closing


@holding_ast_lock
def render_answer(
    question: Question, code: str, entry_point: str, input_json: str, steps: list[dict[str, Any]]
) -> str:
    """A model-free answer: the call's executions up to the moment asked, values stated as
    ``name = value``, a concluding sentence and ``Final answer: <Python literal>``."""
    call = _traced_call(code, entry_point, steps)
    if call is None:
        raise ValueError(f"the trace is not one call of {entry_point} in this code")
    runs, closing = _up_to(call, question)
    counted = question.line if question.kind == QuestionKind.LINE_COUNT else None
    opening = f"We call `{_call_text(entry_point, input_json)}` and follow that call line by line."
    final = f"{FINAL_ANSWER} {to_literal(decode(question.answer_json))}"
    return "\n".join([opening, *_walk(runs, counted), closing, final])


@holding_ast_lock
def verify_answer(text: str, question: Question, steps: list[dict[str, Any]]) -> tuple[bool, str | None, str]:
    """(ok, reason, detail) for an answer text, as ``verify.py`` checks a CoE: the final answer
    must equal ``answer_json`` and every ``name = value`` stated a value the variable held."""
    verdict = verify(text, Execution("", "{}", question.answer_json, steps))
    return verdict.ok, verdict.reason, verdict.detail
