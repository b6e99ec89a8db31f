"""Ctrl-C for long jobs: the first stops the run after the current step, the second at once.

A Spark query blocks the main thread inside the client, where a KeyboardInterrupt does not
reach the job reliably, so the first Ctrl-C is a request the job honours at each step end.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

from tracepile.console import console

_requested = threading.Event()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    if _requested.is_set():
        console.print("[red]interrupted again: quitting now[/]")
        os._exit(130)
    _requested.set()
    console.print("[yellow]interrupt: stopping after the current step (Ctrl-C again to quit now)[/]")


def reset() -> None:
    """Forget an earlier request (a new run starts clean)."""
    _requested.clear()


def install() -> None:
    reset()
    signal.signal(signal.SIGINT, _on_sigint)


def raise_if_requested() -> None:
    if _requested.is_set():
        raise KeyboardInterrupt
