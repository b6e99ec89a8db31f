"""Line-level traces with snoop: the readable text of the published method, plus structured steps.

A ``Recorder`` is snoop's output and, through a formatter subclass, sees every event
snoop formats: it keeps the text (memory addresses removed) and one step per event
(event, function, line number, source line, the variables that changed and their
values, call depth). It enforces the trace budget as the trace grows: the moment the
text passes ``max_lines`` or ``max_bytes`` it calls ``on_exceeded``, which in the
sandbox reports ``too_long`` and ends the run there, so no over-long trace is ever
finished and thrown away, or cut and passed off as complete.

At depth 1 the calls the entry function makes run untraced (``Pauser``): snoop records
nothing of those frames, and tracing them anyway is what makes call-heavy programs slow.
"""

from __future__ import annotations

import ast
import functools
import linecache
import re
import sys
import types
from collections.abc import Callable
from pprint import pformat
from types import CodeType
from typing import Any

import snoop
from snoop.formatting import DefaultFormatter, Source

PROGRAM_FILENAME = "<program>"
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class Recorder:
    def __init__(self, max_lines: int, max_bytes: int, on_exceeded: Callable[[str], None]) -> None:
        self.max_lines, self.max_bytes, self.on_exceeded = max_lines, max_bytes, on_exceeded
        self.chunks: list[str] = []
        self.steps: list[dict[str, Any]] = []
        self.lines = 0
        self.size = 0

    def write(self, text: str) -> None:
        text = _ADDRESS.sub("", text)
        self.chunks.append(text)
        self.lines += text.count("\n")
        self.size += len(text)
        if self.lines > self.max_lines:
            self.on_exceeded(f"trace passed {self.max_lines} lines")
        elif self.size > self.max_bytes:
            self.on_exceeded(f"trace passed {self.max_bytes} bytes")

    def flush(self) -> None:
        """snoop may flush its output; the text is kept in memory."""

    def text(self) -> str:
        return "".join(self.chunks)

    def step(self, event: Any) -> None:
        step: dict[str, Any] = {
            "event": event.event,
            "function": event.code.co_name,
            "line": event.line_no,
            "depth": event.depth,
            # a script's namespace shows the module's own dunders (__name__, __builtins__)
            "changed": {
                name: _ADDRESS.sub("", value) for name, value in event.variables if not _is_dunder(name)
            },
        }
        if event.event in ("call", "line"):
            step["source"] = event.source_line.strip()
        if event.event == "return":
            step["value"] = _ADDRESS.sub("", repr(event.arg))[:1000]
        self.steps.append(step)


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _formatter_for(recorder: Recorder) -> type[DefaultFormatter]:
    class StepFormatter(DefaultFormatter):
        def format(self, event: Any) -> str:
            recorder.step(event)
            return super().format(event)

    return StepFormatter


def _source_lines(code: str) -> tuple[str, ...]:
    return tuple(code.splitlines(True))


def prepare_source(code: str, keep: int) -> None:
    """Parse ``code`` the way snoop will (snoop caches it by file name and lines), keeping the
    views of at most ``keep`` programs."""
    cache = Source._class_local("__source_cache_with_lines", {})
    if len(cache) > keep:
        cache.clear()
    Source._for_filename_and_lines(PROGRAM_FILENAME, _source_lines(code))


PAUSE = "__tracepile_untraced_call__"


class _UntracedCalls(ast.NodeTransformer):
    """``f(x)`` becomes ``PAUSE(f)(x)`` in the code the entry function's frame (or one of its
    comprehensions, which snoop traces too) runs. The bodies of functions, lambdas and
    classes defined inside it run in frames of their own, untraced at depth 1, so they are
    left alone: there the switch would cost a call and change nothing."""

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        pause = ast.Call(func=ast.Name(PAUSE, ast.Load()), args=[node.func], keywords=[])
        node.func = ast.copy_location(pause, node.func)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        node.decorator_list = [self.visit(decorator) for decorator in node.decorator_list]
        node.args = self.visit(node.args)  # defaults are evaluated by the enclosing frame
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node.args = self.visit(node.args)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.decorator_list = [self.visit(decorator) for decorator in node.decorator_list]
        node.bases = [self.visit(base) for base in node.bases]
        node.keywords = [self.visit(keyword) for keyword in node.keywords]
        return node


def compile_for_tracing(code: str, entry: str) -> CodeType:
    """``code`` compiled with every call inside the top-level ``entry`` function routed
    through ``PAUSE`` (see ``Pauser``); the line numbers and columns are the source's."""
    tree = ast.parse(code, PROGRAM_FILENAME)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry:
            node.body = [_UntracedCalls().visit(statement) for statement in node.body]
    # dont_inherit: this module's own ``from __future__`` flags must not reach the program
    return compile(ast.fix_missing_locations(tree), PROGRAM_FILENAME, "exec", dont_inherit=True)


