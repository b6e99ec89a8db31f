"""What the renderer (``template.py``) and the verifier (``verify.py``) both read off a trace.

- **Values.** snoop shows each variable's value as its ``repr``: a Python literal for the
  kinds a corpus value takes (``trace_value`` reads it, never evaluating anything). Texts
  state values as Python literals too (``as_text`` writes a repr in canonical form);
  ``literal`` reads a value a text states, and falls back to the JSON a model may write
  (``true``, ``null``) only where the text is no Python literal. Inputs and return values
  are typed JSON (``tracepile/analysis/values.py``).
- **Expressions.** The substitution of values into an expression and a restricted evaluator
  (literals and operators only, no names, no calls: never ``eval``).
- **The run.** The frame-aware line steps, the statement behind each line, the branch a
  condition took, the computations and returns a run made, the calls it traced, and the
  rounds of a loop (which lines ran in every round of a stretch).
"""

from __future__ import annotations

import ast
import bisect
import functools
import itertools
import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracepile.analysis.values import NotALiteral, decode, parse_literal, to_literal, values_equal
from tracepile.vocab import SCRIPT_MODES, RunMode

UNPARSED = object()  # what ``trace_value`` and ``literal`` return for text that is no value
TRUNCATED = "..."  # how snoop's cheap_repr marks a shortened value, inside strings too
SUBSTITUTED_CHARS = 160  # a longer substituted expression is not written out: the result alone is


@dataclass(frozen=True)
class Execution:
    """What a renderer and the verifier need of one ``silver/executions`` row. ``code`` (the
    program) tells which lines belong to which branch; without it conditions are told with
    the line that ran next but no truth value. ``input_json`` and ``return_json`` are typed
    JSON; the steps' values are snoop's reprs."""

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
            json.loads(row["steps_json"]),  # the steps' structure is plain JSON; values are reprs
            row.get("run_mode") or RunMode.CALL,
            row.get("code") or "",
        )

    @property
    def script(self) -> bool:
        return self.run_mode in SCRIPT_MODES


# --- values -------------------------------------------------------------------------------

_SPECIAL_FLOATS = {"nan": "nan", "inf": "inf"}  # names repr writes for floats that have no literal


class _SpecialFloats(ast.NodeTransformer):
    """``nan`` and ``inf`` (as ``repr`` writes them inside containers) as ``float('nan')``."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id not in _SPECIAL_FLOATS:
            raise NotALiteral(node.id)
        return ast.Call(ast.Name("float", ast.Load()), [ast.Constant(_SPECIAL_FLOATS[node.id])], [])


def trace_value(shown: str) -> Any:
    """The value of a repr snoop showed (or Python literal text); ``UNPARSED`` when it is no
    literal (an object, ``deque([...])``). A repr snoop shortened may still parse (a string
    cut inside its quotes): callers that need the whole value check ``TRUNCATED`` first."""
    try:
        return parse_literal(shown)
    except NotALiteral:
        pass
    if "nan" not in shown and "inf" not in shown:
        return UNPARSED
    try:
        tree = _SpecialFloats().visit(ast.parse(shown.strip(), mode="eval"))
        return parse_literal(ast.unparse(tree))
    except (NotALiteral, SyntaxError, ValueError, RecursionError, MemoryError):
        return UNPARSED


def literal(text: str) -> Any:
    """A value a text states (a final answer, ``name = value``): a Python literal; else JSON a
    model may write for one (``true``, ``null``, ``{"a": false}``), where the text is no
    Python literal so the reading is not in doubt; ``UNPARSED`` otherwise."""
    text = text.strip().rstrip(".").strip("`").strip()
    value = trace_value(text)
    if value is not UNPARSED:
        return value
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return UNPARSED


def as_text(shown: str) -> str:
    """A repr snoop showed, as a text states it: the canonical Python literal of its value
    (sets in order, ``float('nan')``) when it is a whole literal, else as snoop showed it."""
    if TRUNCATED in shown:
        return shown
    value = trace_value(shown)
    return shown if value is UNPARSED else to_literal(value)


def keyword_arguments(input_json: str) -> str:
    """A call's typed-JSON keyword arguments as Python source: ``n=3, pair=(1, 2)``."""
    return ", ".join(f"{name}={to_literal(value)}" for name, value in decode(input_json).items())


def whole(shown: str) -> ast.expr | None:
    """The literal a snoop repr spells, when it is one and snoop cut nothing from it. snoop
    shortens long strings inside their quotes (``'abc...xyz'``), so any ``...`` disqualifies."""
    if TRUNCATED in shown:
        return None
    try:
        node = ast.parse(shown.strip(), mode="eval").body
        ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return node


def is_literal(expression: str) -> bool:
    """Whether an expression is a bare literal (``0``, ``-3``, ``[1, 2]``): stating it "=" its
    value computes nothing (``m = 0 = 0``)."""
    try:
        parse_literal(expression)
    except NotALiteral:
        return False
    return True


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
    """Whether a closed expression's value equals ``value`` as Python compares them (a tuple is
    no list); None when it cannot be evaluated here. An expression that raises equals nothing."""
    try:
        return values_equal(evaluate(ast.parse(expression, mode="eval")), value)
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

    def visit_Call(self, node: ast.Call) -> ast.AST:
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        if name not in _BUILTINS or name in self.before or node.keywords:
            raise Unevaluable("call")
        arguments = [self.visit(arg) for arg in node.args]
        # the program's own values: max() of an empty list raises here as it would there
        return self._literal(lambda: _BUILTINS[name](*map(evaluate, arguments)))

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        reduced = self.generic_visit(node)
        return self._literal(lambda: evaluate(reduced))

    @staticmethod
    def _literal(compute: Callable[[], Any]) -> ast.expr:
        """The value ``compute`` gives as a short literal; Unevaluable when it raises (whatever
        it raises: the operands are a program's values) or gives none."""
        try:
            shown = repr(compute())  # repr raises too, for an int of more digits than it writes
        except Unevaluable:
            raise
        except Exception as error:  # any failure means: not shown as a value
            raise Unevaluable(f"{type(error).__name__} computing a value") from error
        node = whole(shown)
        if node is None or len(shown) > _ELEMENT_CHARS:
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


