"""Ingest on the embedded engine: real Delta tables, rejects with reasons, idempotent reruns."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import read_delta
from tests.corruption import write_corrupted_copy
from tracepile.config import TracepileConfig
from tracepile.jobs.ingest_stage import IngestStage
from tracepile.lakehouse import Lakehouse, SchemaMismatchError
from tracepile.runner import run_stage
from tracepile.tables import BRONZE_SOURCES, INGEST_REJECTS

pytestmark = pytest.mark.spark


def _ingest(spark, root, sources, run_id="test-run"):
    lakehouse = Lakehouse(spark, str(root))
    return lakehouse, run_stage(IngestStage(TracepileConfig(lakehouse=str(root)), sources), lakehouse, run_id)


def test_corrupted_pyedu_gives_1000_programs_20_rejects_and_reingest_adds_nothing(
    spark, tmp_path, pyedu_toy
) -> None:
    corrupted = tmp_path / "pyedu_corrupted.jsonl"
    expected_reasons = write_corrupted_copy(pyedu_toy, corrupted)
    root = tmp_path / "lake"

    lakehouse, first = _ingest(spark, root, [f"codeio:{corrupted}"])
    assert first.counts["programs_new"] == 1000
    assert first.counts["rejected"] == 20
    assert first.reasons == dict(sorted(expected_reasons.items()))

    sources = read_delta(lakehouse.ref(BRONZE_SOURCES))
    rejects = read_delta(lakehouse.ref(INGEST_REJECTS))
    assert sources.num_rows == 1000
    assert len(set(sources.column("program_id").to_pylist())) == 1000
    assert Counter(rejects.column("reason").to_pylist()) == expected_reasons
    assert all(raw for raw in rejects.column("raw_record").to_pylist())
    assert set(sources.column("source_file").to_pylist()) == {str(corrupted)}

    _, second = _ingest(spark, root, [f"codeio:{corrupted}"], run_id="test-run-2")
    assert second.counts["programs_new"] == 0
    assert second.counts["already_present"] == 1000
    assert second.counts["rejects_new"] == 0
    assert read_delta(lakehouse.ref(BRONZE_SOURCES)).num_rows == 1000
    assert read_delta(lakehouse.ref(INGEST_REJECTS)).num_rows == 20
    assert not (root / "_staging").exists() or not any((root / "_staging").iterdir())


def test_ids_are_identical_across_independent_runs(spark, tmp_path, pyedu_toy) -> None:
    ids = []
    for name in ("one", "two"):
        lakehouse, _ = _ingest(spark, tmp_path / name, [f"codeio:{pyedu_toy}"])
        ids.append(
            sorted(r.program_id for r in lakehouse.read(BRONZE_SOURCES).select("program_id").collect())
        )
    assert ids[0] == ids[1] and len(ids[0]) == 1000


def test_duplicate_lines_within_a_batch_are_counted_and_kept_once(spark, tmp_path) -> None:
    import json

    from tests.corruption import GOOD

    line = json.dumps(GOOD)
    path = tmp_path / "dupes.jsonl"
    path.write_text("\n".join([line, line, line]) + "\n")
    lakehouse, report = _ingest(spark, tmp_path / "lake", [f"codeio:{path}"])
    assert report.counts["programs_parsed"] == 3
    assert report.counts["duplicates_in_batch"] == 2
    assert report.counts["programs_new"] == 1
    kept = lakehouse.read(BRONZE_SOURCES).collect()
    assert [row.source_line for row in kept] == [1]  # the first occurrence


def test_writes_are_checked_against_the_declared_schema(spark, tmp_path) -> None:
    lakehouse = Lakehouse(spark, str(tmp_path / "lake"))
    wrong = spark.createDataFrame([("id", 1)], "program_id string, code int")
    with pytest.raises(SchemaMismatchError, match="missing column source_kind") as error:
        lakehouse.append(BRONZE_SOURCES, wrong)
    assert "code is int, declared string" in str(error.value)
    assert not lakehouse.exists(BRONZE_SOURCES)


def test_databricks_notebook_runs_with_a_given_session(spark, tmp_path) -> None:
    from tests.conftest import REPO
    from tracepile.cli import sample_path

    notebook = REPO / "notebooks" / "tracepile_pipeline.py"
    scope = {
        "spark": spark,
        "sources": [f"codeio:{sample_path()}"],
        "lakehouse_location": str(tmp_path / "lake"),
    }
    exec(compile(notebook.read_text(), str(notebook), "exec"), scope)
    ingest, dedup, rewrite, trace, generate, questions, inputs = scope["stages"]
    assert ingest.counts["programs_new"] == ingest.counts["lines"] > 30
    assert read_delta(str(tmp_path / "lake" / "bronze" / "sources")).num_rows > 30
    kept = read_delta(str(tmp_path / "lake" / "silver" / "programs")).num_rows
    assert (
        dedup.counts["programs_read"] == ingest.counts["programs_new"]
        and kept == dedup.counts["programs_new"] + rewrite.counts["rewrites_kept"] > 30
    )
    assert questions.counts["executions"] == generate.counts["verified"] == inputs.counts["executions"]
    predicted = read_delta(str(tmp_path / "lake" / "gold" / "input_predictions")).num_rows
    assert inputs.counts["verified"] == predicted > 0
    executions = read_delta(str(tmp_path / "lake" / "silver" / "executions")).num_rows
    assert trace.counts["runs"] == trace.counts["executions_new"] == executions > kept
    coe = read_delta(str(tmp_path / "lake" / "gold" / "coe")).num_rows
    assert generate.counts["verified"] == coe == trace.counts["status_ok"] > kept
    # the notebook's run went through the runner: recorded in meta/runs like the CLI's
    runs = read_delta(str(tmp_path / "lake" / "meta" / "runs")).to_pylist()
    assert [(r["command"], r["status"], r["engine"]) for r in runs] == [("run", "succeeded", "spark")]
    assert runs[0]["run_id"] == scope["run"].run_id


def test_a_file_read_in_pieces_gives_the_tables_of_one_task(spark, tmp_path, pyedu_toy) -> None:
    """A large file is cut into pieces (a task each); duplicates across pieces are kept once,
    at their first line, and every row is as a single task writes it."""
    corrupted = tmp_path / "pyedu_corrupted.jsonl"
    write_corrupted_copy(pyedu_toy, corrupted)
    lines = corrupted.read_bytes().splitlines(keepends=True)
    corrupted.write_bytes(b"".join(lines + lines[:50]))  # the first 50 again, in the last piece
    tables = {}
    for name, piece_bytes in (("whole", 1 << 40), ("pieces", 200_000)):
        root = tmp_path / name
        config = TracepileConfig(lakehouse=str(root), ingest={"piece_bytes": piece_bytes})
        lakehouse = Lakehouse(spark, str(root))
        report = run_stage(IngestStage(config, [f"codeio:{corrupted}"]), lakehouse, "run")
        tables[name] = (
            report.counts,
            sorted(read_delta(lakehouse.ref(BRONZE_SOURCES)).to_pylist(), key=lambda r: r["program_id"]),
            sorted(read_delta(lakehouse.ref(INGEST_REJECTS)).to_pylist(), key=lambda r: r["reject_id"]),
        )
    (whole_counts, *whole_rows), (piece_counts, *piece_rows) = tables["whole"], tables["pieces"]
    assert whole_counts["tasks"] == 1 and piece_counts["tasks"] > 10
    assert piece_rows == whole_rows
    assert {k: v for k, v in piece_counts.items() if k != "tasks"} == {
        k: v for k, v in whole_counts.items() if k != "tasks"
    }
    # the 1,000 programs once each; the programs among the first 50 lines twice
    assert whole_counts["programs_new"] == 1000
    assert whole_counts["duplicates_in_batch"] == whole_counts["programs_parsed"] - 1000 > 40
    assert max(r["source_line"] for r in piece_rows[0]) <= len(lines)  # first occurrences kept
