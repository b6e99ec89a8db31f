"""Two runs at once on one lakehouse: serialised by the lease, nothing duplicated or lost;
a lakehouse damaged by overlapping runs of an earlier version is repaired by ``tracepile repair``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable, write_deltalake

from tests.conftest import read_delta, run_tracepile
from tests.lakehouse_rows import duplicate_keys, finish, rows, start_tracepile
from tracepile.cli import EXIT_IN_USE, sample_path
from tracepile.config import LeaseConfig
from tracepile.lease import Lease
from tracepile.tables import BRONZE_SOURCES, GOLD_COE, RUNS, SILVER_EXECUTIONS, SILVER_PROGRAMS, TableSpec

SAMPLE = Path(sample_path()).read_text().splitlines(keepends=True)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines))
    return path


@pytest.mark.spark
@pytest.mark.slow
def test_two_runs_started_together_on_overlapping_sources_duplicate_nothing(tmp_path: Path) -> None:
    """Thirty problems each, fifteen shared: the second run waits for the first, then does
    only what is new to it; both succeed; no key is held twice; every problem is there."""
    first = _write(tmp_path / "first.jsonl", SAMPLE[:30])
    second = _write(tmp_path / "second.jsonl", SAMPLE[15:45])
    lake = tmp_path / "lake"
    runs = [
        start_tracepile("run", "--source", f"codeio:{source}", "--lakehouse", str(lake))
        for source in (first, second)
    ]
    results = [finish(run) for run in runs]
    for code, output in results:
        assert code == 0, output[-3000:]
    assert sum("waiting for run" in output for _, output in results) == 1
    assert duplicate_keys(lake) == {}
    ids = {json.loads(line)["problem_description"] for line in SAMPLE[:45]}
    assert len(rows(lake, BRONZE_SOURCES)) == len(ids)
    # the run that waited traced only the programs new to it
    reports = sorted((json.loads(r[-1]) for r in rows(lake, RUNS)), key=lambda r: r["started_at"])
    traced = [next(s for s in r["stages"] if s["stage"] == "trace")["counts"]["runs"] for r in reports]
    assert sum(traced) == len(rows(lake, SILVER_EXECUTIONS)) and all(traced)
    assert len(rows(lake, GOLD_COE)) > 0


def test_a_run_that_may_not_wait_stops_naming_the_holder(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    holder = Lease(lake / "_lease", "20261126T000000Z-abcdef", "trace", LeaseConfig())
    holder.acquire(print, print)
    try:
        started = time.monotonic()
        done = run_tracepile("dedup", "--lakehouse", str(lake), "--set", "lease.wait_seconds=0")
        assert done.returncode == EXIT_IN_USE, done.stderr[-2000:]
        assert "in use by run 20261126T000000Z-abcdef (tracepile trace" in " ".join(done.stderr.split())
        assert time.monotonic() - started < 30  # it stopped before starting an engine
    finally:
        holder.release()


def _last_stage_report(lake: Path) -> dict:
    runs = sorted((json.loads(r[-1]) for r in rows(lake, RUNS)), key=lambda r: r["started_at"])
    return runs[-1]["stages"][-1]


def _path(lake: Path, spec: TableSpec) -> str:
    return str(lake / spec.layer / spec.name)


def _versions(lake: Path, specs: tuple[TableSpec, ...]) -> dict[str, int]:
    return {spec.qualified_name: DeltaTable(_path(lake, spec)).version() for spec in specs}


@pytest.mark.spark
@pytest.mark.slow
def test_repair_removes_duplicate_keys_in_one_commit_per_table_keeping_the_earliest(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    source = _write(tmp_path / "programs.jsonl", SAMPLE[:10])
    for command in (["ingest", "--source", f"codeio:{source}"], ["dedup"]):
        done = run_tracepile(*command, "--lakehouse", str(lake))
        assert done.returncode == 0, done.stderr[-3000:]
    # the damage two overlapping runs of an earlier version did: the same keys appended again
    # by a later run (blind appends both commit)
    bronze = read_delta(_path(lake, BRONZE_SOURCES)).slice(0, 4)
    write_deltalake(_path(lake, BRONZE_SOURCES), bronze, mode="append")
    programs = read_delta(_path(lake, SILVER_PROGRAMS)).slice(0, 3)
    original_run = programs.column("run_id")[0].as_py()
    later = programs.set_column(
        programs.schema.get_field_index("run_id"), "run_id", [["99991231T000000Z-later"] * len(programs)]
    )
    write_deltalake(_path(lake, SILVER_PROGRAMS), later, mode="append")
    assert duplicate_keys(lake) == {"bronze/sources": 4, "silver/programs": 3}
    damaged = (BRONZE_SOURCES, SILVER_PROGRAMS)

    before = _versions(lake, damaged)
    dry = run_tracepile("repair", "--lakehouse", str(lake))
    assert dry.returncode == 0, dry.stderr[-3000:]
    counts = _last_stage_report(lake)["counts"]
    assert counts["bronze/sources: duplicate keys"] == 4 and counts["silver/programs: extra rows"] == 3
    assert counts["tables with duplicate keys"] == 2
    assert "tracepile repair --apply" in " ".join(dry.stdout.split())
    assert _versions(lake, damaged) == before  # a dry run changes nothing

    fixed = run_tracepile("repair", "--apply", "--lakehouse", str(lake))
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert _last_stage_report(lake)["counts"]["silver/programs: rows removed"] == 3
    assert duplicate_keys(lake) == {}
    after = _versions(lake, damaged)
    assert all(after[name] == before[name] + 1 for name in after)  # one commit per damaged table
    kept = read_delta(_path(lake, SILVER_PROGRAMS)).to_pylist()
    assert {row["run_id"] for row in kept} == {original_run}  # the earliest run's rows stayed
    # the lakehouse works again: the next stage publishes
    done = run_tracepile("trace", "--lakehouse", str(lake))
    assert done.returncode == 0, done.stderr[-3000:]
