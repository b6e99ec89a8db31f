"""Reading and writing the declared tables under one root, on any engine.

Only the Spark-Connect-compatible DataFrame API is used. Writes are schema-checked
against ``tables.py``; tables are created with their Delta CHECK constraints. Stages do not
write gated tables here directly: ``quality/gate.py`` stages, audits and publishes them.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.fs as pafs

from tracepile.storage import filesystem_for
from tracepile.tables import TableSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructType

log = logging.getLogger(__name__)

CATALOG_PREFIX = "catalog:"


class SchemaMismatchError(ValueError):
    """A DataFrame does not have the declared schema of the table it is written to."""


def _without_nullability(data_type: DataType) -> DataType:
    from pyspark.sql.types import ArrayType, MapType, StructField, StructType

    if isinstance(data_type, StructType):
        return StructType([StructField(f.name, _without_nullability(f.dataType), True) for f in data_type])
    if isinstance(data_type, ArrayType):
        return ArrayType(_without_nullability(data_type.elementType), True)
    if isinstance(data_type, MapType):
        return MapType(
            _without_nullability(data_type.keyType), _without_nullability(data_type.valueType), True
        )
    return data_type


def schema_problems(spec: TableSpec, schema: StructType) -> list[str]:
    """How ``schema`` differs from the table's declared one (names and types; nullability is
    the quality gate's concern)."""
    declared = {f.name: f.dataType for f in spec.schema}
    actual = {f.name: f.dataType for f in schema}
    problems = [f"missing column {n}" for n in declared if n not in actual]
    problems += [f"unexpected column {n}" for n in actual if n not in declared]
    problems += [
        f"{n} is {actual[n].simpleString()}, declared {declared[n].simpleString()}"
        for n in declared
        if n in actual and _without_nullability(actual[n]) != _without_nullability(declared[n])
    ]
    return problems


