"""The outcome rows of a stage's ``mapInPandas`` task: one per input record, the columns of
the tables the rows go to plus ``outcome`` (kept, or the reason) and, for a row a served
model answered, ``latency_s`` (how long its request took: the stage summary's, no table's)."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from tracepile.tables import TableSpec


def outcome_schema(columns: Sequence[str], *specs: TableSpec) -> StructType:
    """The schema of a stage's outcome rows: ``columns`` typed as in ``specs`` (the tables
    the rows go to), all nullable, ``outcome`` a string."""
    types = {f.name: f.dataType for spec in specs for f in spec.schema}
    types["outcome"], types["latency_s"] = StringType(), DoubleType()
    return StructType([StructField(name, types[name], True) for name in columns])
