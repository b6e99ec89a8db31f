"""The generate stage's ``mapInPandas`` bodies: prompt keys, then generation plus verification.

``prompt_keys`` is cheap (formatting and hashing): it names each generation by its prompt
before any model runs, so the stage can skip what is done. ``generate_partition`` hands a
whole partition to the backend at once (one vLLM ``generate`` call batches it all),
cleans and verifies every text, optionally regenerates once with the first contradiction
as feedback (``feedback_messages``), and yields one outcome row per execution: ``verified``
or the reason it was dropped (``internal_error`` where one of its steps raised: the other
rows go on). A verified text that stated its (checked) result only in prose gets the
final-answer line the training prompt asks for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

import pandas as pd

from tracepile.config import GenerateConfig, TracepileConfig
from tracepile.failures import StepFailed, fault_point, guarded, isolating
from tracepile.tables import GOLD_COE
from tracepile.translation.backends import Backend, Generation, Request, finish
from tracepile.translation.final_answers import ANSWER_LINE_ADDED, with_answer_line
from tracepile.translation.prompts import (
    ProgramRun,
    prompt_hash,
    shows_its_answer,
    training_prompt,
    translation_messages,
)
from tracepile.translation.template import Execution
from tracepile.translation.verify import Verdict, verify
from tracepile.udfs.frames import outcome_frame, records
from tracepile.udfs.worker_state import WorkerSetup, worker_state
from tracepile.vocab import INTERNAL_ERROR, GenerateOutcome, RunMode
from tracepile.vocab import Backend as BackendName

VERIFIED = GenerateOutcome.VERIFIED
# one outcome row per generation: gold/coe's columns (but run_id, added by the stage), the
# outcome (verified or the reason) and its detail; the stage splits them into the two tables
OUTCOME_COLUMNS = (
    *(name for name in GOLD_COE.schema.names if name != "run_id"),
    "outcome",
    "detail",
    "latency_s",
)


@dataclass(frozen=True)
class GenerateOptions:
    settings: GenerateConfig
    max_prompt_tokens: int
    retry_with_feedback: bool
    min_checked_claims: int  # for a model's text; the template's are told from the run itself

    @classmethod
    def from_config(cls, settings: GenerateConfig) -> GenerateOptions:
        return cls(
            settings, settings.max_prompt_tokens, settings.retry_with_feedback, settings.min_checked_claims
        )


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


def _prompt_hash(row: dict[str, Any], version: str) -> str:
    return prompt_hash(translation_messages(_program_run(row)), version)


def prompt_keys(batches: Iterator[pd.DataFrame], version: str) -> Iterator[pd.DataFrame]:
    """Adds ``prompt_hash``: the hash of the translation prompt and the backend's version. A
    row whose prompt cannot be made is keyed by its failure instead: generating it fails the
    same way and rejects it under that key, which the next run then finds done."""
    for frame in batches:
        hashes = []
        for row in records([frame]):
            key = guarded(_prompt_hash, row, version)
            if isinstance(key, StepFailed):
                key = prompt_hash([{"role": INTERNAL_ERROR, "content": key.detail}], version)
            hashes.append(key)
        yield frame.assign(prompt_hash=hashes)


def feedback_messages(messages: list[dict[str, str]], text: str, verdict: Verdict) -> list[dict[str, str]]:
    """The conversation sent back once for a rejected text: the text, then the first
    contradiction the verifier found (the claim, what the run held, the line) and the request
    to write it again."""
    problem = verdict.detail
    if (found := verdict.contradiction) is not None:
        where = f" on line {found.line}" if found.line is not None else ""
        problem += f". Where it went wrong: {found.claim}; the real run had {found.held}{where}"
    return [
        *messages,
        {"role": "assistant", "content": text},
        {"role": "user", "content": f"That solution is wrong: {problem}. Write the whole solution again, "
                                    "with the exact values, ending with the final answer line."},
    ]  # fmt: skip


def _prepared(row: dict[str, Any], backend: Backend) -> tuple[Request, dict[str, Any]]:
    """The row's request, and what its outcome row gets from it: the training prompt and its
    length in tokens."""
    fault_point("generate", row["program_id"], row["execution_id"])
    run = _program_run(row)
    request = Request(translation_messages(run), Execution.from_row(row))
    return request, {"prompt": training_prompt(run), "prompt_tokens": backend.prompt_tokens(request.messages)}


def _settled(
    result: dict[str, Any], generation: Generation, request: Request, retry: bool, min_checked_claims: int
) -> Request | None:
    """Fill ``result`` from its generation, cleaned and verified (with at least
    ``min_checked_claims`` steps checked against the run); the request to send again with the
    verifier's feedback where ``retry`` allows it and the text failed."""
    result["completion_tokens"], result["latency_s"] = generation.completion_tokens, generation.seconds
    text, reason, detail = finish(generation)
    result["response"] = text if text is not None else generation.text
    if text is None:
        result.update(outcome=reason, detail=detail)
        return None
    verdict = verify(text, request.execution)
    result["claims_checked"] = verdict.claims_checked
    if verdict.ok and verdict.claims_checked < min_checked_claims:
        # a right answer with no step checked is no verified chain of execution
        verdict = replace(
            verdict,
            ok=False,
            reason=GenerateOutcome.UNCHECKED_REASONING,
            detail=f"{verdict.claims_checked} step(s) checked against the run (min {min_checked_claims}): "
            "state what each step computes as name = value",
        )
    if verdict.ok:
        regenerated = result["outcome"] is not None  # a first attempt's reason is still there
        result["response"], added = with_answer_line(text, request.execution.return_json)
        notes = [f"regenerated once: {result['detail']}"] * regenerated + [ANSWER_LINE_ADDED] * added
        result.update(outcome=VERIFIED, detail="; ".join(notes))
        return None
    result.update(outcome=verdict.reason, detail=verdict.detail)
    if not retry:
        return None
    return Request(feedback_messages(request.messages, text, verdict), request.execution)


