"""The ``template`` backend: Chain-of-Execution text rendered from an execution's steps.

No model: the text is built from the structured steps snoop recorded (``steps_json``),
so every value it states is a value the program really held. It reads as step-by-step
reasoning: each assignment with its computation (the values the variables held just
before the line substituted, then the result), each condition with its truth value and
the branch taken (read from the line that ran next, never worked out), loops told round
by round and long ones summarised (the first steps in full, then the values each
variable runs through, then the last steps), helper calls with what they returned, and
a final answer line. Each kind of sentence has several phrasings, chosen by a hash of
the execution and the step, so the corpus is not one sentence pattern yet the same
execution always gives the same text.

Claims are inline code the verifier (``verify.py``) reads back:

- ``name = value``: a state (the convention the model backends are asked to follow);
- ``name = 3 * (4 + 1) = 15``: a computation, the substituted expression and its result;
- ``6 % 4 == 0`` is false: a condition's truth value, after the nearest "line N" before it;
- ``name: 0 → 1 → 5 → …``: the values a variable runs through, in order.

This module also holds what the renderer and the verifier both read off a trace: the
frame-aware line steps, the statement behind each line, the branch a condition took,
the substitution of values into an expression and a restricted evaluator (literals and
operators only, no names, no calls: never ``eval``).
"""

from __future__ import annotations

import ast
import json
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import xxhash

from tracepile.analysis.pyast import holding_ast_lock
from tracepile.analysis.values import values_equal
from tracepile.vocab import SCRIPT_MODES, RunMode

FINAL_ANSWER = "Final answer:"
DETAIL_STEPS = 24  # line steps written out in full before a loop is summarised
TAIL_STEPS = 6  # line steps written out in full at the end
VALUES_LISTED = 6  # values listed per variable in a summary
SUBSTITUTED_CHARS = 160  # a longer substituted expression is not written out: the result alone is
ARROW = " → "  # separates the values of a history claim `name: a → b → …`
UNPARSED = object()  # what ``literal`` returns for a repr that is not a literal


@dataclass(frozen=True)
class Execution:
    """What a renderer and the verifier need of one ``silver/executions`` row. ``code`` (the
    program) tells which lines belong to which branch; without it conditions are told with
    the line that ran next but no truth value."""

    entry_point: str
    input_json: str
    return_json: str
    steps: list[dict[str, Any]]
    run_mode: str = RunMode.CALL  # a script's result (return_json) is the text it printed
    code: str = ""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Execution:
        return cls(
            row["entry_point"],
            row["input_json"],
            row["return_json"],
            json.loads(row["steps_json"]),
            row.get("run_mode") or RunMode.CALL,
            row.get("code") or "",
        )

    @property
    def script(self) -> bool:
        return self.run_mode in SCRIPT_MODES


# --- values -------------------------------------------------------------------------------


@holding_ast_lock
def literal(text: str) -> Any:
    """A stated value as data: JSON first, then a Python literal; ``UNPARSED`` otherwise."""
    text = text.strip().rstrip(".").strip("`").strip()
    for parse in (json.loads, ast.literal_eval):
        try:
            return as_json_data(parse(text))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return UNPARSED


