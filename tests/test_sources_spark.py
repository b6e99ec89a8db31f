"""Each source kind from ``--source KIND:PATH`` to verified samples in gold/coe, on the
embedded engine, through the same runner as ``tracepile run``."""

from __future__ import annotations

import pytest

from tests.conftest import read_delta
from tracepile.config import load_config
from tracepile.jobs.stages import pipeline
from tracepile.runner import run_stages
from tracepile.sources.algorithms import ALGORITHMS

pytestmark = pytest.mark.spark


def test_builtin_algorithms_reach_gold_every_run_verified(spark, tmp_path) -> None:
    lake = tmp_path / "lake"
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    report = run_stages("run", pipeline(config, ["algorithms:builtin"]), config, spark=spark)
    assert report.status == "succeeded", report.error

    sources = read_delta(lake / "bronze" / "sources").to_pylist()
    assert sorted(r["entry_point"] for r in sources) == sorted(ALGORITHMS)
    assert {(r["source_kind"], r["domain"]) for r in sources} == {("algorithms", "algorithms")}
    assert all(r["code"] == ALGORITHMS[r["entry_point"]].code for r in sources)
    # dedup may fold an algorithm into a near-copy of it (lower_bound / upper_bound), never more
    kept = read_delta(lake / "silver" / "programs").to_pylist()
    rejects = read_delta(lake / "silver" / "rejects").to_pylist()
    assert len(kept) + len(rejects) == len(sources) and len(kept) >= len(sources) - 2
    assert all(r["reason"] in ("near_duplicate", "exact_duplicate") and r["keeper_id"] for r in rejects)
    # every generated instance ran, within the trace budget, the same under two hash seeds
    executions = read_delta(lake / "silver" / "executions").to_pylist()
    assert len(executions) == sum(len(p["inputs"]) for p in kept) >= 2 * len(kept)
    assert {r["status"] for r in executions} == {"ok"}
    gold = read_delta(lake / "gold" / "coe").to_pylist()
    assert sorted(r["execution_id"] for r in gold) == sorted(r["execution_id"] for r in executions)
    assert {r["domain"] for r in gold} == {"algorithms"}

    # a rerun with the same seed and sizes adds nothing; with another seed the programs are new
    # rows, but the corpus keeps one program per code: they are the published ones' duplicates
    again = run_stages("run", pipeline(config, ["algorithms:builtin"]), config, spark=spark)
    assert again.stages[0].counts["programs_new"] == 0
    reseeded = load_config(
        overrides={"lakehouse": str(lake)}, assignments=["ingest.algorithms.seed=1"], environ={}
    )
    grown = run_stages("run", pipeline(reseeded, ["algorithms:builtin"]), reseeded, spark=spark)
    assert grown.status == "succeeded", grown.error
    assert grown.stages[0].counts["programs_new"] == len(ALGORITHMS)
    assert set(grown.stages[1].reasons) <= {"exact_duplicate", "near_duplicate"}
    assert sum(grown.stages[1].reasons.values()) == len(ALGORITHMS)
