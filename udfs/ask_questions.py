"""The questions stage's ``mapInPandas`` body: variable-tracing questions from ok executions,
each answered by the backend and verified against the trace.

Questions come from the execution's structured steps (``translation/questions.py``). A value
that depends on the hash seed (a set of strings iterated) is not a question with one answer,
so only questions whose answer is the same under the sandbox's other hash seed are asked:
all of them where the trace stage found that run's steps the same (``steps_seed_stable``),
else the execution is traced once more under the other seed and the answers compared. The
template backend answers from the trace; a model backend gets the question with the
execution record, and what it answers is verified like a CoE text. One outcome row per
question: ``verified``, or the reason it was dropped (``internal_error`` where a step raised
on it: the others go on), or ``unstable`` (asked of neither table).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import pandas as pd

from tracepile.analysis.hashing import content_id
from tracepile.config import TracepileConfig
from tracepile.failures import StepFailed, fault_point, guarded, isolating
from tracepile.tables import GOLD_QUESTIONS
from tracepile.translation.backends import BACKEND_ERROR, Backend, Request, finish
from tracepile.translation.final_answers import ANSWER_LINE_ADDED, with_answer_line
from tracepile.translation.prompts import shows_its_answer
from tracepile.translation.question_answers import answer_facts, render_answer, verify_answer
from tracepile.translation.questions import Question, question_prompt, questions_for
from tracepile.translation.statement_trace import TracedCall, traced_call
from tracepile.translation.template import Execution
from tracepile.translation.verify import RunFacts
from tracepile.udfs.frames import outcome_frame, records
from tracepile.udfs.sandbox import Sandbox
from tracepile.udfs.worker_state import WorkerSetup, worker_state
from tracepile.vocab import Backend as BackendName
from tracepile.vocab import GenerateOutcome, QuestionKind, Status

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


def _asked(row: dict[str, Any], config: TracepileConfig) -> list[Question]:
    """The execution's questions, as many of each kind as ``questions.per_kind`` allows."""
    fault_point("questions", row["program_id"], row["execution_id"])
    settings = config.questions
    asked = questions_for(
        row["code"], row["entry_point"], row["input_json"], row["return_json"], json.loads(row["steps_json"]),
        settings.per_kind, settings.seed, row["execution_id"],
    )  # fmt: skip
    if shows_its_answer(row):  # the shown code or problem gives the return value: not asked
        return [question for question in asked if question.kind != QuestionKind.RETURN_VALUE]
    return asked


Stable = tuple[list[Question], int]  # the questions kept, and how many were left out


def _stable(row: dict[str, Any], asked: list[Question], sandbox: Sandbox, config: TracepileConfig) -> Stable:
    """Those of ``asked`` whose answers the other hash seed's trace gives too, and how many
    were left out for depending on it."""
    if not asked:
        return [], 0
    if row.get("steps_seed_stable"):  # the trace stage's run under the other seed took these steps
        return asked, 0
    code, entry, given = row["code"], row["entry_point"], row["input_json"]
    other = sandbox.run(code, entry, given, config.trace, trace=True, hash_seed=sandbox.hash_seeds[0])
    if other.status != Status.OK or other.steps is None:
        return [], len(asked)
    candidates = questions_for(
        code, entry, given, other.return_json or "null", other.steps, ALL_CANDIDATES, config.questions.seed,
        row["execution_id"],
    )  # fmt: skip
    answers = {q.question_id: q.answer_json for q in candidates}
    kept = [q for q in asked if answers.get(q.question_id) == q.answer_json]
    return kept, len(asked) - len(kept)


def stable_questions(
    row: dict[str, Any], sandbox: Sandbox, config: TracepileConfig
) -> tuple[list[Question], int]:
    """The execution's questions whose answers the other hash seed's trace gives too, and how
    many were left out for depending on it."""
    return _stable(row, _asked(row, config), sandbox, config)


def _messages(row: dict[str, Any], prompt: str) -> list[dict[str, str]]:
    """What a model is asked: the question's training prompt with the execution record."""
    record = f"Execution record:\n{(row['trace_text'] or '').strip()}"
    return [
        {"role": "system", "content": QUESTION_INSTRUCTIONS},
        {"role": "user", "content": f"{prompt}\n\n{record}"},
    ]


Generated = tuple[str | None, str | None, str]  # an answer's text, or None with the reason and detail


def _key(row: dict[str, Any], backend: Backend, question: Question | None = None) -> dict[str, Any]:
    """An outcome row with the columns that name it filled, the rest None."""
    key = {
        **dict.fromkeys(OUTCOME_COLUMNS),
        "execution_id": row["execution_id"],
        "program_id": row["program_id"],
        "backend": str(backend.name),
        "model": backend.model,
        "detail": "",
    }
    if question is not None:
        key.update(question_id=question.question_id, kind=str(question.kind))
    return key


def _outcome(row: dict[str, Any], question: Question, backend: Backend) -> dict[str, Any]:
    return {
        **_key(row, backend, question),
        "question": question.question,
        "answer_json": question.answer_json,
        "variable": question.variable,
        "line": question.line,
        "occurrence": question.occurrence,
        "given_json": question.given_json,
        "prompt": question_prompt(
            row["problem"], row["code"], row["entry_point"], row["input_json"], question
        ),
    }


def _failed(result: dict[str, Any], failure: StepFailed) -> dict[str, Any]:
    return {**result, "outcome": GenerateOutcome.INTERNAL_ERROR, "detail": failure.detail}


def _unasked(row: dict[str, Any], backend: Backend, failure: StepFailed) -> list[dict[str, Any]]:
    """Where finding an execution's questions raised, no question is known: one reject per kind
    says that none of that kind was asked (the execution is then done, as one with questions)."""
    rows = []
    for kind in QuestionKind:
        question_id = content_id([row["execution_id"], str(kind)])
        rows.append(_failed({**_key(row, backend), "question_id": question_id, "kind": str(kind)}, failure))
    return rows


