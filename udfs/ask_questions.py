"""The questions stage's ``mapInPandas`` body: variable-tracing questions from ok executions,
each answered by the backend and verified against the trace.

Questions come from the execution's structured steps (``translation/questions.py``). A value
that depends on the hash seed (a set of strings iterated) is not a question with one answer,
so the execution is traced once more under the sandbox's other hash seed and only questions
whose answer is the same in both traces are asked. The template backend answers from the
trace; a model backend gets the question with the execution record, and what it answers is
verified like a CoE text. One outcome row per question: ``verified``, or the reason it was
dropped, or ``unstable`` (asked of neither table).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import pandas as pd

from tracepile.config import TracepileConfig
from tracepile.tables import GOLD_QUESTIONS
from tracepile.translation.backends import Backend, Request, finish
from tracepile.translation.questions import (
    Question,
    question_prompt,
    questions_for,
    render_answer,
    verify_answer,
)
from tracepile.translation.template import Execution
from tracepile.udfs.sandbox import Sandbox
from tracepile.udfs.worker_state import WorkerSetup, worker_state
from tracepile.vocab import Backend as BackendName
from tracepile.vocab import GenerateOutcome, Status

VERIFIED = GenerateOutcome.VERIFIED
UNSTABLE = "unstable"  # the answer differs under the other hash seed: not asked
# gold/questions' columns (but run_id, added by the stage), the outcome and its detail
OUTCOME_COLUMNS = (*(name for name in GOLD_QUESTIONS.schema.names if name != "run_id"), "outcome", "detail")
ALL_CANDIDATES = 1 << 30  # per_kind that keeps every candidate: the other trace's whole set
QUESTION_INSTRUCTIONS = (
    "You answer a question about a program's real execution. You are given the code with line "
    "numbers, the input, the question and a line-by-line record of running the code. Reason step "
    "by step in plain language up to the point the question asks about, write every value you "
    "state for a variable as inline code like `total = 12`, never mention a trace or a log, and "
    "end with one line: Final answer: <the answer as JSON>"
)


class AskingStage(WorkerSetup, Protocol):
    """What the task needs of its stage: the config, a sandbox made by ``setup()``, and the
    owner of the answering backend (the generate stage's, so one engine serves both)."""

    config: TracepileConfig
    answerer: WorkerSetup


def stable_questions(
    row: dict[str, Any], sandbox: Sandbox, config: TracepileConfig
) -> tuple[list[Question], int]:
    """The execution's questions whose answers the other hash seed's trace gives too, and how
    many were left out for depending on it."""
    settings = config.questions
    steps = json.loads(row["steps_json"])
    code, entry, given = row["code"], row["entry_point"], row["input_json"]
    asked = questions_for(
        code, entry, given, row["return_json"], steps, settings.per_kind, settings.seed, row["execution_id"]
    )
    if not asked:
        return [], 0
    other = sandbox.run(code, entry, given, config.trace, trace=True, hash_seed=sandbox.hash_seeds[0])
    if other.status != Status.OK or other.steps is None:
        return [], len(asked)
    candidates = questions_for(
        code, entry, given, other.return_json or "null", other.steps, ALL_CANDIDATES, settings.seed,
        row["execution_id"],
    )  # fmt: skip
    answers = {q.question_id: q.answer_json for q in candidates}
    kept = [q for q in asked if answers.get(q.question_id) == q.answer_json]
    return kept, len(asked) - len(kept)


def _messages(row: dict[str, Any], prompt: str) -> list[dict[str, str]]:
    """What a model is asked: the question's training prompt with the execution record."""
    record = f"Execution record:\n{(row['trace_text'] or '').strip()}"
    return [
        {"role": "system", "content": QUESTION_INSTRUCTIONS},
        {"role": "user", "content": f"{prompt}\n\n{record}"},
    ]


def _outcome(row: dict[str, Any], question: Question, backend: Backend) -> dict[str, Any]:
    return {
        "question_id": question.question_id,
        "execution_id": row["execution_id"],
        "program_id": row["program_id"],
        "kind": str(question.kind),
        "backend": str(backend.name),
        "model": backend.model,
        "question": question.question,
        "answer_json": question.answer_json,
        "variable": question.variable,
        "line": question.line,
        "occurrence": question.occurrence,
        "given_json": question.given_json,
        "prompt": question_prompt(
            row["problem"], row["code"], row["entry_point"], row["input_json"], question
        ),
        "response": None,
        "outcome": None,
        "detail": "",
    }


def answer(rows: list[dict[str, Any]], asked: list[list[Question]], backend: Backend) -> list[dict[str, Any]]:
    """One outcome per question: the backend's answer (the template's from the trace; a
    model's in one batched call), verified against the execution's steps."""
    # each execution's steps parsed once, for every question about it
    pairs = [
        (row, steps, q)
        for row, questions in zip(rows, asked, strict=True)
        if questions
        for steps in [json.loads(row["steps_json"])]
        for q in questions
    ]
    results = [_outcome(row, q, backend) for row, _, q in pairs]
    if backend.name == BackendName.TEMPLATE:
        texts: list[tuple[str | None, str | None, str]] = [
            (render_answer(q, row["code"], row["entry_point"], row["input_json"], steps), None, "")
            for row, steps, q in pairs
        ]
    else:
        requests = [
            Request(_messages(row, result["prompt"]), Execution.from_row(row))
            for (row, _, _), result in zip(pairs, results, strict=True)
        ]
        texts = [finish(generation) for generation in backend.generate(requests)] if requests else []
    for result, (_, steps, question), (text, reason, detail) in zip(results, pairs, texts, strict=True):
        if text is None:
            result.update(outcome=reason, detail=detail)
            continue
        ok, why, said = verify_answer(text, question, steps)
        result.update(response=text, outcome=VERIFIED if ok else why, detail=said)
    return results


def ask_partition(batches: Iterator[pd.DataFrame], stage: AskingStage) -> Iterator[pd.DataFrame]:
    """The ``mapInPandas`` body: a partition's executions, their stable questions found in the
    sandbox (rows run concurrently), then answered in one backend call."""
    rows = [row for frame in batches for row in frame.to_dict("records")]
    if not rows:
        return
    sandbox: Sandbox = worker_state(stage)
    with ThreadPoolExecutor(max_workers=sandbox.workers) as pool:
        found = list(pool.map(lambda row: stable_questions(row, sandbox, stage.config), rows))
    backend: Backend = worker_state(stage.answerer)
    outcomes = answer(rows, [questions for questions, _ in found], backend)
    unstable = [
        {
            **{c: None for c in OUTCOME_COLUMNS},
            "execution_id": row["execution_id"],
            "outcome": UNSTABLE,
            "detail": str(n),
        }
        for row, (_, n) in zip(rows, found, strict=True)
        if n
    ]
    frame = pd.DataFrame([*outcomes, *unstable], columns=list(OUTCOME_COLUMNS))
    yield frame.astype({"line": "Int64", "occurrence": "Int64"})
