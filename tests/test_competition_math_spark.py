"""The competition and math kinds from ``--source KIND:PATH`` to gold/coe on the embedded engine:
every format the public datasets ship in, and no wrong solution or wrong answer in gold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deltalake import DeltaTable

from tests.conftest import read_delta
from tracepile.config import load_config
from tracepile.jobs.generate_stage import GenerateStage
from tracepile.jobs.ingest_stage import list_source_files
from tracepile.jobs.stages import pipeline
from tracepile.jobs.trace_stage import TraceStage
from tracepile.runner import run_stages
from tracepile.sources.files import SourceError

pytestmark = pytest.mark.spark

FIXTURES = Path(__file__).parent / "fixtures"
COMPETITION = FIXTURES / "competition"
MATH = FIXTURES / "math"
SOURCES = [
    f"competition:{COMPETITION / 'codecontests.jsonl'}",
    f"competition:{COMPETITION / 'apps.jsonl'}",
    f"competition:{COMPETITION / 'taco.jsonl.gz'}",
    f"math:{MATH / 'openmathinstruct.jsonl'}",
    f"math:{MATH / 'plain.jsonl'}",
]


def _identity(row: dict) -> tuple:
    """Which fixture record a program came from (its solution, for a competition problem)."""
    meta = json.loads(row["meta_json"])
    if row["source_kind"] == "math":
        return row["source"], meta["expected_answer"], meta.get("is_correct")
    problem = meta.get("name") or meta.get("problem_id") or meta.get("problem_key")
    return row["source"], problem, meta["solution_index"]


# The fixtures' planted wrong ones: a solution failing a test, a wrong stated or computed answer.
WRONG = {
    ("codecontests:codeforces", "4_A. Watermelon", 0),
    ("apps", 4441, 0),
    ("openmathinstruct-1", "5", False),  # is_correct false: its code computes 20
    ("math-plain", "9", None),  # the stated answer is wrong: the code counts 8 primes
}


def _rows(lake: Path, table: str) -> list[dict]:
    return read_delta(lake / table).to_pylist()


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory) -> Path:
    lake = tmp_path_factory.mktemp("competition_math") / "lake"
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    report = run_stages("run", pipeline(config, SOURCES), config, spark=spark)
    assert report.status == "succeeded", report.error
    return lake


def test_every_format_is_read_with_its_run_mode_and_skips_are_counted(lake: Path) -> None:
    sources = _rows(lake, "bronze/sources")
    modes = {(r["source"].split(":")[0], r["run_mode"]) for r in sources}
    assert modes == {
        ("codecontests", "stdin"), ("apps", "stdin"), ("apps", "call"), ("taco", "stdin"), ("taco", "call"),
        ("openmathinstruct-1", "answer"), ("math-plain", "answer"),
    }  # fmt: skip
    assert {(r["source_kind"], r["domain"]) for r in sources} == {
        ("competition", "competition"),
        ("math", "math"),
    }
    # a script with a main() has it as its entry point; call-based problems have their function
    assert {r["entry_point"] for r in sources if r["run_mode"] == "stdin"} == {"<module>", "main"}
    assert {r["entry_point"] for r in sources if r["run_mode"] == "answer"} == {"<module>"}
    # problems with no Python 3 solution, methods for call-based problems, text-only solutions
    reasons = {r["reason"] for r in _rows(lake, "bronze/ingest_rejects")}
    assert reasons == {"no_python_solution", "unsupported_call_form", "no_code_block"}
    assert {_identity(r) for r in sources} >= WRONG


def test_no_wrong_solution_or_answer_reaches_gold_and_each_failure_is_recorded(lake: Path) -> None:
    programs = {r["program_id"]: r for r in _rows(lake, "silver/programs")}
    executions = _rows(lake, "silver/executions")
    gold = _rows(lake, "gold/coe")
    failed = {e["program_id"] for e in executions if e["status"] != "ok"}
    assert {_identity(programs[p]) for p in failed} == WRONG
    rejects = {r["program_id"]: r for r in _rows(lake, "silver/rejects")}
    assert set(rejects) == failed
    assert {(r["stage"], r["reason"]) for r in rejects.values()} == {("trace", "failed_tests")}
    assert all(r["detail"].startswith("input ") and "mismatch" in r["detail"] for r in rejects.values())
    # a failed solution's passing tests stay out of gold too: it is not a source of truth
    assert not {g["program_id"] for g in gold} & failed
    assert any(e["status"] == "ok" for e in executions if e["program_id"] in failed)
    # every other program reached gold with every one of its inputs
    by_program: dict[str, int] = {}
    for row in gold:
        by_program[row["program_id"]] = by_program.get(row["program_id"], 0) + 1
    assert by_program == {p: len(r["inputs"]) for p, r in programs.items() if p not in failed}


def test_gold_answers_are_the_printed_output_for_scripts(lake: Path) -> None:
    gold = _rows(lake, "gold/coe")
    executions = {e["execution_id"]: e for e in _rows(lake, "silver/executions")}
    scripts = [g for g in gold if g["run_mode"] in ("stdin", "answer")]
    assert {g["domain"] for g in scripts} == {"competition", "math"}
    for row in scripts:
        printed = json.loads(row["output_json"])
        assert printed == executions[row["execution_id"]]["stdout"]
        assert row["response"].splitlines()[-1].startswith("Final answer: ")
        assert "predict what the program prints" in row["prompt"]
    stdin_rows = [g for g in scripts if g["run_mode"] == "stdin"]
    assert all("Standard input:\n```\n" in g["prompt"] for g in stdin_rows)


@pytest.mark.parametrize("table", ["codecontests.parquet", "taco.arrow"])
def test_parquet_and_arrow_shards_hold_the_same_problems_as_jsonl(spark, lake: Path, table: str) -> None:
    """CodeContests ships Parquet, TACO ``datasets`` Arrow stream shards: the same problems as
    their JSONL give the same programs, so nothing is new."""
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    stages = pipeline(config, [f"competition:{COMPETITION / table}"])[:1]
    report = run_stages("ingest", stages, config, spark=spark)
    assert report.status == "succeeded", report.error
    counts = report.stages[0].counts
    assert counts["programs_parsed"] > 0 and counts["programs_new"] == 0


def test_a_file_in_the_wrong_format_is_a_clear_error() -> None:
    with pytest.raises(SourceError) as error:
        list_source_files([f"competition:{COMPETITION / 'wrong_format.jsonl'}"])
    message = str(error.value)
    assert "wrong_format.jsonl is not a competition file" in message
    assert "refcode" in message and "DeepMind CodeContests" in message and "APPS / TACO" in message
    with pytest.raises(SourceError, match="OpenMathInstruct-1"):
        list_source_files([f"math:{MATH / 'wrong_format.jsonl'}"])


def test_a_solution_goes_on_to_generation_only_once_all_its_tests_ran(spark, lake: Path) -> None:
    """Its verdict is settled over all its tests whatever batches they ran in: with one test's
    execution missing, none of its executions is generated; once it has run, all are."""
    config = load_config(overrides={"lakehouse": str(lake)}, environ={})
    gold = _rows(lake, "gold/coe")
    programs = {r["program_id"]: r for r in _rows(lake, "silver/programs")}
    solution = next(p for p, r in programs.items() if r["run_mode"] == "stdin" and len(r["inputs"]) >= 3
                    and any(g["program_id"] == p for g in gold))  # fmt: skip
    executions = [e for e in _rows(lake, "silver/executions") if e["program_id"] == solution]
    dropped = executions[1]["execution_id"]
    DeltaTable(str(lake / "silver" / "executions")).delete(f"execution_id = '{dropped}'")
    DeltaTable(str(lake / "gold" / "coe")).delete(f"program_id = '{solution}'")

    unsettled = run_stages("generate", [GenerateStage(config)], config, spark=spark)
    assert unsettled.status == "succeeded", unsettled.error
    assert not [g for g in _rows(lake, "gold/coe") if g["program_id"] == solution]

    rerun = run_stages("trace", [TraceStage(config), GenerateStage(config)], config, spark=spark)
    assert rerun.status == "succeeded", rerun.error
    assert rerun.stages[0].counts["executions_new"] == 1
    regenerated = {g["execution_id"] for g in _rows(lake, "gold/coe") if g["program_id"] == solution}
    assert regenerated == {e["execution_id"] for e in executions}
