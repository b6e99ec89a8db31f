"""No row stops a stage, proven on one real run of the pipeline and one real export.

The source is eight problems of the bundled sample as a user might hand them over: every
record without its ``meta`` (which once crashed the rewrite stage), plus a 4,581-byte line of
invalid UTF-8 (which once blocked the whole ingest) and a line whose JSON holds a lone
surrogate escape. ``TRACEPILE_TEST_FAULT_AT`` (``tracepile/failures.py``) then plants an
exception, as a bug of ours would raise it, inside the per-row step of one program in each
stage: ingest, rewrite, trace, generate, questions and export, each on another program.

Both commands exit 0; each planted row is a reject with the reason ``internal_error``, its stage
and the exception as the detail, in that stage's rejects table (the export's ``rejects.jsonl``);
every other program goes on to gold and into the training files; the run's summary and its run
page count the rejects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import read_delta
from tests.lakehouse_rows import finish, start_tracepile
from tracepile.cli import sample_path
from tracepile.failures import FAULT_ENV
from tracepile.insights.page import FACTS_NAME
from tracepile.sources.codeio import parse_codeio_record
from tracepile.tables import (
    BRONZE_SOURCES,
    GOLD_COE,
    GOLD_QUESTION_REJECTS,
    GOLD_QUESTIONS,
    GOLD_REJECTS,
    INGEST_REJECTS,
    RUNS,
    SILVER_EXECUTIONS,
    SILVER_PROGRAMS,
    SILVER_REJECTS,
    SILVER_REWRITE_REJECTS,
    TableSpec,
)
from tracepile.vocab import EVERY_REWRITE_KIND, INTERNAL_ERROR, DedupReason, IngestReason

pytestmark = [pytest.mark.spark, pytest.mark.slow]

# record i: stage i (dedup's own reason for a program whose analysis raised is analysis_error)
PLANTED = ("ingest", "rewrite", "trace", "generate", "questions", "export", "dedup")
INVALID_UTF8_BYTES = 4581


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The source file and the program id of each of its eight problems, in file order."""
    records = [json.loads(line) for line in Path(sample_path()).read_text().splitlines()[:8]]
    for record in records:
        del record["meta"]
    lines = [json.dumps(record).encode() for record in records]
    ids = [parse_codeio_record(line)["program_id"] for line in lines]
    # Latin-1 text where UTF-8 is due: each é is one invalid byte, shown as four characters
    code = "def main_solution(x):\n    return x  # caf" + "é" * 4500
    invalid = json.dumps({"refcode": code, "funcname": "main_solution"}, ensure_ascii=False).encode("latin-1")
    invalid = invalid[: INVALID_UTF8_BYTES - 2] + b'"}'
    surrogate = b'{"refcode": "def main_solution():\\n    return \'\\ud800\'", "funcname": "main_solution"}'
    path = tmp_path_factory.mktemp("source") / "programs.jsonl"
    path.write_bytes(b"\n".join([*lines[:4], invalid, surrogate, *lines[4:]]) + b"\n")
    return path, ids


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, source: tuple[Path, list[str]]) -> dict[str, Any]:
    """One ``tracepile run`` and one ``tracepile export``, with a fault planted in each stage."""
    path, ids = source
    work = tmp_path_factory.mktemp("faults")
    lake, out = work / "lake", work / "export"
    env = {FAULT_ENV: ",".join(f"{stage}:{ids[i]}" for i, stage in enumerate(PLANTED))}
    ran = finish(start_tracepile("run", "--source", f"codeio:{path}", "--lakehouse", str(lake), env=env))
    exported = finish(
        start_tracepile(
            "export", "--format", "llamafactory", "--out", str(out), "--lakehouse", str(lake), env=env
        )
    )
    return {"lake": lake, "out": out, "ids": ids, "ran": ran, "exported": exported}


def _rows(lake: Path, spec: TableSpec) -> list[dict[str, Any]]:
    return read_delta(lake / spec.layer / spec.name).to_pylist()


def _planted(run: dict[str, Any], stage: str) -> str:
    return run["ids"][PLANTED.index(stage)]


def _is_planted(row: dict[str, Any], stage: str, program_id: str) -> bool:
    return (
        row["reason"] == INTERNAL_ERROR
        and f"PlantedFault: planted fault at {stage}:{program_id}" in row["detail"]
    )


def test_both_commands_exit_0(run: dict[str, Any]) -> None:
    for code, output in (run["ran"], run["exported"]):
        assert code == 0, output[-4000:]


def test_bad_lines_and_the_planted_record_are_ingest_rejects_and_the_rest_is_ingested(
    run: dict[str, Any],
) -> None:
    lake, ids = run["lake"], run["ids"]
    rejects = {row["source_line"]: row for row in _rows(lake, INGEST_REJECTS)}
    assert set(rejects) == {1, 5, 6}
    assert _is_planted(rejects[1], "ingest", ids[0])
    assert rejects[5]["reason"] == IngestReason.INVALID_UTF8
    assert len(rejects[5]["raw_record"]) == 4096  # cut after decoding: \xe9 is four characters
    assert rejects[6]["reason"] == IngestReason.INVALID_JSON and "pair" in rejects[6]["detail"]
    assert {row["program_id"] for row in _rows(lake, BRONZE_SOURCES)} == set(ids[1:])


