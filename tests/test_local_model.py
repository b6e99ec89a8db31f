"""The local model (``tracepile/local_model.py``): a real llama-cpp server with SmolLM2 behind the
openai backend. Tests marked ``llm`` start the real server and need the llm extra
(``make test-llm``); the others check the configuration and the missing-extra message anywhere."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import read_delta, run_tracepile
from tracepile import local_model
from tracepile.cli import app, sample_path
from tracepile.config import load_config
from tracepile.jobs.dedup_stage import DedupStage
from tracepile.jobs.generate_stage import GenerateStage
from tracepile.jobs.ingest_stage import IngestStage
from tracepile.jobs.questions_stage import QuestionsStage
from tracepile.jobs.trace_stage import TraceStage
from tracepile.lakehouse import Lakehouse
from tracepile.local_model import (
    MODEL_FILE,
    LocalModelError,
    LocalServer,
    local_model_server,
    with_local_model,
)
from tracepile.runner import run_stage

INSTALL = "pip install -e '.[llm]'"
PROGRAMS = 6  # sample programs in the small lakehouse: a few dozen ok executions


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _settled(lake: Path) -> list[dict]:
    rows = []
    for table in ("coe", "coe_rejects"):
        if (lake / "gold" / table / "_delta_log").is_dir():
            rows += read_delta(lake / "gold" / table).to_pylist()
    return rows


def _count(summary: str, name: str) -> int:
    """A count in the printed run summary's table."""
    found = re.search(rf"\b{name}\s*│\s*(\d+)\s*│", summary)
    assert found, summary
    return int(found[1])


def test_the_local_model_bounds_the_run_and_points_generate_at_the_server() -> None:
    config = load_config(assignments=["questions.max_executions=3"], environ={})
    served = with_local_model(config, LocalServer("http://127.0.0.1:9/v1", "/models/m.gguf"))
    generate = served.generate
    assert (generate.backend, generate.base_url, generate.model) == (
        "openai",
        "http://127.0.0.1:9/v1",
        "/models/m.gguf",
    )
    assert generate.max_rows == config.local_model.max_executions == 24
    assert served.questions.max_executions == 3  # a lower bound already set is kept
    assert served.questions.enabled and served.gate.min_verified_rate == 0.0 < config.gate.min_verified_rate
    unasked = load_config(assignments=["local_model.question_executions=0"], environ={})
    assert not with_local_model(unasked, LocalServer("http://127.0.0.1:9/v1", "m")).questions.enabled
    assert generate.max_tokens == 1024 and generate.max_prompt_tokens == 4096 - 1024
    assert config.generate.max_rows is None and config.generate.backend == "template"  # a copy


def test_a_missing_extra_or_model_file_is_one_line_naming_the_install(monkeypatch, tmp_path) -> None:
    def no_package(name: str):
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    settings = load_config(environ={}).local_model
    monkeypatch.setattr(local_model, "_package_files", no_package)
    with pytest.raises(LocalModelError) as missing, local_model_server(settings):
        pass
    assert INSTALL in str(missing.value) and "\n" not in str(missing.value)

    monkeypatch.setattr(local_model, "_package_files", lambda name: tmp_path)  # a package without the file
    with pytest.raises(LocalModelError) as no_file, local_model_server(settings):
        pass
    assert MODEL_FILE in str(no_file.value) and INSTALL in str(no_file.value)

    result = CliRunner().invoke(app, ["generate", "--local-model", "--lakehouse", str(tmp_path / "lake")])
    said = " ".join(result.output.split())  # one message, wrapped at the terminal's width
    assert result.exit_code == 2 and said.startswith("error: the local model") and INSTALL in said, said
    assert said.count("error:") == 1
    assert not (tmp_path / "lake" / "gold").exists()  # failed before any engine started


@pytest.mark.llm
def test_the_server_starts_answers_and_stops(tmp_path) -> None:
    settings = load_config(environ={}).local_model
    with local_model_server(settings, tmp_path) as server:
        port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
        assert server.model.endswith(MODEL_FILE) and server.base_url == f"http://127.0.0.1:{port}/v1"
        os.kill(server.pid, 0)  # running
        body = {"model": server.model, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8}
        request = urllib.request.Request(
            f"{server.base_url}/chat/completions",
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as reply:
            answer = json.loads(reply.read())
        assert answer["choices"][0]["message"]["content"] and answer["usage"]["completion_tokens"] <= 8
        assert server.log is not None and server.log.parent == tmp_path
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)  # gone, and reaped
    assert _refused(port)

    # an already running server: used as it is, and left running
    with local_model_server(settings, tmp_path) as running:
        given = settings.model_copy(update={"url": running.base_url})
        with local_model_server(given) as reused:
            assert (reused.base_url, reused.model, reused.pid) == (running.base_url, running.model, None)
        os.kill(running.pid, 0)


@pytest.mark.llm
def test_a_server_that_exits_at_once_is_reported_with_its_log(monkeypatch, tmp_path) -> None:
    package = tmp_path / "package"
    package.mkdir()
    (package / MODEL_FILE).write_bytes(b"not a GGUF file")  # a damaged download
    monkeypatch.setattr(local_model, "_package_files", lambda name: package)
    settings = load_config(environ={}).local_model
    with (
        pytest.raises(LocalModelError, match="exited with code") as failed,
        local_model_server(settings, tmp_path),
    ):
        pass
    log = next(tmp_path.glob("llama-server-*.log"))
    assert f"its log ({log}) ends:" in str(failed.value) and log.read_text().strip()


