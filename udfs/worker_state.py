"""Per-worker state of stages: made once per executor process, kept for it, torn down at its exit.

A stage's ``setup()`` (a sandbox pool, a model engine, a process pool) runs inside the first
task of a process that needs it; later tasks of the same process get the same object.
Spark's DataFrame API (Connect included) has no per-executor hook, so this registry is where
that state lives: the one process-wide store, rather than a singleton per kind of state.

``worker_key()`` is ``(slot, settings)``: a process keeps one state per slot, and a task
asking with other settings closes the old one and gets a new one (a process that runs
stages with other settings one after another holds one sandbox, not one per setting).
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Hashable
from typing import Any, Protocol


class WorkerSetup(Protocol):
    def worker_key(self) -> tuple[str, Hashable]: ...

    def setup(self) -> Any: ...

    def teardown(self, state: Any) -> None: ...


_lock = threading.Lock()
_states: dict[str, tuple[Hashable, Any, WorkerSetup]] = {}  # slot -> (settings, state, owner)


def _close(held: tuple[Hashable, Any, WorkerSetup]) -> None:
    _, state, owner = held
    owner.teardown(state)


def worker_state(owner: WorkerSetup) -> Any:
    """``owner.setup()``'s result for this process and slot, made on first use."""
    slot, settings = owner.worker_key()
    with _lock:
        held = _states.get(slot)
        if held is not None and held[0] == settings:
            return held[1]
        if held is not None:
            _close(held)
        state = owner.setup()
        _states[slot] = (settings, state, owner)
        return state


def current(slot: str) -> Any | None:
    """The state the slot holds now, if any."""
    with _lock:
        held = _states.get(slot)
    return None if held is None else held[1]


def release(slot: str | None = None) -> None:
    """Close the slot's state (every slot's when None)."""
    with _lock:
        slots = list(_states) if slot is None else [slot]
        released = [_states.pop(s) for s in slots if s in _states]
    for held in released:
        _close(held)


atexit.register(release)
