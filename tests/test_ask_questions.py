"""The questions task on real executions: stable questions from two real traces, answered by
the template backend or by a model, every answer verified before it may enter gold."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import pytest

from tests.counting_sandbox import CountingSandbox
from tracepile.config import TracepileConfig
from tracepile.translation.backends import Generation, Request, TemplateBackend
from tracepile.translation.question_answers import render_answer
from tracepile.udfs.ask_questions import VERIFIED, answer, stable_questions
from tracepile.udfs.sandbox import Sandbox

CODE = """def main_solution(n):
    total = 0
    for i in range(n):
        if i % 2 == 0:
            total += i
    return total
"""
ORDER = """def main_solution(words):
    seen = set(words)
    first = list(seen)[0]
    return len(seen)
"""


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


def _row(sandbox: Sandbox, code: str, input_json: str) -> dict:
    result = sandbox.execute(code, "main_solution", input_json, compare_steps=True)
    assert result.status == "ok", result.error
    return {
        "execution_id": "e" * 32, "program_id": "p" * 32, "problem": "Sum the even numbers below n.",
        "code": code, "entry_point": "main_solution", "input_json": input_json,
        "return_json": result.return_json, "steps_json": json.dumps(result.steps),
        "trace_text": result.trace_text, "run_mode": "call", "steps_seed_stable": result.steps_seed_stable,
    }  # fmt: skip


class ScriptedModel:
    """Stands in for a model backend (no model can run here): answers each request with the
    text ``script`` gives for it, so the verification of model answers is what is tested."""

    name, model, version = "openai", "scripted", "test"

    def __init__(self, script) -> None:  # type: ignore[no-untyped-def]
        self.script = script
        self.seen: list[Request] = []

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        return 0

    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        self.seen.extend(requests)
        return [Generation(self.script(request), "stop") for request in requests]


def test_template_answers_verify_and_a_model_s_wrong_answers_are_rejected(sandbox) -> None:
    config = TracepileConfig()
    row = _row(sandbox, CODE, '{"n": 5}')
    asked, left_out = stable_questions(row, sandbox, config)
    assert asked and left_out == 0
    template = answer([row], [asked], TemplateBackend())
    assert {r["outcome"] for r in template} == {VERIFIED}

    steps = json.loads(row["steps_json"])
    right = {q.question: render_answer(q, CODE, "main_solution", row["input_json"], steps) for q in asked}

    def liar(request: Request) -> str:  # right reasoning, the last line's answer changed
        question = re.search(r"Question: (.*)", request.messages[-1]["content"]).group(1)
        return right[question].rsplit("Final answer:", 1)[0] + "Final answer: 12345"

    model = ScriptedModel(liar)
    outcomes = answer([row], [asked], model)
    assert {r["outcome"] for r in outcomes} == {"wrong_final_answer"}
    # the model got the question with the execution record, after the shared instructions
    assert "Execution record:" in model.seen[0].messages[-1]["content"]
    honest = answer(
        [row],
        [asked],
        ScriptedModel(lambda r: right[re.search(r"Question: (.*)", r.messages[-1]["content"]).group(1)]),
    )
    assert {r["outcome"] for r in honest} == {VERIFIED}
    assert all(r["backend"] == "openai" and r["model"] == "scripted" for r in honest)


def test_a_value_that_depends_on_the_hash_seed_is_not_asked_about(sandbox) -> None:
    row = _row(sandbox, ORDER, '{"words": ["pear", "fig", "plum", "kiwi", "lime", "date"]}')
    config = TracepileConfig(questions={"per_kind": 50})
    asked, left_out = stable_questions(row, sandbox, config)
    # `first` is the first of a set of strings: its value moves with the hash seed
    assert left_out > 0
    assert not [q for q in asked if q.variable == "first"]
    assert [q for q in asked if q.kind == "return_value"]  # len(seen) does not move


def test_a_run_whose_steps_the_other_seed_repeats_is_not_traced_again(sandbox) -> None:
    config = TracepileConfig(questions={"per_kind": 50})
    stable = _row(sandbox, CODE, '{"n": 5}')
    assert stable["steps_seed_stable"] is True  # the trace stage's second run took the same steps
    counting = CountingSandbox(sandbox)
    asked, left_out = stable_questions(stable, counting, config)
    assert counting.runs == 0 and asked and left_out == 0
    # the same questions as tracing it again under the other seed finds
    retraced, _ = stable_questions({**stable, "steps_seed_stable": None}, counting, config)
    assert counting.runs == 1 and [q.question_id for q in retraced] == [q.question_id for q in asked]

    moving = _row(sandbox, ORDER, '{"words": ["pear", "fig", "plum", "kiwi", "lime", "date"]}')
    assert moving["steps_seed_stable"] is False  # the set's order, and `first`, move with the seed
    asked, left_out = stable_questions(moving, counting, config)
    assert counting.runs == 2 and left_out > 0 and not [q for q in asked if q.variable == "first"]
