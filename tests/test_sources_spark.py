"""Each source kind from ``--source KIND:PATH`` to verified samples in gold/coe, on the
embedded engine, through the same runner as ``tracepile run``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import read_delta
from tracepile.cli import sample_path
from tracepile.config import load_config
from tracepile.jobs.stages import pipeline
from tracepile.runner import run_stages
from tracepile.sources.algorithms import ALGORITHMS

pytestmark = pytest.mark.spark

# these tests are about sources: the augmentation stages (tests/test_augment_spark.py) are off
SOURCES_ONLY = ["rewrites.enabled=false", "questions.enabled=false"]


def test_builtin_algorithms_reach_gold_every_run_verified(spark, tmp_path) -> None:
    lake = tmp_path / "lake"
    config = load_config(overrides={"lakehouse": str(lake)}, assignments=SOURCES_ONLY, environ={})
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
        overrides={"lakehouse": str(lake)},
        assignments=["ingest.algorithms.seed=1", *SOURCES_ONLY],
        environ={},
    )
    grown = run_stages("run", pipeline(reseeded, ["algorithms:builtin"]), reseeded, spark=spark)
    assert grown.status == "succeeded", grown.error
    assert grown.stages[0].counts["programs_new"] == len(ALGORITHMS)
    assert set(grown.stages[1].reasons) <= {"exact_duplicate", "near_duplicate"}
    assert sum(grown.stages[1].reasons.values()) == len(ALGORITHMS)


MODULE = '''"""Small helpers, as a user's repository has them."""

SCALE = 3


def scaled_sum(values: list[int]) -> int:
    """The sum of the values times SCALE.

    >>> scaled_sum([1, 2, 3])
    18
    """
    total = 0
    for value in values:
        total += value * SCALE
    return total


def square(n: int) -> int:
    """The square of n; its docstring states a wrong answer.

    >>> square(3)
    10
    """
    return n * n


def clamp(value: int, low: int = 0, high: int = 10) -> int:
    if value < low:
        return low
    if value > high:
        return high
    return value


def countdown(n: int):
    while n > 0:
        yield n
        n -= 1
