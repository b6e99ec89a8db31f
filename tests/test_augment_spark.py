"""Augmentation end to end on 60 PyEdu problems: questions of every kind in gold/questions whose
answers an independent re-execution confirms, kept rewrites of several kinds that give their
originals' outputs, texts that explain (no "nothing changes"), and an export that keeps a
program with its rewrites and questions on one side of the split."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import read_delta
from tests.reexecute import expected_answer, reexecute
from tracepile.analysis.values import decode, values_equal
from tracepile.config import load_config
from tracepile.jobs.export_stage import ExportStage
from tracepile.jobs.questions_stage import QuestionsStage
from tracepile.jobs.stages import pipeline
from tracepile.runner import run_stages
from tracepile.translation.questions import Question
from tracepile.translation.verify import UNPARSED
from tracepile.udfs.sandbox import Sandbox
from tracepile.vocab import QuestionKind

pytestmark = [pytest.mark.spark, pytest.mark.slow]

PROBLEMS = 60


@pytest.fixture(scope="module")
def lake(spark, pyedu_toy: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("augment")
    source = root / "pyedu_60.jsonl"
    with pyedu_toy.open("rb") as full:
        source.write_bytes(b"".join(itertools.islice(full, PROBLEMS)))
    lake = root / "lake"
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    report = run_stages("run", pipeline(config, [f"codeio:{source}"]), config, spark=spark)
    assert report.status == "succeeded", report.error
    return lake


def _rows(lake: Path, table: str) -> list[dict]:
    return read_delta(lake / table).to_pylist()


def test_questions_of_every_kind_match_an_independent_reexecution(lake: Path) -> None:
    questions = _rows(lake, "gold/questions")
    assert {q["kind"] for q in questions} == set(QuestionKind)
    programs = {p["program_id"]: p for p in _rows(lake, "silver/programs")}
    executions = {e["execution_id"]: e for e in _rows(lake, "silver/executions")}
    checked: Counter[str] = Counter()
    with Sandbox(workers=1) as sandbox:
        for execution_id, asked in itertools.groupby(
            sorted(questions, key=lambda q: q["execution_id"]), key=lambda q: q["execution_id"]
        ):
            execution = executions[execution_id]
            program = programs[execution["program_id"]]
            observed = reexecute(sandbox, program["code"], program["entry_point"], execution["input_json"])
            for row in asked:
                question = Question(
                    row["question_id"], QuestionKind(row["kind"]), row["question"], row["answer_json"],
                    row["variable"], row["line"], row["occurrence"], row["given_json"],
                )  # fmt: skip
                expected = expected_answer(question, observed)
                assert expected is not UNPARSED
                assert values_equal(decode(row["answer_json"]), expected), (row, expected)
                assert row["response"].splitlines()[-1].startswith("Final answer: ")
                checked[row["kind"]] += 1
    assert sum(checked.values()) == len(questions) > 100


def test_questions_are_the_same_on_a_rerun_and_template_texts_explain(spark, lake: Path) -> None:
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    again = run_stages("questions", [QuestionsStage(config)], config, spark=spark)
    assert again.status == "succeeded", again.error
    assert again.stages[0].counts["executions"] == 0  # every execution was asked already
    texts = [row["response"] for row in _rows(lake, "gold/coe")]
    assert texts and not any("nothing changes" in text for text in texts)
    # conditions are told with their truth value (several phrasings; not every program branches)
    assert sum(" is true" in t or " is false" in t for t in texts) > len(texts) // 5


def test_kept_rewrites_give_their_originals_outputs_on_every_input(lake: Path) -> None:
    programs = {p["program_id"]: p for p in _rows(lake, "silver/programs")}
    rewrites = [p for p in programs.values() if p["rewrite_of"]]
    assert len({p["rewrite_kind"] for p in rewrites}) >= 4
    assert all(programs[p["rewrite_of"]]["rewrite_of"] is None for p in rewrites)  # of originals only
    results: dict[tuple[str, str], tuple[str, str | None]] = {
        (e["program_id"], e["input_json"]): (e["status"], e["return_json"])
        for e in _rows(lake, "silver/executions")
    }
    compared = 0
    for rewrite in rewrites:
        for item in rewrite["inputs"]:
            mine, theirs = (
                (rewrite["program_id"], item["input_json"]),
                (rewrite["rewrite_of"], item["input_json"]),
            )
            if results[mine][0] == results[theirs][0] == "ok":  # both traced within the budget
                assert results[mine][1] == results[theirs][1], (rewrite["rewrite_kind"], item)
                compared += 1
    assert compared > 100
    # rewrites are exempt from dedup against their original: none of them is a reject
    rejected = {r["program_id"] for r in _rows(lake, "silver/rejects")}
    assert not rejected & {p["program_id"] for p in rewrites}


def test_export_keeps_a_program_its_rewrites_and_questions_on_one_side(spark, lake: Path, tmp_path) -> None:
    config = load_config(
        overrides={"lakehouse": str(lake)}, assignments=["export.validation_fraction=0.3"], environ={}
    )
    report = run_stages(
        "export", [ExportStage(config, "llamafactory", str(tmp_path / "out"))], config, spark=spark
    )
    assert report.status == "succeeded", report.error
    programs = {p["program_id"]: p for p in _rows(lake, "silver/programs")}
    sides: dict[str, set[str]] = {}
    kinds: Counter[str] = Counter()
    for split in ("train", "validation"):
        for line in (tmp_path / "out" / split).glob("*.jsonl"):
            for row in map(json.loads, line.read_text().splitlines()):
                meta = row["meta"]
                kinds[meta["kind"]] += 1
                origin = programs[meta["program_id"]]["rewrite_of"] or meta["program_id"]
                sides.setdefault(origin, set()).add(split)
    assert set(kinds) == {"coe", "question", "input"}
    assert all(len(found) == 1 for found in sides.values())
    assert {side for found in sides.values() for side in found} == {"train", "validation"}