def frame_variables(step: dict[str, Any]) -> dict[str, str]:
    """The variables an event reports (as snoop showed them), without snoop's extras
    (``len(squares)``)."""
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
        changes = frame_variables(after) if after else {}
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
                    caller.calling = frame_variables(step)
                elif step["event"] == "return":
                    caller.inner.append((caller.calling, step.get("value", "")))
            continue
        frame = frames.get(depth)
        if step["event"] == "call" or frame is None:
            frame = frames[depth] = _Frame(step.get("function", ""), frame_variables(step))
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
            open_calls[depth] = (step.get("function", ""), frame_variables(step))
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
        self.function_of: dict[int, str] = {}  # each statement's line -> the function it is in
        self.names: set[str] = set()  # every name the code uses or binds
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return
        pending: list[tuple[ast.AST, str]] = [(tree, "<module>")]
        while pending:  # statements only (expressions hold none): the outermost of a line wins
            node, function = pending.pop()
            if isinstance(node, ast.stmt):
                self.by_line.setdefault(node.lineno, node)
                self.function_of.setdefault(node.lineno, function)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                function = node.name
            for block in _BLOCKS:
                pending += [(child, function) for child in reversed(getattr(node, block, ()))]
        for node in ast.walk(tree):
            if isinstance(node, ast.Name | ast.arg):
                self.names.add(node.id if isinstance(node, ast.Name) else node.arg)

    def statement(self, step: LineStep) -> tuple[ast.stmt | None, bool]:
        """The statement and whether it came from the code (so its branches are known)."""
        node = self.by_line.get(step.line)
        if node is not None and self.lines[step.line - 1].strip() == step.source:
            return node, True
        return _single_line(step.source), False


_BLOCKS = ("cases", "handlers", "finalbody", "orelse", "body")  # where nested statements live


@functools.lru_cache(maxsize=4096)
def _single_line(source: str) -> ast.stmt | None:
    """A statement parsed from one line; a block header (``if x:``) gets a body to parse.
    Cached: a loop's lines recur in every step and every text checked; the node is only read."""
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


# --- what the run did, for claims about it ---------------------------------------------------


def returned_lines(steps: Sequence[dict[str, Any]]) -> set[int]:
    """The lines at which a traced frame returned normally. A frame an exception leaves also
    reports a return event, at the line that raised, right after that line's exception
    event: such a line returned nothing."""
    last_event: dict[int, str] = {}  # depth -> the frame's previous event
    lines = set()
    for step in steps:
        depth = step.get("depth", 0)
        if step["event"] == "return" and last_event.get(depth) != "exception":
            lines.add(step["line"])
        last_event[depth] = step["event"]
    return lines


def traced_functions(steps: Sequence[dict[str, Any]]) -> set[str]:
    return {step.get("function", "") for step in steps if step["event"] == "call"}


def rounds_in(lines: Sequence[int], header: int, start: int, stop: int) -> list[tuple[int, int]]:
    """The complete rounds of the loop headed by line ``header`` that lie within positions
    ``start``..``stop`` of a run's executed lines: each from an execution of the header up to
    (not including) the next, as (first, end) positions."""
    at = [i for i in range(start, min(stop, len(lines))) if lines[i] == header]
    if stop < len(lines) and lines[stop] == header:
        at.append(stop)  # the round that ends where the stretch ends is whole within it
    return list(itertools.pairwise(at))


def lines_in_every_round(lines: Sequence[int], rounds: Sequence[tuple[int, int]]) -> set[int]:
    if not rounds:
        return set()
    return set.intersection(*(set(lines[first:end]) for first, end in rounds))


def keeps_repeating(lines: Sequence[int], claimed: set[int], steps: int | None) -> bool:
    """Whether "lines ``claimed`` keep repeating" (for ``steps`` line steps, when stated) holds
    somewhere in the run: a stretch of that many executed lines (any, when not stated) holds
    at least two complete rounds of the loop headed by the first claimed line (a loop's header
    comes before its body), and every complete round in it runs every claimed line."""
    if not claimed:
        return False
    at = [i for i, line in enumerate(lines) if line == min(claimed)]
    rounds = list(itertools.pairwise(at))
    good = [claimed <= set(lines[first:end]) for first, end in rounds]
    if steps is None:
        return any(a and b for a, b in itertools.pairwise(good))
    bad_before = [0]  # bad_before[k]: rounds before the k-th that miss a claimed line
    for ok in good:
        bad_before.append(bad_before[-1] + (not ok))
    firsts, ends = [r[0] for r in rounds], [r[1] for r in rounds]
    for start in range(len(lines) - steps + 1):
        i = bisect.bisect_left(firsts, start)  # the first round starting in the stretch
        j = bisect.bisect_right(ends, start + steps)  # past the last round ending in it
        if j - i >= 2 and bad_before[j] == bad_before[i]:
            return True
    return False
