"""``tracepile repair``: remove duplicate keys from a lakehouse damaged by runs that overlapped.

Before the lakehouse lease (``tracepile/lease.py``), two runs at once could both append the
same keys (each decides its new rows by an anti-join, and Delta lets two blind appends
commit); later runs are then blocked at the gate. Repair finds every table's duplicate
keys and, with ``--apply``, rewrites each damaged table in one commit keeping the earliest
row of each key: the one of the earliest run (run ids sort by start time), and among the
rows of one run (or of a table without ``run_id``, whose keys are content hashes, so its
copies are equal) the first in a fixed order of the whole row. A dry run (the default)
only reports. Tables without duplicates are not touched.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from tracepile.config import TracepileConfig
from tracepile.lakehouse import Lakehouse
from tracepile.stage import Stage, StageRun
from tracepile.tables import ALL_TABLES, TableSpec

EXAMPLES = 5


def duplicate_keys(lakehouse: Lakehouse, spec: TableSpec) -> DataFrame:
    """The table's keys held by more than one row, with ``copies``: how many rows hold each."""
    return (
        lakehouse.read(spec)
        .groupBy(*spec.key_columns)
        .agg(F.count(F.lit(1)).alias("copies"))
        .where(F.col("copies") > 1)
    )


def earliest_rows(rows: DataFrame, spec: TableSpec) -> DataFrame:
    """One row per key: the earliest run's, then the first by the whole row's JSON."""
    order = [F.to_json(F.struct(*spec.schema.names))]
    if "run_id" in spec.schema.names:
        order.insert(0, F.col("run_id"))
    rank = F.row_number().over(Window.partitionBy(*spec.key_columns).orderBy(*order))
    return rows.withColumn("_rank", rank).where(F.col("_rank") == 1).select(*spec.schema.names)


class RepairStage(Stage):
    name = "repair"
    reads = ALL_TABLES
    writes = ALL_TABLES

    def __init__(self, config: TracepileConfig, apply: bool) -> None:
        super().__init__(config)
        self.apply = apply

    def source_description(self) -> str:
        return "every table (duplicate keys)"

    def target_description(self) -> list[str]:
        return [
            "the damaged tables, one commit each" if self.apply else "nothing (dry run: --apply to repair)"
        ]

    def plan(self, run: StageRun) -> None:
        lakehouse, summary = run.lakehouse, run.summary
        damaged = 0
        for spec in ALL_TABLES:
            if not lakehouse.exists(spec):
                continue
            with run.step(f"looking for duplicate keys in {spec.qualified_name}"):
                duplicates = run.stage(
                    duplicate_keys(lakehouse, spec), f"repair_keys_{spec.layer}_{spec.name}"
                )
                keys, extra = duplicates.agg(
                    F.count(F.lit(1)), F.coalesce(F.sum(F.col("copies") - 1), F.lit(0))
                ).collect()[0]
            if not keys:
                continue
            damaged += 1
            summary.counts[f"{spec.qualified_name}: duplicate keys"] = keys
            summary.counts[f"{spec.qualified_name}: extra rows"] = extra
            examples = duplicates.orderBy(*spec.key_columns).limit(EXAMPLES).collect()
            summary.notes[f"{spec.qualified_name} e.g."] = "; ".join(
                ", ".join(f"{c}={row[c]}" for c in spec.key_columns) + f" ({row['copies']} rows)"
                for row in examples
            )
            if self.apply:
                with run.step(f"rewriting {spec.qualified_name} without {extra:,} extra rows (one commit)"):
                    kept = run.stage(
                        earliest_rows(lakehouse.read(spec), spec), f"repair_{spec.layer}_{spec.name}"
                    )
                    lakehouse.replace(spec, kept)
                summary.counts[f"{spec.qualified_name}: rows removed"] = extra
        summary.counts["tables with duplicate keys"] = damaged
        if damaged and not self.apply:
            summary.notes["dry run"] = (
                "nothing changed; run `tracepile repair --apply` to remove the extra rows"
            )
