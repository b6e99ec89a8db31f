"""Crash safety and incremental growth, proven on real runs of the whole pipeline.

Each killed run is a real ``tracepile run`` whose whole process group (the CLI, the
embedded engine, the sandboxes) gets SIGKILL at a named point (``tracepile/failures.py``):
during ingest, dedup, rewrite, trace and generate, inside a trace task, and between a
stage's table commits. After every kill no table holds a duplicate key; the run after the
last kill completes, and the tables then equal those of one clean run. A third identical
run changes nothing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from deltalake import DeltaTable

from tests.lakehouse_rows import DATA_TABLES, duplicate_keys, exists, finish, rows, start_tracepile
from tracepile.cli import sample_path
from tracepile.failures import ENV
from tracepile.tables import GOLD_COE, RUNS, SILVER_EXECUTIONS

pytestmark = [pytest.mark.spark, pytest.mark.slow]

# small batches, so that trace and generate publish several batches and a kill can land between
SMALL_BATCHES = ["--set", "trace.batch_rows=25", "--set", "generate.batch_rows=25"]
CRASH_POINTS = [
    "ingest:staged:ingest",  # during ingest: records parsed, nothing published
    "ingest:published:bronze/sources",  # between ingest's two commits
    "dedup:staged:dedup_edges",  # during dedup: candidate edges found, nothing published
    "dedup:published:silver/signatures",  # between dedup's three commits
    "dedup:published:silver/programs",
    "rewrite:start",
    "trace:running",  # inside a trace task, nothing of the batch published
    "trace:published:silver/executions",  # after a first batch, the others pending
    "generate:staged:generate_outcomes_0",  # during generate: texts made, none published
    "generate:published:gold/coe",  # between a batch's gold/coe and gold/coe_rejects commits
    "questions:start",
]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve problems of the bundled sample: about 120 runs with their rewrites."""
    path = tmp_path_factory.mktemp("source") / "programs.jsonl"
    lines = Path(sample_path()).read_text().splitlines(keepends=True)[:12]
    path.write_text("".join(lines))
    return path


def _run(lake: Path, source: Path, crash_at: str | None = None) -> tuple[int, str]:
    return finish(
        start_tracepile(
            "run", "--source", f"codeio:{source}", "--lakehouse", str(lake), *SMALL_BATCHES,
            env={ENV: crash_at} if crash_at else None,
        )
    )  # fmt: skip


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory, source: Path) -> Path:
    lake = tmp_path_factory.mktemp("clean") / "lake"
    code, output = _run(lake, source)
    assert code == 0, output[-3000:]
    return lake


def _versions(lake: Path) -> dict[str, int]:
    return {
        spec.qualified_name: DeltaTable(str(lake / spec.layer / spec.name)).version()
        for spec in DATA_TABLES
        if exists(lake, spec)
    }


def test_runs_killed_at_every_stage_then_rerun_equal_one_clean_run(
    tmp_path: Path, source: Path, clean: Path
) -> None:
    lake = tmp_path / "lake"
    for point in CRASH_POINTS:
        code, output = _run(lake, source, crash_at=point)
        assert code == -9, f"the run was to be killed at {point}, ended {code}:\n{output[-3000:]}"
        assert duplicate_keys(lake) == {}, f"after a kill at {point}"
    code, output = _run(lake, source)
    assert code == 0, output[-3000:]
    assert "took over the lakehouse from run" in output  # the last killed run's lease
    assert duplicate_keys(lake) == {}
    for spec in DATA_TABLES:
        assert rows(lake, spec) == rows(clean, spec), spec.qualified_name
    assert rows(clean, DATA_TABLES[0]), "the clean run wrote nothing"
    # every killed run is in the run history, as abandoned, found by the run after it
    runs = [json.loads(r[-1]) for r in rows(lake, RUNS)]
    assert sum(r["status"] == "abandoned" for r in runs) == len(CRASH_POINTS)

    before = _versions(lake)
    code, output = _run(lake, source)
    assert code == 0, output[-3000:]
    assert _versions(lake) == before  # a third identical run changes no table


def test_part_then_all_of_a_source_traces_only_what_is_new_and_ends_as_one_clean_run(
    tmp_path: Path, source: Path, clean: Path
) -> None:
    """The source file grows (its first half, then all of it), as a corpus does batch by batch.
    On this sample no duplicate group straddles the halves, so dedup's keep-what-is-there
    policy picks the same keepers as the clean run (where it would not, the kept member of
    such a group differs: the one already in silver/programs stays)."""
    lake = tmp_path / "lake"
    everything = source.read_text()
    try:
        source.write_text("".join(everything.splitlines(keepends=True)[:6]))
        code, output = _run(lake, source)
        assert code == 0, output[-3000:]
        executions_before = {r[0] for r in rows(lake, SILVER_EXECUTIONS)}
        source.write_text(everything)
        code, output = _run(lake, source)
        assert code == 0, output[-3000:]
    finally:
        source.write_text(everything)
    report = _last_report(lake)
    trace = next(s for s in report["stages"] if s["stage"] == "trace")
    executions_after = {r[0] for r in rows(lake, SILVER_EXECUTIONS)}
    assert trace["counts"]["runs"] == len(executions_after - executions_before) > 0
    generate = next(s for s in report["stages"] if s["stage"] == "generate")
    assert generate["counts"]["pending"] < len(rows(clean, GOLD_COE))  # only the new executions
    for spec in DATA_TABLES:
        assert rows(lake, spec) == rows(clean, spec), spec.qualified_name


def _last_report(lake: Path) -> dict:
    runs = [json.loads(r[-1]) for r in rows(lake, RUNS)]
    return max(runs, key=lambda r: r["started_at"])


def test_copy_of_a_lakehouse_is_independent(tmp_path: Path, clean: Path) -> None:
    """The comparison above reads what it claims: a changed copy compares unequal."""
    copy = tmp_path / "copy"
    shutil.copytree(clean, copy)
    spec = GOLD_COE
    table = DeltaTable(str(copy / spec.layer / spec.name))
    table.delete("claims_checked >= 0 AND coe_id < '8'")
    assert rows(copy, spec) != rows(clean, spec)