def generate_rows(
    rows: list[dict[str, Any]], backend: Backend, options: GenerateOptions
) -> list[dict[str, Any]]:
    """One outcome per input row: prompts checked for length, texts generated (all in one
    backend call), cleaned and verified; with ``retry_with_feedback``, failures once more.
    A row whose step raises is rejected (``internal_error``) and the others go on; where the
    backend call raises, it is made again on halves of the batch to find the rows at fault
    (for a model backend such a row is left pending, as for any backend error: an engine's
    failure need not be the row's)."""
    results: list[dict[str, Any]] = [
        {**{c: row.get(c) for c in OUTCOME_COLUMNS}, "backend": backend.name, "model": backend.model,
         "output_json": row["return_json"], "claims_checked": 0, "outcome": None, "detail": ""}
        for row in rows
    ]  # fmt: skip
    requests: dict[int, Request] = {}
    for index, row in enumerate(rows):
        prepared = guarded(_prepared, row, backend)
        if isinstance(prepared, StepFailed):
            results[index].update(outcome=GenerateOutcome.INTERNAL_ERROR, detail=prepared.detail)
            continue
        requests[index], made = prepared
        results[index].update(made)
        if made["prompt_tokens"] > options.max_prompt_tokens:
            results[index].update(
                outcome=GenerateOutcome.PROMPT_TOO_LONG,
                detail=f"{made['prompt_tokens']} tokens > {options.max_prompt_tokens}",
            )
        elif shows_its_answer(row):
            results[index].update(
                outcome=GenerateOutcome.ANSWER_IN_PROMPT,
                detail="the shown code or problem gives this input's output as an example",
            )
    todo = [index for index in requests if results[index]["outcome"] is None]
    attempts = 2 if options.retry_with_feedback and backend.name != BackendName.TEMPLATE else 1
    # the template renders each row alone from its execution: what it raises is the row's
    raised = (
        GenerateOutcome.INTERNAL_ERROR
        if backend.name == BackendName.TEMPLATE
        else GenerateOutcome.BACKEND_ERROR
    )
    min_checked = options.min_checked_claims if backend.name != BackendName.TEMPLATE else 0
    for attempt in range(attempts):
        generations = isolating(backend.generate, [requests[i] for i in todo])
        retry = []
        for index, generation in zip(todo, generations, strict=True):
            if isinstance(generation, StepFailed):
                results[index].update(outcome=raised, detail=generation.detail)
                continue
            again = guarded(
                _settled, results[index], generation, requests[index], attempt + 1 < attempts, min_checked
            )
            if isinstance(again, StepFailed):
                results[index].update(outcome=GenerateOutcome.INTERNAL_ERROR, detail=again.detail)
            elif again is not None:
                requests[index] = again
                retry.append(index)
        todo = retry
        if not todo:
            break
    return results


def generate_partition(batches: Iterator[pd.DataFrame], stage: GeneratingStage) -> Iterator[pd.DataFrame]:
    """All of the partition's rows in one backend call (continuous batching sees them all), on
    this process's backend (``stage.setup()``: a vLLM engine loads once per executor)."""
    rows = records(batches)
    if rows:
        options = GenerateOptions.from_config(stage.config.generate)
        yield outcome_frame(generate_rows(rows, worker_state(stage), options), OUTCOME_COLUMNS)
