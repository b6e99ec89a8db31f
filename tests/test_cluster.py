"""The pipeline on real clusters gives the embedded engine's tables.

1. A standalone Spark cluster started from the pyspark package (a master and two workers,
   one core each, on loopback) runs ``spark-submit jobs/submit.py run``, with tracepile
   shipped as the built wheel (``--py-files``) to nodes whose Python has the dependencies
   but not tracepile; its bronze, silver and gold tables equal the embedded run's on the
   same 30 real problems, and executors on both workers ran tasks (the Spark event log
   says which). Installed tracepile under spark-submit is what the classic tests run.
2. Sail's own cluster mode (``SAIL_MODE=local-cluster``: a driver and two workers inside
   the embedded server) gives the same tables.

The cluster writes Parquet: Delta jars come from Maven, which CI here cannot reach.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import pyspark
import pytest

from tests.conftest import REPO, read_delta, run_tracepile
from tests.wheel import build_wheel
from tracepile.tables import ALL_TABLES, TableSpec

SPARK_HOME = Path(pyspark.__file__).parent
PROBLEMS = 30
# Columns that name the run or measure time: they differ between any two runs.
RUN_OR_TIME = frozenset({"run_id", "cpu_s", "wall_s"})
DATA_TABLES = tuple(spec for spec in ALL_TABLES if spec.layer in ("bronze", "silver", "gold"))


@pytest.fixture(scope="module")
def problems(tmp_path_factory: pytest.TempPathFactory, pyedu_toy: Path) -> Path:
    """The first 30 real problems of the shared PyEdu sample."""
    path = tmp_path_factory.mktemp("problems") / "pyedu_30.jsonl"
    with pyedu_toy.open() as lines:
        path.write_text("".join(next(lines) for _ in range(PROBLEMS)))
    return path


@pytest.fixture(scope="module")
def embedded_lake(tmp_path_factory: pytest.TempPathFactory, problems: Path) -> Path:
    """The reference: ``tracepile run`` on the default embedded engine (Delta tables)."""
    lake = tmp_path_factory.mktemp("embedded") / "lake"
    done = run_tracepile("run", "--source", f"codeio:{problems}", "--lakehouse", str(lake))
    assert done.returncode == 0, done.stderr[-3000:]
    assert read_delta(lake / "bronze" / "sources").num_rows == PROBLEMS
    assert read_delta(lake / "gold" / "coe").num_rows > 0  # the run reached verified CoE
    return lake


def _rows(table: pa.Table, spec: TableSpec) -> list[dict]:
    """The rows without run- and time-dependent columns, in key order (a key may span
    columns, which ``test_parity._sorted_rows`` does not sort by)."""
    kept = [
        field.name
        for field in table.schema
        if field.name not in RUN_OR_TIME and not pa.types.is_timestamp(field.type)
    ]
    return sorted(table.select(kept).to_pylist(), key=lambda row: [row[c] for c in spec.key_columns])


def _assert_same_tables(expected_lake: Path, lake: Path, *, parquet: bool) -> None:
    for spec in DATA_TABLES:
        expected = _rows(read_delta(expected_lake / spec.layer / spec.name), spec)
        path = lake / spec.layer / spec.name
        got = _rows(pq.read_table(path) if parquet else read_delta(path), spec)
        # an empty Delta table has no data file to carry its columns: compare rows only
        assert got == expected, f"{spec.qualified_name}: {_first_difference(got, expected, spec)}"


def _first_difference(got: list[dict], expected: list[dict], spec: TableSpec) -> str:
    """Where two sorted row lists first part, in words (rows are too long for a full diff)."""
    for ours, theirs in zip(got, expected, strict=False):
        if ours != theirs:
            columns = sorted(c for c in ours.keys() | theirs.keys() if ours.get(c) != theirs.get(c))
            keys = [[row.get(c) for c in spec.key_columns] for row in (ours, theirs)]
            return f"first differing row: key {keys[0]} (embedded {keys[1]}), columns {columns}"
    return f"{len(got)} rows, embedded {len(expected)}"


# --- a standalone Spark cluster from the pyspark package ---------------------------------


@dataclass(frozen=True)
class StandaloneCluster:
    master_url: str
    master_ui_port: int
    worker_ui_ports: tuple[int, ...]
    logs: tuple[Path, ...]

    def log_tails(self, lines: int = 40) -> str:
        """The end of every daemon's log, for a failure message."""
        return "\n".join(
            f"--- {log.name} ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            for log in self.logs
        )


