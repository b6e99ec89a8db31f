"""Reading a lakehouse's tables to compare runs: the rows that say what the data is."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

from tests.conftest import read_delta
from tracepile.tables import ALL_TABLES, TableSpec

DATA_TABLES = [spec for spec in ALL_TABLES if spec.layer in ("bronze", "silver", "gold")]
# columns that name the run or measure time, not the data
VOLATILE = {"run_id", "cpu_s", "wall_s"}


def exists(lake: Path, spec: TableSpec) -> bool:
    return (lake / spec.layer / spec.name / "_delta_log").is_dir()


def _table(lake: Path, spec: TableSpec) -> pa.Table | None:
    """The table's rows; None when it is absent or has no data file yet."""
    if not exists(lake, spec) or not DeltaTable(str(lake / spec.layer / spec.name)).file_uris():
        return None
    return read_delta(lake / spec.layer / spec.name)


def rows(lake: Path, spec: TableSpec) -> list[tuple[object, ...]]:
    """The table's rows without volatile columns, sorted; none when it is absent."""
    table = _table(lake, spec)
    if table is None:
        return []
    kept = [name for name in table.column_names if name not in VOLATILE]
    return sorted(tuple(row[name] for name in kept) for row in table.select(kept).to_pylist())


def duplicate_keys(lake: Path) -> dict[str, int]:
    """Per table with any, how many keys more than one row holds."""
    found = {}
    for spec in ALL_TABLES:
        table = _table(lake, spec)
        if table is not None:
            counts = Counter(tuple(row.values()) for row in table.select(spec.key_columns).to_pylist())
            repeated = sum(1 for n in counts.values() if n > 1)
            if repeated:
                found[spec.qualified_name] = repeated
    return found


def start_tracepile(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``tracepile ARGS`` as a user starts it, in its own process group (so that it, its
    engine and its sandboxes can be killed together, and a kill reaches nothing else)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tracepile", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "COLUMNS": "120", **(env or {})},
    )


def finish(process: subprocess.Popen[str], timeout: float = 600) -> tuple[int, str]:
    """Wait for the run; then make sure nothing of its process group is left."""
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    return process.returncode, output
