"""The dedup stage on the embedded engine: planted copies, every drop explained, incremental."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from tests.conftest import read_delta
from tracepile.cli import sample_path
from tracepile.config import load_config
from tracepile.jobs.dedup_stage import DedupStage, connected_components
from tracepile.jobs.ingest_stage import IngestStage
from tracepile.lakehouse import Lakehouse
from tracepile.runner import run_stage
from tracepile.tables import BRONZE_SOURCES, SILVER_PROGRAMS, SILVER_REJECTS, SILVER_SIGNATURES

pytestmark = pytest.mark.spark
FIXTURE = Path(__file__).parent / "fixtures" / "benchmark_fixture.jsonl"


def _sample() -> list[dict]:
    return [json.loads(line) for line in Path(sample_path()).read_text(encoding="utf-8").splitlines()]


def _copy(record: dict, code: str, label: str) -> dict:
    return {**record, "refcode": code, "source": f"copy-{label}"}


def _planted(sample: list[dict]) -> dict[str, tuple[dict, dict]]:
    """label -> (original, copy), each copy a different kind of duplicate."""
    gcd, prime, digits, power = sample[0], sample[1], sample[3], sample[5]
    return {
        "exact": (gcd, _copy(gcd, gcd["refcode"], "exact")),
        "reformatted": (
            prime,
            _copy(prime, "# primality\n" + prime["refcode"].replace("    ", "  ") + "\n\n", "reformatted"),
        ),
        "renamed": (digits, _copy(digits, digits["refcode"].replace("total", "acc"), "renamed")),
        # one constant changed: the same shingles (literals are one placeholder), but it
        # computes something else, so both stay
        "constant": (power, _copy(power, power["refcode"].replace("e >>= 1", "e >>= 2"), "constant")),
    }


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _run(spark, root: Path, source: Path, run_id: str, **settings):
    config = load_config(
        overrides={"lakehouse": str(root)},
        environ={},
        assignments=[f"{key}={json.dumps(value)}" for key, value in settings.items()],
    )
    lakehouse = Lakehouse(spark, str(root))
    run_stage(IngestStage(config, [f"codeio:{source}"]), lakehouse, f"{run_id}-ingest")
    return lakehouse, run_stage(DedupStage(config), lakehouse, run_id)


def _ids(lakehouse: Lakehouse, records: list[dict]) -> list[str]:
    """program_ids of records, found by their code and source in bronze/sources."""
    rows = read_delta(lakehouse.ref(BRONZE_SOURCES)).to_pylist()
    by_content = {(r["code"], r["source"]): r["program_id"] for r in rows}
    return [by_content[(r["refcode"], r["source"])] for r in records]


def test_planted_copies_are_removed_each_with_its_keeper(spark, tmp_path) -> None:
    sample = _sample()
    planted = _planted(sample)
    source = _write(tmp_path / "batch.jsonl", sample + [copy for _, copy in planted.values()])
    lakehouse, report = _run(spark, tmp_path / "lake", source, "dedup-1")

    programs = read_delta(lakehouse.ref(SILVER_PROGRAMS))
    rejects = read_delta(lakehouse.ref(SILVER_REJECTS)).to_pylist()
    kept = set(programs.column("program_id").to_pylist())
    removed = {r["program_id"]: r for r in rejects}
    for label, (original, copy) in planted.items():
        original_id, copy_id = _ids(lakehouse, [original, copy])
        if label == "constant":
            assert {original_id, copy_id} <= kept
            continue
        assert len({original_id, copy_id} & kept) == 1, label
        loser, keeper = (copy_id, original_id) if original_id in kept else (original_id, copy_id)
        assert removed[loser]["keeper_id"] == keeper, label
        assert removed[loser]["reason"] == "exact_duplicate", label

    # Nothing lost: every bronze row is kept or rejected, once, and the report counts it.
    bronze = read_delta(lakehouse.ref(BRONZE_SOURCES)).num_rows
    assert bronze == len(sample) + 4 == len(kept) + len(rejects)
    assert report.counts["programs_read"] == bronze
    assert report.counts["programs_new"] == len(kept)
    assert sum(report.reasons.values()) == len(rejects)
    assert Counter(r["reason"] for r in rejects) == report.reasons
    assert report.notes["LSH threshold"] == "~0.71 Jaccard"
    signatures = read_delta(lakehouse.ref(SILVER_SIGNATURES))
    assert set(signatures.column("program_id").to_pylist()) == kept
    assert {len(b) for b in signatures.column("band_keys").to_pylist()} == {16}

    # Kept programs carry their filtered inputs and the drop counts.
    row = programs.to_pylist()[0]
    assert row["inputs"] and row["run_id"] == "dedup-1" and row["input_duplicate"] >= 0

    again = run_stage(
        DedupStage(load_config(overrides={"lakehouse": str(tmp_path / "lake")}, environ={})),
        lakehouse,
        "dedup-2",
    )
    assert again.counts["programs_read"] == 0 and again.counts["programs_new"] == 0
    assert read_delta(lakehouse.ref(SILVER_PROGRAMS)).num_rows == len(kept)


def test_second_batch_is_deduplicated_against_the_first_without_its_code(spark, tmp_path) -> None:
    sample = _sample()
    root = tmp_path / "lake"
    lakehouse, first = _run(spark, root, _write(tmp_path / "one.jsonl", sample[:20]), "batch-1")
    assert first.counts["programs_new"] == 20

    # Replace the first batch's code everywhere: the second run must not need it. (Not with
    # "": the tables' CHECK constraint code_not_empty refuses that.)
    for spec in (BRONZE_SOURCES, SILVER_PROGRAMS):
        table = read_delta(lakehouse.ref(spec))
        column = table.schema.get_field_index("code")
        blanked = table.set_column(
            column, table.schema.field(column), pa.array(["# removed"] * table.num_rows)
        )
        write_deltalake(lakehouse.ref(spec), blanked, mode="overwrite")
    assert set(read_delta(lakehouse.ref(BRONZE_SOURCES)).column("code").to_pylist()) == {"# removed"}

    renamed = _copy(sample[3], sample[3]["refcode"].replace("total", "digit_sum"), "renamed")
    exact = _copy(sample[7], sample[7]["refcode"], "exact")
    edited = _copy(sample[14], sample[14]["refcode"].replace(" + ", " - ", 1), "operator")
    constant = _copy(sample[5], sample[5]["refcode"].replace("e >>= 1", "e >>= 2"), "constant")
    fresh = sample[30]
    batch = [renamed, exact, edited, constant, fresh]
    _, second = _run(spark, root, _write(tmp_path / "two.jsonl", batch), "batch-2")

    assert second.counts["programs_read"] == 5
    assert second.counts["signatures_reused"] == 20
    assert second.counts["programs_new"] == 2  # the fresh one, and the one with another constant
    assert second.reasons == {"exact_duplicate": 2, "near_duplicate": 1}
    rejects = {r["program_id"]: r for r in read_delta(lakehouse.ref(SILVER_REJECTS)).to_pylist()}
    first_ids = {
        r["program_id"]
        for r in read_delta(lakehouse.ref(SILVER_SIGNATURES)).to_pylist()
        if r["run_id"] == "batch-1"
    }
    for copy in (renamed, exact, edited):
        (copy_id,) = _ids(lakehouse, [copy])
        assert rejects[copy_id]["keeper_id"] in first_ids  # the published corpus wins


def test_filters_and_decontamination_reject_with_reasons(spark, tmp_path) -> None:
    sample = _sample()
    leaked = {
        **sample[9],
        "problem_description": "Given a list of meeting intervals with start and end times, return the "
        "minimum number of conference rooms that are needed so that no two meetings overlap.",
    }
    unseeded = _copy(
        sample[11],
        "import random\n" + sample[11]["refcode"].replace("steps = 0", "steps = random.randint(0, 1)"),
        "random",
    )
    broken = _copy(sample[12], "def main_solution(:\n    pass\n", "broken")
    source = _write(tmp_path / "batch.jsonl", [sample[0], leaked, unseeded, broken])
    lakehouse, report = _run(
        spark, tmp_path / "lake", source, "filters", **{"dedup.benchmarks": [str(FIXTURE)]}
    )

    assert report.reasons == {"contaminated": 1, "nondeterministic": 1, "syntax_error": 1}
    details = {r["reason"]: r["detail"] for r in read_delta(lakehouse.ref(SILVER_REJECTS)).to_pylist()}
    assert "benchmark_fixture.jsonl:2" in details["contaminated"]
    assert "random.randint" in details["nondeterministic"]
    assert report.counts["programs_new"] == 1
    # each filter's rejections are counted under its name, every filter listed
    rejected = {k: v for k, v in report.counts.items() if k.startswith("filter_")}
    assert rejected == {
        "filter_code_size_rejected": 0, "filter_syntax_rejected": 1, "filter_entry_function_rejected": 0,
        "filter_capabilities_rejected": 1, "filter_inputs_rejected": 0, "filter_decontamination_rejected": 1,
    }  # fmt: skip
    assert all(r["keeper_id"] is None for r in read_delta(lakehouse.ref(SILVER_REJECTS)).to_pylist())


def test_connected_components_label_each_component_by_its_smallest_id(spark, tmp_path) -> None:
    lakehouse = Lakehouse(spark, str(tmp_path / "lake"))
    chain = [(f"n{i:02d}", f"n{i + 1:02d}") for i in range(12)]  # one long path
    edges = spark.createDataFrame([*chain, ("x1", "x0"), ("x2", "x1")], "src string, dst string")
    found = connected_components(edges, lakehouse, "cc", max_iterations=30)
    labels = {r["program_id"]: r["component"] for r in found.labels.collect()}
    assert found.converged
    assert {labels[f"n{i:02d}"] for i in range(13)} == {"n00"}
    assert {labels["x0"], labels["x1"], labels["x2"]} == {"x0"}

    bounded = connected_components(edges, lakehouse, "cc-bounded", max_iterations=1)
    assert not bounded.converged and bounded.iterations == 1
    partial_labels = {r["program_id"]: r["component"] for r in bounded.labels.collect()}
    # Unfinished means split components, never merged ones: labels stay inside the component.
    assert all(partial_labels[node] <= node and partial_labels[node][0] == node[0] for node in partial_labels)


def test_worker_pool_inside_the_engine_gives_the_same_tables_as_inline(spark, tmp_path) -> None:
    sample = _sample()
    source = _write(tmp_path / "batch.jsonl", sample + [copy for _, copy in _planted(sample).values()])
    inline_lake, inline = _run(spark, tmp_path / "inline", source, "inline")
    pooled_lake, pooled = _run(
        spark, tmp_path / "pooled", source, "pooled", **{"dedup.pool_min_programs": 0, "dedup.workers": 2}
    )
    assert inline.notes["workers"].startswith("1 ") and pooled.notes["workers"].startswith("2 ")
    for spec in (SILVER_PROGRAMS, SILVER_SIGNATURES, SILVER_REJECTS):
        rows = [
            sorted(
                read_delta(lake.ref(spec)).drop_columns(["run_id"]).to_pylist(), key=lambda r: r["program_id"]
            )
            for lake in (inline_lake, pooled_lake)
        ]
        assert rows[0] == rows[1], spec.qualified_name


def test_signatures_of_an_earlier_key_version_are_recomputed_before_comparing(spark, tmp_path) -> None:
    """A lakehouse whose silver/signatures predates ``key_version`` (the column missing, the
    keys of another scheme): the next dedup run re-keys those rows from silver/programs'
    code, so a copy re-printed by ``ast.unparse`` of an old program is still found."""
    import ast

    from tracepile.analysis.normalize import KEY_VERSION
    from tracepile.migrations import migrate

    sample = _sample()
    root = tmp_path / "lake"
    lakehouse, _ = _run(spark, root, _write(tmp_path / "one.jsonl", sample[:20]), "batch-1")
    old = read_delta(lakehouse.ref(SILVER_SIGNATURES))
    current = {r["program_id"]: r for r in old.to_pylist()}
    # keys of "another scheme": nothing a new program could ever match
    stale = old.drop(["key_version"]).set_column(
        old.schema.get_field_index("exact_key"), "exact_key", pa.array(["0" * 32] * old.num_rows)
    )
    stale = stale.set_column(
        stale.schema.get_field_index("band_keys"),
        pa.field("band_keys", pa.list_(pa.int64()), nullable=False),
        pa.array([[i] * 16 for i in range(stale.num_rows)], pa.list_(pa.int64())),
    )
    write_deltalake(lakehouse.ref(SILVER_SIGNATURES), stale, mode="overwrite", schema_mode="overwrite")
    (added,) = migrate(lakehouse, "migrate")  # as the runner does before any stage
    assert (added.column, added.backfill) == ("key_version", "1")

    reprinted = _copy(sample[4], ast.unparse(ast.parse(sample[4]["refcode"])), "reprinted")
    _, second = _run(spark, root, _write(tmp_path / "two.jsonl", [reprinted, sample[30]]), "batch-2")

    assert second.counts["signatures_rekeyed"] == 20
    assert second.reasons == {"exact_duplicate": 1}
    (copy_id,) = _ids(lakehouse, [reprinted])
    (original_id,) = _ids(lakehouse, [sample[4]])
    rejects = {r["program_id"]: r for r in read_delta(lakehouse.ref(SILVER_REJECTS)).to_pylist()}
    assert rejects[copy_id]["keeper_id"] == original_id
    rekeyed = {r["program_id"]: r for r in read_delta(lakehouse.ref(SILVER_SIGNATURES)).to_pylist()}
    assert {r["key_version"] for r in rekeyed.values()} == {KEY_VERSION}
    for program_id, row in current.items():  # the same keys as a fresh run computed, run ids kept
        assert (rekeyed[program_id]["exact_key"], rekeyed[program_id]["signature"]) == (
            row["exact_key"],
            row["signature"],
        )
        assert rekeyed[program_id]["run_id"] == "batch-1"


def _ios(*pairs: tuple[int, int], names: str = "ab") -> list[dict]:
    """gcd inputs (named by ``names``) and their outputs."""
    return [{"input": dict(zip(names, pair, strict=True)), "output": math.gcd(*pair)} for pair in pairs]


def test_exact_duplicates_inputs_join_their_keepers_up_to_the_cap(spark, tmp_path) -> None:
    sample = _sample()
    gcd, long_one = sample[0], sample[22]
    original = {**gcd, "ios": _ios((48, 18), (17, 5), (100, 75), (9, 6), (81, 27), (14, 21))}
    # the same code re-printed: the same program, so its new inputs are the keeper's too
    reprinted = {
        **_copy(gcd, "def main_solution(a, b):\n    while b: a, b = b, a % b\n    return a\n", "reprinted"),
        "ios": _ios((17, 5), (12, 8), (35, 10)),  # one repeat, two new
    }
    commented_code = (
        "# gcd\ndef main_solution(a, b):\n    while (b):\n        (a, b) = (b, a % b)\n    return a"
    )
    commented = {
        **_copy(gcd, commented_code, "commented"),
        "ios": _ios((12, 8), (64, 48), (7, 3), (30, 45)),  # one repeat of reprinted's, three new
    }
    # its parameters renamed: the same program, but its inputs name other parameters
    renamed_code = "def main_solution(p, q):\n    while q:\n        p, q = q, p % q\n    return p\n"
    renamed = {**_copy(gcd, renamed_code, "renamed"), "ios": _ios((2, 4), names="pq")}
    # another operator: a near duplicate, which may compute something else; its inputs stay out
    near = {
        **_copy(long_one, long_one["refcode"].replace(" + ", " - ", 1), "operator"),
        "ios": [{"input": {"n": 2, "edges": [[0, 1, 7]], "source": 1}, "output": [-1, 0]}],
    }
    records = [original, reprinted, commented, renamed, long_one, near]
    source = _write(tmp_path / "batch.jsonl", records)
    lakehouse, report = _run(spark, tmp_path / "lake", source, "join", **{"filters.max_inputs": 8})

    original_id, reprinted_id, commented_id, renamed_id, long_id, near_id = _ids(lakehouse, records)
    programs = {r["program_id"]: r for r in read_delta(lakehouse.ref(SILVER_PROGRAMS)).to_pylist()}
    rejects = {r["program_id"]: r for r in read_delta(lakehouse.ref(SILVER_REJECTS)).to_pylist()}
    assert set(programs) == {original_id, long_id}  # the keepers: most inputs
    given = [tuple(json.loads(i["input_json"]).values()) for i in programs[original_id]["inputs"]]
    # its own six first, then the duplicates' new ones in id order, at most 8 in all
    first, second = sorted([reprinted_id, commented_id])
    new_of = {reprinted_id: [(12, 8), (35, 10)], commented_id: [(12, 8), (64, 48), (7, 3), (30, 45)]}
    assert given == [(48, 18), (17, 5), (100, 75), (9, 6), (81, 27), (14, 21), *new_of[first][:2]]
    outputs = [json.loads(i["expected_output_json"]) for i in programs[original_id]["inputs"]]
    assert outputs == [math.gcd(a, b) for a, b in given]  # each input came with its output
    # every duplicate's rejects row names the keeper it joined, and how many inputs joined
    assert {rejects[i]["keeper_id"] for i in (reprinted_id, commented_id, renamed_id)} == {original_id}
    same = f"same normalised code as {original_id}"
    assert rejects[first]["detail"] == f"{same} (2 of its inputs joined)"
    assert rejects[second]["detail"] == f"{same} (0 of its inputs joined)"  # over the cap, or repeats
    assert rejects[renamed_id]["detail"] == f"{same} (other parameters; inputs not joined)"
    assert report.counts["inputs_joined_from_duplicates"] == 2
    # the near duplicate is dropped with its keeper named, and its input did not join
    assert rejects[near_id]["reason"] == "near_duplicate" and rejects[near_id]["keeper_id"] == long_id
    bronze = {r["program_id"]: r for r in read_delta(lakehouse.ref(BRONZE_SOURCES)).to_pylist()}
    assert programs[long_id]["inputs"] == bronze[long_id]["inputs"]
