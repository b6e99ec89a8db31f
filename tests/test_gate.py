"""The quality gate on real batches: faults injected into real stage output are blocked.

A base lakehouse is built once by running the real pipeline on the bundled sample. Then
the executions (and programs) of 15 programs are taken out of their published tables
(kept as Parquet), so each test can hand that real batch back to the gate, clean or with
one fault, on its own copy of the lakehouse.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F

from tests.conftest import read_delta, run_tracepile
from tracepile.cli import sample_path
from tracepile.config import load_config
from tracepile.jobs.ingest_stage import IngestStage
from tracepile.jobs.stages import pipeline
from tracepile.lakehouse import Lakehouse
from tracepile.quality.gate import Batch, GateBlocked, publish, stage_batch
from tracepile.quality.gate_report import gate_report_location
from tracepile.runner import run_stage
from tracepile.tables import (
    INGEST_REJECTS,
    QUARANTINE_RUN_ID,
    SILVER_EXECUTIONS,
    SILVER_PROGRAMS,
    TableSpec,
)

pytestmark = pytest.mark.spark

HELD_OUT_PROGRAMS = 15


@pytest.fixture(scope="module")
def base(spark, tmp_path_factory) -> Path:
    """The sample through the real pipeline; then rows moved out to Parquet: the executions of
    15 programs, and 15 other programs (with their executions, so none is left orphaned)."""
    work = tmp_path_factory.mktemp("gate")
    lake = work / "lake"
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    for stage in pipeline(config, [f"codeio:{sample_path()}"]):
        run_stage(stage, Lakehouse(spark, str(lake)), "base")
    ids = sorted(read_delta(lake / "silver" / "programs")["program_id"].to_pylist())
    # executions of some programs (which stay), and other programs with their executions
    held_out = {
        SILVER_EXECUTIONS: ids[:HELD_OUT_PROGRAMS],
        SILVER_PROGRAMS: ids[HELD_OUT_PROGRAMS:][:HELD_OUT_PROGRAMS],
    }
    for spec, held_ids in held_out.items():
        rows = read_delta(lake / spec.layer / spec.name)
        pq.write_table(
            rows.filter(pc.is_in(rows["program_id"], pa.array(held_ids))), work / f"{spec.name}.parquet"
        )
    for spec, held_ids in (
        (SILVER_EXECUTIONS, ids[: 2 * HELD_OUT_PROGRAMS]),
        (SILVER_PROGRAMS, held_out[SILVER_PROGRAMS]),
    ):
        quoted = ", ".join(f"'{i}'" for i in held_ids)
        DeltaTable(str(lake / spec.layer / spec.name)).delete(f"program_id IN ({quoted})")
    return work


def _copy(base: Path, tmp_path: Path) -> Path:
    shutil.copytree(base / "lake", tmp_path / "lake")
    return tmp_path / "lake"


def _gate(spark, lake: Path, spec: TableSpec, rows, mode: str = "fail", run_id: str = "fault-run"):
    """Stage ``rows`` as the stage that writes ``spec`` would, then publish through the gate."""
    config = load_config(overrides={"lakehouse": str(lake), "gate.mode": mode}, environ={})
    lakehouse = Lakehouse(spark, str(lake))
    stage = "trace" if spec == SILVER_EXECUTIONS else "dedup"
    batch: Batch = stage_batch(lakehouse, run_id, stage, [(spec, rows)])
    if spec == SILVER_EXECUTIONS:
        batch.outcomes = batch.staged(spec).select(F.col("status").alias("outcome"))
    try:
        return publish(lakehouse, config, batch).written
    finally:
        lakehouse.drop_staging(run_id)


def _held(spark, base: Path, spec: TableSpec):
    return spark.read.parquet(str(base / f"{spec.name}.parquet"))


def _assert_blocked(spark, base, tmp_path, spec, rows, *checks: str) -> GateBlocked:
    lake = _copy(base, tmp_path)
    table = lake / spec.layer / spec.name
    version, count = DeltaTable(str(table)).version(), read_delta(table).num_rows
    batch_rows = rows.count()
    with pytest.raises(GateBlocked) as blocked:
        _gate(spark, lake, spec, rows)
    message = str(blocked.value)
    for check in checks:
        assert check in message
    # the published table did not move
    assert DeltaTable(str(table)).version() == version
    assert read_delta(table).num_rows == count
    # the whole batch is in quarantine under the run id
    quarantined = read_delta(lake / "quarantine" / f"{spec.layer}_{spec.name}")
    assert quarantined.num_rows == batch_rows
    assert set(quarantined[QUARANTINE_RUN_ID].to_pylist()) == {"fault-run"}
    # the checks are recorded as failed and named in the run's gate report
    results = read_delta(lake / "meta" / "validations").to_pylist()
    failed = {r["check_name"] for r in results if r["run_id"] == "fault-run" and not r["success"]}
    assert set(checks) <= failed
    assert {r["decision"] for r in results if r["run_id"] == "fault-run"} == {"quarantined"}
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    html = Path(gate_report_location(Lakehouse(spark, str(lake)), config, "fault-run")).read_text(
        encoding="utf-8"
    )
    assert "quarantined" in html
    for check in checks:
        assert check.replace(">", "&gt;").replace("<", "&lt;") in html
    return blocked.value


def test_clean_batch_publishes_in_exactly_one_commit(spark, base, tmp_path) -> None:
    lake = _copy(base, tmp_path)
    table = lake / "silver" / "executions"
    version, count = DeltaTable(str(table)).version(), read_delta(table).num_rows
    rows = _held(spark, base, SILVER_EXECUTIONS)
    written = _gate(spark, lake, SILVER_EXECUTIONS, rows)
    assert written == {"silver/executions": rows.count()} and rows.count() > 20
    after = DeltaTable(str(table))
    assert after.version() == version + 1
    assert after.history(1)[0]["operation"] == "WRITE"
    assert read_delta(table).num_rows == count + rows.count()
    results = [r for r in read_delta(lake / "meta" / "validations").to_pylist() if r["run_id"] == "fault-run"]
    assert results and all(r["success"] for r in results)
    assert {r["decision"] for r in results} == {"published"}
    assert not (lake / "quarantine").exists()


def test_duplicate_ids_are_blocked(spark, base, tmp_path) -> None:
    rows = _held(spark, base, SILVER_EXECUTIONS)
    twice = rows.unionByName(rows.limit(1).withColumn("stdout", F.lit("a second row, same id")))
    _assert_blocked(spark, base, tmp_path, SILVER_EXECUTIONS, twice, "execution_id is unique")


def test_null_code_is_blocked_by_the_suite_and_the_check_constraint(spark, base, tmp_path) -> None:
    rows = _held(spark, base, SILVER_PROGRAMS)
    victim = rows.select("program_id").limit(1).collect()[0][0]
    broken = rows.withColumn("code", F.when(F.col("program_id") == victim, None).otherwise(F.col("code")))
    blocked = _assert_blocked(
        spark, base, tmp_path, SILVER_PROGRAMS, broken, "code is not null", "CHECK code_not_empty"
    )
    assert victim in str(blocked)  # the failing row is named by its key


def test_status_outside_the_set_is_blocked(spark, base, tmp_path) -> None:
    rows = _held(spark, base, SILVER_EXECUTIONS)
    victim = rows.select("execution_id").limit(1).collect()[0][0]
    broken = rows.withColumn(
        "status", F.when(F.col("execution_id") == victim, "exploded").otherwise(F.col("status"))
    )
    _assert_blocked(
        spark, base, tmp_path, SILVER_EXECUTIONS, broken, "status is a known status", "CHECK status_known"
    )


def _all_timeouts(rows):
    return rows.select(
        *(
            F.lit("timeout").alias(c) if c == "status" else F.lit(None).cast("string").alias(c)
            if c in ("return_json", "trace_text", "steps_json") else F.col(c)
            for c in rows.columns
        )
    )  # fmt: skip


def test_a_batch_where_every_run_times_out_is_blocked(spark, base, tmp_path) -> None:
    rows = _all_timeouts(_held(spark, base, SILVER_EXECUTIONS))
    _assert_blocked(spark, base, tmp_path, SILVER_EXECUTIONS, rows, "ok rate >= 20%")


def test_warn_mode_publishes_and_records_the_failed_rate(spark, base, tmp_path) -> None:
    lake = _copy(base, tmp_path)
    version = DeltaTable(str(lake / "silver" / "executions")).version()
    rows = _all_timeouts(_held(spark, base, SILVER_EXECUTIONS))
    _gate(spark, lake, SILVER_EXECUTIONS, rows, mode="warn")
    assert DeltaTable(str(lake / "silver" / "executions")).version() == version + 1
    results = [r for r in read_delta(lake / "meta" / "validations").to_pylist() if r["run_id"] == "fault-run"]
    assert {r["check_name"] for r in results if not r["success"]} == {"ok rate >= 20%"}
    assert {r["decision"] for r in results} == {"published_with_warnings"}


def test_warn_mode_still_blocks_a_check_constraint_violation(spark, base, tmp_path) -> None:
    lake = _copy(base, tmp_path)
    version = DeltaTable(str(lake / "silver" / "executions")).version()
    rows = _held(spark, base, SILVER_EXECUTIONS).withColumn("cpu_s", F.lit(-1.0))
    with pytest.raises(GateBlocked, match="CHECK times_not_negative"):
        _gate(spark, lake, SILVER_EXECUTIONS, rows, mode="warn")
    assert DeltaTable(str(lake / "silver" / "executions")).version() == version


def test_orphan_execution_fails_the_reference_check(spark, base, tmp_path) -> None:
    rows = _held(spark, base, SILVER_EXECUTIONS)
    orphan = (
        rows.limit(1).withColumn("program_id", F.lit("0" * 32)).withColumn("execution_id", F.lit("f" * 32))
    )
    _assert_blocked(
        spark, base, tmp_path, SILVER_EXECUTIONS, rows.unionByName(orphan),
        "every program_id is in silver/programs",
    )  # fmt: skip


def _last_run(lake: Path) -> dict:
    runs = read_delta(lake / "meta" / "runs").to_pylist()
    return max(runs, key=lambda r: r["started_at"])


@pytest.mark.slow
def test_cli_quarantines_an_all_timeout_trace_batch_then_a_fixed_rerun_publishes(tmp_path) -> None:
    lake = tmp_path / "lake"
    lines = Path(sample_path()).read_text(encoding="utf-8").splitlines(keepends=True)
    half = tmp_path / "half.jsonl"
    half.write_text("".join(lines[:22]), encoding="utf-8")
    assert run_tracepile("run", "--source", f"codeio:{half}", "--lakehouse", str(lake)).returncode == 0
    executions = lake / "silver" / "executions"
    version, count = DeltaTable(str(executions)).version(), read_delta(executions).num_rows

    # a sandbox that times out everything: the new trace batch must not be published
    blocked = run_tracepile("run", "--sample", "--lakehouse", str(lake), "--set", "trace.wall_seconds=0.0001")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode == 3, output[-3000:]
    assert "ok rate >= 20%" in output and "quarantine/silver_executions" in output
    assert DeltaTable(str(executions)).version() == version
    assert read_delta(executions).num_rows == count
    quarantined = read_delta(lake / "quarantine" / "silver_executions").to_pylist()
    assert quarantined and {r["status"] for r in quarantined} == {"timeout"}
    run = _last_run(lake)
    assert run["status"] == "blocked" and {r[QUARANTINE_RUN_ID] for r in quarantined} == {run["run_id"]}
    # ingest and dedup of the new half passed their gates and published
    programs = read_delta(lake / "silver" / "programs").to_pylist()
    assert len([p for p in programs if p["rewrite_of"] is None]) == len(lines)  # and their rewrites
    page = json.loads(run["report_json"])["gate_report"]
    assert "gate report:" in blocked.stdout
    html = Path(page).read_text(encoding="utf-8")
    assert "ok rate &gt;= 20%" in html and "FAIL" in html and "quarantined" in html

    # fixed: the same inputs are traced again and published in one commit
    again = run_tracepile("trace", "--lakehouse", str(lake))
    assert again.returncode == 0, again.stderr[-3000:]
    assert DeltaTable(str(executions)).version() == version + 1
    assert read_delta(executions).num_rows == count + len(quarantined)

    # on demand: the published table passes; a stricter threshold fails with exit 3, unless warned
    assert run_tracepile("gate", "silver/executions", "--lakehouse", str(lake)).returncode == 0
    strict = ("gate", "silver/executions", "--lakehouse", str(lake), "--set", "gate.min_ok_rate=1")
    failed = run_tracepile(*strict)
    assert failed.returncode == 3 and "ok rate >= 100%" in failed.stdout
    assert run_tracepile(*strict, "--gate", "warn").returncode == 0


def test_a_source_whose_fields_shifted_is_blocked_at_ingest(spark, tmp_path) -> None:
    lake = tmp_path / "lake"
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    lakehouse = Lakehouse(spark, str(lake))
    run_stage(IngestStage(config, [f"codeio:{sample_path()}"]), lakehouse, "good")
    sources = lake / "bronze" / "sources"
    version, count = DeltaTable(str(sources)).version(), read_delta(sources).num_rows

    # the same kind of records, but the source renamed refcode to code: every line is rejected
    shifted = tmp_path / "shifted.jsonl"
    records = [json.loads(line) for line in Path(sample_path()).read_text(encoding="utf-8").splitlines()]
    renamed = [{("code" if k == "refcode" else k): v for k, v in r.items()} for r in records]
    shifted.write_text("".join(json.dumps(r) + "\n" for r in renamed), encoding="utf-8")
    with pytest.raises(GateBlocked, match=r"missing_field rate <= 50%") as blocked:
        run_stage(IngestStage(config, [f"codeio:{shifted}"]), lakehouse, "shifted")
    assert blocked.value.stage_summaries[0].reasons == {"missing_field": len(records)}
    assert DeltaTable(str(sources)).version() == version and read_delta(sources).num_rows == count
    assert (
        not lakehouse.exists(INGEST_REJECTS) or read_delta(lake / "bronze" / "ingest_rejects").num_rows == 0
    )
    quarantined = read_delta(lake / "quarantine" / "bronze_ingest_rejects").to_pylist()
    assert len(quarantined) == len(records) and {r["reason"] for r in quarantined} == {"missing_field"}
