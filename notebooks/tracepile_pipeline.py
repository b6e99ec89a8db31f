# Databricks notebook source
# MAGIC %md
# MAGIC # tracepile on Databricks
# MAGIC Runs the pipeline with the notebook's own `spark` session, through the same runner as the
# MAGIC CLI: every batch passes its quality gate, and the run is recorded in `meta/runs`.
# MAGIC Install the wheel on the cluster first (`%pip install /Volumes/.../tracepile-0.1.0-py3-none-any.whl`).
# MAGIC Widgets: `sources` (comma-separated `KIND:PATH`, e.g. `codeio:/Volumes/main/raw/pyedu/`),
# MAGIC `lakehouse` (`catalog:main.tracepile` for Unity Catalog tables, or a path).

# COMMAND ----------

from tracepile.cli import sample_path
from tracepile.config import load_config
from tracepile.jobs.stages import pipeline
from tracepile.runner import run_stages

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
run = run_stages("run", pipeline(config, sources), config, spark=spark)  # noqa: F821 - notebook global
run.render()
if run.status != "succeeded":
    raise RuntimeError(f"tracepile run {run.run_id} {run.status}: {run.error}")
stages = run.stages
