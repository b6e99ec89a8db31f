"""Per-worker state of stages: made once per executor process, kept for it, closed at its exit.

A stage's ``setup()`` (a sandbox pool, a model engine) runs inside the first task of a
process that needs it; later tasks of the same process get the same object. Spark's
DataFrame API (Connect included) has no per-executor hook, so this registry, keyed by the
stage's ``worker_key()``, is where that state lives: the one process-wide store, rather than a
singleton per kind of state.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Hashable
from typing import Any, Protocol


class WorkerSetup(Protocol):
    def worker_key(self) -> Hashable: ...

    def setup(self) -> Any: ...


_lock = threading.Lock()
_states: dict[Hashable, Any] = {}


def worker_state(owner: WorkerSetup) -> Any:
    """``owner.setup()``'s result for this process, made on first use."""
    key = owner.worker_key()
    with _lock:
        if key not in _states:
            state = owner.setup()
            _states[key] = state
            if callable(getattr(state, "close", None)):
                atexit.register(state.close)
        return _states[key]
