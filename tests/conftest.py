from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

pytest_plugins = ["tests.openai_standin"]  # the `server` fixture: an OpenAI-compatible stand-in

# Every JVM the tests start (classic Spark's drivers, spark-submit, the standalone cluster's
# daemons and executors) lives for seconds to a few minutes, on 2 cores shared with the other
# test worker: there the quick compiler alone and the serial collector cost less CPU than the
# JVM's server defaults, which suit long jobs (the parity test's classic dedup: 30 -> 25 s).
os.environ.setdefault("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")

REPO = Path(__file__).resolve().parents[1]
PYEDU_TOY = REPO.parent / "shared" / "data" / "pyedu_toy.jsonl"


# The test files that take longest on 2 cores (seconds measured under `make test`, most first).
# `make test` hands whole files to its two workers in collection order (--no-loadscope-reorder),
# each worker taking the next file when it is nearly done: these first, so the short files fill
# in at the end instead of a long one running alone (xdist's own order, the files with the most
# tests first, left these two-test files for the end: 16 min against 15). Keeping the cluster's
# and the parity JVMs apart was slower still (17 min). A file not listed keeps its place after.
SLOWEST_FILES_FIRST = (
    "test_cluster.py",  # 230 s
    "test_parity.py",  # 170 s
    "test_crash_safety.py",  # 145 s
    "test_gate.py",  # 115 s
    "test_local_model.py",  # 110 s (the llm tier)
    "test_augment_spark.py",  # 105 s
    "test_cli.py",  # 75 s
    "test_concurrency.py",  # 70 s
    "test_runner_spark.py",  # 65 s
    "test_interrupts.py",  # 60 s
    "test_sandbox_agreement.py",  # 50 s
    "test_run_page.py",  # 45 s
    "test_sources_spark.py",  # 45 s
    "test_first_hour.py",  # 45 s
    "test_rewrites.py",  # 30 s
    "test_ingest_spark.py",  # 30 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest files first (``SLOWEST_FILES_FIRST``); the order within a file is kept, so a
    file's module fixtures are made once."""
    rank = {name: i for i, name in enumerate(SLOWEST_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def pyedu_toy() -> Path:
    if not PYEDU_TOY.is_file():
        pytest.skip(f"the shared PyEdu sample is not beside the checkout: {PYEDU_TOY}")
    return PYEDU_TOY


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One embedded Sail session for the whole test session (starts in about a second)."""
    from tracepile.config import TracepileConfig
    from tracepile.engine import spark_session

    with spark_session(TracepileConfig()) as session:
        yield session


def read_delta(path: Path | str) -> pa.Table:
    """A Delta table's current snapshot, as delta-rs resolves it.

    deltalake 1.6.6's own ``to_pyarrow_table()`` leaves Arrow threads that abort the
    interpreter at exit now and then (delta-rs #2184); reading the files it lists does not.
    """
    return pq.read_table(DeltaTable(str(path)).file_uris())


def run_tracepile(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The ``tracepile`` command as a user runs it: a new process, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "tracepile", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "120", **(env or {})},
        timeout=timeout,
    )
