"""The two prompts: translation (for the model that writes the CoE) and training (in the corpus).

- The **translation prompt** gives a translator model the question, the input, the code
  and the trace, and asks for a step-by-step solution that uses the exact values, writes
  no code, never mentions a trace, writes each stated value as ``name = value`` in inline
  code, and ends with ``Final answer: <JSON>``. The shared instructions come first (the
  system message), so an engine with prefix caching reuses them across rows.
- The **training prompt** is the user turn of a training example: the question, the code
  and the input, and the request to predict the output by tracing the code step by step.

Token lengths are real counts when a tokenizer is available (a local model path);
otherwise ``estimate_tokens`` (characters / 3.5, rounded up: close for English and code
under BPE tokenizers, on the long side so limits hold).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import xxhash

from tracepile.vocab import SCRIPT_MODES, RunMode

PROMPT_VERSION = "coe-v1"  # part of every prompt hash: change it when the wording changes

TRANSLATION_INSTRUCTIONS = """\
You turn a program's real execution into a step-by-step solution of a question.
You are given the question, the input, the Python code that answers it, and a
line-by-line record of running that code on the input.
Write the solution as a person reasoning through the computation in plain language:
- follow the computation step by step and use the exact intermediate values it produced;
- write every value you state for a variable as inline code, like `total = 12`;
- summarise long loops: the first iterations in full, then how the values evolve;
- do not write code, and never mention code execution, a trace, a log or a debugger;
- end with one line: Final answer: <the result as JSON>"""

TRAINING_REQUEST = (
    "Given the code and the input below, predict the output by tracing the code step by step. "
    "End with a line 'Final answer: <the output as JSON>'."
)
# a script's result is what it prints (run modes stdin and answer)
SCRIPT_REQUEST = (
    "Given the code and the input below, predict what the program prints by tracing the code step "
    "by step. End with a line 'Final answer: <the printed output>' (as a JSON string if it spans "
    "several lines)."
)
SCRIPT_ANSWER_NOTE = (
    "The result is what the program prints: end with the line Final answer: <the printed output> "
    "(as a JSON string if it spans several lines)."
)


@dataclass(frozen=True)
class ProgramRun:
    """One ok execution with what the prompts need of its program."""

    problem: str
    code: str
    entry_point: str
    input_json: str
    trace_text: str
    run_mode: str = RunMode.CALL


def _script_input(run: ProgramRun) -> str:
    """A script's input as the prompts show it: its standard input, or that it reads none."""
    stdin = json.loads(run.input_json).get("stdin", "")
    return f"Standard input:\n```\n{stdin}\n```" if stdin else "Standard input: none"


def translation_messages(run: ProgramRun) -> list[dict[str, str]]:
    if run.run_mode in SCRIPT_MODES:
        given, note = _script_input(run), f"\n\n{SCRIPT_ANSWER_NOTE}"
    else:  # the call mode's prompt is unchanged, so its prompt hashes (generation keys) are too
        given, note = f"Input (keyword arguments of {run.entry_point}):\n{run.input_json}", ""
    user = (
        f"Question:\n{run.problem.strip()}\n\n"
        f"{given}\n\n"
        f"Code:\n```python\n{run.code.strip()}\n```\n\n"
        f"Execution record:\n{run.trace_text.strip()}{note}"
    )
    return [{"role": "system", "content": TRANSLATION_INSTRUCTIONS}, {"role": "user", "content": user}]


def training_prompt(run: ProgramRun) -> str:
    if run.run_mode in SCRIPT_MODES:
        request, given = SCRIPT_REQUEST, _script_input(run)
    else:
        request, given = TRAINING_REQUEST, f"Input (keyword arguments of {run.entry_point}): {run.input_json}"
    return f"{run.problem.strip()}\n\n{request}\n\nCode:\n```python\n{run.code.strip()}\n```\n\n{given}"


def prompt_hash(messages: list[dict[str, str]], backend_version: str = "") -> str:
    """32 hex digits naming the exact prompt (and the backend's own version, e.g. the
    template renderer's): one part of a generation's key."""
    payload = json.dumps([PROMPT_VERSION, backend_version, messages], sort_keys=True, ensure_ascii=False)
    return xxhash.xxh3_128_hexdigest(payload.encode("utf-8"))


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 3.5)


def count_tokens(tokenizer: Any | None, messages: list[dict[str, str]]) -> int:
    """Prompt tokens: the chat template's real count with a tokenizer, else the estimate."""
    if tokenizer is not None:
        return len(tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True))
    return sum(estimate_tokens(m["content"]) + 4 for m in messages)
