"""The text backend of ``[generate]`` as per-worker state: made once per executor process
(a vLLM engine loads its model once) and shared by the stages that write text with it
(generate, which writes the Chain-of-Execution texts, and questions, which answers with it)."""

from __future__ import annotations

from collections.abc import Hashable

from tracepile.config import GenerateConfig
from tracepile.translation.backends import Backend, backend_for


class TextBackend:
    """The owner of an executor's backend for ``udfs/worker_state.py``: its slot is the
    generate stage's, so one engine serves every stage that uses it."""

    slot = "generate"

    def __init__(self, settings: GenerateConfig) -> None:
        self.settings = settings

    def worker_key(self) -> tuple[str, Hashable]:
        return self.slot, self.settings.model_dump_json()  # the backend depends on nothing else

    def setup(self) -> Backend:
        """The executor's backend: a vLLM engine loads its model once per process, on first use."""
        return backend_for(self.settings)

    def teardown(self, backend: Backend) -> None:
        """Let go of the backend's engine or connection, where it holds one."""
        if callable(getattr(backend, "close", None)):
            backend.close()