def as_json_data(value: Any) -> Any:
    """Tuples as lists, sets as sorted lists: the forms a return value takes in JSON. A value
    holding ``...`` is one snoop truncated: ValueError, it says nothing checkable."""
    if value is Ellipsis:
        raise ValueError("truncated value")
    if isinstance(value, tuple | list):
        return [as_json_data(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((as_json_data(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: as_json_data(v) for k, v in value.items()}
    return value


def whole(shown: str) -> ast.expr | None:
    """The literal a snoop repr spells, when it is one and snoop cut nothing from it. snoop
    shortens long strings inside their quotes (``'abc...xyz'``), so any ``...`` disqualifies."""
    if "..." in shown:
        return None
    try:
        node = ast.parse(shown.strip(), mode="eval").body
        ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return node


class Unevaluable(Exception):
    """The expression is not one the restricted evaluator takes (names, calls, too large)."""


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_, ast.BitXor: operator.xor,
}  # fmt: skip
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos, ast.USub: operator.neg, ast.Not: operator.not_, ast.Invert: operator.invert,
}  # fmt: skip
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}  # fmt: skip
_SINGLETONS = (None, True, False)
_LARGEST = 100_000  # elements of a repeated sequence, bits of a power or shift: no more


def _bounded(op: ast.operator, left: Any, right: Any) -> None:
    """Refuses the operations that could take unbounded memory or time on small literals."""
    if isinstance(op, ast.Mult):
        for seq, times in ((left, right), (right, left)):
            repeated = isinstance(seq, str | list | tuple | bytes) and isinstance(times, int)
            if repeated and len(seq) * max(times, 0) > _LARGEST:
                raise Unevaluable("repeats a sequence too often")
    integers = isinstance(left, int) and isinstance(right, int)
    if isinstance(op, ast.Pow) and integers and abs(right) * max(abs(left).bit_length(), 1) > _LARGEST:
        raise Unevaluable("power too large")
    if isinstance(op, ast.LShift) and isinstance(right, int) and right > _LARGEST:
        raise Unevaluable("shift too large")


def evaluate(node: ast.AST) -> Any:
    """The value of a closed expression of literals and operators (subscripts and ``x if c
    else y`` included). Raises ``Unevaluable`` for anything else; an operation that fails
    (``1 / 0``) raises as Python would."""
    match node:
        case ast.Expression(body=body):
            return evaluate(body)
        case ast.Constant(value=value) if value is not Ellipsis:
            return value
        case ast.List(elts=elts):
            return [evaluate(e) for e in elts]
        case ast.Tuple(elts=elts):
            return tuple(evaluate(e) for e in elts)
        case ast.Set(elts=elts):
            return {evaluate(e) for e in elts}
        case ast.Dict(keys=keys, values=values) if None not in keys:
            return {evaluate(k): evaluate(v) for k, v in zip(keys, values, strict=True) if k is not None}
        case ast.UnaryOp(op=op, operand=operand) if type(op) in _UNARY:
            return _UNARY[type(op)](evaluate(operand))
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINARY:
            a, b = evaluate(left), evaluate(right)
            _bounded(op, a, b)
            return _BINARY[type(op)](a, b)
        case ast.BoolOp(op=op, values=values):
            result = evaluate(values[0])
            for value in values[1:]:
                if bool(result) != isinstance(op, ast.And):
                    return result  # short-circuit, as Python does
                result = evaluate(value)
            return result
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            a = evaluate(left)
            for op, right in zip(ops, comparators, strict=True):
                b = evaluate(right)
                if isinstance(op, ast.Is | ast.IsNot) and a not in _SINGLETONS and b not in _SINGLETONS:
                    raise Unevaluable("identity of values that are not singletons")
                if not _COMPARE[type(op)](a, b):
                    return False
                a = b
            return True
        case ast.Subscript(value=value, slice=ast.Slice(lower=lower, upper=upper, step=step)):
            bounds = [None if n is None else evaluate(n) for n in (lower, upper, step)]
            return evaluate(value)[slice(*bounds)]
        case ast.Subscript(value=value, slice=index):
            return evaluate(value)[evaluate(index)]
        case ast.IfExp(test=test, body=body, orelse=orelse):
            return evaluate(body) if evaluate(test) else evaluate(orelse)
    raise Unevaluable(type(node).__name__)


def evaluates_to(expression: str, value: Any) -> bool | None:
    """Whether a closed expression's value equals ``value`` (JSON data); None when it cannot be
    evaluated here. An expression that raises equals nothing."""
    try:
        computed = evaluate(ast.parse(expression, mode="eval"))
        return values_equal(as_json_data(computed), value)
    except Unevaluable:
        return None
    except (ArithmeticError, LookupError, TypeError, ValueError, SyntaxError, MemoryError, RecursionError):
        return False


def truth(expression: str) -> bool | None:
    """The truth value of a closed expression; None when it cannot be evaluated here or raises."""
    try:
        return bool(evaluate(ast.parse(expression, mode="eval")))
    except (Unevaluable, ArithmeticError, LookupError, TypeError, ValueError, SyntaxError, MemoryError,
            RecursionError):  # fmt: skip
        return None


def substitute(expression: ast.expr, before: dict[str, str]) -> str | None:
    """``expression`` with the values it reads (``before``) put in, when every name's value is
    known whole: names become their values, and an element (``xs[i]``) or a call of a plain
    builtin (``len(xs)``) is replaced by what it gives, so ``xs[i] < len(xs)`` reads ``7 < 5``.
    None when something is unknown or the expression is not one the restricted evaluator
    takes, or the text would be too long to read."""
    if not all(isinstance(n, _SUBSTITUTABLE) for n in ast.walk(expression)):
        return None
    try:
        text = ast.unparse(_Values(before).visit(_copy(expression)))
    except Unevaluable:
        return None
    return text if len(text) <= SUBSTITUTED_CHARS else None


_BUILTINS: dict[str, Callable[..., Any]] = {
    "len": len, "abs": abs, "min": min, "max": max, "sum": sum, "round": round, "sorted": sorted,
}  # fmt: skip
_ELEMENT_CHARS = 40  # an element or builtin result longer than this stays written as code


class _Values(ast.NodeTransformer):
    def __init__(self, before: dict[str, str]) -> None:
        self.before = before

    def visit_Name(self, node: ast.Name) -> ast.AST:
        shown = self.before.get(node.id)
        value = whole(shown) if shown is not None else None
        if value is None:
            raise Unevaluable(node.id)
        return value

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        return self._reduced(self.generic_visit(node))

    def visit_Call(self, node: ast.Call) -> ast.AST:
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        if name not in _BUILTINS or name in self.before or node.keywords:
            raise Unevaluable("call")
        values = [evaluate(self.visit(arg)) for arg in node.args]
        return self._literal(_BUILTINS[name](*values))

    def _reduced(self, node: ast.AST) -> ast.AST:
        try:
            return self._literal(evaluate(node))
        except (ArithmeticError, LookupError, TypeError, ValueError) as error:
            raise Unevaluable("element") from error

    @staticmethod
    def _literal(value: Any) -> ast.expr:
        node = whole(repr(value))
        if node is None or len(repr(value)) > _ELEMENT_CHARS:
            raise Unevaluable("result not a short literal")
        return node


def _copy(expression: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(expression), mode="eval").body


_SUBSTITUTABLE = (
    ast.Constant, ast.Name, ast.Load, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.UnaryOp, ast.BinOp,
    ast.BoolOp, ast.Compare, ast.Subscript, ast.Slice, ast.IfExp, ast.operator, ast.unaryop,
    ast.boolop, ast.cmpop, ast.Call,
)  # fmt: skip


# --- the trace, line by line ---------------------------------------------------------------


def _in_main(step: dict[str, Any]) -> bool:
    return step.get("depth") == 1 and step.get("function") == "main"


@dataclass(frozen=True)
class LineStep:
    """One executed line of the traced unit and what executing it changed. ``before`` is the
    frame's variables just before the line; ``next_line``/``next_event`` the frame's event
    that followed (``return`` with ``returned`` when the line ended the frame);
    ``inner_calls`` the recursive calls the line made: their arguments and what they returned."""

    line: int
    source: str
    changes: dict[str, str]
    before: dict[str, str] = field(default_factory=dict)
    next_line: int | None = None
    next_event: str = ""
    returned: str | None = None
    inner_calls: tuple[tuple[dict[str, str], str], ...] = ()


@dataclass
class _Frame:
    function: str
    state: dict[str, str]
    pending: int | None = None  # index in the result of the line waiting for its effects
    inner: list[tuple[dict[str, str], str]] = field(default_factory=list)
    calling: dict[str, str] = field(default_factory=dict)  # arguments of the recursive call under way


def _variables(step: dict[str, Any]) -> dict[str, str]:
    """The variables an event reports, without snoop's extras (``len(squares)``)."""
    return {k: v for k, v in step.get("changed", {}).items() if k.isidentifier()}


def line_steps(steps: Sequence[dict[str, Any]], entry_point: str = "") -> list[LineStep]:
    """Executed lines of the traced unit with their effects, in the order they ran: the entry
    function's frame (depth 0), and for a script whose entry is ``main`` that function's
    frame too (depth 1). snoop reports a line's changes at the next event of the same frame,
    so each line takes the ``changed`` of that event."""
    result: list[LineStep | None] = []
    started: list[tuple[dict[str, Any], dict[str, str]]] = []
    frames: dict[int, _Frame] = {}

    def finish(frame: _Frame, after: dict[str, Any] | None) -> None:
        if frame.pending is None:
            return
        here, before = started[frame.pending]
        changes = _variables(after) if after else {}
        frame.state.update(changes)
        result[frame.pending] = LineStep(
            here["line"], here.get("source", "").strip(), changes, before,
            after["line"] if after else None, after["event"] if after else "",
            after.get("value") if after and after["event"] == "return" else None, tuple(frame.inner),
        )  # fmt: skip
        frame.pending, frame.inner = None, []

    for step in steps:
        depth = step.get("depth", 0)
        if not (depth == 0 or (entry_point == "main" and _in_main(step))):
            caller = frames.get(depth - 1)
            if caller and caller.pending is not None and caller.function == step.get("function"):
                if step["event"] == "call":
                    caller.calling = _variables(step)
                elif step["event"] == "return":
                    caller.inner.append((caller.calling, step.get("value", "")))
            continue
        frame = frames.get(depth)
        if step["event"] == "call" or frame is None:
            frame = frames[depth] = _Frame(step.get("function", ""), _variables(step))
            if step["event"] == "call":
                continue
        finish(frame, step)
        if step["event"] == "line":
            frame.pending = len(result)
            result.append(None)
            started.append((step, dict(frame.state)))
    for frame in frames.values():
        finish(frame, None)  # a trace cut short: the last line's effects are unknown
    return [s for s in result if s is not None]


def call_text(function: str, arguments: dict[str, str]) -> str:
    return f"{function}({', '.join(f'{name}={value}' for name, value in arguments.items())})"


def frame_calls(steps: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, str], str]]:
    """Every traced call that returned, at any depth: (function, arguments, returned repr)."""
    open_calls: dict[int, tuple[str, dict[str, str]]] = {}
    calls = []
    for step in steps:
        depth = step.get("depth", 0)
        if step["event"] == "call":
            open_calls[depth] = (step.get("function", ""), _variables(step))
        elif step["event"] == "return" and depth in open_calls:
            function, arguments = open_calls.pop(depth)
            calls.append((function, arguments, step.get("value", "")))
    return calls


