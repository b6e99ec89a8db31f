"""The pipeline on real clusters gives the embedded engine's tables.

1. A standalone Spark cluster started from the pyspark package (a master and two workers,
   one core each, on loopback) runs ``spark-submit jobs/submit.py run``, with tracepile
   shipped as the built wheel (``--py-files``) to nodes whose Python has the dependencies
   but not tracepile; its bronze, silver and gold tables equal the embedded run's on the
   same 30 real problems, and executors on both workers ran tasks (the Spark event log
   says which). The same run shows the job on classic Spark end to end: every stage ran
   and passed its quality gate on classic DataFrames, every input ran in the sandbox
   inside the executors' Python workers, every usable run has a verified text; and a
   failing check on classic Spark exits 3 naming it.
2. Sail's own cluster mode (``SAIL_MODE=local-cluster``: a driver and two workers inside
   the embedded server) gives the same tables.

The cluster writes Parquet: Delta jars come from Maven, which CI here cannot reach.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import read_delta, run_tracepile
from tests.standalone import (
    ClusterError,
    StandaloneCluster,
    spark_submit,
    standalone_cluster,
    successful_tasks_per_worker,
)
from tests.wheel import build_wheel
from tracepile.analysis.values import json_equal
from tracepile.config import load_config
from tracepile.jobs.stages import pipeline
from tracepile.tables import ALL_TABLES, TableSpec

PROBLEMS = 30
# Columns that name the run or measure time: they differ between any two runs.
RUN_OR_TIME = frozenset({"run_id", "cpu_s", "wall_s"})
DATA_TABLES = tuple(spec for spec in ALL_TABLES if spec.layer in ("bronze", "silver", "gold"))


@pytest.fixture(scope="module")
def problems(tmp_path_factory: pytest.TempPathFactory, pyedu_toy: Path) -> Path:
    """The first 30 real problems of the shared PyEdu sample."""
    path = tmp_path_factory.mktemp("problems") / "pyedu_30.jsonl"
    with pyedu_toy.open() as lines:
        path.write_text("".join(next(lines) for _ in range(PROBLEMS)))
    return path


@pytest.fixture(scope="module")
def embedded_lake(tmp_path_factory: pytest.TempPathFactory, problems: Path) -> Path:
    """The reference: ``tracepile run`` on the default embedded engine (Delta tables)."""
    lake = tmp_path_factory.mktemp("embedded") / "lake"
    done = run_tracepile("run", "--source", f"codeio:{problems}", "--lakehouse", str(lake))
    assert done.returncode == 0, done.stderr[-3000:]
    assert read_delta(lake / "bronze" / "sources").num_rows == PROBLEMS
    assert read_delta(lake / "gold" / "coe").num_rows > 0  # the run reached verified CoE
    return lake


def _rows(table: pa.Table, spec: TableSpec) -> list[dict]:
    """The rows without run- and time-dependent columns, in key order (a key may span
    columns, which ``test_parity._sorted_rows`` does not sort by)."""
    kept = [
        field.name
        for field in table.schema
        if field.name not in RUN_OR_TIME and not pa.types.is_timestamp(field.type)
    ]
    return sorted(table.select(kept).to_pylist(), key=lambda row: [row[c] for c in spec.key_columns])


def _assert_same_tables(expected_lake: Path, lake: Path, *, parquet: bool) -> None:
    for spec in DATA_TABLES:
        expected = _rows(read_delta(expected_lake / spec.layer / spec.name), spec)
        path = lake / spec.layer / spec.name
        got = _rows(pq.read_table(path) if parquet else read_delta(path), spec)
        # an empty Delta table has no data file to carry its columns: compare rows only
        assert got == expected, f"{spec.qualified_name}: {_first_difference(got, expected, spec)}"


def _first_difference(got: list[dict], expected: list[dict], spec: TableSpec) -> str:
    """Where two sorted row lists first part, in words (rows are too long for a full diff)."""
    for ours, theirs in zip(got, expected, strict=False):
        if ours != theirs:
            columns = sorted(c for c in ours.keys() | theirs.keys() if ours.get(c) != theirs.get(c))
            keys = [[row.get(c) for c in spec.key_columns] for row in (ours, theirs)]
            return f"first differing row: key {keys[0]} (embedded {keys[1]}), columns {columns}"
    return f"{len(got)} rows, embedded {len(expected)}"


# --- a standalone Spark cluster from the pyspark package ---------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    """A master and two one-core workers (``tests/standalone.py``), stopped at the end."""
    try:
        with standalone_cluster(tmp_path_factory.mktemp("standalone"), workers=2) as started:
            yield started
    except ClusterError as error:
        pytest.fail(str(error))


def _python_without_tracepile(root: Path) -> Path:
    """A node's Python: this one's dependencies, but not tracepile. A virtual environment
    whose one ``.pth`` line names our site-packages: a path line adds the folder, while
    the ``.pth`` files inside it (the editable install of tracepile) are not run."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    (site,) = root.glob("lib/python*/site-packages")
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "dependencies.pth").write_text("".join(f"{path}\n" for path in sorted(ours)))
    python = root / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import tracepile"], cwd=root, capture_output=True, timeout=60)
    assert probe.returncode != 0, "the node's Python must not find tracepile by itself"
    return python


