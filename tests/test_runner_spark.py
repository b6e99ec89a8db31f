"""The runner on real runs: a stage written as the contributor guide says, runs recorded in
meta/runs, and a lakehouse written by the version before keeper_id brought up to date."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from tests.conftest import REPO, read_delta
from tracepile.analysis.normalize import KEY_VERSION
from tracepile.cli import sample_path
from tracepile.config import load_config
from tracepile.jobs.stages import pipeline
from tracepile.runner import run_stages
from tracepile.stage import Stage, StageRun, require_table
from tracepile.summary import Tally
from tracepile.tables import SILVER_PROGRAMS, TableSpec

pytestmark = pytest.mark.spark

FIXTURES = REPO / "tests" / "fixtures"

DOMAIN_COUNTS = TableSpec(
    layer="gold",
    name="domain_counts",
    key="domain",
    description="programs per domain",
    schema=StructType(
        [StructField("domain", StringType(), False), StructField("programs", LongType(), False)]
    ),
)


class DomainCountStage(Stage):
    """The README's example of a new stage: one class, one line in the pipeline list."""

    name = "domain_counts"
    reads = (SILVER_PROGRAMS,)
    writes = (DOMAIN_COUNTS,)
    tally = Tally(kept="counted", kept_as="programs_counted")

    def plan(self, run: StageRun) -> None:
        require_table(run.lakehouse, SILVER_PROGRAMS, "dedup")
        programs = run.lakehouse.read(SILVER_PROGRAMS)
        counts = programs.where("domain <> ''").groupBy("domain").agg(F.count("*").alias("programs"))
        outcome = F.when(F.col("domain") == "", "no_domain").otherwise("counted")
        batch = run.write([(DOMAIN_COUNTS, counts)], programs.select(outcome.alias("outcome")))
        run.summary.counts["domains_new"] = batch.rows(DOMAIN_COUNTS)
        run.publish(batch)


def test_a_new_stage_runs_through_the_runner_gate_and_run_record(spark, tmp_path) -> None:
    lake = tmp_path / "lake"
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    stages = [*pipeline(config, [f"codeio:{sample_path()}"]), DomainCountStage(config)]
    report = run_stages("run", stages, config, spark=spark)
    assert report.status == "succeeded", report.error
    assert [s.stage for s in report.stages] == [
        "ingest",
        "dedup",
        "rewrite",
        "trace",
        "generate",
        "questions",
        "inputs",
        "domain_counts",
    ]

    programs = read_delta(lake / "silver" / "programs").column("domain").to_pylist()  # rewrites included
    counts = {r["domain"]: r["programs"] for r in read_delta(lake / "gold" / "domain_counts").to_pylist()}
    assert counts == {d: programs.count(d) for d in set(programs)}
    assert report.stages[-1].counts["domains_new"] == len(counts)
    # the outcomes the stage gave, counted by the runner: every program counted, none without a domain
    assert report.stages[-1].counts["programs_counted"] == len(programs)
    assert report.stages[-1].counts["rejected"] == 0 and report.stages[-1].reasons == {}
    # its batch went through the gate: the checks its declaration implies, recorded and passed
    checks = [
        r for r in read_delta(lake / "meta" / "validations").to_pylist() if r["stage"] == "domain_counts"
    ]
    assert {"domain is unique", "programs is not null", "columns and types are the declared ones"} <= {
        r["check_name"] for r in checks
    }
    assert all(r["success"] and r["decision"] == "published" for r in checks)
    # and the run is recorded once, with every stage in its report
    runs = read_delta(lake / "meta" / "runs").to_pylist()
    assert [(r["run_id"], r["status"]) for r in runs] == [(report.run_id, "succeeded")]
    assert '"stage": "domain_counts"' in runs[0]["report_json"]

    # a rerun publishes nothing new, and its stage says so
    again = run_stages("run", stages, config, spark=spark)
    assert again.status == "succeeded" and again.stages[-1].counts["domains_new"] == 0
    assert again.stages[0].counts["programs_new"] == 0


def _rows(lake: Path, table: str) -> list[dict]:
    return read_delta(lake / table).to_pylist()