def traced_lines(execution: Execution) -> list[LineStep]:
    return line_steps(execution.steps, execution.entry_point if execution.script else "")


class Program:
    """The statement behind each line of a program, from its code when it has one (which
    tells a condition's branches apart), else from the single line snoop recorded."""

    def __init__(self, code: str) -> None:
        self.lines = code.splitlines()
        self.by_line: dict[int, ast.stmt] = {}
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            return
        pending: list[ast.AST] = [tree]
        while pending:  # statements only (expressions hold none): the outermost of a line wins
            node = pending.pop()
            if isinstance(node, ast.stmt):
                self.by_line.setdefault(node.lineno, node)
            for block in _BLOCKS:
                pending += reversed(getattr(node, block, ()))

    def statement(self, step: LineStep) -> tuple[ast.stmt | None, bool]:
        """The statement and whether it came from the code (so its branches are known)."""
        node = self.by_line.get(step.line)
        if node is not None and self.lines[step.line - 1].strip() == step.source:
            return node, True
        return _single_line(step.source), False


_BLOCKS = ("cases", "handlers", "finalbody", "orelse", "body")  # where nested statements live


def _single_line(source: str) -> ast.stmt | None:
    """A statement parsed from one line; a block header (``if x:``) gets a body to parse."""
    header = source.endswith(":")
    text = "if" + source[4:] if source.startswith("elif ") else source
    try:
        body = ast.parse(text + " pass" if header else text).body
    except SyntaxError:
        return None
    return body[0] if body else None


