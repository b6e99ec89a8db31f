"""Input prediction without Spark, on real runs in the sandbox: the prompt shows the code and an
output, an answer's input is read without evaluating anything and kept only where running it
returns that output (any such input, not only the recorded one)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.counting_sandbox import CountingSandbox
from tracepile.analysis.values import decode, encode
from tracepile.config import TracepileConfig
from tracepile.translation.backends import Generation, Request, TemplateBackend
from tracepile.translation.input_prediction import (
    Signature,
    Unread,
    input_answer_problem,
    input_prompt,
    read_input,
    signature,
)
from tracepile.udfs.predict_inputs import predict
from tracepile.udfs.sandbox import Sandbox
from tracepile.vocab import InputPredictionOutcome as Outcome

GCD = """def main_solution(a, b):
    # Euclid: replace (a, b) by (b, a mod b) until b is zero
    while b:
        a, b = b, a % b
    return a
"""
DOCTESTED = '''def main_solution(a, b):
    """The greatest common divisor.

    >>> main_solution(48, 18)
    6
    """
    while b:
        a, b = b, a % b
    return a
'''
CONFIG = TracepileConfig()


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


def _row(
    sandbox: Sandbox, code: str, arguments: dict, problem: str = "Euclid's gcd of two integers."
) -> dict:
    input_json = encode(arguments)
    result = sandbox.execute(code, "main_solution", input_json)
    assert result.status == "ok", result.error
    return {
        "execution_id": "e" * 32, "program_id": "p" * 32, "problem": problem, "code": code,
        "entry_point": "main_solution", "input_json": input_json, "return_json": result.return_json,
        "steps_json": json.dumps(result.steps), "trace_text": result.trace_text, "run_mode": "call",
        "source": "test", "domain": "math",
    }  # fmt: skip


class ScriptedModel:
    """Stands in for a model backend (no model runs here): answers each request with the text
    ``script`` gives for it, so what is tested is the reading and the run of its input."""

    name, model, version = "openai", "scripted", "test"

    def __init__(self, script: Callable[[Request], Generation]) -> None:
        self.script = script
        self.seen: list[Request] = []

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        return 0

    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        self.seen += requests
        return [self.script(request) for request in requests]


def _answering(text: str) -> ScriptedModel:
    return ScriptedModel(lambda _: Generation(text, "stop", 10, 20))


def _one(rows: list[dict], backend, sandbox: Sandbox) -> dict:  # type: ignore[no-untyped-def]
    (outcome,) = predict(rows, backend, sandbox, CONFIG)
    return outcome


def test_the_prompt_shows_code_and_output_but_not_the_recorded_input(sandbox: Sandbox) -> None:
    row = _row(sandbox, GCD, {"a": 48, "b": 18})
    prompt = input_prompt(row["problem"], row["code"], "main_solution", row["return_json"])
    assert "Output of main_solution: 6" in prompt and GCD.strip() in prompt
    assert "48" not in prompt and "18" not in prompt
    assert prompt.startswith("Euclid's gcd") and "Final answer: main_solution(" in prompt


def test_the_template_answers_from_the_recorded_run_which_verifies_it(sandbox: Sandbox) -> None:
    row = _row(sandbox, GCD, {"a": 48, "b": 18})
    counting = CountingSandbox(sandbox)
    outcome = _one([row], TemplateBackend(), counting)
    # the recorded input itself: the settled execution ran it under both hash seeds
    assert outcome["outcome"] == Outcome.VERIFIED and counting.runs == 0, outcome["detail"]
    other = _one([row], _answering("Final answer: main_solution(a=30, b=24)"), counting)
    assert other["outcome"] == Outcome.VERIFIED and counting.runs == 2  # another input: run under both
    assert decode(outcome["input_json"]) == {"a": 48, "b": 18} and outcome["output_json"] == "6"
    text = outcome["response"]
    assert text.splitlines()[-1] == "Final answer: main_solution(a=48, b=18)"
    assert "returns `6`" in text.splitlines()[0]
    assert "`a = 18`" in text and "`b = 12`" in text  # the recorded call's walk, values as it held them
    assert outcome["backend"] == "template" and len(outcome["prediction_id"]) == 32
    assert outcome["prompt"] == input_prompt(row["problem"], GCD, "main_solution", "6")


def test_a_different_input_that_gives_the_output_is_accepted(sandbox: Sandbox) -> None:
    row = _row(sandbox, GCD, {"a": 48, "b": 18})
    answer = (
        "The function returns the gcd of its arguments, so both must be multiples of 6 with no "
        "larger common factor. With `a = 12` and `b = 6`, `12 % 6 = 0`, so the loop ends with "
        "`a = 6`.\nFinal answer: `main_solution(12, 6)`"
    )
    model = _answering(answer)
    outcome = _one([row], model, sandbox)
    assert outcome["outcome"] == Outcome.VERIFIED, outcome["detail"]
    assert decode(outcome["input_json"]) == {"a": 12, "b": 6}  # bound to the parameters' names
    assert decode(outcome["recorded_input_json"]) == {"a": 48, "b": 18}
    assert outcome["completion_tokens"] == 20 and outcome["model"] == "scripted"
    assert outcome["prompt_tokens"] == 0  # as the backend counts them
    # the model got the prompt with the recorded run's record
    (request,) = model.seen
    assert "Record of one run" in request.messages[-1]["content"]
    assert request.messages[-1]["content"].startswith(outcome["prompt"])
    # the JSON form of an input (a dict of keyword arguments) is read as those arguments
    dict_form = _one([row], _answering("Final answer: {'a': 30, 'b': 24}"), sandbox)
    assert dict_form["outcome"] == Outcome.VERIFIED and decode(dict_form["input_json"]) == {"a": 30, "b": 24}


def test_a_wrong_input_is_rejected_with_what_the_call_returned(sandbox: Sandbox) -> None:
    row = _row(sandbox, GCD, {"a": 48, "b": 18})
    outcome = _one(
        [row], _answering("So the input is this.\nFinal answer: main_solution(a=12, b=8)"), sandbox
    )
    assert outcome["outcome"] == Outcome.WRONG_OUTPUT
    assert outcome["detail"] == "the call returns 4, not 6"
    assert decode(outcome["input_json"]) == {"a": 12, "b": 8}  # the input read, kept with the reject


def test_an_input_that_raises_is_rejected_as_a_failed_run(sandbox: Sandbox) -> None:
    row = _row(sandbox, GCD, {"a": 48, "b": 18})
    outcome = _one([row], _answering("Final answer: main_solution(a='x', b=2)"), sandbox)
    assert outcome["outcome"] == Outcome.RUN_FAILED
    assert outcome["detail"].startswith("error: ") and "TypeError" in outcome["detail"]


@pytest.mark.parametrize(
    ("answer", "reason", "detail"),
    [
        ("The input is a=12 and b=6.", Outcome.NO_INPUT, "no line starting 'Final answer:'"),
        ("Final answer: main_solution(a=twelve, b=6)", Outcome.INPUT_NOT_PARSED, "not a literal: twelve"),
        ("Final answer: a pair of multiples of 6", Outcome.INPUT_NOT_PARSED, "is not call arguments"),
        ("Final answer: main_solution(a=12)", Outcome.ARGUMENTS_DO_NOT_FIT, "no value for b"),
        ("Final answer: main_solution(12, 6, c=1)", Outcome.ARGUMENTS_DO_NOT_FIT, "no parameter c"),
        ("Final answer: main_solution(12, 6, 0)", Outcome.ARGUMENTS_DO_NOT_FIT, "3 positional arguments"),
    ],
)
def test_an_answer_without_a_readable_input_is_rejected_with_its_reason(
    sandbox: Sandbox, answer: str, reason: str, detail: str
) -> None:
    row = _row(sandbox, GCD, {"a": 48, "b": 18})
    outcome = _one([row], _answering(answer), sandbox)
    assert (outcome["outcome"], outcome["input_json"], outcome["response"]) == (reason, None, answer)
    assert detail in outcome["detail"]


def test_an_answer_that_tries_code_is_rejected_and_never_evaluated(sandbox: Sandbox, tmp_path: Path) -> None:
    row = _row(sandbox, GCD, {"a": 48, "b": 18})
    planted = tmp_path / "ran"
    for call in (
        f"__import__('os').system('touch {planted}')",
        f"main_solution(a=__import__('os').system('touch {planted}'), b=6)",
        f"main_solution(*[open('{planted}', 'w')])",
    ):
        outcome = _one([row], _answering(f"Final answer: {call}"), sandbox)
        assert outcome["outcome"] == Outcome.INPUT_NOT_PARSED, (call, outcome["detail"])
    assert not planted.exists()


def test_a_shown_example_of_this_input_and_output_is_not_asked(sandbox: Sandbox) -> None:
    row = _row(sandbox, DOCTESTED, {"a": 48, "b": 18})
    model = _answering("Final answer: main_solution(48, 18)")
    outcome = _one([row], model, sandbox)
    assert outcome["outcome"] == Outcome.ANSWER_IN_PROMPT and model.seen == []
    # another input of the same program is asked
    assert (
        _one([_row(sandbox, DOCTESTED, {"a": 9, "b": 6})], TemplateBackend(), sandbox)["outcome"]
        == "verified"
    )


def test_a_model_failure_leaves_the_row_pending_and_other_rows_go_on(sandbox: Sandbox) -> None:
    rows = [
        _row(sandbox, GCD, {"a": 48, "b": 18}),
        {**_row(sandbox, GCD, {"a": 9, "b": 6}), "execution_id": "f" * 32},
    ]

    def script(request: Request) -> Generation:
        if "Output of main_solution: 6" in request.messages[-1]["content"]:
            return Generation(None, "error", error="HTTP 503: down")
        return Generation("Final answer: main_solution(3, 3)", "stop")

    first, second = predict(rows, ScriptedModel(script), sandbox, CONFIG)
    assert (first["outcome"], first["detail"]) == (Outcome.BACKEND_ERROR, "HTTP 503: down")
    assert second["outcome"] == Outcome.VERIFIED and decode(second["input_json"]) == {"a": 3, "b": 3}
    cut = predict(rows[:1], _answering(None), sandbox, CONFIG)  # type: ignore[arg-type]
    assert cut[0]["outcome"] == Outcome.BACKEND_ERROR


def test_an_output_that_depends_on_the_hash_seed_is_not_verified(sandbox: Sandbox) -> None:
    code = "def main_solution(words):\n    return list(set(words))[0]\n"
    words = [f"w{n}" for n in range(12)]
    under = [
        sandbox.run(code, "main_solution", encode({"words": words}), hash_seed=s) for s in sandbox.hash_seeds
    ]
    assert under[0].return_json != under[1].return_json  # the two seeds order this set differently
    row = {
        **_row(sandbox, "def main_solution(words):\n    return words[0]\n", {"words": words[:1]}),
        "code": code, "return_json": under[0].return_json,
    }  # fmt: skip
    outcome = _one([row], _answering(f"Final answer: main_solution(words={words!r})"), sandbox)
    assert outcome["outcome"] == Outcome.NONDETERMINISTIC, outcome["detail"]


def test_inputs_bind_to_the_signature_defaults_and_keywords() -> None:
    code = "def main_solution(n, step=1, *, scale=2, **options):\n    return n\n"
    parameters = signature(code, "main_solution", '{"n": 1}')
    assert parameters == Signature(("n", "step", "scale"), frozenset({"step", "scale"}), True)
    assert decode(read_input("Final answer: main_solution(5)", "main_solution", parameters)) == {"n": 5}
    stated = read_input("Final answer: main_solution(5, 3, extra=True)", "main_solution", parameters)
    assert decode(stated) == {"n": 5, "step": 3, "extra": True}
    with pytest.raises(Unread, match="n is given twice"):
        read_input("Final answer: main_solution(5, n=4)", "main_solution", parameters)
    # a function of one dict: a dict whose keys are not parameters is that dict
    one = signature("def main_solution(table):\n    return 0\n", "main_solution", '{"table": {}}')
    assert decode(read_input("Final answer: {'x': 1}", "main_solution", one)) == {"table": {"x": 1}}
    # a tuple stays a tuple, a set a set (typed JSON)
    pair = signature("def main_solution(p, s):\n    return 0\n", "main_solution", "{}")
    assert read_input("Final answer: main_solution((1, 2), {3})", "main_solution", pair) == (
        '{"p":{"$tuple":[1,2]},"s":{"$set":[3]}}'
    )


def test_the_export_check_reads_the_final_answer_against_the_kept_input() -> None:
    kept = '{"a":12,"b":6}'
    assert input_answer_problem("...\nFinal answer: main_solution(a=12, b=6)", kept) is None
    assert input_answer_problem("Final answer: main_solution(12, 6)", kept) is None
    assert input_answer_problem("Final answer: main_solution(b=6, a=12)", kept) is None
    assert input_answer_problem("Final answer: main_solution(12, 7)", kept)[0] == "wrong_final_answer"
    assert input_answer_problem("no answer", kept)[0] == "no_input"


def test_a_row_a_step_raises_on_is_rejected_and_the_others_go_on(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = {**_row(sandbox, GCD, {"a": 48, "b": 18}), "execution_id": "a" * 32}
    other = _row(sandbox, GCD, {"a": 9, "b": 6})
    monkeypatch.setenv("TRACEPILE_TEST_FAULT_AT", f"inputs:{'a' * 32}")
    first, second = predict([planted, other], TemplateBackend(), sandbox, CONFIG)
    assert first["outcome"] == Outcome.INTERNAL_ERROR and "PlantedFault" in first["detail"]
    assert len(first["prediction_id"]) == 32 and first["output_json"] == "6"
    assert second["outcome"] == Outcome.VERIFIED


def test_a_prompt_over_the_token_limit_is_not_asked(sandbox: Sandbox) -> None:
    row = _row(sandbox, GCD, {"a": 48, "b": 18})
    short = TracepileConfig.model_validate({"generate": {"max_prompt_tokens": 50}})
    (outcome,) = predict([row], TemplateBackend(), sandbox, short)
    assert outcome["outcome"] == Outcome.PROMPT_TOO_LONG and outcome["response"] is None
    assert outcome["detail"] == f"{outcome['prompt_tokens']} tokens > 50" and outcome["prompt_tokens"] > 50
    assert _one([row], TemplateBackend(), sandbox)["outcome"] == Outcome.VERIFIED  # under the default
