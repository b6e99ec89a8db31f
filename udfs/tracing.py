"""Line-level traces with snoop: the readable text of the published method, plus structured steps.

A ``Recorder`` is snoop's output and, through a formatter subclass, sees every event
snoop formats: it keeps the text (memory addresses removed) and one step per event
(event, function, line number, source line, the variables that changed and their
values, call depth). It enforces the trace budget as the trace grows: the moment the
text passes ``max_lines`` or ``max_bytes`` it calls ``on_exceeded``, which in the
sandbox reports ``too_long`` and ends the run there, so no over-long trace is ever
finished and thrown away, or cut and passed off as complete.
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Callable
from typing import Any

import snoop
from snoop.formatting import DefaultFormatter

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
            "changed": {name: _ADDRESS.sub("", value) for name, value in event.variables},
        }
        if event.event in ("call", "line"):
            step["source"] = event.source_line.strip()
        if event.event == "return":
            step["value"] = _ADDRESS.sub("", repr(event.arg))[:1000]
        self.steps.append(step)


def _formatter_for(recorder: Recorder) -> type[DefaultFormatter]:
    class StepFormatter(DefaultFormatter):
        def format(self, event: Any) -> str:
            recorder.step(event)
            return super().format(event)

    return StepFormatter


def snooped(
    function: Callable[..., Any], code: str, recorder: Recorder, depth: int = 1
) -> Callable[..., Any]:
    """``function`` traced by snoop into ``recorder``; its source is registered so snoop shows it."""
    linecache.cache[PROGRAM_FILENAME] = (len(code), None, code.splitlines(True), PROGRAM_FILENAME)
    config = snoop.Config(out=recorder, columns="", color=False, formatter_class=_formatter_for(recorder))
    return config.snoop(depth=depth)(function)
