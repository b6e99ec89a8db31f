"""Where the Spark session comes from: embedded Sail, classic PySpark, or any Spark Connect URL.

Job code receives a session and uses only the Spark-Connect-compatible DataFrame API,
so the same code runs on all three (and on Databricks serverless and shared clusters).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tracepile.config import TracepileConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

DELTA_FIX = (
    "Delta Lake jars for classic Spark could not be loaded. Fix one of: "
    "(1) run once with network access to Maven so Ivy caches io.delta:delta-spark_2.13; "
    "(2) point at local jars: --conf spark.jars=/path/delta-spark_2.13-4.0.0.jar,"
    "/path/delta-storage-4.0.0.jar (plus the two Delta spark.sql settings); "
    "(3) under spark-submit pass --packages io.delta:delta-spark_2.13:4.0.0; "
    "(4) use the embedded engine (--engine local, Delta built in); "
    "(5) write plain Parquet tables instead: --table-format parquet."
)
_DELTA_SQL_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


class EngineError(RuntimeError):
    """The engine could not be started or lacks what the job needs; the message names the fix."""


@contextmanager
def spark_session(config: TracepileConfig) -> Iterator[SparkSession]:
    """A session for ``config.engine``, stopped on exit (also on Ctrl-C) when we started it."""
    if config.engine == "local":
        with _sail_session(config) as spark:
            yield spark
    elif config.engine == "connect":
        from pyspark.sql import SparkSession

        assert config.remote is not None  # load_config enforces it
        builder = SparkSession.builder.remote(config.remote)
        for key, value in config.spark_conf.items():
            builder = builder.config(key, value)
        try:
            spark = builder.getOrCreate()
        except Exception as exc:
            raise EngineError(f"cannot connect to {config.remote}: {exc}") from exc
        try:
            yield spark
        finally:
            spark.stop()
    else:
        with _classic_session(config) as spark:
            yield spark


SAIL_ROW_GROUP_ROWS = 16_384


def python_partitions(config: TracepileConfig, wanted: int) -> int:
    """How many partitions to give ``wanted`` units of Python work (files to parse, runs to
    trace). The embedded engine starts every partition of a query at once in its one process,
    each holding its input and its writer's buffer from the start, and its Python work
    shares one GIL: there, more partitions than cores add memory and no speed. A cluster runs
    a few tasks at a time per executor, so it gets them all."""
    if config.engine == "local":
        return max(1, min(wanted, os.cpu_count() or 1))
    return max(1, wanted)


@contextmanager
def _sail_session(config: TracepileConfig) -> Iterator[SparkSession]:
    # Sail logs every session at INFO to stderr; users want our progress, not its chatter.
    os.environ.setdefault("RUST_LOG", "error")
    # checkpoint()/localCheckpoint() on Sail need a checkpoint directory.
    checkpoint_dir = tempfile.TemporaryDirectory(prefix="tracepile-sail-")
    os.environ.setdefault("SAIL_EXECUTION__CHECKPOINT__PATH", checkpoint_dir.name)
    # A Parquet writer holds a row group in memory until it is full: at Sail's default of
    # 1M rows, one staged partition of large rows (code, traces) costs gigabytes.
    os.environ.setdefault("SAIL_PARQUET__MAX_ROW_GROUP_SIZE", str(SAIL_ROW_GROUP_ROWS))
    from pysail.spark import SparkConnectServer
    from pyspark.sql import SparkSession

    server = SparkConnectServer(ip="127.0.0.1", port=0)
    try:
        with _python_signal_handlers_kept():
            server.start(background=True)
            _, port = server.listening_address
            builder = SparkSession.builder.remote(f"sc://127.0.0.1:{port}")
            for key, value in config.spark_conf.items():
                builder = builder.config(key, value)
            spark = builder.getOrCreate()
            spark.sql("SELECT 1").collect()  # Sail sets its signal handlers by the first query
        try:
            yield spark
        finally:
            spark.stop()
    finally:
        server.stop()
        checkpoint_dir.cleanup()


@contextmanager
def _python_signal_handlers_kept() -> Iterator[None]:
    """Sail installs its own SIGINT/SIGTERM handlers, which stop the server under a running
    job (the client then retries a dead port). Put back the handlers the process had
    (tracepile's Ctrl-C handling), so the job unwinds through its cleanup, server last."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@contextmanager
def _classic_session(config: TracepileConfig) -> Iterator[SparkSession]:
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        # spark-submit, a notebook or Databricks made it: theirs to stop, not ours.
        _require_delta(active, config)
        yield active
        return
    if "DATABRICKS_RUNTIME_VERSION" in os.environ or "PYSPARK_GATEWAY_PORT" in os.environ:
        spark = SparkSession.builder.getOrCreate()
        _require_delta(spark, config)
        yield spark
        return

    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise EngineError("engine 'spark' starts a local JVM: install Java 17+ or set JAVA_HOME")
    # Python workers must import tracepile: run them on this interpreter, not PATH's python3.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # A Spark Connect setting inherited from the environment would turn this into a
    # Connect session; --engine spark asks for a JVM.
    for variable in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED"):
        os.environ.pop(variable, None)
    builder = SparkSession.builder.master(config.spark_master).appName("tracepile")
    user_jars = any(k in config.spark_conf for k in ("spark.jars", "spark.jars.packages"))
    if config.table_format == "delta":
        for key, value in _DELTA_SQL_CONF.items():
            builder = builder.config(key, value)
    for key, value in config.spark_conf.items():
        builder = builder.config(key, value)
    if config.table_format == "delta" and not user_jars:
        from delta import configure_spark_with_delta_pip

        builder = configure_spark_with_delta_pip(builder)
    try:
        spark = builder.getOrCreate()
    except PySparkRuntimeError as exc:
        if config.table_format == "delta" and exc.getCondition() == "JAVA_GATEWAY_EXITED":
            raise EngineError(f"{DELTA_FIX} (JVM start failed: {exc})") from exc
        raise EngineError(f"classic Spark could not start (is Java 17+ installed?): {exc}") from exc
    try:
        _require_delta(spark, config)
        yield spark
    finally:
        spark.stop()


def _require_delta(spark: SparkSession, config: TracepileConfig) -> None:
    """Fail before any work when tables are Delta but the session cannot read Delta."""
    if config.table_format != "delta" or config.lakehouse.startswith("catalog:"):
        return
    from pyspark.errors import AnalysisException

    missing = os.path.join(tempfile.gettempdir(), "tracepile-delta-probe-does-not-exist")
    try:
        spark.read.format("delta").load(missing).schema  # noqa: B018 - forces analysis
    except AnalysisException as exc:
        if "DATA_SOURCE_NOT_FOUND" in str(exc) or "Failed to find data source" in str(exc):
            raise EngineError(DELTA_FIX) from exc
    except Exception as exc:  # a missing path is the expected answer from a working Delta
        if "ClassNotFound" in str(exc):
            raise EngineError(DELTA_FIX) from exc