def test_the_planted_program_of_dedup_is_a_silver_reject_and_the_others_are_kept(run: dict[str, Any]) -> None:
    lake, planted = run["lake"], _planted(run, "dedup")
    (reject,) = [r for r in _rows(lake, SILVER_REJECTS) if r["program_id"] == planted]
    assert reject["reason"] == DedupReason.ANALYSIS_ERROR
    assert f"PlantedFault: planted fault at dedup:{planted}" in reject["detail"]
    kept = {row["program_id"] for row in _rows(lake, SILVER_PROGRAMS) if not row["rewrite_of"]}
    assert planted not in kept and set(run["ids"][1:]) - {planted} <= kept


def test_the_planted_program_of_rewrite_is_a_rewrite_reject_and_the_others_are_rewritten(
    run: dict[str, Any],
) -> None:
    lake, planted = run["lake"], _planted(run, "rewrite")
    (reject,) = [r for r in _rows(lake, SILVER_REWRITE_REJECTS) if r["rewrite_of"] == planted]
    assert _is_planted(reject, "rewrite", planted) and reject["rewrite_kind"] == EVERY_REWRITE_KIND
    rewritten = {row["rewrite_of"] for row in _rows(lake, SILVER_PROGRAMS) if row["rewrite_of"]}
    assert planted not in rewritten and len(rewritten) >= 4  # programs without meta_json included


def test_the_planted_program_of_trace_is_a_silver_reject_and_the_others_ran(run: dict[str, Any]) -> None:
    lake, planted = run["lake"], _planted(run, "trace")
    (reject,) = [r for r in _rows(lake, SILVER_REJECTS) if r["program_id"] == planted]
    assert reject["stage"] == "trace" and _is_planted(reject, "trace", planted)
    ran = {row["program_id"] for row in _rows(lake, SILVER_EXECUTIONS)}
    assert planted not in ran and set(run["ids"][2:]) - {planted, _planted(run, "dedup")} <= ran


def test_the_planted_program_of_generate_is_in_coe_rejects_and_the_others_reach_gold(
    run: dict[str, Any],
) -> None:
    lake, planted = run["lake"], _planted(run, "generate")
    rejects = [r for r in _rows(lake, GOLD_REJECTS) if r["program_id"] == planted]
    assert rejects and all(_is_planted(r, "generate", planted) for r in rejects)
    gold = {row["program_id"] for row in _rows(lake, GOLD_COE)}
    assert planted not in gold
    assert {run["ids"][1], run["ids"][4], run["ids"][5], run["ids"][7]} <= gold


def test_the_planted_program_of_questions_is_in_question_rejects_and_the_others_are_asked(
    run: dict[str, Any],
) -> None:
    lake, planted = run["lake"], _planted(run, "questions")
    rejects = [r for r in _rows(lake, GOLD_QUESTION_REJECTS) if r["program_id"] == planted]
    assert rejects and all(_is_planted(r, "questions", planted) for r in rejects)
    asked = {row["program_id"] for row in _rows(lake, GOLD_QUESTIONS)}
    assert planted not in asked and {_planted(run, "export"), *run["ids"][7:]} <= asked


def test_the_planted_program_of_export_is_in_rejects_jsonl_and_the_others_are_exported(
    run: dict[str, Any],
) -> None:
    out, planted = run["out"], _planted(run, "export")
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert rejects and all(
        r["program_id"] == planted and r["reason"] == INTERNAL_ERROR and "PlantedFault" in r["detail"]
        for r in rejects
    )
    exported = [
        json.loads(line)["meta"]["program_id"]
        for shard in sorted(out.glob("*/part-*.jsonl"))
        for line in shard.read_text().splitlines()
    ]
    assert planted not in exported and set(run["ids"][7:]) <= set(exported)
    assert json.loads((out / "dataset_info.json").read_text())


def test_the_run_summary_and_the_run_page_count_the_rejects(run: dict[str, Any]) -> None:
    lake = run["lake"]
    reports = {row["command"]: json.loads(row["report_json"]) for row in _rows(lake, RUNS)}
    reasons = {
        stage["stage"]: stage["reasons"].get(INTERNAL_ERROR, 0)
        for report in reports.values()
        for stage in report["stages"]
    }
    assert reasons["ingest"] == reasons["rewrite"] == 1
    assert reasons["trace"] >= 1 and reasons["generate"] >= 1 and reasons["questions"] >= 1
    assert reasons["export"] == len((run["out"] / "rejects.jsonl").read_text().splitlines())
    page = json.loads((lake / "reports" / "runs" / reports["run"]["run_id"] / FACTS_NAME).read_text())
    counted = {r["stage"] for r in page["scopes"]["run"]["rejects"] if r["reason"] == INTERNAL_ERROR}
    assert counted == {"ingest", "rewrite", "trace", "generate", "questions"}
    assert "rejected: internal_error" in run["ran"][1] and "rejected: internal_error" in run["exported"][1]
