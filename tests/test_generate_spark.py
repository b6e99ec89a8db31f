"""The generate and export stages on the embedded engine, on the sample's real executions."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from tests.conftest import read_delta
from tracepile.analysis.values import decode, from_data, parse_call_arguments, parse_literal, values_equal
from tracepile.cli import sample_path
from tracepile.config import load_config
from tracepile.jobs.dedup_stage import DedupStage
from tracepile.jobs.export_stage import ExportStage
from tracepile.jobs.generate_stage import GenerateStage
from tracepile.jobs.ingest_stage import IngestStage
from tracepile.jobs.trace_stage import TraceStage
from tracepile.lakehouse import Lakehouse
from tracepile.quality.gate import GateBlocked
from tracepile.runner import run_stage
from tracepile.translation.verify import UNPARSED, final_answer, literal

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def traced(spark, tmp_path_factory) -> Path:
    """The sample through ingest, dedup and trace: the generate stage's input."""
    lake = tmp_path_factory.mktemp("generate") / "lake"
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    lakehouse = Lakehouse(spark, str(lake))
    run_stage(IngestStage(config, [f"codeio:{sample_path()}"]), lakehouse, "ingest")
    run_stage(DedupStage(config), lakehouse, "dedup")
    run_stage(TraceStage(config), lakehouse, "trace")
    return lake


def _setup(spark, traced: Path, tmp_path: Path, *assignments: str):
    lake = tmp_path / "lake"
    shutil.copytree(traced, lake)
    config = load_config(overrides={"lakehouse": str(lake)}, assignments=list(assignments), environ={})
    return lake, config, Lakehouse(spark, str(lake))


def _ok_returns(lake: Path) -> dict[str, str]:
    rows = read_delta(lake / "silver" / "executions").to_pylist()
    return {r["execution_id"]: r["return_json"] for r in rows if r["status"] == "ok"}


def _jsonl(folder: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(folder.glob("*.jsonl")) for line in f.read_text().splitlines()]


def test_template_end_to_end_every_exported_answer_equals_the_executed_output(
    spark, traced, tmp_path
) -> None:
    lake, config, lakehouse = _setup(spark, traced, tmp_path, "generate.batch_rows=50")
    returns = _ok_returns(lake)
    report = run_stage(GenerateStage(config), lakehouse, "gen-1")
    gold = read_delta(lake / "gold" / "coe").to_pylist()
    assert report.counts["verified"] == len(gold) == len(returns) and report.counts["batches"] == 3
    # one commit per batch: create, constraint, then three writes
    assert DeltaTable(str(lake / "gold" / "coe")).version() == 4
    assert {r["execution_id"] for r in gold} == set(returns)

    again = run_stage(GenerateStage(config), lakehouse, "gen-2")
    assert again.counts["pending"] == 0 and DeltaTable(str(lake / "gold" / "coe")).version() == 4

    out = tmp_path / "llamafactory"
    exported = run_stage(ExportStage(config, "llamafactory", str(out)), lakehouse, "export-1")
    train, validation = _jsonl(out / "train"), _jsonl(out / "validation")
    rows = train + validation
    assert len(rows) == len(gold) and exported.counts["train_rows"] == len(train) and validation
    for row in rows:
        user, assistant = row["messages"]
        assert (user["role"], assistant["role"]) == ("user", "assistant")
        assert "predict the output by tracing the code step by step" in user["content"]
        meta = row["meta"]
        assert set(meta) == {
            "kind",
            "program_id",
            "execution_id",
            "input",
            "output",
            "input_literal",
            "output_literal",
            "source",
            "domain",
            "run_mode",
        }
        assert (meta["kind"], meta["run_mode"]) == ("coe", "call")
        output = from_data(meta["output"])  # the typed JSON data, beside its Python literal
        assert values_equal(output, decode(returns[meta["execution_id"]]))
        assert values_equal(parse_literal(meta["output_literal"]), output)
        assert parse_call_arguments(meta["input_literal"]) == ([], from_data(meta["input"]))
        assert values_equal(literal(final_answer(assistant["content"])), output)
    info = json.loads((out / "dataset_info.json").read_text())
    assert (
        info["tracepile_train"]["file_name"] == "train"
        and info["tracepile_train"]["formatting"] == "sharegpt"
    )

    # the same seed gives the same files; another seed another order of the same rows
    same = tmp_path / "same"
    run_stage(ExportStage(config, "llamafactory", str(same)), lakehouse, "export-2")
    assert (same / "train" / "part-00000.jsonl").read_bytes() == (
        out / "train" / "part-00000.jsonl"
    ).read_bytes()
    other = tmp_path / "other"
    reseeded = load_config(overrides={"lakehouse": str(lake)}, assignments=["export.seed=7"], environ={})
    run_stage(ExportStage(reseeded, "llamafactory", str(other)), lakehouse, "export-3")
    others = _jsonl(other / "train") + _jsonl(other / "validation")
    assert sorted(json.dumps(r, sort_keys=True) for r in others) == sorted(
        json.dumps(r, sort_keys=True) for r in rows
    )
    assert [r["meta"]["execution_id"] for r in others] != [r["meta"]["execution_id"] for r in rows]

    for fmt, field in (("sharegpt", "conversations"), ("alpaca", "output"), ("pretrain", "text")):
        run_stage(ExportStage(config, fmt, str(tmp_path / fmt)), lakehouse, f"export-{fmt}")
        written = _jsonl(tmp_path / fmt / "train") + _jsonl(tmp_path / fmt / "validation")
        assert len(written) == len(gold) and all(field in r and "meta" in r for r in written)
    run_stage(ExportStage(config, "parquet", str(tmp_path / "parquet")), lakehouse, "export-parquet")
    shards = [pq.read_table(tmp_path / "parquet" / split) for split in ("train", "validation")]
    assert sum(t.num_rows for t in shards) == len(gold)
    with pytest.raises(ValueError, match="is not empty: choose a new or empty folder"):
        run_stage(ExportStage(config, "llamafactory", str(out)), lakehouse, "export-again")


