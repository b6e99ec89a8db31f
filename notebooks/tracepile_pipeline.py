# Databricks notebook source
# MAGIC %md
# MAGIC # tracepile on Databricks
# MAGIC Runs the pipeline with the notebook's own `spark` session. Install the wheel on the
# MAGIC cluster first (`%pip install /Volumes/.../tracepile-0.1.0-py3-none-any.whl`).
# MAGIC Widgets: `sources` (comma-separated `KIND:PATH`, e.g. `codeio:/Volumes/main/raw/pyedu/`),
# MAGIC `lakehouse` (`catalog:main.tracepile` for Unity Catalog tables, or a path).

# COMMAND ----------

from tracepile.cli import sample_path
from tracepile.config import load_config
from tracepile.jobs.pipeline import run_pipeline
from tracepile.lakehouse import Lakehouse
from tracepile.report import new_run_id

try:
    dbutils.widgets.text("sources", f"codeio:{sample_path()}")
    dbutils.widgets.text("lakehouse", "catalog:main.tracepile")
    sources = dbutils.widgets.get("sources").split(",")
    lakehouse_location = dbutils.widgets.get("lakehouse")
except NameError:  # outside Databricks the caller sets these
    sources = globals().get("sources", [f"codeio:{sample_path()}"])
    lakehouse_location = globals().get("lakehouse_location", "./lakehouse")

# COMMAND ----------

config = load_config(overrides={"engine": "spark", "lakehouse": lakehouse_location})
run_id = new_run_id()
lakehouse = Lakehouse(spark, config.lakehouse, config.table_format)  # noqa: F821 - notebook global
stages = run_pipeline(spark, lakehouse, config, sources, run_id)  # noqa: F821
for stage in stages:
    print(stage.stage, stage.counts, stage.reasons)
