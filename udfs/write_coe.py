"""The generate stage's ``mapInPandas`` bodies: prompt keys, then generation plus verification.

``prompt_keys`` is cheap (formatting and hashing): it names each generation by its prompt
before any model runs, so the stage can skip what is done. ``generate_partition`` hands a
whole partition to the backend at once (one vLLM ``generate`` call batches it all),
cleans and verifies every text, optionally regenerates once with the error as feedback,
and yields one outcome row per execution: ``verified`` or the reason it was dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from tracepile.config import GenerateConfig, TracepileConfig
from tracepile.tables import GOLD_COE
from tracepile.translation.backends import Backend, Request, finish
from tracepile.translation.prompts import ProgramRun, prompt_hash, training_prompt, translation_messages
from tracepile.translation.template import Execution
from tracepile.translation.verify import verify
from tracepile.udfs.worker_state import WorkerSetup, worker_state
from tracepile.vocab import Backend as BackendName
from tracepile.vocab import GenerateOutcome, RunMode

VERIFIED = GenerateOutcome.VERIFIED
# one outcome row per generation: gold/coe's columns (but run_id, added by the stage), the
# outcome (verified or the reason) and its detail; the stage splits them into the two tables
OUTCOME_COLUMNS = (*(name for name in GOLD_COE.schema.names if name != "run_id"), "outcome", "detail")


@dataclass(frozen=True)
class GenerateOptions:
    settings: GenerateConfig
    max_prompt_tokens: int
    retry_with_feedback: bool

    @classmethod
    def from_config(cls, settings: GenerateConfig) -> GenerateOptions:
        return cls(settings, settings.max_prompt_tokens, settings.retry_with_feedback)


class GeneratingStage(WorkerSetup, Protocol):
    """What the generate task needs of its stage: the config, and a backend made by ``setup()``."""

    config: TracepileConfig


def _program_run(row: dict[str, Any]) -> ProgramRun:
    return ProgramRun(
        row["problem"],
        row["code"],
        row["entry_point"],
        row["input_json"],
        row["trace_text"] or "",
        row.get("run_mode") or RunMode.CALL,
    )


def prompt_keys(batches: Iterator[pd.DataFrame], version: str) -> Iterator[pd.DataFrame]:
    """Adds ``prompt_hash``: the hash of the translation prompt and the backend's version."""
    for frame in batches:
        hashes = [
            prompt_hash(translation_messages(_program_run(row)), version) for row in frame.to_dict("records")
        ]
        yield frame.assign(prompt_hash=hashes)


def _feedback(messages: list[dict[str, str]], text: str, detail: str) -> list[dict[str, str]]:
    return [
        *messages,
        {"role": "assistant", "content": text},
        {"role": "user", "content": f"That solution is wrong: {detail}. Write the whole solution again, "
                                    "with the exact values, ending with the final answer line."},
    ]  # fmt: skip


def generate_rows(
    rows: list[dict[str, Any]], backend: Backend, options: GenerateOptions
) -> list[dict[str, Any]]:
    """One outcome per input row: prompts checked for length, texts generated (all in one
    backend call), cleaned and verified; with ``retry_with_feedback``, failures once more."""
    runs = [_program_run(row) for row in rows]
    requests = [
        Request(translation_messages(run), Execution.from_row(row))
        for run, row in zip(runs, rows, strict=True)
    ]
    results: list[dict[str, Any]] = [
        {**{c: row.get(c) for c in OUTCOME_COLUMNS}, "backend": backend.name, "model": backend.model,
         "prompt": training_prompt(run), "output_json": row["return_json"], "claims_checked": 0}
        for run, row in zip(runs, rows, strict=True)
    ]  # fmt: skip
    todo = []
    for index, request in enumerate(requests):
        tokens = backend.prompt_tokens(request.messages)
        results[index]["prompt_tokens"] = tokens
        if tokens > options.max_prompt_tokens:
            results[index].update(
                outcome=GenerateOutcome.PROMPT_TOO_LONG,
                detail=f"{tokens} tokens > {options.max_prompt_tokens}",
            )
        else:
            todo.append(index)
    attempts = 2 if options.retry_with_feedback and backend.name != BackendName.TEMPLATE else 1
    for attempt in range(attempts):
        generations = backend.generate([requests[i] for i in todo])
        retry = []
        for index, generation in zip(todo, generations, strict=True):
            result = results[index]
            result["completion_tokens"] = generation.completion_tokens
            text, reason, detail = finish(generation)
            result["response"] = text if text is not None else generation.text
            if text is None:
                result.update(outcome=reason, detail=detail)
                continue
            verdict = verify(text, requests[index].execution)
            result["claims_checked"] = verdict.claims_checked
            if verdict.ok:
                result.update(
                    outcome=VERIFIED, detail=f"regenerated once: {result['detail']}" if attempt else ""
                )
            else:
                result.update(outcome=verdict.reason, detail=verdict.detail)
                if attempt + 1 < attempts:
                    requests[index] = Request(_feedback(requests[index].messages, text, verdict.detail),
                                              requests[index].execution)  # fmt: skip
                    retry.append(index)
        todo = retry
        if not todo:
            break
    return results


def generate_partition(batches: Iterator[pd.DataFrame], stage: GeneratingStage) -> Iterator[pd.DataFrame]:
    """All of the partition's rows in one backend call (continuous batching sees them all), on
    this process's backend (``stage.setup()``: a vLLM engine loads once per executor)."""
    rows = [row for frame in batches for row in frame.to_dict("records")]
    if rows:
        options = GenerateOptions.from_config(stage.config.generate)
        outcomes = generate_rows(rows, worker_state(stage), options)
        yield pd.DataFrame(outcomes, columns=list(OUTCOME_COLUMNS)).astype(
            {"claims_checked": "int64", "prompt_tokens": "Int64", "completion_tokens": "Int64"}
        )