class Lakehouse:
    def __init__(self, spark: SparkSession, location: str, table_format: str = "delta") -> None:
        self.spark = spark
        self.table_format = table_format
        if location.startswith(CATALOG_PREFIX):
            self.catalog_schema: str | None = location[len(CATALOG_PREFIX) :]
            if self.catalog_schema.count(".") != 1:
                raise ValueError(f"catalog lakehouse must be catalog:<catalog>.<schema>: {location}")
            self.root = ""
        else:
            self.catalog_schema = None
            self.root = location if "://" in location else os.path.abspath(location)
        self._staged: dict[str, set[str]] = {}  # run_id -> staging names, to drop them all

    @property
    def location(self) -> str:
        return f"{CATALOG_PREFIX}{self.catalog_schema}" if self.catalog_schema else self.root

    def ref(self, spec: TableSpec) -> str:
        """The table's path (or catalog name)."""
        if self.catalog_schema:
            return f"{self.catalog_schema}.{spec.layer}_{spec.name}"
        return f"{self.root.rstrip('/')}/{spec.layer}/{spec.name}"

    def exists(self, spec: TableSpec) -> bool:
        if self.catalog_schema:
            return bool(self.spark.catalog.tableExists(self.ref(spec)))
        marker = "_delta_log" if self.table_format == "delta" else ""
        path = f"{self.ref(spec)}/{marker}".rstrip("/")
        fs, inner, _ = filesystem_for(path)
        return fs.get_file_info(inner).type == pafs.FileType.Directory

    def read(self, spec: TableSpec) -> DataFrame:
        if self.catalog_schema:
            return self.spark.table(self.ref(spec))
        return self.spark.read.format(self.table_format).load(self.ref(spec))

    def count(self, spec: TableSpec) -> int | None:
        return self.read(spec).count() if self.exists(spec) else None

    def conform(self, spec: TableSpec, df: DataFrame) -> DataFrame:
        """``df``'s columns in the declared order, or SchemaMismatchError naming each difference."""
        problems = schema_problems(spec, df.schema)
        if problems:
            raise SchemaMismatchError(f"{spec.qualified_name}: " + "; ".join(problems))
        return df.select(*spec.schema.names)

    def create_if_missing(self, spec: TableSpec) -> None:
        """Create the (empty) table, then add any of its CHECK constraints it lacks."""
        if not self.exists(spec):
            self._write(self.spark.createDataFrame([], spec.schema), spec, "append")
        if spec.constraints and self.table_format == "delta":
            self._add_constraints(spec)

    def _add_constraints(self, spec: TableSpec) -> None:
        """delta-rs for path tables (Sail cannot parse ALTER TABLE ... ADD CONSTRAINT);
        SQL for catalog tables and where delta-rs cannot reach the storage."""
        ref = self.ref(spec)
        if not self.catalog_schema:
            from deltalake import DeltaTable

            try:
                table = DeltaTable(ref)
                present = table.metadata().configuration
                missing = {n: sql for n, sql in spec.constraints if f"delta.constraints.{n}" not in present}
                if missing:
                    table.alter.add_constraint(missing)
                return
            except Exception as exc:  # storage delta-rs cannot reach: the engine's SQL may
                log.info("delta-rs cannot add constraints to %s (%s); trying SQL", ref, exc)
            ref = f"delta.`{ref}`"
        present = {row[0] for row in self.spark.sql(f"SHOW TBLPROPERTIES {ref}").collect()}
        for name, sql in spec.constraints:
            if f"delta.constraints.{name}" not in present:
                self.spark.sql(f"ALTER TABLE {ref} ADD CONSTRAINT {name} CHECK ({sql})")

    def _write(self, df: DataFrame, spec: TableSpec, mode: str) -> None:
        writer = df.write.format(self.table_format).mode(mode)
        if self.catalog_schema:
            writer.saveAsTable(self.ref(spec))
        else:
            writer.save(self.ref(spec))

    def append(self, spec: TableSpec, df: DataFrame) -> None:
        """One append (one Delta commit) of ``df``; the table is created first if missing."""
        rows = self.conform(spec, df)
        self.create_if_missing(spec)
        self._write(rows, spec, "append")

    def replace(self, spec: TableSpec, df: DataFrame) -> None:
        """Overwrite the table with ``df`` (staged data, not a plan reading the table), its schema
        included: one commit; then any CHECK constraint the declaration adds is added."""
        writer = self.conform(spec, df).write.format(self.table_format).mode("overwrite")
        writer = writer.option("overwriteSchema", "true")
        if self.catalog_schema:
            writer.saveAsTable(self.ref(spec))
        else:
            writer.save(self.ref(spec))
        self.create_if_missing(spec)

    def new_rows(self, spec: TableSpec, df: DataFrame) -> DataFrame:
        """The rows of ``df`` whose key is not in the table yet (all of them if it is absent)."""
        rows = self.conform(spec, df)
        if not self.exists(spec):
            return rows
        existing = self.read(spec).select(*spec.key_columns)
        return rows.join(existing, on=spec.key_columns, how="left_anti").select(*spec.schema.names)

    # Staging: one materialisation of an expensive intermediate that several writes read.
    def staging_ref(self, name: str, run_id: str) -> str:
        if self.catalog_schema:
            return f"{self.catalog_schema}._staging_{name}_{run_id.replace('-', '_')}"
        return f"{self.root.rstrip('/')}/_staging/{run_id}/{name}"

    def stage(self, df: DataFrame, name: str, run_id: str) -> DataFrame:
        ref = self.staging_ref(name, run_id)
        self._staged.setdefault(run_id, set()).add(name)
        if self.catalog_schema:
            df.write.format(self.table_format).mode("overwrite").saveAsTable(ref)
            return self.spark.table(ref)
        schema = df.schema
        df.write.mode("overwrite").parquet(ref)
        fs, inner, _ = filesystem_for(ref)
        if fs.get_file_info(inner).type != pafs.FileType.Directory:  # Sail writes no files for 0 rows
            return self.spark.createDataFrame([], schema)
        return self.spark.read.schema(schema).parquet(ref)

    def drop_staging(self, run_id: str) -> None:
        """Remove everything ``stage`` wrote for ``run_id``."""
        if self.catalog_schema:
            for name in sorted(self._staged.pop(run_id, set())):
                self.spark.sql(f"DROP TABLE IF EXISTS {self.staging_ref(name, run_id)}")
            return
        run_dir = self.staging_ref("_", run_id).rsplit("/", 1)[0]
        try:
            fs, inner, _ = filesystem_for(run_dir)
            if fs.get_file_info(inner).type == pafs.FileType.Directory:
                fs.delete_dir(inner)
        except (OSError, pa.ArrowException) as exc:  # storage pyarrow cannot reach (e.g. dbfs:)
            log.warning("could not remove staging data %s: %s", run_dir, exc)

    def version(self, spec: TableSpec) -> int | None:
        """The Delta version of a path table (read with delta-rs, no Spark needed), else None."""
        if self.catalog_schema or self.table_format != "delta" or not self.exists(spec):
            return None
        from deltalake import DeltaTable

        try:
            return DeltaTable(self.ref(spec)).version()
        except Exception as exc:  # storage delta-rs cannot reach without credentials
            log.warning("cannot read Delta version of %s: %s", self.ref(spec), exc)
            return None
