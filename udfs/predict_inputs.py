"""The inputs stage's ``mapInPandas`` body: for each ok execution of a called function, an
input predicted for its output, kept only where running it in the sandbox gives that output.

Each execution gets the input-prediction prompt (``translation/input_prediction.py``): its
code and recorded return value. The template backend answers from the recorded run; a model
backend gets the prompt with the run's record, all of a partition's rows in one batched call.
The input an answer states is read without evaluating anything and run in the sandbox under
both hash seeds (no trace): it is verified when both runs return the output, whichever input
it is. The execution's own input is not run again: the trace stage ran it under both hash
seeds and recorded this output (the template backend always states it). One outcome row
per execution: ``verified``, or the reason (``backend_error`` leaves the execution pending
for the next run; ``internal_error`` where a step raised on the row: the others go on).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import pandas as pd

from tracepile.analysis.values import decode, to_literal, values_equal
from tracepile.config import TracepileConfig
from tracepile.failures import StepFailed, fault_point, guarded, isolating
from tracepile.tables import GOLD_INPUT_PREDICTIONS
from tracepile.translation.backends import Backend, Generation, Request, finish
from tracepile.translation.input_prediction import (
    PROMPT_VERSION,
    Unread,
    input_messages,
    input_prompt,
    prediction_id,
    read_input,
    signature,
    template_response,
)
from tracepile.translation.prompts import prompt_hash, shows_its_answer
from tracepile.translation.template import Execution
from tracepile.udfs.frames import outcome_frame, records
from tracepile.udfs.sandbox import Sandbox
from tracepile.udfs.worker_state import WorkerSetup, worker_state
from tracepile.vocab import Backend as BackendName
from tracepile.vocab import InputPredictionOutcome, Status

Outcome = InputPredictionOutcome
VERIFIED = Outcome.VERIFIED
# gold/input_predictions' columns (but run_id, added by the stage), the outcome and its detail
OUTCOME_COLUMNS = (
    *(name for name in GOLD_INPUT_PREDICTIONS.schema.names if name != "run_id"),
    "outcome",
    "detail",
)
_SHOWN = 200  # characters of a value quoted in a detail


class PredictingStage(WorkerSetup, Protocol):
    """What the task needs of its stage: the config, a sandbox made by ``setup()``, and the
    owner of the answering backend (the generate stage's, so one engine serves every stage)."""

    config: TracepileConfig
    answerer: WorkerSetup


def _prepared(row: dict[str, Any], backend: Backend) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The row's outcome with its key and prompt filled, and the messages a model is sent."""
    fault_point("inputs", row["program_id"], row["execution_id"])
    prompt = input_prompt(row["problem"], row["code"], row["entry_point"], row["return_json"])
    messages = input_messages(prompt, row["trace_text"] or "")
    hashed = prompt_hash(messages, f"{PROMPT_VERSION}/{backend.version}")
    result = {
        **_keyed(row, backend, hashed),
        "prompt": prompt,
        "recorded_input_json": row["input_json"],
        "source": row["source"],
        "domain": row["domain"],
        "prompt_tokens": backend.prompt_tokens(messages),
        "detail": "",
    }
    return result, messages


def _keyed(row: dict[str, Any], backend: Backend, hashed: str) -> dict[str, Any]:
    """An outcome row with its key (execution, backend, model, prompt hash) and the output."""
    return {
        **dict.fromkeys(OUTCOME_COLUMNS),
        "prediction_id": prediction_id(row["execution_id"], str(backend.name), backend.model, hashed),
        "execution_id": row["execution_id"],
        "program_id": row["program_id"],
        "backend": str(backend.name),
        "model": backend.model,
        "prompt_hash": hashed,
        "output_json": row.get("return_json"),
    }


def _unprepared(row: dict[str, Any], backend: Backend, failure: StepFailed) -> dict[str, Any]:
    """The outcome of a row whose prompt could not be made: keyed by its failure instead."""
    hashed = prompt_hash([{"role": Outcome.INTERNAL_ERROR, "content": failure.detail}], PROMPT_VERSION)
    return {**_keyed(row, backend, hashed), "outcome": Outcome.INTERNAL_ERROR, "detail": failure.detail}


def _template_text(row: dict[str, Any]) -> Generation:
    try:
        text = template_response(
            row["code"],
            row["entry_point"],
            row["input_json"],
            row["return_json"],
            json.loads(row["steps_json"]),
        )
    except ValueError as exc:  # the trace is not one call of the entry function: that row alone
        return Generation(None, Outcome.UNRENDERABLE, error=str(exc))
    return Generation(text, "stop")


def _generations(
    pending: list[tuple[dict[str, Any], dict[str, Any], list[dict[str, str]]]], backend: Backend
) -> list[Generation | StepFailed]:
    """Every pending row's text: the template's from its run, or a model's in one batched call
    (made again on halves where it raises, so a failure stays with its rows)."""
    if backend.name == BackendName.TEMPLATE:
        return [guarded(_template_text, row) for row, _, _ in pending]
    requests = [Request(messages, Execution.from_row(row)) for row, _, messages in pending]
    return isolating(backend.generate, requests)


def _run(sandbox: Sandbox, row: dict[str, Any], input_json: str, config: TracepileConfig) -> tuple[str, str]:
    """(outcome, detail) of calling the entry function on ``input_json`` under each hash seed:
    verified where both return the recorded output."""
    wanted = decode(row["return_json"])
    for number, seed in enumerate(sandbox.hash_seeds):
        ran = sandbox.run(row["code"], row["entry_point"], input_json, config.trace, hash_seed=seed)
        if ran.status != Status.OK:
            if number:
                return Outcome.NONDETERMINISTIC, f"ran under one hash seed; under the other: {ran.status}"
            return Outcome.RUN_FAILED, f"{ran.status}: {(ran.error or '')[:_SHOWN]}"
        got = decode(ran.return_json or "null")
        if not values_equal(got, wanted):
            shown = f"returns {to_literal(got)[:_SHOWN]}, not {to_literal(wanted)[:_SHOWN]}"
            if number:
                return Outcome.NONDETERMINISTIC, f"under the other hash seed it {shown}"
            return Outcome.WRONG_OUTPUT, f"the call {shown}"
    return VERIFIED, ""


def _read(result: dict[str, Any], row: dict[str, Any], text: str) -> str | None:
    """The input ``text`` states (typed JSON), recorded in ``result``; None with the reason set
    where there is none to read."""
    try:
        stated = read_input(
            text, row["entry_point"], signature(row["code"], row["entry_point"], row["input_json"])
        )
    except Unread as unread:
        result.update(outcome=unread.reason, detail=unread.detail)
        return None
    result["input_json"] = stated
    return stated


def predict(
    rows: list[dict[str, Any]], backend: Backend, sandbox: Sandbox, config: TracepileConfig
) -> list[dict[str, Any]]:
    """One outcome per row: the prompt (its length checked against
    ``generate.max_prompt_tokens``), the backend's text, the input it states, and the verdict
    of running that input. A row whose step raises is rejected (``internal_error``)
    and the others go on; a model call that fails leaves its rows pending (``backend_error``)."""
    outcomes: list[dict[str, Any]] = []
    pending: list[tuple[dict[str, Any], dict[str, Any], list[dict[str, str]]]] = []
    for row in rows:
        prepared = guarded(_prepared, row, backend)
        if isinstance(prepared, StepFailed):
            outcomes.append(_unprepared(row, backend, prepared))
            continue
        result, messages = prepared
        outcomes.append(result)
        asked = guarded(shows_its_answer, row)
        if isinstance(asked, StepFailed):
            result.update(outcome=Outcome.INTERNAL_ERROR, detail=asked.detail)
        elif result["prompt_tokens"] > config.generate.max_prompt_tokens:
            most = config.generate.max_prompt_tokens
            result.update(
                outcome=Outcome.PROMPT_TOO_LONG, detail=f"{result['prompt_tokens']} tokens > {most}"
            )
        elif asked:
            result.update(
                outcome=Outcome.ANSWER_IN_PROMPT,
                detail="the shown code or problem gives this input and its output as an example",
            )
        else:
            pending.append((row, result, messages))
    to_run: list[tuple[dict[str, Any], dict[str, Any], str]] = []
    for (row, result, _), generation in zip(pending, _generations(pending, backend), strict=True):
        if isinstance(generation, StepFailed):
            raised = Outcome.INTERNAL_ERROR if backend.name == BackendName.TEMPLATE else Outcome.BACKEND_ERROR
            result.update(outcome=raised, detail=generation.detail)
            continue
        result["completion_tokens"] = generation.completion_tokens
        text, reason, detail = finish(generation)
        result["response"] = text if text is not None else generation.text
        if text is None:
            result.update(outcome=reason, detail=detail)
            continue
        stated = guarded(_read, result, row, text)
        if isinstance(stated, StepFailed):
            result.update(outcome=Outcome.INTERNAL_ERROR, detail=stated.detail)
        elif stated is not None:
            to_run.append((row, result, stated))

    def verdict(item: tuple[dict[str, Any], dict[str, Any], str]) -> tuple[str, str] | StepFailed:
        row, _, stated = item
        if stated == row["input_json"]:  # the settled execution: ok under both seeds, this output
            return VERIFIED, ""
        return guarded(_run, sandbox, row, stated, config)

    with ThreadPoolExecutor(max_workers=sandbox.workers) as pool:
        verdicts = list(pool.map(verdict, to_run))
    for (_, result, _), judged in zip(to_run, verdicts, strict=True):
        if isinstance(judged, StepFailed):
            result.update(outcome=Outcome.INTERNAL_ERROR, detail=judged.detail)
        else:
            result.update(outcome=judged[0], detail=judged[1])
    return outcomes


def predict_partition(batches: Iterator[pd.DataFrame], stage: PredictingStage) -> Iterator[pd.DataFrame]:
    """The ``mapInPandas`` body: a partition's executions, answered in one backend call and
    each answer's input run in this process's sandbox (rows run concurrently)."""
    rows = records(batches)
    if not rows:
        return
    sandbox: Sandbox = worker_state(stage)
    backend: Backend = worker_state(stage.answerer)
    yield outcome_frame(predict(rows, backend, sandbox, stage.config), OUTCOME_COLUMNS)
