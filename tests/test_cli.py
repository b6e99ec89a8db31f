"""The tracepile command as a user runs it: a real process, real tables, real exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import read_delta
from tests.conftest import run_tracepile as _run
from tracepile.cli import sample_path


def test_bundled_sample_spans_three_domains_and_its_outputs_are_right() -> None:
    lines = Path(sample_path()).read_text().splitlines()
    assert 30 <= len(lines) <= 60
    records = [json.loads(line) for line in lines]
    assert {r["category"] for r in records} == {
        "Mathematics and Number Theory",
        "Classical Algorithms and Data Structures",
        "Competition Programming",
    }
    # The sample is our own trusted code; running it checks every expected output.
    checker = (
        "import json,sys\n"
        "for line in sys.stdin:\n"
        "    r = json.loads(line); ns = {}\n"
        "    exec(r['refcode'], ns)\n"
        "    for io in r['ios']:\n"
        "        got = json.loads(json.dumps(ns[r['funcname']](**io['input'])))\n"
        "        assert got == io['output'], (r['problem_description'], io, got)\n"
        "print('checked', sum(1 for _ in []))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", checker], input="\n".join(lines), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.spark
def test_run_on_the_sample_builds_delta_tables_and_prints_a_summary(tmp_path) -> None:
    lake = tmp_path / "lake"
    done = _run("run", "--sample", "--lakehouse", str(lake))
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout
    assert "programs_new" in done.stdout and "bronze/sources" in done.stdout
    assert "LSH threshold" in done.stdout and "silver/programs" in done.stdout
    sources = read_delta(str(lake / "bronze" / "sources"))
    assert sources.num_rows == len(Path(sample_path()).read_text().splitlines())
    kept = read_delta(str(lake / "silver" / "programs")).to_pylist()
    programs = len([p for p in kept if p["rewrite_of"] is None])
    rejects = read_delta(str(lake / "silver" / "rejects")).num_rows
    assert programs > 0 and programs + rejects == sources.num_rows
    # the default run rewrites programs and asks questions about their executions
    assert len(kept) > programs and read_delta(str(lake / "gold" / "questions")).num_rows > 0
    assert read_delta(str(lake / "meta" / "runs")).num_rows == 1

    status = _run("status", "--lakehouse", str(lake))
    assert status.returncode == 0, status.stderr
    assert f"{sources.num_rows}" in status.stdout and "last run:" in status.stdout


def test_config_show_resolves_file_env_and_flags_in_order(tmp_path) -> None:
    (tmp_path / "tracepile.toml").write_text(
        'lakehouse = "from-file"\nengine = "spark"\n[ingest]\nbatch_rows = 10\nreject_raw_chars = 5\n'
    )
    done = _run(
        "config",
        "show",
        "--engine",
        "local",
        "--set",
        "ingest.batch_rows=99",
        cwd=tmp_path,
        env={"TRACEPILE_INGEST__REJECT_RAW_CHARS": "7", "TRACEPILE_ENGINE": "connect"},
    )
    assert done.returncode == 0, done.stderr
    assert 'lakehouse = "from-file"' in done.stdout  # file
    assert "reject_raw_chars = 7" in done.stdout  # env beats file
    assert 'engine = "local"' in done.stdout  # flag beats env
    assert "batch_rows = 99" in done.stdout  # --set beats file


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run"], "give --source KIND:PATH"),
        (["ingest", "--source", "codeio:/no/such/file.jsonl"], "source path does not exist"),
        (["ingest", "--sample", "--engine", "connect"], "needs a Spark Connect URL"),
        (["config", "show", "--set", "ingest.batch_rows=0"], "ingest.batch_rows"),
        (["config", "show", "--set", "no_such_key=1"], "no_such_key"),
        (["config", "show", "--set", "dedup.bands=20"], "exceeds num_perm"),
        (["generate", "--set", "generate.backend=vllm"], "needs generate.model"),
        (["export", "--format", "csv", "--out", "x"], "--format must be one of"),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(args: list[str], message: str) -> None:
    done = _run(*args)
    assert done.returncode == 2
    assert message in done.stderr.replace("\n", " ")


@pytest.mark.spark
def test_dedup_before_ingest_fails_and_says_what_to_run(tmp_path) -> None:
    done = _run("dedup", "--lakehouse", str(tmp_path / "lake"))
    assert done.returncode == 1
    assert "run `tracepile ingest` first" in done.stdout.replace("\n", " ")


@pytest.mark.slow
def test_help_documents_every_command() -> None:
    stages = ("run", "ingest", "dedup", "trace", "generate", "export")
    for command in (*stages, "gate", "status", "config", "sandbox-run"):
        done = _run(command, "--help")
        assert done.returncode == 0 and "Usage" in done.stdout, command
    assert "--lakehouse" in _run("ingest", "--help").stdout
    export = _run("export", "--help").stdout
    assert "--format" in export and "--out" in export and "llamafactory" in export


@pytest.mark.classic
def test_classic_engine_offline_without_delta_fails_with_the_fix(tmp_path) -> None:
    done = _run("ingest", "--sample", "--engine", "spark", "--lakehouse", str(tmp_path / "lake"))
    assert done.returncode == 2
    message = done.stderr.replace("\n", " ")
    assert "Delta Lake jars for classic Spark could not be loaded" in message
    assert "--table-format parquet" in message


@pytest.mark.slow
def test_sandbox_run_prints_the_trace_and_json(tmp_path) -> None:
    program = tmp_path / "program.py"
    program.write_text(
        "def main_solution(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"
    )
    human = _run(
        "sandbox-run", str(program), "--entry", "main_solution", "--input", '{"n": 3}', "--expected", "3"
    )
    assert human.returncode == 0, human.stderr
    assert "status ok" in human.stdout and "<<< Return value from main_solution: 3" in human.stdout
    machine = _run("sandbox-run", str(program), "--entry", "main_solution", "--input", '{"n": 3}', "--json")
    report = json.loads(machine.stdout)
    assert report["status"] == "ok" and report["return_value"] == 3
    assert {"stdout", "error", "steps", "trace_text", "cpu_s", "wall_s"} <= report.keys()
    assert report["steps"][-1]["event"] == "return"
    wrong = _run(
        "sandbox-run", str(program), "--entry", "main_solution", "--input", '{"n": 3}', "--expected", "4"
    )
    assert wrong.returncode == 1 and "mismatch" in wrong.stdout
    bad = _run("sandbox-run", str(program), "--entry", "main_solution", "--input", "[3]")
    assert bad.returncode == 2 and "JSON object" in bad.stderr


@pytest.mark.slow
def test_sandbox_run_takes_its_limits_from_the_trace_config_and_flags_override(tmp_path) -> None:
    program = tmp_path / "program.py"
    program.write_text(
        "def main_solution(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"
    )
    args = ("sandbox-run", str(program), "--entry", "main_solution", "--input", '{"n": 50}', "--json")
    assert json.loads(_run(*args).stdout)["status"] == "ok"  # the default budget: 300 lines
    config = tmp_path / "tracepile.toml"
    config.write_text("[trace]\ntrace_lines = 20\n")
    assert json.loads(_run(*args, "--config", str(config)).stdout)["status"] == "too_long"
    assert json.loads(_run(*args, "--set", "trace.trace_lines=20").stdout)["status"] == "too_long"
    from_environment = _run(*args, env={"TRACEPILE_TRACE__TRACE_LINES": "20"})
    assert json.loads(from_environment.stdout)["status"] == "too_long"
    overridden = _run(*args, "--config", str(config), "--trace-lines", "300")
    assert json.loads(overridden.stdout)["status"] == "ok"
