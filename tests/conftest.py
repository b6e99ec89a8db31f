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

REPO = Path(__file__).resolve().parents[1]
PYEDU_TOY = REPO.parent / "shared" / "data" / "pyedu_toy.jsonl"


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
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The ``tracepile`` command as a user runs it: a new process, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "tracepile", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "120", **(env or {})},
        timeout=300,
    )