def branch(step: LineStep, node: ast.stmt) -> bool | None:
    """For a condition (``if``/``elif``/``while``) or a ``for`` header read from the code:
    whether execution went into its body, from the line that ran next. None when the trace
    cannot say (the header raised, or the trace stops)."""
    if not isinstance(node, ast.If | ast.While | ast.For) or step.next_line is None:
        return None
    if step.next_event not in ("line", "return"):
        return None
    first, last = node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno
    return first <= step.next_line <= last


def assignment(node: ast.stmt | None) -> tuple[str, ast.expr] | None:
    """(target, expression) of a plain assignment to one name; ``x += e`` as ``x + e``."""
    match node:
        case ast.Assign(targets=[ast.Name(id=name)], value=value):
            return name, value
        case ast.AnnAssign(target=ast.Name(id=name), value=value) if value is not None:
            return name, value
        case ast.AugAssign(target=ast.Name(id=name), op=op, value=value):
            return name, ast.BinOp(ast.Name(name, ast.Load()), op, value)
    return None


def computations(execution: Execution) -> list[tuple[int, str | None, str | None, str | None]]:
    """Every assignment and return the trace shows, in order: (line, target or None for a
    return, the expression with its values substituted or None, the value it gave)."""
    program = Program(execution.code)
    found = []
    for step in traced_lines(execution):
        node, _ = program.statement(step)
        if (assigned := assignment(node)) is not None:
            name, expression = assigned
            after = step.changes.get(name, step.before.get(name))
            found.append((step.line, name, substitute(expression, step.before), after))
        elif isinstance(node, ast.Return):
            expression = node.value if node.value is not None else ast.Constant(None)
            found.append((step.line, None, substitute(expression, step.before), step.returned))
    return found


def condition_outcomes(execution: Execution) -> list[tuple[LineStep, ast.expr, bool]]:
    """Every condition the trace shows evaluated, in order: the step, its test and its truth."""
    program = Program(execution.code)
    outcomes = []
    for step in traced_lines(execution):
        node, from_code = program.statement(step)
        if from_code and isinstance(node, ast.If | ast.While):
            taken = branch(step, node)
            if taken is not None:
                outcomes.append((step, node.test, taken))
    return outcomes


# --- phrasing --------------------------------------------------------------------------------