_RETURN = re.compile(r"Return value from main_solution: (.*)$", re.MULTILINE)


def _model(wrong: callable):
    """A stand-in translator model: states the return value it reads in the execution record,
    or a wrong one where ``wrong(input_json)``."""

    def answer(body: dict) -> str:
        prompt = body["messages"][1]["content"]
        value = literal(
            _RETURN.findall(prompt)[-1]
        )  # the outermost call returns last; unreadable if truncated
        inputs = prompt.split("Input (keyword arguments of main_solution):\n", 1)[1].split("\n", 1)[0]
        stated = "[404]" if wrong(inputs) or value is UNPARSED else json.dumps(value)
        return f"<think>read it off</think>We work it through.\nFinal answer: {stated}"

    return answer


def test_openai_backend_rejects_wrong_texts_and_retries_what_the_server_failed(
    spark, traced, tmp_path, server
) -> None:
    state = {"down": True}
    model = _model(lambda inputs: len(inputs) % 4 == 0)
    srv = server(lambda body: 400 if state["down"] else model(body))
    # the stand-in states only a final answer: its texts are kept without a checked step here
    # (tests/test_model_responses.py holds a model to generate.min_checked_claims)
    lake, config, lakehouse = _setup(
        spark, traced, tmp_path, "generate.backend='openai'", "generate.model='stand-in'",
        f"generate.base_url='http://127.0.0.1:{srv.server_port}/v1'", "generate.max_retries=0",
        "generate.min_checked_claims=0",
    )  # fmt: skip
    returns = _ok_returns(lake)
    down = run_stage(GenerateStage(config), lakehouse, "gen-down")
    assert down.counts["retry_next_run"] == len(returns) and down.counts["verified"] == 0
    assert (
        not (lake / "gold" / "coe_rejects").exists() or not read_delta(lake / "gold" / "coe_rejects").num_rows
    )

    state["down"] = False
    up = run_stage(GenerateStage(config), lakehouse, "gen-up")
    gold = read_delta(lake / "gold" / "coe").to_pylist()
    rejects = read_delta(lake / "gold" / "coe_rejects").to_pylist()
    assert up.counts["pending"] == len(returns) == len(gold) + len(rejects) and rejects and gold
    assert {r["reason"] for r in rejects} == {"wrong_final_answer"}
    assert all("[404]" in r["response"] and "<think>" not in r["response"] for r in rejects)
    assert all(r["backend"] == "openai" and r["model"] == "stand-in" for r in gold)
    assert up.notes["model calls"].startswith(f"{len(returns):,} requests; latency p50 ")
    assert run_stage(GenerateStage(config), lakehouse, "gen-again").counts["pending"] == 0


def test_a_generate_batch_of_mostly_wrong_texts_is_blocked(spark, traced, tmp_path, server) -> None:
    srv = server(_model(lambda inputs: True))
    lake, config, lakehouse = _setup(
        spark, traced, tmp_path, "generate.backend='openai'", "generate.model='stand-in'",
        f"generate.base_url='http://127.0.0.1:{srv.server_port}/v1'", "generate.min_checked_claims=0",
    )  # fmt: skip
    with pytest.raises(GateBlocked, match="verified rate >= 50%"):
        run_stage(GenerateStage(config), lakehouse, "gen-wrong")
    assert (
        read_delta(lake / "gold" / "coe").num_rows == 0
        and read_delta(lake / "gold" / "coe_rejects").num_rows == 0
    )
    quarantined = read_delta(lake / "quarantine" / "gold_coe_rejects").to_pylist()
    assert len(quarantined) == len(_ok_returns(lake)) and {r["quarantine_run_id"] for r in quarantined} == {
        "gen-wrong"
    }