@pytest.mark.classic
@pytest.mark.slow
def test_spark_submit_with_the_wheel_as_py_files_gives_the_embedded_tables_on_both_workers(
    cluster: StandaloneCluster, embedded_lake: Path, problems: Path, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path / "build")
    # PySpark puts only .zip/.egg/.jar py-files on the executors' Python path; a wheel is a zip
    shipped = shutil.copy(wheel, tmp_path / "tracepile.zip")
    python = _python_without_tracepile(tmp_path / "node")

    lake = tmp_path / "lake"
    job = ["--source", f"codeio:{problems}", "--lakehouse", str(lake), "--table-format", "parquet"]
    output = spark_submit(cluster, tmp_path, str(python), ["run", *job], ["--py-files", str(shipped)])

    _assert_same_tables(embedded_lake, lake, parquet=True)
    tasks = successful_tasks_per_worker(tmp_path / "events")
    assert set(tasks) == set(cluster.worker_ui_ports), tasks
    assert all(n > 0 for n in tasks.values()), tasks
    _assert_the_run_on_classic_spark(lake, output)


def _assert_the_run_on_classic_spark(lake: Path, output: str) -> None:
    """What the pipeline job did, read from its Parquet tables and its output."""
    stages = [stage.name for stage in pipeline(load_config(environ={}), [])]
    for stage in stages:
        assert f"done {stage}:" in output, stage
    sources = pq.read_table(lake / "bronze" / "sources").num_rows
    programs = pq.read_table(lake / "silver" / "programs").to_pylist()
    originals = [p for p in programs if p["rewrite_of"] is None]
    assert originals and len(originals) + pq.read_table(lake / "silver" / "rejects").num_rows == sources
    # the sandbox inside the executors' Python workers: every input ran; these programs are
    # correct, so each run is usable (its return value the expected one) or over budget
    executions = pq.read_table(lake / "silver" / "executions").to_pylist()
    assert len(executions) == sum(len(p["inputs"]) for p in programs)
    ok = [row for row in executions if row["status"] == "ok"]
    assert {row["status"] for row in executions} <= {"ok", "too_long"} and len(ok) > len(executions) / 2
    assert all(json_equal(row["return_json"], row["expected_output_json"]) for row in ok)
    assert all(row["trace_text"].startswith(" >>> Call to") for row in ok)
    # the template backend on classic Spark: every usable run has a verified text
    coe = pq.read_table(lake / "gold" / "coe").to_pylist()
    assert sorted(r["execution_id"] for r in coe) == sorted(r["execution_id"] for r in ok)
    # each stage's batch passed its quality gate on classic DataFrames before it was published
    checks = pq.read_table(lake / "meta" / "validations").to_pylist()
    assert {r["stage"] for r in checks} == set(stages)
    assert all(r["success"] and r["decision"] == "published" for r in checks)
    # and a failing check on classic Spark exits 3 naming it
    strict = run_tracepile(
        "gate", "silver/executions", "--engine", "spark", "--table-format", "parquet",
        "--lakehouse", str(lake), "--set", "gate.min_ok_rate=1",
    )  # fmt: skip
    assert strict.returncode == 3, strict.stderr[-3000:]
    assert "ok rate >= 100%" in strict.stdout


# --- Sail's own cluster mode ---------------------------------------------------------------


@pytest.mark.spark
@pytest.mark.slow
def test_sail_local_cluster_mode_gives_the_embedded_tables(
    embedded_lake: Path, problems: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    sail_cluster = {
        # read by the Sail server that tracepile/engine.py embeds
        "SAIL_MODE": "local-cluster",
        "SAIL_CLUSTER__WORKER_INITIAL_COUNT": "2",
        "RUST_LOG": "info",  # Sail's cluster lines are how the test knows the mode took effect
    }
    done = run_tracepile("run", "--source", f"codeio:{problems}", "--lakehouse", str(lake), env=sail_cluster)
    assert done.returncode == 0, done.stderr[-3000:]

    # pysail 0.7.2's own log lines: a driver, and two workers that registered with it
    assert "driver server is ready" in done.stderr, done.stderr[-3000:]
    workers = set(re.findall(r"worker (\d+) is available at 127\.0\.0\.1:\d+", done.stderr))
    assert workers == {"1", "2"}, done.stderr[-3000:]
    _assert_same_tables(embedded_lake, lake, parquet=False)