# Several phrasings per kind of sentence. Each keeps its claims (inline code) and, for a
# condition, the words "line {line}" before "{test} is true/false", which the verifier reads.
PHRASES: dict[str, tuple[str, ...]] = {
    "open_call": (
        "We call {call} and follow the code line by line.",
        "Let us trace {call} one step at a time.",
        "To find what {call} returns, we walk through the code as it runs.",
        "Running {call}, we keep track of every variable as the lines execute.",
        "We evaluate {call} by hand, statement by statement.",
        "The task is to predict {call}, so we execute its body in order.",
        "Here {call} is invoked, and we follow its statements as they run.",
        "Consider the call {call}; we go through it line by line, noting each value.",
    ),
    "open_script": (
        "We run the program {given} and follow the code line by line.",
        "Let us run the program {given}, tracking the variables as each line executes.",
        "The program runs {given}; we trace it one statement at a time.",
        "We execute the script {given} by hand, line after line.",
    ),
    "arguments": (
        "The parameters start as {states}.",
        "At the start, {states}.",
        "The arguments arrive as {states}.",
        "So on entry {states}.",
        "Its inputs are {states}.",
        "The function receives {states}.",
        "We begin with {states}.",
        "Inside the function, {states} to begin with.",
    ),
    "calc": (
        "Line {line} computes {source}: {calc}.",
        "On line {line} we substitute the current values: {calc}.",
        "Line {line}: plugging in the values gives {calc}.",
        "Next, line {line} evaluates {source} as {calc}.",
        "With the values we have, line {line} works out {calc}.",
        "Line {line} updates the variable, {calc}.",
        "Line {line} recalculates {name} from {source}, which gives {calc}.",
        "Working out line {line} with the current numbers: {calc}.",
        "The arithmetic of line {line} is {calc}.",
    ),
    "const": (
        "Line {line} sets {state}.",
        "Line {line} initialises {state}.",
        "On line {line}, {state}.",
        "Line {line} stores {state}.",
        "We assign {state} on line {line}.",
        "To start, line {line} gives {state}.",
        "Line {line} puts a fixed value in place: {state}.",
        "A fresh value comes from line {line}: {state}.",
    ),
    "copy": (
        "Line {line} copies the value over: {state}.",
        "Line {line} takes {source} as it is, so {state}.",
        "On line {line}, {name} receives {source}: {state}.",
        "Line {line} assigns {source} to {name}, giving {state}.",
    ),
    "same": (
        "Line {line} recomputes {name} from {source}, and it stays {state}.",
        "On line {line}, {source} leaves the value as it was: {state}.",
        "Line {line} assigns {name} again; the value does not move from {state}.",
        "After line {line}, {name} is unchanged at {state}.",
        "Line {line} converts {name} with {source}; it remains {state}.",
        "The assignment on line {line} gives back the same value, {state}.",
        "Line {line} rebinds {name} to {source}, still {state}.",
    ),
    "helper": (
        "Line {line} calls {source}, which returns what becomes {state}.",
        "The call {source} on line {line} comes back with {state}.",
        "Line {line} hands the work to {source}; its result gives {state}.",
        "Calling {source} (line {line}) produces {state}.",
        "On line {line}, {source} returns, and we get {state}.",
        "Line {line} needs {source}; that call returns, and {state}.",
        "We let {source} do its job on line {line} and store the outcome: {state}.",
        "The result of {source}, computed on line {line}, is kept as {state}.",
        "On line {line} the program asks {source} for a value and receives {state}.",
        "Line {line} relies on {source}, so afterwards {state}.",
    ),
    "value": (
        "Line {line} evaluates {source}, giving {state}.",
        "From {source}, line {line} gets {state}.",
        "Line {line} computes {source}; now {state}.",
        "Evaluating {source} on line {line} yields {state}.",
        "On line {line}, {source} works out to {state}.",
        "Line {line} builds {state} from {source}.",
        "The expression {source} on line {line} produces {state}.",
    ),
    "several": (
        "Line {line} assigns several names at once: {states}.",
        "After line {line}, {states}.",
        "Line {line} leaves us with {states}.",
        "Once line {line} runs, {states}.",
    ),
    "if_true": (
        "On line {line}, {test} is true, so the block under it runs.",
        "Line {line} checks whether {test} is true, and it is, so we enter that branch.",
        "At line {line} the condition {test} is true, and execution continues inside at line {next}.",
        "Line {line}: since {test} is true, the body of this if is taken.",
        "The test on line {line}, {test} is true, so line {next} runs next.",
        "Checking line {line}: {test} is true, so control enters the block.",
        "Here at line {line}, {test} is true, which sends us to line {next}.",
    ),
    "if_false": (
        "On line {line}, {test} is false, so the block is skipped and we go to line {next}.",
        "At line {line}, {test} is false; that branch is not taken.",
        "Line {line}: because {test} is false, execution jumps to line {next}.",
        "The condition on line {line}, {test} is false, so its body does not run.",
        "Line {line} finds {test} is false and moves on to line {next}.",
        "Checking line {line}: {test} is false, so control passes to line {next}.",
        "Since on line {line} {test} is false, we skip this branch.",
        "Here at line {line}, {test} is false; the if body is bypassed.",
    ),
    "while_true": (
        "Line {line} checks the loop condition: {test} is true, so the loop body runs again.",
        "At line {line}, {test} is true, so we go around the while loop once more.",
        "The while test on line {line}, {test} is true; the loop continues.",
        "On line {line}, {test} is true, and the loop carries on at line {next}.",
    ),
    "while_false": (
        "Line {line} checks the loop condition: {test} is false, so the loop ends.",
        "At line {line}, {test} is false, so we leave the while loop and continue at line {next}.",
        "The while test on line {line}, {test} is false; the loop is over.",
        "On line {line}, {test} is false, and execution moves past the loop to line {next}.",
    ),
    "test_unknown": (
        "Line {line} tests {source}; execution goes on at line {next}.",
        "Line {line} checks {source}, and the next line to run is line {next}.",
        "After the check {source} on line {line}, execution continues at line {next}.",
    ),
    "for_round": (
        "Round {round} of the loop on line {line}: {states}.",
        "The loop on line {line} moves to its next item, {states} (pass {round}).",
        "Line {line} starts iteration {round} with {states}.",
        "Iteration {round}: the for loop on line {line} gives {states}.",
        "Pass {round} through the loop at line {line} begins with {states}.",
        "Next the loop at line {line} hands us {states}; this is round {round}.",
        "For round {round}, line {line} binds {states}.",
        "We are now in pass {round} of the line {line} loop, with {states}.",
    ),
    "for_done": (
        "The loop on line {line} has no items left after {rounds} round(s), so line {next} comes next.",
        "Line {line} finds nothing more to iterate over; the loop is done and line {next} follows.",
        "After {rounds} round(s) the for loop on line {line} is finished.",
        "The loop at line {line} is exhausted, so we move on to line {next}.",
    ),
    "for_unknown": (
        "Line {line} runs the loop header {source}.",
        "The loop header {source} on line {line} runs.",
    ),
    "call_changes": (
        "Line {line} runs {source}, after which {states}.",
        "After {source} on line {line}, {states}.",
        "Line {line} calls {source}; now {states}.",
        "Executing {source} (line {line}) changes the state: {states}.",
        "Once line {line} has run {source}, {states}.",
        "Line {line} modifies the data through {source}, so {states}.",
        "The effect of {source} on line {line}: {states}.",
    ),
    "call_plain": (
        "Line {line} runs {source}.",
        "Next comes {source} on line {line}.",
        "Line {line} executes {source}.",
        "Then line {line} evaluates {source}.",
    ),
    "return_calc": (
        "Line {line} returns {source}, that is {calc}.",
        "Finally line {line} gives back {source}: {calc}.",
        "The return on line {line} computes {calc}.",
        "Line {line} hands back {calc}.",
    ),
    "return_plain": (
        "Line {line} returns {source}.",
        "The function reaches line {line} and returns {source}.",
        "Line {line} ends the call with {source}.",
        "Execution reaches the return on line {line}: {source}.",
        "With that, line {line} returns {source} to the caller.",
        "Nothing is left but line {line}, which returns {source}.",
        "The last step is line {line}: return {source}.",
        "Line {line} passes {source} back as the result.",
    ),
    "define": (
        "Line {line} defines {name}.",
        "On line {line} the definition of {name} is made.",
        "Line {line} sets up {name} for later use.",
    ),
    "import": (
        "Line {line} imports {names}.",
        "On line {line}, {names} is imported.",
        "Line {line} brings in {names}.",
    ),
    "break": (
        "Line {line} breaks out of the loop.",
        "The break on line {line} leaves the loop.",
        "Line {line} stops the loop early with a break.",
    ),
    "continue": (
        "Line {line} skips straight to the next round of the loop.",
        "The continue on line {line} jumps back to the loop header.",
    ),
    "other": (
        "Line {line} runs {source}.",
        "Next, line {line}: {source}.",
        "Line {line} executes {source}.",
    ),
    "other_changes": (
        "Line {line} runs {source}, and then {states}.",
        "After line {line} ({source}), {states}.",
    ),
    "recursion": (
        "The recursive call inside it gives {calls}.",
        "Here the function calls itself: {calls}.",
        "Its recursive call comes back with {calls}.",
    ),
    "summary": (
        "The same lines ({lines}) keep repeating for {count} more steps.",
        "From here lines {lines} keep repeating, {count} steps in all.",
        "Lines {lines} keep repeating for another {count} steps.",
        "For the next {count} steps, lines {lines} keep repeating.",
    ),
    "summary_rounds": (
        "That is {rounds} more round(s) of the loop.",
        "The loop makes {rounds} more pass(es) in that stretch.",
        "In that stretch the loop runs {rounds} more time(s).",
    ),
    "history": (
        "Along the way {name} takes the values {history}, ending at {state}.",
        "Meanwhile {name} runs through {history}, ending at {state}.",
        "{name} moves through {history}, ending at {state}.",
        "The values of {name} go {history}, ending at {state}.",
        "Over these steps {name} passes through {history}, ending at {state}.",
        "Step by step, {name} becomes {history}, ending at {state}.",
    ),
    "close_call": (
        "The function returns {answer}.",
        "So the call returns {answer}.",
        "The result of the call is {answer}.",
        "The function therefore gives back {answer}.",
        "That value, {answer}, is what the call produces.",
        "Putting it together, the output is {answer}.",
        "We end up with {answer} as the return value.",
    ),
    "close_script": (
        "The program prints {printed}.",
        "So the output of the program is {printed}.",
        "In the end the program has printed {printed}.",
    ),
}