def _free_ports(count: int) -> list[int]:
    """Distinct loopback ports free now (all held open together so none repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _spark_env() -> dict[str, str]:
    """The environment for the cluster's processes and spark-submit: loopback only, and no
    Spark Connect settings (an embedded session earlier in this process leaves them behind,
    and spark-submit would then start in Connect mode)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    return {
        **env,
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_MEMORY": "256m",  # master and worker daemons need little; the machine is shared
        "COLUMNS": "120",
    }


def _start_in_own_group(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``command`` with its output in ``log``, leading a new process group so that
    ``_stop_group`` reaches everything it starts."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=_spark_env(), start_new_session=True
        )


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process's group (a worker's executors and their Python workers are in
    it), then SIGKILL what is left after 15 s."""
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _master_state(ui_port: int) -> dict:
    # no proxy: a proxy from the environment must not answer for 127.0.0.1
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    """A master and two one-core workers, each in its own process group, stopped at the end."""
    root = tmp_path_factory.mktemp("standalone")
    master_port, master_ui, *worker_uis = _free_ports(4)
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    master_url = f"spark://127.0.0.1:{master_port}"
    commands = {
        "master": [
            *(spark_class, "org.apache.spark.deploy.master.Master"),
            *("--host", "127.0.0.1", "--port", str(master_port), "--webui-port", str(master_ui)),
        ],
        **{
            f"worker{i}": [
                *(spark_class, "org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1"),
                *("--cores", "1", "--memory", "1g", "--webui-port", str(ui)),
                *("--work-dir", str(root / f"worker{i}")),
            ]
            for i, ui in enumerate(worker_uis, start=1)
        },
    }
    processes: list[subprocess.Popen[bytes]] = []
    cluster = StandaloneCluster(
        master_url, master_ui, tuple(worker_uis), tuple(root / f"{name}.log" for name in commands)
    )
    try:
        for command, log in zip(commands.values(), cluster.logs, strict=True):
            processes.append(_start_in_own_group(command, log))
        _wait_for_workers(cluster, processes)
        yield cluster
    finally:
        for process in reversed(processes):  # workers (and their executors) first
            _stop_group(process)


def _wait_for_workers(cluster: StandaloneCluster, processes: list[subprocess.Popen[bytes]]) -> None:
    """Until the master lists both workers alive; a clear failure with the logs otherwise."""
    deadline = time.monotonic() + 120
    state: dict = {}
    while time.monotonic() < deadline:
        dead = [p.args[1] for p in processes if p.poll() is not None]
        if dead:
            pytest.fail(f"standalone cluster: {dead} exited\n{cluster.log_tails()}")
        try:
            state = _master_state(cluster.master_ui_port)
        except OSError:  # the master's web UI is not up yet
            state = {}
        alive = {urlparse(w["webuiaddress"]).port for w in state.get("workers", []) if w["state"] == "ALIVE"}
        if alive == set(cluster.worker_ui_ports):
            return
        time.sleep(1)
    pytest.fail(f"standalone cluster not ready in 120 s (master says {state})\n{cluster.log_tails()}")


def _spark_submit(
    cluster: StandaloneCluster, root: Path, python: str, job_args: list[str], extra: Sequence[str] = ()
) -> str:
    """``spark-submit jobs/submit.py run`` to the cluster; its output (the Spark log included)."""
    conf = {
        "spark.pyspark.python": python,  # the Python of the executors' workers
        "spark.pyspark.driver.python": python,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",  # no port 4040 taken from others on this machine
        "spark.executor.memory": "1g",
        "spark.driver.memory": "1g",
        # one plain JSON-lines file: Python cannot read the default zstd, rolling splits it
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": (root / "events").as_uri(),
        "spark.eventLog.compress": "false",
        "spark.eventLog.rolling.enabled": "false",
    }
    (root / "events").mkdir()
    command = [
        str(SPARK_HOME / "bin" / "spark-submit"),
        *("--master", cluster.master_url),
        *(arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")),
        *extra,
        str(REPO / "jobs" / "submit.py"),
        "run",
        *job_args,
    ]
    log = root / "spark-submit.log"
    process = _start_in_own_group(command, log)
    try:
        code = process.wait(timeout=900)
    except subprocess.TimeoutExpired:
        _stop_group(process)  # the driver's Python process too
        code = None
    output = log.read_text(errors="replace")
    assert code == 0, f"spark-submit exit {code}\n{output[-4000:]}\n{cluster.log_tails()}"
    assert "on engine spark" in output  # the submitting Spark, not an embedded Sail
    return output


def _successful_tasks_per_worker(events: Path) -> Counter[int]:
    """Successful tasks by the web UI port of the worker that ran them, from the event log.

    Every executor's log URLs point at its worker's web UI; both workers are 127.0.0.1,
    so the port is what tells them apart."""
    worker_of: dict[str, int] = {}
    done: Counter[str] = Counter()
    (log,) = events.iterdir()
    with log.open() as lines:
        for line in lines:
            # most lines are SQL plans: parse only the two events this needs
            if "SparkListenerExecutorAdded" not in line and "SparkListenerTaskEnd" not in line:
                continue
            event = json.loads(line)
            if event["Event"] == "SparkListenerExecutorAdded":
                url = event["Executor Info"]["Log Urls"]["stderr"]
                worker_of[event["Executor ID"]] = urlparse(url).port
            elif event["Event"] == "SparkListenerTaskEnd" and event["Task End Reason"]["Reason"] == "Success":
                done[event["Task Info"]["Executor ID"]] += 1
    return Counter({worker_of[executor]: n for executor, n in done.items()})


def _python_without_tracepile(root: Path) -> Path:
    """A node's Python: this one's dependencies, but not tracepile. A virtual environment
    whose one ``.pth`` line names our site-packages: a path line adds the folder, while
    the ``.pth`` files inside it (the editable install of tracepile) are not run."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    (site,) = root.glob("lib/python*/site-packages")
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "dependencies.pth").write_text("".join(f"{path}\n" for path in sorted(ours)))
    python = root / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import tracepile"], cwd=root, capture_output=True, timeout=60)
    assert probe.returncode != 0, "the node's Python must not find tracepile by itself"
    return python


