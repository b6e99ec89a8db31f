"""A real sandbox that counts its runs: what a test uses to show that a run was, or was not,
made again (the sandbox itself is the real one, every run real)."""

from __future__ import annotations

from typing import Any

from tracepile.udfs.sandbox import RunResult, Sandbox


class CountingSandbox:
    """``sandbox``, with ``runs`` counting the calls of ``run``."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox, self.runs = sandbox, 0
        self.hash_seeds, self.workers = sandbox.hash_seeds, sandbox.workers

    def run(self, *args: Any, **kwargs: Any) -> RunResult:
        self.runs += 1
        return self.sandbox.run(*args, **kwargs)
