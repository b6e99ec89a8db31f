"""Tables written by an earlier version gain the columns this version declares.

Before any stage runs, the runner compares each existing table's columns with its
declaration in ``tables.py``. A declared column a table lacks is added, with the value
its ``TableSpec.backfills`` gives for the rows already there (else NULL): the table is
rewritten once, in one commit (Delta keeps the earlier version for time travel), and the
change is recorded in ``meta/migrations``. A missing column that is NOT NULL and has no
backfill cannot be made up: that stops the run with a message rather than guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import functions as F

from tracepile.lakehouse import Lakehouse
from tracepile.tables import ALL_TABLES, MIGRATIONS, TableSpec


class MigrationError(RuntimeError):
    """A table lacks a column that cannot be filled in for its existing rows."""


@dataclass(frozen=True)
class AddedColumn:
    table: str
    column: str
    column_type: str
    backfill: str
    rows: int

    def describe(self) -> str:
        return (
            f"{self.table}: added {self.column} ({self.column_type}) to {self.rows:,} rows = {self.backfill}"
        )


def _add_columns(lakehouse: Lakehouse, spec: TableSpec, run_id: str) -> list[AddedColumn]:
    existing = lakehouse.read(spec)
    present = set(existing.columns)
    missing = [f for f in spec.schema if f.name not in present]
    if not missing:
        return []
    backfills = dict(spec.backfills)
    impossible = [f.name for f in missing if not f.nullable and f.name not in backfills]
    if impossible:
        raise MigrationError(
            f"{spec.qualified_name} lacks NOT NULL column(s) {', '.join(impossible)} with no backfill; "
            "it was written by an incompatible version"
        )
    migrated = existing
    for field in missing:
        value = F.expr(backfills.get(field.name, "NULL")).cast(field.dataType)
        migrated = migrated.withColumn(field.name, value)
    # staged first: a table cannot be overwritten from a plan that still reads it
    staged = lakehouse.stage(migrated.select(*spec.schema.names), f"migrate_{spec.layer}_{spec.name}", run_id)
    rows = staged.count()
    lakehouse.replace(spec, staged)
    return [
        AddedColumn(
            spec.qualified_name, f.name, f.dataType.simpleString(), backfills.get(f.name, "NULL"), rows
        )
        for f in missing
    ]


def migrate(lakehouse: Lakehouse, run_id: str) -> list[AddedColumn]:
    """Bring every existing table to its declared columns; record each added column."""
    added: list[AddedColumn] = []
    try:
        for spec in ALL_TABLES:
            if spec is not MIGRATIONS and lakehouse.exists(spec):
                added += _add_columns(lakehouse, spec, run_id)
    finally:
        lakehouse.drop_staging(run_id)
    if added:
        now = datetime.now(UTC)
        rows = [(a.table, a.column, a.column_type, a.backfill, a.rows, run_id, now) for a in added]
        lakehouse.append(MIGRATIONS, lakehouse.spark.createDataFrame(rows, MIGRATIONS.schema))
    return added