@pytest.mark.classic
@pytest.mark.slow
def test_spark_submit_with_the_wheel_as_py_files_gives_the_embedded_tables_on_both_workers(
    standalone_cluster: StandaloneCluster, embedded_lake: Path, problems: Path, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path / "build")
    # PySpark puts only .zip/.egg/.jar py-files on the executors' Python path; a wheel is a zip
    shipped = shutil.copy(wheel, tmp_path / "tracepile.zip")
    python = _python_without_tracepile(tmp_path / "node")

    lake = tmp_path / "lake"
    job = ["--source", f"codeio:{problems}", "--lakehouse", str(lake), "--table-format", "parquet"]
    _spark_submit(standalone_cluster, tmp_path, str(python), job, ["--py-files", str(shipped)])

    _assert_same_tables(embedded_lake, lake, parquet=True)
    tasks = _successful_tasks_per_worker(tmp_path / "events")
    assert set(tasks) == set(standalone_cluster.worker_ui_ports), tasks
    assert all(n > 0 for n in tasks.values()), tasks


# --- Sail's own cluster mode ---------------------------------------------------------------


@pytest.mark.spark
@pytest.mark.slow
def test_sail_local_cluster_mode_gives_the_embedded_tables(
    embedded_lake: Path, problems: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    sail_cluster = {
        # read by the Sail server that tracepile/engine.py embeds
        "SAIL_MODE": "local-cluster",
        "SAIL_CLUSTER__WORKER_INITIAL_COUNT": "2",
        "RUST_LOG": "info",  # Sail's cluster lines are how the test knows the mode took effect
    }
    done = run_tracepile("run", "--source", f"codeio:{problems}", "--lakehouse", str(lake), env=sail_cluster)
    assert done.returncode == 0, done.stderr[-3000:]

    # pysail 0.7.2's own log lines: a driver, and two workers that registered with it
    assert "driver server is ready" in done.stderr, done.stderr[-3000:]
    workers = set(re.findall(r"worker (\d+) is available at 127\.0\.0\.1:\d+", done.stderr))
    assert workers == {"1", "2"}, done.stderr[-3000:]
    _assert_same_tables(embedded_lake, lake, parquet=False)