class _Phrasing:
    """Picks a phrasing per sentence: xxhash of the execution and the sentence's place, so
    the choice is spread across the corpus yet fixed for a given execution."""

    def __init__(self, execution: Execution) -> None:
        self.seed = f"{execution.entry_point}\0{execution.input_json}\0{execution.code}"

    def say(self, kind: str, place: int, **fields: Any) -> str:
        options = PHRASES[kind]
        choice = xxhash.xxh64_intdigest(f"{self.seed}\0{kind}\0{place}".encode()) % len(options)
        text = options[choice].format(**fields)
        return text[0].upper() + text[1:]


def _code(text: str) -> str:
    return f"`{text}`"


def _states(changes: dict[str, str]) -> str:
    return ", ".join(f"`{name} = {value}`" for name, value in changes.items())


# --- rendering -------------------------------------------------------------------------------


class _Narrator:
    """Turns line steps into sentences, one per step, keeping the loop rounds counted."""

    def __init__(self, execution: Execution) -> None:
        self.program = Program(execution.code)
        self.function = execution.entry_point
        self.phrasing = _Phrasing(execution)
        self.rounds: dict[int, int] = {}  # for-loop header line -> rounds started so far

    def describe(self, place: int, step: LineStep) -> str:
        node, from_code = self.program.statement(step)
        sentence = self._sentence(place, step, node, from_code)
        if step.inner_calls:
            calls = ", ".join(
                f"`{call_text(self.function, args)} = {value}`" for args, value in step.inner_calls
            )
            sentence += " " + self.phrasing.say("recursion", place, calls=calls)
        return sentence

    def _sentence(self, place: int, step: LineStep, node: ast.stmt | None, from_code: bool) -> str:
        say, line = self.phrasing.say, step.line
        source = _code(step.source)
        nxt = step.next_line if step.next_line is not None else line
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
        state = f"`{name} = {after}`"
        fields = {"line": line, "name": _code(name), "source": _code(ast.unparse(expression)), "state": state}
        substituted = substitute(expression, step.before)
        result = whole(after)
        if substituted == after and not any(isinstance(n, ast.Name) for n in ast.walk(expression)):
            sentence = say("const", place, **fields)
        elif isinstance(expression, ast.Name) and expression.id != name:
            sentence = say("copy", place, **fields)
        elif (
            substituted is not None
            and result is not None
            and evaluates_to(substituted, as_json_data(ast.literal_eval(result)))
        ):
            calc = f"`{name} = {substituted} = {after}`"
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
        # a lone name substituted reads as "`True` is true": the name says more
        if substituted is not None and not isinstance(node.test, ast.Name) and truth(substituted) == taken:
            shown = substituted
        kind = ("while_" if isinstance(node, ast.While) else "if_") + ("true" if taken else "false")
        return say(kind, place, line=line, test=_code(shown), next=nxt)

    def _loop(self, place: int, step: LineStep, node: ast.For, from_code: bool) -> str:
        say, line = self.phrasing.say, step.line
        taken = branch(step, node) if from_code else None
        if taken is None and step.changes:
            taken = True  # the header assigned its target: a new round began
        if taken:
            self.rounds[line] = self.rounds.get(line, 0) + 1
            states = _states(step.changes) or f"{_code(ast.unparse(node.target))} as before"
            return say("for_round", place, line=line, round=self.rounds[line], states=states)
        if taken is None:
            return say("for_unknown", place, line=line, source=_code(step.source))
        rounds = self.rounds.pop(line, 0)
        nxt = step.next_line if step.next_line is not None else line
        return say("for_done", place, line=line, rounds=rounds, next=nxt)

    def _return(self, place: int, step: LineStep, node: ast.Return) -> str:
        say, line = self.phrasing.say, step.line
        expression = node.value if node.value is not None else ast.Constant(None)
        source = _code(ast.unparse(expression))
        substituted = substitute(expression, step.before)
        if step.returned is not None and substituted is not None and substituted != step.returned:
            result = whole(step.returned)
            if result is not None and evaluates_to(substituted, as_json_data(ast.literal_eval(result))):
                return say(
                    "return_calc", place, line=line, source=source, calc=f"`{substituted} = {step.returned}`"
                )
        return say("return_plain", place, line=line, source=source)

    def summary(self, place: int, middle: Sequence[LineStep]) -> list[str]:
        """The skipped steps in a few sentences: which lines repeat, how many loop rounds
        that is, the values each variable runs through, and where each ends."""
        lines = ", ".join(map(str, sorted({s.line for s in middle})))
        text = [self.phrasing.say("summary", place, lines=lines, count=len(middle))]
        rounds = 0
        for step in middle:
            node, from_code = self.program.statement(step)
            if isinstance(node, ast.For | ast.While) and from_code and branch(step, node):
                rounds += 1
                if isinstance(node, ast.For):
                    self.rounds[step.line] = self.rounds.get(step.line, 0) + 1
        if rounds:
            text[0] += " " + self.phrasing.say("summary_rounds", place, rounds=rounds)
        history: dict[str, list[str]] = {}
        for step in middle:
            for name, value in step.changes.items():
                history.setdefault(name, []).append(value)
        for offset, (name, values) in enumerate(history.items(), 1):
            shown = ARROW.join(values[:VALUES_LISTED]) + (ARROW + "…" if len(values) > VALUES_LISTED else "")
            text.append(
                self.phrasing.say(
                    "history", place + offset, name=_code(name), history=f"`{name}: {shown}`",
                    state=f"`{name} = {values[-1]}`",
                )
            )  # fmt: skip
        return text


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
    arguments = json.loads(execution.input_json)
    shown = ", ".join(f"{name}={json.dumps(value)}" for name, value in arguments.items())
    return f"`{execution.entry_point}({shown})`"


