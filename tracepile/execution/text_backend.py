"""The text backend of ``[generate]`` as per-worker state: made once per executor process
(a vLLM engine loads its model once) and shared by the stages that write text with it
(generate, which writes the Chain-of-Execution texts, and questions, which answers with it)."""

from __future__ import annotations

import statistics
from collections.abc import Hashable, Sequence

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


def model_calls_note(
    latencies: Sequence[float], completion_tokens: Sequence[int], wall_seconds: float, concurrency: int
) -> str:
    """The served model's side of a stage, for its summary and the run page: requests, their
    latency percentiles, tokens per second (per request, median; and all together over the
    stage's time with the model) and how many were in flight on average (of ``concurrency``)."""
    cuts = (
        statistics.quantiles(latencies, n=100, method="inclusive")
        if len(latencies) > 1
        else [*latencies] * 99
    )
    per_request = [t / s for t, s in zip(completion_tokens, latencies, strict=True) if s > 0]
    overall = sum(completion_tokens) / wall_seconds if wall_seconds > 0 else 0.0
    in_flight = sum(latencies) / wall_seconds if wall_seconds > 0 else 0.0
    p50, p90, p99 = cuts[49], cuts[89], cuts[98]
    return (
        f"{len(latencies):,} requests; latency p50 {p50:.1f} s, p90 {p90:.1f} s, p99 {p99:.1f} s; "
        f"{statistics.median(per_request) if per_request else 0.0:.1f} tokens/s per request (median), "
        f"{overall:.1f} tokens/s in all; {in_flight:.1f} requests in flight on average (up to {concurrency})"
    )
