"""Slow imports, started in a background thread when a run begins.

The quality gate's great-expectations takes about 3 s to import and the run page's
matplotlib half a second, and neither is needed before a stage's first batch is staged.
Imported while the run starts the engine and runs its first batch (when the run's own
thread mostly waits on the engine), they are ready when the gate and the page need them.
Code that uses one of them calls ``finished()`` first: it then never imports a module
that the background thread is still half-way through.
"""

from __future__ import annotations

import contextlib
import importlib
import threading

SLOW_IMPORTS = ("great_expectations", "matplotlib.figure", "matplotlib.backends.backend_svg")

_lock = threading.Lock()
_thread: threading.Thread | None = None


def _import_all() -> None:
    for name in SLOW_IMPORTS:
        # a failing import fails again, with its message, where the module is used
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def start() -> None:
    """Begin importing ``SLOW_IMPORTS`` in the background (once per process)."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_import_all, name="tracepile-preload", daemon=True)
            _thread.start()


def finished() -> None:
    """Wait until the background imports are done, if they were started."""
    with _lock:
        thread = _thread
    if thread is not None:
        thread.join()