def _request(row: dict[str, Any], result: dict[str, Any]) -> Request:
    return Request(_messages(row, result["prompt"]), Execution.from_row(row))


def _model_answers(
    pending: list[tuple[dict[str, Any], dict[str, Any], Question]], backend: Backend
) -> list[Generated | StepFailed]:
    """A model's answers in one batched call. Where the call raises it is made again on halves
    of the batch; a question it still raises on is left to the next run (``backend_error``: an
    engine's failure is not the question's), one whose request cannot be made is rejected."""
    requests = [guarded(_request, row, result) for row, result, _ in pending]
    generations = iter(isolating(backend.generate, [r for r in requests if not isinstance(r, StepFailed)]))
    answers: list[Generated | StepFailed] = []
    for request in requests:
        if isinstance(request, StepFailed):
            answers.append(request)
            continue
        generation = next(generations)
        failed = isinstance(generation, StepFailed)
        answers.append((None, BACKEND_ERROR, generation.detail) if failed else finish(generation))
    return answers


def _judged(
    result: dict[str, Any], text: str, question: Question, steps: list[Any], facts: RunFacts
) -> dict[str, Any]:
    ok, why, said = verify_answer(text, question, steps, facts)
    if ok:  # an answer stated in prose gets the final-answer line, as a CoE text does
        text, added = with_answer_line(text, question.answer_json)
        said = ANSWER_LINE_ADDED if added else said
    return {**result, "response": text, "outcome": VERIFIED if ok else why, "detail": said}


def answer(rows: list[dict[str, Any]], asked: list[list[Question]], backend: Backend) -> list[dict[str, Any]]:
    """One outcome per question: the backend's answer (the template's from the trace; a
    model's in one batched call), verified against the execution's steps. A question whose
    step raises is rejected (``internal_error``), and the others go on."""
    outcomes: list[dict[str, Any]] = []
    pending: list[tuple[dict[str, Any], dict[str, Any], Question]] = []
    for row, questions in zip(rows, asked, strict=True):
        for question in questions:
            result = guarded(_outcome, row, question, backend)
            if isinstance(result, StepFailed):
                outcomes.append(_failed(_key(row, backend, question), result))
            else:
                pending.append((row, result, question))
    # each execution's steps parsed, its traced call made and its facts read for the verifier,
    # once for every question about it
    steps = {row["execution_id"]: json.loads(row["steps_json"]) for row, _, _ in pending}
    facts = functools.cache(lambda execution_id: answer_facts(steps[execution_id]))

    @functools.cache
    def call_of(row_id: str, code: str, entry_point: str) -> TracedCall | None:
        return traced_call(code, entry_point, steps[row_id])

    def template_answer(question: Question, row: dict[str, Any]) -> Generated:
        row_id, code, entry_point = row["execution_id"], row["code"], row["entry_point"]
        call = call_of(row_id, code, entry_point)
        return render_answer(question, code, entry_point, row["input_json"], steps[row_id], call), None, ""

    def judged(result: dict[str, Any], text: str, question: Question, execution_id: str) -> dict[str, Any]:
        return _judged(result, text, question, steps[execution_id], facts(execution_id))

    answers: list[Generated | StepFailed]
    if backend.name == BackendName.TEMPLATE:
        answers = [guarded(template_answer, question, row) for row, _, question in pending]
    else:
        answers = _model_answers(pending, backend)
    for (row, result, question), given in zip(pending, answers, strict=True):
        if isinstance(given, StepFailed):
            outcomes.append(_failed(result, given))
        elif given[0] is None:
            outcomes.append({**result, "outcome": given[1], "detail": given[2]})
        else:
            done = guarded(judged, result, given[0], question, row["execution_id"])
            outcomes.append(_failed(result, done) if isinstance(done, StepFailed) else done)
    return outcomes


def ask_partition(batches: Iterator[pd.DataFrame], stage: AskingStage) -> Iterator[pd.DataFrame]:
    """The ``mapInPandas`` body: a partition's executions, their stable questions found in the
    sandbox (rows run concurrently), then answered in one backend call. Where finding an
    execution's questions raises, they are rejected (``internal_error``) and the others go on."""
    rows = records(batches)
    if not rows:
        return
    sandbox: Sandbox = worker_state(stage)

    def find(
        row: dict[str, Any],
    ) -> tuple[list[Question] | StepFailed, tuple[list[Question], int] | StepFailed]:
        asked = guarded(_asked, row, stage.config)
        if isinstance(asked, StepFailed):
            return asked, asked
        return asked, guarded(_stable, row, asked, sandbox, stage.config)

    with ThreadPoolExecutor(max_workers=sandbox.workers) as pool:
        found = list(pool.map(find, rows))
    backend: Backend = worker_state(stage.answerer)
    outcomes = answer(rows, [[] if isinstance(kept, StepFailed) else kept[0] for _, kept in found], backend)
    for row, (asked, kept) in zip(rows, found, strict=True):
        if isinstance(asked, StepFailed):
            outcomes += _unasked(row, backend, asked)
        elif isinstance(kept, StepFailed):  # whether their answers hold under the other seed is unknown
            outcomes += [_failed(_key(row, backend, question), kept) for question in asked]
        elif kept[1]:
            outcomes.append(
                {**dict.fromkeys(OUTCOME_COLUMNS), "execution_id": row["execution_id"], "outcome": UNSTABLE,
                 "detail": str(kept[1])}
            )  # fmt: skip
    yield outcome_frame(outcomes, OUTCOME_COLUMNS)