# Builtins that look at the frame that calls them: called through ``Pauser`` they would see
# its frame instead of the program's.
_FRAME_SENSITIVE = frozenset(
    id(function) for function in (super, locals, vars, globals, dir, eval, exec, sys._getframe)
)


class Pauser:
    """Tracing off for the calls the entry function makes, back on when they return.

    While ``sys.settrace`` is active, CPython 3.11 runs every frame in its slow tracing
    mode, which makes call-heavy programs 2-5x slower, yet at depth 1 snoop records nothing
    of the frames the entry function calls. A call that reaches the entry function again
    (recursion, through its global name) turns tracing back on for that call, so snoop
    sees exactly the frames it would have traced anyway.
    """

    def __init__(self, namespace: dict[str, Any], entry: str) -> None:
        self.function = namespace[entry]
        self.paused = False
        self.trace: Any = None
        namespace[PAUSE] = self
        # a function, not a bound method: ``functools.wraps`` sets attributes on it
        self.entry_again = namespace[entry] = functools.wraps(self.function)(
            lambda *args, **kwargs: self._entry_again(*args, **kwargs)
        )

    def __call__(self, callee: Any) -> Any:
        if self.paused or id(callee) in _FRAME_SENSITIVE:  # nothing to switch, or must not
            return callee
        if callee is self.entry_again or callee is self.function:  # direct recursion: traced
            return self.function
        return functools.partial(self._untraced, callee)

    def _untraced(self, callee: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.trace = sys.gettrace()
        sys.settrace(None)
        self.paused = True
        try:
            return callee(*args, **kwargs)
        finally:
            self.paused = False
            sys.settrace(self.trace)

    def _entry_again(self, *args: Any, **kwargs: Any) -> Any:
        if not self.paused:
            return self.function(*args, **kwargs)
        self.paused = False
        sys.settrace(self.trace)
        try:
            return self.function(*args, **kwargs)
        finally:
            sys.settrace(None)
            self.paused = True


def snooped(
    namespace: dict[str, Any],
    entry: str,
    code: str,
    recorder: Recorder,
    depth: int = 1,
    untraced_calls: bool = True,
) -> Callable[..., Any]:
    """The entry function of an executed program, traced by snoop into ``recorder``; its
    source is registered so snoop shows it. With ``untraced_calls`` at depth 1, a program
    compiled by ``compile_for_tracing`` runs the calls its entry function makes untraced."""
    function = namespace[entry]
    if depth == 1 and untraced_calls:
        Pauser(namespace, entry)
    return traced(function, code, recorder, depth)


def script_function(compiled: CodeType, namespace: dict[str, Any]) -> Callable[[], None]:
    """A script's top-level code as a function of no arguments: calling it runs the module's
    code in ``namespace`` (a module's code object has no local scope of its own, so its
    names land there, as ``exec`` would put them), and snoop can trace it like a function."""
    return types.FunctionType(compiled, namespace, "<module>")


def _body(function: Callable[..., Any]) -> types.FunctionType | None:
    """The function a decorator chain wraps (``functools.cache``, ``lru_cache``, a
    ``functools.wraps``-style wrapper), followed through ``__wrapped__``; None if it does not
    end in a plain function."""
    for _ in range(32):  # a chain that long is a loop
        wrapped = getattr(function, "__wrapped__", None)
        if wrapped is None:
            break
        function = wrapped
    return function if isinstance(function, types.FunctionType) else None


def traced(function: Callable[..., Any], code: str, recorder: Recorder, depth: int) -> Callable[..., Any]:
    """``function`` traced by snoop into ``recorder`` to ``depth`` frames; ``code`` is its
    program's source, registered so snoop shows it. A decorated function is called as it is
    (its cache or wrapper runs as in plain Python) while snoop records its body's frames."""
    linecache.cache[PROGRAM_FILENAME] = (len(code), None, list(_source_lines(code)), PROGRAM_FILENAME)
    # pformat given: snoop otherwise tries to import two optional libraries on every Config
    config = snoop.Config(
        out=recorder, columns="", color=False, formatter_class=_formatter_for(recorder), pformat=pformat
    )
    tracer = config.snoop(depth=depth)
    body = _body(function)
    if body is None or body is function:
        return tracer(function)
    wrapper = tracer(body)  # snoop now traces the body's frames, wherever they are called from
    # snoop's wrapper calls the function it was given; point it at the decorated one instead.
    # Its frame is snoop's own, so it stays out of the trace, and the body is entered through
    # the decorator as in plain Python.
    cells = dict(zip(wrapper.__code__.co_freevars, wrapper.__closure__ or (), strict=True))
    cells["function"].cell_contents = function
    return wrapper
