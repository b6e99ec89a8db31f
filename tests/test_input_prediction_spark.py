"""Input prediction end to end on the bundled sample: the pipeline with ``inputs.enabled``,
every kept prediction confirmed by running its input again in a fresh sandbox, a rerun that
finds nothing left to do, and an export whose ``input`` rows carry the kept input and output."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import read_delta
from tracepile.analysis.values import call_literal, decode, to_literal, values_equal
from tracepile.cli import sample_path
from tracepile.config import load_config
from tracepile.jobs.export_stage import ExportStage
from tracepile.jobs.input_prediction_stage import InputPredictionStage
from tracepile.jobs.stages import pipeline
from tracepile.runner import run_stages
from tracepile.translation.input_prediction import input_answer_problem
from tracepile.udfs.sandbox import Sandbox
from tracepile.vocab import INPUT_PREDICTION_REJECT_REASONS, RunMode

pytestmark = pytest.mark.spark

SETTINGS = ["inputs.enabled=true", "rewrites.enabled=false", "questions.enabled=false"]


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory) -> tuple[Path, dict]:
    lake = tmp_path_factory.mktemp("inputs") / "lake"
    config = load_config(overrides={"lakehouse": str(lake)}, assignments=SETTINGS, environ={})
    stages = pipeline(config, [f"codeio:{sample_path()}"])
    assert [stage.name for stage in stages][-2:] == ["generate", "inputs"]
    report = run_stages("run", stages, config, spark=spark)
    assert report.status == "succeeded", report.error
    (summary,) = [stage for stage in report.stages if stage.stage == "inputs"]
    return lake, {"counts": summary.counts, "reasons": summary.reasons}


def _rows(lake: Path, table: str) -> list[dict]:
    return read_delta(lake / table).to_pylist()


def test_every_kept_prediction_gives_its_output_when_run_again(lake: tuple[Path, dict]) -> None:
    root, summary = lake
    kept, rejected = _rows(root, "gold/input_predictions"), _rows(root, "gold/input_prediction_rejects")
    print(f"\ninputs stage on the sample (template): {summary}")
    executions = {e["execution_id"]: e for e in _rows(root, "silver/executions")}
    programs = {p["program_id"]: p for p in _rows(root, "silver/programs")}
    called = [e for e in executions.values() if e["status"] == "ok"]
    called = [e for e in called if programs[e["program_id"]]["run_mode"] == RunMode.CALL]
    # every ok execution of a called function was asked once: kept or rejected, never both
    assert sorted(r["execution_id"] for r in kept + rejected) == sorted(e["execution_id"] for e in called)
    assert summary["counts"]["verified"] == len(kept) > 20
    assert {r["reason"] for r in rejected} <= set(INPUT_PREDICTION_REJECT_REASONS)
    assert dict(Counter(r["reason"] for r in rejected)) == summary["reasons"]
    with Sandbox(workers=1) as sandbox:
        for row in kept:
            program = programs[row["program_id"]]
            ran = sandbox.run(program["code"], program["entry_point"], row["input_json"])
            assert ran.status == "ok", (row["prediction_id"], ran.error)
            assert values_equal(decode(ran.return_json), decode(row["output_json"])), row["prediction_id"]
            assert row["output_json"] == executions[row["execution_id"]]["return_json"]
            assert input_answer_problem(row["response"], row["input_json"]) is None
            assert (
                f"Output of {program['entry_point']}: {to_literal(decode(row['output_json']))}"
                in row["prompt"]
            )
            assert row["backend"] == "template" and row["source"] == program["source"]


def test_a_rerun_finds_every_execution_done(spark, lake: tuple[Path, dict]) -> None:
    root, _ = lake
    config = load_config(overrides={"lakehouse": str(root)}, assignments=SETTINGS, environ={})
    again = run_stages("inputs", [InputPredictionStage(config)], config, spark=spark)
    assert again.status == "succeeded", again.error
    assert again.stages[0].counts["executions"] == 0 and again.stages[0].counts.get("verified", 0) == 0


def test_export_writes_input_rows_with_the_kept_input_and_output(
    spark, lake: tuple[Path, dict], tmp_path
) -> None:
    root, _ = lake
    config = load_config(overrides={"lakehouse": str(root)}, assignments=SETTINGS, environ={})
    out = tmp_path / "out"
    report = run_stages("export", [ExportStage(config, "llamafactory", str(out))], config, spark=spark)
    assert report.status == "succeeded", report.error
    kept = {r["prediction_id"]: r for r in _rows(root, "gold/input_predictions")}
    exported = [
        json.loads(line)
        for split in ("train", "validation")
        for shard in sorted((out / split).glob("*.jsonl"))
        for line in shard.read_text(encoding="utf-8").splitlines()
    ]
    inputs = [row for row in exported if row["meta"]["kind"] == "input"]
    assert {row["meta"]["kind"] for row in exported} == {"coe", "input"}
    assert len(inputs) == report.stages[0].counts["input_rows"] == len(kept)
    by_execution = {r["execution_id"]: r for r in kept.values()}
    for row in inputs:
        meta, (user, assistant) = row["meta"], row["messages"]
        gold = by_execution[meta["execution_id"]]
        assert (user["content"], assistant["content"]) == (gold["prompt"], gold["response"])
        assert meta["input"] == json.loads(gold["input_json"]) and meta["output"] == json.loads(
            gold["output_json"]
        )
        assert meta["input_literal"] == call_literal(decode(gold["input_json"]))
        assert meta["output_literal"] == to_literal(decode(gold["output_json"]))
        assert meta["run_mode"] == "call" and meta["program_id"] == gold["program_id"]


_CALLED_WITH = re.compile(r">>> Call to main_solution[^\n]*\n((?: \.+ [^\n]*\n)*)")
_ARGUMENT = re.compile(r" \.+ (\w+) = (.*)")


def _stand_in_model(body: dict) -> str:
    """A stand-in for a served model: names the recorded call's arguments (as the record shows
    them) as its input, except where the output is a truth value: there it writes no input."""
    prompt = body["messages"][-1]["content"]
    if re.search(r"^Output of main_solution: (True|False)$", prompt, re.MULTILINE):
        return "It depends on whether the number has a divisor, so some number would do."
    arguments = _ARGUMENT.findall(_CALLED_WITH.search(prompt).group(1))
    return (
        "Working back from the output.\nFinal answer: main_solution("
        + ", ".join(f"{name}={value}" for name, value in arguments)
        + ")"
    )


def test_a_served_model_is_verified_by_running_and_a_server_down_leaves_rows_pending(
    spark, lake: tuple[Path, dict], tmp_path, server
) -> None:
    root = tmp_path / "lake"
    shutil.copytree(lake[0], root)
    state = {"down": True}
    srv = server(lambda body: 400 if state["down"] else _stand_in_model(body))
    config = load_config(
        overrides={"lakehouse": str(root)},
        assignments=[*SETTINGS, "generate.backend='openai'", "generate.model='stand-in'",
                     f"generate.base_url='http://127.0.0.1:{srv.server_port}/v1'", "generate.max_retries=0"],
        environ={},
    )  # fmt: skip
    template_rows = len(_rows(root, "gold/input_predictions"))
    down = run_stages("inputs", [InputPredictionStage(config)], config, spark=spark)
    assert down.status == "succeeded", down.error
    counts = down.stages[0].counts
    assert counts["retry_next_run"] == counts["executions"] == template_rows and counts["verified"] == 0
    assert len(_rows(root, "gold/input_predictions")) == template_rows

    state["down"] = False
    up = run_stages("inputs", [InputPredictionStage(config)], config, spark=spark)
    assert up.status == "succeeded", up.error
    kept = [r for r in _rows(root, "gold/input_predictions") if r["backend"] == "openai"]
    rejected = _rows(root, "gold/input_prediction_rejects")
    print(f"\ninputs stage on the sample (stand-in model): {up.stages[0].counts} {up.stages[0].reasons}")
    assert up.stages[0].counts["executions"] == template_rows == len(kept) + len(rejected)
    assert kept and {r["reason"] for r in rejected} >= {"no_input"}
    assert all(decode(r["output_json"]) in (True, False) for r in rejected if r["reason"] == "no_input")
    assert all(r["model"] == "stand-in" and r["completion_tokens"] == 7 for r in kept)
    assert (
        run_stages("inputs", [InputPredictionStage(config)], config, spark=spark)
        .stages[0]
        .counts["executions"]
        == 0
    )