def test_a_lakehouse_written_before_keeper_id_is_migrated_and_nothing_is_lost(spark, tmp_path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(FIXTURES / "lakehouse_before_keeper_id", lake)
    tables = ("bronze/sources", "bronze/ingest_rejects", "silver/programs", "silver/signatures",
              "silver/rejects", "silver/executions", "gold/coe", "meta/validations", "meta/runs")  # fmt: skip
    before = {table: _rows(lake, table) for table in tables}
    old_rejects = before["silver/rejects"]
    assert old_rejects and "keeper_id" not in old_rejects[0]  # the fixture is the old layout
    version = DeltaTable(str(lake / "silver" / "rejects")).version()

    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    sources = [f"codeio:{FIXTURES / 'sample_with_duplicates.jsonl'}", f"codeio:{sample_path()}"]
    report = run_stages("run", pipeline(config, sources), config, spark=spark)
    assert report.status == "succeeded", report.error
    keeper_backfill = "NULLIF(regexp_extract(detail, '(?:code as|duplicate of) ([0-9a-f]{32})', 1), '')"
    counts = {
        table: len(before[table])
        for table in (
            "bronze/sources",
            "silver/programs",
            "silver/signatures",
            "silver/executions",
            "gold/coe",
        )
    }
    assert report.migrations == [
        f"bronze/sources: added run_mode (string) to {counts['bronze/sources']} rows = 'call'",
        f"silver/programs: added run_mode (string) to {counts['silver/programs']} rows = 'call'",
        f"silver/programs: added rewrite_of (string) to {counts['silver/programs']} rows = NULL",
        f"silver/programs: added rewrite_kind (string) to {counts['silver/programs']} rows = NULL",
        f"silver/signatures: added key_version (bigint) to {counts['silver/signatures']} rows = 1",
        f"silver/rejects: added keeper_id (string) to 2 rows = {keeper_backfill}",
        # not known for runs traced before: the questions stage traces those again
        f"silver/executions: added steps_seed_stable (boolean) to {counts['silver/executions']} rows = NULL",
        f"gold/coe: added run_mode (string) to {counts['gold/coe']} rows = 'call'",
    ]
    # every program and sample written before run modes was a function call
    for table in ("bronze/sources", "silver/programs", "gold/coe"):
        assert {r["run_mode"] for r in _rows(lake, table)} == {"call"}, table
    # the old signatures were keyed again, under this version's scheme, before dedup compared
    dedup = next(stage for stage in report.stages if stage.stage == "dedup")
    assert dedup.counts["signatures_rekeyed"] == counts["silver/signatures"]
    assert {r["key_version"] for r in _rows(lake, "silver/signatures")} == {KEY_VERSION}

    # every row of every table is still there, unchanged in every column it had (but the
    # signatures' keys, recomputed)
    rekeyed = {"exact_key", "band_keys", "signature"}
    for table, rows in before.items():
        columns = [k for k in rows[0] if table != "silver/signatures" or k not in rekeyed] if rows else []
        after = [{k: r[k] for k in columns} for r in _rows(lake, table)]
        assert all({k: row[k] for k in columns} in after for row in rows), table
    # the old duplicates got their keeper from the detail they were written with
    rejects = {r["program_id"]: r for r in _rows(lake, "silver/rejects")}
    for old in old_rejects:
        assert rejects[old["program_id"]]["keeper_id"] == old["detail"].rsplit(" ", 1)[-1]
    # the migration is one commit, recorded; the version before it still reads as it was
    table = DeltaTable(str(lake / "silver" / "rejects"))
    assert table.version() > version
    assert (
        pq.read_table(DeltaTable(str(lake / "silver" / "rejects"), version=version).file_uris()).num_rows == 2
    )
    migrations = _rows(lake, "meta/migrations")
    assert [(m["table_name"], m["column_name"], m["rows"], m["run_id"]) for m in migrations] == [
        ("bronze/sources", "run_mode", counts["bronze/sources"], report.run_id),
        ("silver/programs", "run_mode", counts["silver/programs"], report.run_id),
        ("silver/programs", "rewrite_of", counts["silver/programs"], report.run_id),
        ("silver/programs", "rewrite_kind", counts["silver/programs"], report.run_id),
        ("silver/signatures", "key_version", counts["silver/signatures"], report.run_id),
        ("silver/rejects", "keeper_id", 2, report.run_id),
        ("silver/executions", "steps_seed_stable", counts["silver/executions"], report.run_id),
        ("gold/coe", "run_mode", counts["gold/coe"], report.run_id),
    ]
    # the new programs of the sample were processed on top of the old corpus
    assert len(_rows(lake, "silver/programs")) > len(before["silver/programs"])

    # a second run has nothing to migrate
    again = run_stages("run", pipeline(config, sources), config, spark=spark)
    assert again.status == "succeeded" and again.migrations == []
    assert len(_rows(lake, "meta/migrations")) == 8
