"""Ctrl-C for long jobs: the first stops the run within a second or two, the second at once.

The first Ctrl-C cancels the work in flight and unwinds the run. Python runs the handler on
the main thread within a fraction of a second, also while that thread waits for a Spark
Connect query (the gRPC client waits in short slices; a lock wait is interrupted). It calls
the cancellers the run registered (the sandbox's workers killed, the engine's queries
interrupted), waiting for them at most ``CANCEL_WAIT_SECONDS``, then raises
``KeyboardInterrupt`` where the main thread is: the batch in flight is never published. The
runner's cleanup follows (staging removed, the run recorded as interrupted, the lease
released, the engine stopped), and the process exits with 130 without the interpreter's
slow finalisation (``_exit_quickly``). Every batch published before stays (a Delta commit
is atomic), and the next run skips what is published.

A timer started with the first Ctrl-C is the backstop: if the process still lives
``QUIT_AFTER_SECONDS`` later (a cleanup that hangs), it quits as a second Ctrl-C does at
once: the last-resort hooks (the lease marked as left, so the next run takes it over and
cleans up at once), then exit 130.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

from tracepile.console import console

EXIT_CODE = 130
CANCEL_WAIT_SECONDS = 0.5  # the cancellers' share of the two seconds a Ctrl-C may take
QUIT_AFTER_SECONDS = 1.6  # the backstop: by then the run has unwound, or it exits anyway
LAST_RESORT_SECONDS = 0.2  # how long the last-resort hooks may take before the exit

_requested = threading.Event()
_lock = threading.Lock()
_cancellers: list[Callable[[], object]] = []  # stop the work in flight, on the first Ctrl-C
_last_resort: list[Callable[[], object]] = []  # before a hard exit (the lease left as dead)
_backstop_timer: threading.Timer | None = None
_cancelling: list[threading.Thread] = []  # the cancellers a Ctrl-C started
_deferring = 0  # how many ``deferred`` bodies run now


def _call_all(hooks: list[Callable[[], object]], wait: float) -> list[threading.Thread]:
    """Each hook on a helper thread of its own (one that hangs holds no other up), waiting
    ``wait`` seconds for them all; their errors are ignored (the run stops either way)."""

    def call(hook: Callable[[], object]) -> None:
        with suppress(Exception):  # best effort: the run is stopping whatever a hook says
            hook()

    with _lock:
        chosen = list(hooks)
    threads = [
        threading.Thread(target=call, args=(h,), name="tracepile-interrupt", daemon=True) for h in chosen
    ]
    for thread in threads:
        thread.start()
    deadline = threading.Event()
    timer = threading.Timer(wait, deadline.set)
    timer.daemon = True
    timer.start()
    for thread in threads:
        while thread.is_alive() and not deadline.is_set():
            thread.join(0.02)
    timer.cancel()
    return threads


def quit_now() -> None:
    """Exit with 130 at once (the last-resort hooks first, briefly): nothing else unwinds."""
    _call_all(_last_resort, LAST_RESORT_SECONDS)
    os._exit(EXIT_CODE)


def _backstop() -> None:
    console.print("[red]interrupt: the run did not stop in time; quitting now[/]")
    quit_now()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    if _requested.is_set():
        console.print("[red]interrupted again: quitting now[/]")
        quit_now()
    _requested.set()
    if not (_cancellers or _last_resort):  # no run holds anything (before its lease, after its end)
        console.print("[yellow]interrupted[/]")
        quit_now()
    global _backstop_timer
    _backstop_timer = threading.Timer(QUIT_AFTER_SECONDS, _backstop)
    _backstop_timer.daemon = True
    _backstop_timer.start()
    if _deferring:  # commits that belong together: they end, then the run stops
        console.print(
            "[yellow]interrupt: stopping once the commit in progress is done (Ctrl-C again to quit "
            "at once)[/]"
        )
        return
    _stop()


def _stop() -> None:
    console.print(
        "[yellow]interrupt: stopping now; batches already published are kept, the one in progress "
        "is dropped (Ctrl-C again to quit at once)[/]"
    )
    _cancelling[:] = _call_all(_cancellers, CANCEL_WAIT_SECONDS)
    raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """A first Ctrl-C during the body (commits that belong together: one batch's tables) takes
    effect when the body ends; a second still quits at once. For short bodies only: the
    backstop starts with the Ctrl-C, deferred or not."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    if not _deferring and _requested.is_set():
        _stop()


def settle(wait: float = CANCEL_WAIT_SECONDS) -> None:
    """Wait (at most ``wait`` seconds) for the cancellers of a Ctrl-C still running: a query
    made after them (the run's record) is then not among those they cancel."""
    deadline = time.monotonic() + wait
    for thread in list(_cancelling):
        thread.join(max(0.0, deadline - time.monotonic()))


def requested() -> bool:
    """Whether Ctrl-C was pressed during this run."""
    return _requested.is_set()


def reset() -> None:
    """Forget an earlier request, its backstop cancelled (a new run starts clean)."""
    if _backstop_timer is not None:
        _backstop_timer.cancel()
    _requested.clear()


def _exit_quickly(before_exit: Callable[[], object] | None) -> None:
    """At exit after a Ctrl-C (the run has unwound, the CLI has said so): ``before_exit`` (the
    per-process state released), then the exit, without the interpreter's finalisation. That
    walks the whole heap (seconds, for the engine's and the gate's libraries) to free memory
    the exit gives back anyway, and an engine thread still inside a cancelled Python UDF can
    abort the process in it (SIGABRT instead of 130)."""
    if not _requested.is_set():
        return
    if before_exit is not None:
        _call_all([before_exit], CANCEL_WAIT_SECONDS)
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    os._exit(EXIT_CODE)


def install(before_exit: Callable[[], object] | None = None) -> None:
    """Take SIGINT for a run (the first Ctrl-C stops it, the second quits); at exit after one,
    ``before_exit``, then a quick exit with 130 (``_exit_quickly``)."""
    reset()
    signal.signal(signal.SIGINT, _on_sigint)
    atexit.unregister(_exit_quickly)
    # the last registered runs first: after those of what the run started (sandboxes), before
    # those of the modules imported earlier (``before_exit`` does their part)
    atexit.register(_exit_quickly, before_exit)


@contextmanager
def on_interrupt(
    cancel: Callable[[], object] | None = None, last_resort: Callable[[], object] | None = None
) -> Iterator[None]:
    """While the body runs, a first Ctrl-C calls ``cancel`` (stop the work in flight), and a
    hard exit (second Ctrl-C, backstop) calls ``last_resort`` first."""
    added = [(hooks, hook) for hooks, hook in ((_cancellers, cancel), (_last_resort, last_resort)) if hook]
    with _lock:
        for hooks, hook in added:
            hooks.append(hook)
    try:
        yield
    finally:
        with _lock:
            for hooks, hook in added:
                hooks.remove(hook)


def raise_if_requested() -> None:
    if _requested.is_set():
        raise KeyboardInterrupt