'''


def test_pyfiles_tree_reaches_gold_and_a_wrong_docstring_answer_does_not(spark, tmp_path) -> None:
    tree = tmp_path / "repo" / "helpers"
    tree.mkdir(parents=True)
    (tree / "__init__.py").write_text("")
    (tree / "numbers.py").write_text(MODULE)
    lake = tmp_path / "lake"
    config = load_config(overrides={"lakehouse": str(lake)}, assignments=SOURCES_ONLY, environ={})
    report = run_stages("run", pipeline(config, [f"pyfiles:{tmp_path / 'repo'}"]), config, spark=spark)
    assert report.status == "succeeded", report.error

    programs = {r["entry_point"]: r for r in read_delta(lake / "silver" / "programs").to_pylist()}
    assert set(programs) == {"scaled_sum", "square", "clamp"}
    assert (
        "SCALE = 3" in programs["scaled_sum"]["code"] and "def square" not in programs["scaled_sum"]["code"]
    )
    rejects = read_delta(lake / "bronze" / "ingest_rejects").to_pylist()
    assert [(r["reason"], r["source_line"]) for r in rejects] == [("generator_function", 35)]
    executions = read_delta(lake / "silver" / "executions").to_pylist()
    by_program = {}
    for row in executions:
        by_program.setdefault(row["program_id"], []).append(row)
    assert [r["status"] for r in by_program[programs["square"]["program_id"]]] == ["mismatch"]
    assert [r["status"] for r in by_program[programs["scaled_sum"]["program_id"]]] == ["ok"]
    generated = by_program[programs["clamp"]["program_id"]]
    assert len(generated) == config.ingest.pyfiles.generated_inputs and {r["status"] for r in generated} == {
        "ok"
    }
    gold = read_delta(lake / "gold" / "coe").to_pylist()
    assert {r["program_id"] for r in gold} == {
        programs["scaled_sum"]["program_id"],
        programs["clamp"]["program_id"],
    }
    assert len(gold) == 1 + len(generated)  # the wrong answer reached nothing


def test_the_mix_is_reported_and_a_domain_quota_caps_what_goes_on_to_trace(spark, tmp_path) -> None:
    lake = tmp_path / "lake"
    sources = ["algorithms:builtin", f"codeio:{sample_path()}"]

    def run(quota: int):
        config = load_config(
            overrides={"lakehouse": str(lake)},
            assignments=[f"trace.domain_quota={{algorithms={quota}}}", *SOURCES_ONLY],
            environ={},
        )  # fmt: skip
        report = run_stages("run", pipeline(config, sources), config, spark=spark)
        assert report.status == "succeeded", report.error
        return report

    first = run(5)
    ingest, dedup, trace = first.stages[:3]
    assert ingest.mix["algorithms/algorithms"] == len(ALGORITHMS)
    sample_domains = {k for k in ingest.mix if k.startswith("codeio/")}
    assert sample_domains == {"codeio/math", "codeio/algorithms", "codeio/competition"}
    assert sum(ingest.mix.values()) == ingest.counts["programs_new"]
    assert sum(dedup.mix.values()) == dedup.counts["programs_new"]

    def traced_by_domain() -> dict[str, int]:
        programs = {
            r["program_id"]: r["domain"] for r in read_delta(lake / "silver" / "programs").to_pylist()
        }
        traced = {r["program_id"] for r in read_delta(lake / "silver" / "executions").to_pylist()}
        counts: dict[str, int] = {}
        for program_id in traced:
            counts[programs[program_id]] = counts.get(programs[program_id], 0) + 1
        return counts

    kept_algorithms = dedup.mix["algorithms/algorithms"] + dedup.mix.get("codeio/algorithms", 0)
    assert traced_by_domain()["algorithms"] == 5  # capped; math and competition are not
    assert traced_by_domain()["math"] == dedup.mix["codeio/math"]
    assert trace.counts["programs_waiting_for_quota"] == kept_algorithms - 5
    # a larger quota lets the next run trace more, and only those
    second = run(8)
    assert traced_by_domain()["algorithms"] == 8 and second.stages[2].counts[
        "programs_waiting_for_quota"
    ] == (kept_algorithms - 8)
    assert second.stages[0].counts["programs_new"] == 0


def test_pyfiles_on_a_real_pypi_package_brings_most_of_its_functions_to_gold(spark, tmp_path) -> None:
    """``inflection`` (a dev dependency, written by nobody here): its public functions, with the
    examples their docstrings give, run in the sandbox and reach gold."""
    import inflection

    root = Path(inflection.__file__).parent
    lake = tmp_path / "lake"
    config = load_config(overrides={"lakehouse": str(lake)}, assignments=SOURCES_ONLY, environ={})
    report = run_stages("run", pipeline(config, [f"pyfiles:{root}"]), config, spark=spark)
    assert report.status == "succeeded", report.error
    public = [
        name for name in vars(inflection) if callable(getattr(inflection, name)) and not name.startswith("_")
    ]
    public = [n for n in public if getattr(getattr(inflection, n), "__module__", "") == "inflection"]
    programs = {
        r["program_id"]: r["entry_point"] for r in read_delta(lake / "bronze" / "sources").to_pylist()
    }
    assert sorted(programs.values()) == sorted(public)
    gold = {programs[r["program_id"]] for r in read_delta(lake / "gold" / "coe").to_pylist()}
    assert len(gold) > 0.75 * len(public), sorted(set(public) - gold)
    # what did not reach gold was folded into a near-copy of it, never lost without a reason
    rejects = {
        programs[r["program_id"]]: r["reason"] for r in read_delta(lake / "silver" / "rejects").to_pylist()
    }
    assert set(public) - gold == set(rejects) and set(rejects.values()) <= {
        "near_duplicate",
        "exact_duplicate",
    }


def test_codeio_records_with_an_input_generator_get_inputs_from_the_sandbox(spark, tmp_path) -> None:
    lake = tmp_path / "lake"
    config = load_config(overrides={"lakehouse": str(lake)}, assignments=SOURCES_ONLY, environ={})
    fixture = Path(__file__).parent / "fixtures" / "codeio_generators.jsonl"
    report = run_stages("run", pipeline(config, [f"codeio:{fixture}"]), config, spark=spark)
    assert report.status == "succeeded", report.error

    sources = read_delta(lake / "bronze" / "sources").to_pylist()
    assert len(sources) == 3
    # each generator ran seeded, five times: its distinct inputs, outputs left to the program
    assert all(len(r["inputs"]) == config.ingest.generated_inputs for r in sources)
    assert all(i["expected_output_json"] is None for r in sources for i in r["inputs"])
    rejects = read_delta(lake / "bronze" / "ingest_rejects").to_pylist()
    assert sorted(r["reason"] for r in rejects) == ["input_generator_failed"] * 2
    assert {r["detail"].split(": ", 2)[1] for r in rejects} <= {
        "error",
        "returned list, expected a dict of keyword arguments",
    }
    executions = read_delta(lake / "silver" / "executions").to_pylist()
    assert len(executions) == 15 and {e["status"] for e in executions} == {"ok"}
    gold = read_delta(lake / "gold" / "coe").to_pylist()
    assert sorted(g["execution_id"] for g in gold) == sorted(e["execution_id"] for e in executions)

    # the same seeds give the same inputs: a rerun adds nothing
    again = run_stages("run", pipeline(config, [f"codeio:{fixture}"]), config, spark=spark)
    assert again.stages[0].counts["programs_new"] == 0 and again.stages[2].counts["runs"] == 0