def _opening(execution: Execution, phrasing: _Phrasing) -> list[str]:
    if not execution.script:
        text = [phrasing.say("open_call", -1, call=_call(execution))]
        first = next((s for s in execution.steps if s.get("event") == "call"), None)
        if first and (arguments := _variables(first)):
            text.append(phrasing.say("arguments", -1, states=_states(arguments)))
        return text
    stdin = json.loads(execution.input_json).get("stdin", "")
    given = f"with standard input {json.dumps(stdin)}" if stdin else "with no input"
    return [phrasing.say("open_script", -1, given=given)]


def script_answer(printed: str) -> str:
    """How a script's printed output is stated as a final answer: the line itself when it is
    one line, else the whole text as a JSON string."""
    text = printed.strip()
    return text if text and "\n" not in text else json.dumps(printed)


def _closing(execution: Execution, phrasing: _Phrasing) -> list[str]:
    if not execution.script:
        answer = json.dumps(json.loads(execution.return_json))
        return [phrasing.say("close_call", -2, answer=answer), f"{FINAL_ANSWER} {answer}"]
    printed = json.loads(execution.return_json)
    return [
        phrasing.say("close_script", -2, printed=json.dumps(printed)),
        f"{FINAL_ANSWER} {script_answer(printed)}",
    ]


@holding_ast_lock
def render_coe(execution: Execution) -> str:
    """Step-by-step reasoning for one execution, ending with ``Final answer: <JSON>`` (for a
    script, ``Final answer: <printed output>``)."""
    steps = traced_lines(execution)
    narrator = _Narrator(execution)
    text = _opening(execution, narrator.phrasing)
    if len(steps) > DETAIL_STEPS + TAIL_STEPS:
        head, middle = steps[:DETAIL_STEPS], steps[DETAIL_STEPS:-TAIL_STEPS]
        text += [narrator.describe(i, s) for i, s in enumerate(head)]
        text += narrator.summary(DETAIL_STEPS, middle)
        tail_start = len(steps) - TAIL_STEPS
        text += [narrator.describe(tail_start + i, s) for i, s in enumerate(steps[tail_start:])]
    else:
        text += [narrator.describe(i, s) for i, s in enumerate(steps)]
    text += _closing(execution, narrator.phrasing)
    return "\n".join(text)
