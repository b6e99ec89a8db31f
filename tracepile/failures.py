"""Where one row or one process fails: the guard that turns a per-row step's exception into a
reject, and the test-only switches that make a real run fail on purpose.

**A row's failure is the row's.** Every per-row step of a stage (parsing a record, a program's
rewrites, a traced run, a generation, a question, an exported sample) runs under ``guarded``
(or ``isolating`` for a step that takes a whole batch, as a backend does): an exception there
becomes ``StepFailed`` with a short detail, which the stage writes as a reject with the reason
``internal_error`` (``vocab.INTERNAL_ERROR``), and the run goes on.

**Crash points.** ``TRACEPILE_TEST_CRASH_AT=<point>`` (set by the crash-safety tests only) makes
the run send SIGKILL to its whole process group on reaching ``<point>``: nothing unwinds, no
handler runs, no staging is removed. Points: ``<stage>:start``, ``<stage>:staged:<name>``
(mid-stage: an intermediate materialised, nothing published), ``<stage>:published:<layer>/<name>``
(after that table's commit, before the batch's next), and ``trace:running`` (inside a trace
task, after its first runs).

**Stall points.** ``TRACEPILE_TEST_STALL_AT=<point>`` (set by the Ctrl-C tests only) makes the
run sleep for a minute on reaching ``<point>``, as a cleanup that hangs would: the point
``interrupted:unwinding`` (a Ctrl-C's unwinding, before the run is recorded) shows that the
backstop and a second Ctrl-C still end the run at once.

**Fault points.** ``TRACEPILE_TEST_FAULT_AT=<stage>:<key>[,<stage>:<key>...]`` (set by the
fault-injection tests only) makes a per-row step raise ``PlantedFault`` for the row whose key
(its program_id, or an id the stage names) is listed, inside the guard, as a bug would.

Unset, a point costs one environment lookup.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import ParamSpec, TypeVar

ENV = "TRACEPILE_TEST_CRASH_AT"
FAULT_ENV = "TRACEPILE_TEST_FAULT_AT"
STALL_ENV = "TRACEPILE_TEST_STALL_AT"
STALL_SECONDS = 60.0
DETAIL_CHARS = 500  # a reject's detail: enough for the exception and where it was raised

P = ParamSpec("P")
T = TypeVar("T")
Item = TypeVar("Item")


def crash_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.killpg(os.getpgrp(), signal.SIGKILL)


def stall_point(name: str) -> None:
    if os.environ.get(STALL_ENV) == name:
        time.sleep(STALL_SECONDS)


class PlantedFault(RuntimeError):
    """What a fault point raises: an exception no step foresees, as a bug of ours would."""


def fault_point(stage: str, *keys: object) -> None:
    """Raise ``PlantedFault`` when ``TRACEPILE_TEST_FAULT_AT`` lists ``<stage>:<key>`` for one
    of ``keys`` (the row's ids; None ones are skipped)."""
    planted = os.environ.get(FAULT_ENV)
    if not planted:
        return
    listed = set(planted.split(","))
    for key in keys:
        if key is not None and f"{stage}:{key}" in listed:
            raise PlantedFault(f"planted fault at {stage}:{key}")


@dataclass(frozen=True)
class StepFailed:
    """A per-row step raised; ``detail`` says what and where, for the reject row."""

    detail: str


def failure_detail(exc: BaseException) -> str:
    """``Type: message (file.py:line in function)``, cut to ``DETAIL_CHARS``: the place is the
    last of the project's own frames (where a library raised, the line of ours that called it),
    what a person fixing it needs first."""
    frames = [
        (f, n) for f, n in traceback.walk_tb(exc.__traceback__) if f.f_globals.get("__name__") != __name__
    ]
    ours = [(f, n) for f, n in frames if str(f.f_globals.get("__name__", "")).startswith("tracepile")]
    frame, line = (ours or frames or [(None, 0)])[-1]
    where = f" ({PurePath(frame.f_code.co_filename).name}:{line} in {frame.f_code.co_name})" if frame else ""
    message = f"{type(exc).__name__}: {exc}"
    return message[: DETAIL_CHARS - len(where)] + where


def guarded(step: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | StepFailed:
    """``step(*args, **kwargs)``, or ``StepFailed`` when it raises (not KeyboardInterrupt or
    SystemExit: an interrupt still stops the run)."""
    try:
        return step(*args, **kwargs)
    except Exception as exc:  # one row's failure must not stop its stage: it becomes a reject
        return StepFailed(failure_detail(exc))


def isolating(step: Callable[[Sequence[Item]], list[T]], items: Sequence[Item]) -> list[T | StepFailed]:
    """``step`` over a whole batch (a backend's one call for many rows); where it raises, over
    each half again, down to single items, so a bad item costs its own result and about
    log2(batch) more calls: the items that fail alone come back as ``StepFailed``."""
    return [StepFailed(failure_detail(r)) if isinstance(r, Exception) else r for r in _bisect(step, items)]


def _bisect(step: Callable[[Sequence[Item]], list[T]], items: Sequence[Item]) -> list[T | Exception]:
    if not items:
        return []
    try:
        return list(step(items))
    except Exception as exc:  # narrowed below: which of the items raises
        if len(items) == 1:
            return [exc]
    middle = len(items) // 2
    return [*_bisect(step, items[:middle]), *_bisect(step, items[middle:])]
