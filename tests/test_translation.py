"""CoE generation without Spark: the template on real sandbox traces, the verifier against
planted wrong texts, thinking-text cleaning, and the model backends' batching, prompts
and parsing.

vLLM itself cannot run here (no GPU, no weights), so its tests replace the engine with a
stand-in and say so; the openai backend talks real HTTP to a small local server that
answers like ``vllm serve`` would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from tracepile.analysis.values import decode, parse_literal, to_literal
from tracepile.cli import sample_path
from tracepile.config import GenerateConfig
from tracepile.translation.backends import (
    Generation,
    OpenAIBackend,
    Request,
    TemplateBackend,
    VllmBackend,
    finish,
)
from tracepile.translation.prompts import TRANSLATION_INSTRUCTIONS, ProgramRun, translation_messages
from tracepile.translation.template import DETAIL_STEPS, render_coe
from tracepile.translation.trace_model import Execution
from tracepile.translation.verify import verify
from tracepile.udfs.sandbox import Sandbox
from tracepile.udfs.write_coe import GenerateOptions, generate_rows

LOOP = (
    "def main_solution(n):\n    total = 0\n    for i in range(n):\n        total += i * i\n    return total\n"
)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


def _execution(sandbox: Sandbox, code: str, entry: str, input_json: str) -> Execution:
    result = sandbox.execute(code, entry, input_json)
    assert result.status == "ok", result.error
    return Execution(entry, input_json, result.return_json, result.steps)


@pytest.fixture(scope="module")
def sample_executions(sandbox) -> list[tuple[dict, Execution]]:
    records = [json.loads(line) for line in Path(sample_path()).read_text(encoding="utf-8").splitlines()]
    runs = []
    for record in records[:12]:
        io = record["ios"][0]
        runs.append(
            (record, _execution(sandbox, record["refcode"], record["funcname"], json.dumps(io["input"])))
        )
    return runs


def test_template_text_on_real_traces_verifies_and_ends_with_the_executed_output(sample_executions) -> None:
    for record, execution in sample_executions:
        text = render_coe(execution)
        verdict = verify(text, execution)
        assert verdict.ok, (record["problem_description"], verdict)
        # the answer as a Python literal (`False`, a tuple as a tuple), read back to the record's output
        assert text.splitlines()[-1] == f"Final answer: {to_literal(decode(execution.return_json))}"
        assert parse_literal(text.splitlines()[-1].split(":", 1)[1]) == record["ios"][0]["output"]
    assert sum(verify(render_coe(e), e).claims_checked for _, e in sample_executions) > 50


def test_long_loops_are_summarised_with_true_values(sandbox) -> None:
    execution = _execution(sandbox, LOOP, "main_solution", '{"n": 60}')
    text = render_coe(execution)
    assert "keep repeating" in text and "ending at `total = " in text
    assert len(text.splitlines()) < DETAIL_STEPS + 20 < len(execution.steps)
    assert verify(text, execution).ok and text.endswith(f"Final answer: {sum(i * i for i in range(60))}")


def _planted(text: str, execution: Execution) -> str:
    """The text with one stated value changed to one the variable never held."""
    name, value = re.search(r"`(total) = (\d+)`", text).groups()
    held = {int(v) for s in execution.steps for k, v in s["changed"].items() if k == name}
    wrong = next(n for n in range(int(value) + 1, 10**6) if n not in held)
    return text.replace(f"`{name} = {value}`", f"`{name} = {wrong}`", 1)


@pytest.mark.parametrize(
    ("plant", "reason"),
    [
        (lambda t, e: t.rsplit("Final answer:", 1)[0] + "Final answer: 999999", "wrong_final_answer"),
        (lambda t, e: t.rsplit("Final answer:", 1)[0] + "Final answer: [1, 2]", "wrong_final_answer"),
        # no final-answer line, and the closing sentence that states the result in prose cut too
        (lambda t, e: t.rsplit("\n", 2)[0] + "\nSo we are done.", "no_final_answer"),
        # no final-answer line; the closing sentence states a wrong result in prose
        (lambda t, e: re.sub(r"`140`\.\nFinal answer: 140$", "`141`.", t), "wrong_final_answer"),
        (_planted, "wrong_intermediate_value"),
    ],
)
def test_planted_wrong_texts_are_rejected(sandbox, plant, reason) -> None:
    execution = _execution(sandbox, LOOP, "main_solution", '{"n": 8}')
    text = render_coe(execution)
    assert verify(text, execution).ok
    verdict = verify(plant(text, execution), execution)
    assert not verdict.ok and verdict.reason == reason, verdict


def test_a_text_stating_its_result_only_in_prose_is_checked_by_it(sandbox) -> None:
    execution = _execution(sandbox, LOOP, "main_solution", '{"n": 8}')
    text = render_coe(execution)
    assert text.endswith("the output is `140`.\nFinal answer: 140")  # the template's closing sentence
    assert verify(text.rsplit("\n", 1)[0], execution).ok  # read from "the output is `140`."


def test_code_in_backticks_is_not_a_claim_but_a_wrong_value_for_a_traced_name_is(sandbox) -> None:
    execution = _execution(sandbox, LOOP, "main_solution", '{"n": 3}')
    code_mention = "We start from `total = 0 + i * i`, then\nFinal answer: 5"
    assert verify(code_mention, execution).ok
    assert verify("First `i = 7`.\nFinal answer: 5", execution).reason == "wrong_intermediate_value"


@pytest.mark.parametrize(
    ("generation", "expected"),
    [
        (Generation("<think>carry the 1</think>\nFinal answer: 3", "stop"), ("Final answer: 3", None)),
        (Generation("carry the 1</think>Final answer: 3", "stop"), ("Final answer: 3", None)),
        (Generation("<think>still thinking", "stop"), (None, "unfinished_thinking")),
        (Generation("Final ans", "length", completion_tokens=50), (None, "token_limit")),
        (Generation(None, "error", error="HTTP 500"), (None, "backend_error")),
        (Generation("<think>only this</think>", "stop"), (None, "empty_response")),
    ],
)
def test_thinking_is_stripped_and_unfinished_or_cut_texts_are_dropped(generation, expected) -> None:
    text, reason, _ = finish(generation)
    assert (text, reason) == expected


def _run(code: str = LOOP) -> ProgramRun:
    return ProgramRun("Sum of squares below n?", code, "main_solution", '{"n": 3}', "trace text")


def test_openai_backend_bounds_concurrency_retries_and_keeps_order(server) -> None:
    srv = server(lambda body: f"Final answer: {body['messages'][1]['content'][-1]}", failures=2)
    settings = GenerateConfig(backend="openai", model="served", base_url=f"http://127.0.0.1:{srv.server_port}/v1",
                              max_concurrency=3, max_retries=3)  # fmt: skip
    backend = OpenAIBackend(settings)
    requests = [
        Request([{"role": "system", "content": "s"}, {"role": "user", "content": f"q{i}"}], None)
        for i in range(10)
    ]
    generations = backend.generate(requests)
    assert [g.text for g in generations] == [f"Final answer: {i}" for i in range(10)]
    assert all(g.prompt_tokens == 11 and g.completion_tokens == 7 for g in generations)
    assert len(srv.requests) == 12 and srv.most_in_flight <= 3  # 2 retried after 503
    path, body = srv.requests[0]
    assert path == "/v1/chat/completions" and body["model"] == "served" and body["max_tokens"] == 4096


def test_openai_backend_reports_an_unreachable_server_after_its_retries() -> None:
    settings = GenerateConfig(backend="openai", model="m", base_url="http://127.0.0.1:9/v1", max_retries=2)
    backend = OpenAIBackend(settings)
    (generation,) = backend.generate([Request([{"role": "user", "content": "x"}], None)])
    assert generation.finish_reason == "error" and "after 3 attempt(s)" in generation.error


def _row(execution: Execution, code: str = LOOP, **overrides: str) -> dict[str, str]:
    """A generate-stage input row for ``execution`` of ``code``."""
    return {
        "execution_id": "e" * 32, "program_id": "p" * 32, "problem": "Sum of squares?", "code": code,
        "entry_point": execution.entry_point, "input_json": execution.input_json,
        "return_json": execution.return_json, "trace_text": "t", "steps_json": json.dumps(execution.steps),
        "source": "s", "domain": "math", **overrides,
    }  # fmt: skip


class _StandInEngine:
    """Replaces ``vllm.LLM`` (needs a GPU and weights): a chat template that joins the messages,
    and a model that answers each prompt with the scripted text."""

    def __init__(self, script) -> None:
        self.script, self.calls = script, []

    def get_tokenizer(self):
        def apply_chat_template(messages, tokenize, add_generation_prompt):
            text = "".join(f"<|{m['role']}|>{m['content']}" for m in messages) + "<|assistant|>"
            return text.split() if tokenize else text

        return SimpleNamespace(apply_chat_template=apply_chat_template)

    def generate(self, prompts, params, use_tqdm):
        self.calls.append((list(prompts), params))
        return [
            SimpleNamespace(
                prompt_token_ids=p.split(),
                outputs=[SimpleNamespace(text=self.script(p), finish_reason="stop", token_ids=[1, 2, 3])],
            )
            for p in prompts
        ]


def test_vllm_backend_batches_the_partition_with_shared_instructions_first_engine_replaced(sandbox) -> None:
    execution = _execution(sandbox, LOOP, "main_solution", '{"n": 3}')
    right = render_coe(execution)
    engine = _StandInEngine(
        lambda prompt: f"<think>hmm</think>{right}" if "n=1" not in prompt else "Final answer: 0"
    )
    made = []
    backend = VllmBackend(GenerateConfig(backend="vllm", model="m"), lambda s: made.append(s) or engine,
                          lambda s: ("sampling", s.max_tokens))  # fmt: skip
    rows = [_row(execution, execution_id=f"{i:032x}") for i in range(5)]
    outcomes = generate_rows(
        rows,
        backend,
        GenerateOptions(backend.settings, 10_000, retry_with_feedback=False, min_checked_claims=1),
    )
    assert [o["outcome"] for o in outcomes] == ["verified"] * 5
    assert outcomes[0]["response"] == right and outcomes[0]["completion_tokens"] == 3
    assert len(made) == 1 and len(engine.calls) == 1  # one engine, one generate call for the partition
    prompts, params = engine.calls[0]
    assert len(prompts) == 5 and params == ("sampling", 4096)
    assert all(p.startswith(f"<|system|>{TRANSLATION_INSTRUCTIONS}<|user|>Question:") for p in prompts)
    assert "Execution record:\nt" in prompts[0] and "predict the output" in outcomes[0]["prompt"]


def test_a_wrong_text_is_regenerated_once_with_the_error_as_feedback_engine_replaced(sandbox) -> None:
    execution = _execution(sandbox, LOOP, "main_solution", '{"n": 3}')
    right = render_coe(execution)
    engine = _StandInEngine(
        lambda prompt: right if "That solution is wrong" in prompt else "Final answer: 42"
    )
    backend = VllmBackend(GenerateConfig(backend="vllm", model="m"), lambda s: engine, lambda s: None)
    row = _row(execution)
    once = generate_rows(
        [row],
        backend,
        GenerateOptions(backend.settings, 10_000, retry_with_feedback=False, min_checked_claims=1),
    )
    assert once[0]["outcome"] == "wrong_final_answer"
    again = generate_rows(
        [row],
        backend,
        GenerateOptions(backend.settings, 10_000, retry_with_feedback=True, min_checked_claims=1),
    )
    assert again[0]["outcome"] == "verified" and again[0]["detail"].startswith("regenerated once")
    assert "the program returned 5" in engine.calls[-1][0][0]


def test_prompts_over_the_token_limit_are_dropped_before_generation() -> None:
    messages = translation_messages(_run("x = 1\n" * 2000))
    backend = TemplateBackend()
    assert backend.prompt_tokens(messages) > 1000
    row = _row(Execution("f", "{}", "1", []), code="x = 1\n" * 2000)
    (outcome,) = generate_rows(
        [row],
        backend,
        GenerateOptions(GenerateConfig(), 1000, retry_with_feedback=False, min_checked_claims=1),
    )
    assert outcome["outcome"] == "prompt_too_long" and outcome["response"] is None