@pytest.fixture(scope="module")
def small_lake(spark, tmp_path_factory) -> Path:
    """A few sample programs through ingest, dedup and trace: the generate stage's input."""
    root = tmp_path_factory.mktemp("local_model")
    programs = root / "programs.jsonl"
    programs.write_text("".join(Path(sample_path()).read_text().splitlines(keepends=True)[:PROGRAMS]))
    lake = root / "lake"
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    lakehouse = Lakehouse(spark, str(lake))
    run_stage(IngestStage(config, [f"codeio:{programs}"]), lakehouse, "ingest")
    run_stage(DedupStage(config), lakehouse, "dedup")
    run_stage(TraceStage(config), lakehouse, "trace")
    return lake


@pytest.mark.llm
@pytest.mark.spark
@pytest.mark.slow
def test_generate_with_the_local_model_writes_at_most_max_rows_then_goes_on(small_lake, tmp_path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(small_lake, lake)
    args = ("generate", "--local-model", "--lakehouse", str(lake), "--set", "local_model.max_executions=3")
    first = run_tracepile(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    rows = _settled(lake)
    assert len(rows) == 3, first.stdout
    assert {(r["backend"], Path(r["model"]).name) for r in rows} == {("openai", MODEL_FILE)}
    waiting = _count(first.stdout, "left_pending")  # said in the summary: the rest wait
    assert _count(first.stdout, "pending") == 3 and waiting > 3
    assert all(r["response"] for r in rows if "reason" in r)  # rejects keep the model's text
    logs = list((lake / "_local_model").glob("llama-server-*.log"))
    assert len(logs) == 1 and _refused(int(logs[0].stem.rsplit("-", 1)[1]))  # stopped after the run

    second = run_tracepile(*args)
    assert second.returncode == 0, second.stdout + second.stderr
    after = _settled(lake)
    new = {r["coe_id"] for r in after} - {r["coe_id"] for r in rows}
    assert len(after) == 6 and min(new) > max(r["coe_id"] for r in rows)  # coe_id order: it went on
    assert _count(second.stdout, "left_pending") == waiting - 3


def _kill_after_first_answer(server: LocalServer, answered: threading.Event) -> None:
    """SIGKILL the server's group once its log shows the first chat completion answered."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if '"POST /v1/chat/completions HTTP/1.1" 200' in server.log.read_text(errors="replace"):
            time.sleep(0.5)  # the reply on its way; the next request (one at a time) is being computed
            os.killpg(server.pid, signal.SIGKILL)
            answered.set()
            return
        time.sleep(0.05)


@pytest.mark.llm
@pytest.mark.spark
@pytest.mark.slow
def test_rows_the_killed_server_did_not_answer_stay_pending_and_the_next_run_finishes_them(
    spark, small_lake, tmp_path
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(small_lake, lake)
    config = load_config(
        overrides={"lakehouse": str(lake)},
        assignments=["local_model.max_executions=4", "local_model.concurrency=1", "generate.max_retries=1"],
        environ={},
    )
    lakehouse = Lakehouse(spark, str(lake))
    answered = threading.Event()
    with local_model_server(config.local_model, tmp_path / "logs") as server:
        killer = threading.Thread(target=_kill_after_first_answer, args=(server, answered))
        killer.start()
        cut = run_stage(GenerateStage(with_local_model(config, server)), lakehouse, "gen-cut")
        killer.join()
    assert answered.is_set()
    settled = _settled(lake)
    assert 1 <= len(settled) < 4 and cut.counts["retry_next_run"] == 4 - len(settled)
    assert cut.reasons["backend_error"] == 4 - len(settled)

    with local_model_server(config.local_model, tmp_path / "logs") as server:
        again = run_stage(GenerateStage(with_local_model(config, server)), lakehouse, "gen-again")
    finished = sorted(r["coe_id"] for r in _settled(lake))
    # the first run's four rows are the four smallest coe_ids pending: the next run took the
    # unanswered ones first, then new ones up to the bound
    assert again.counts["retry_next_run"] == 0 and len(finished) == len(settled) + 4
    # the server's side on the summary (and so the run page): each request timed
    assert again.notes["model calls"].startswith("4 requests; latency p50 ")
    assert again.notes["model calls"].endswith("requests in flight on average (up to 1)")
    assert {r["coe_id"] for r in settled} < set(finished[:4])


@pytest.mark.spark
def test_the_bounds_hold_for_any_backend_and_the_next_run_goes_on(spark, small_lake, tmp_path) -> None:
    """generate.max_rows and questions.max_executions with the template backend: no extra needed."""
    lake = tmp_path / "lake"
    shutil.copytree(small_lake, lake)
    config = load_config(
        overrides={"lakehouse": str(lake)},
        assignments=["generate.max_rows=5", "questions.max_executions=2"],
        environ={},
    )
    lakehouse = Lakehouse(spark, str(lake))
    first = run_stage(GenerateStage(config), lakehouse, "gen-1")
    rows = _settled(lake)
    assert len(rows) == first.counts["pending"] == 5 and first.counts["left_pending"] > 5
    assert "stay pending for the next run" in first.notes["bounded"]
    second = run_stage(GenerateStage(config), lakehouse, "gen-2")
    after = sorted(r["coe_id"] for r in _settled(lake))
    assert len(after) == 10 and set(after[:5]) == {r["coe_id"] for r in rows}
    assert second.counts["left_pending"] == first.counts["left_pending"] - 5

    asked = run_stage(QuestionsStage(config), lakehouse, "questions-1")
    executions = {r["execution_id"] for r in read_delta(lake / "gold" / "questions").to_pylist()}
    assert asked.counts["executions"] == 2 == len(executions) and asked.counts["left_pending"] > 0
    run_stage(QuestionsStage(config), lakehouse, "questions-2")
    again = {r["execution_id"] for r in read_delta(lake / "gold" / "questions").to_pylist()}
    assert len(again) == 4 and sorted(again)[:2] == sorted(executions)
