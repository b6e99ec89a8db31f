"""A standalone Spark cluster on this machine, from the pyspark package: a master and
one-core workers on loopback, each daemon in its own process group, and ``spark-submit`` to
it. Used by the cluster test (``tests/test_cluster.py``) and the cluster bench
(``bench/bench_cluster.py``); docs/clusters.md says the same by hand.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pyspark

SPARK_HOME = Path(pyspark.__file__).parent
REPO = Path(__file__).resolve().parents[1]


class ClusterError(RuntimeError):
    """The cluster did not come up, or a job on it failed; the message has the logs' ends."""


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


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports free now (all held open together so none repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def spark_env() -> dict[str, str]:
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


def start_in_own_group(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``command`` with its output in ``log``, leading a new process group so that
    ``stop_group`` reaches everything it starts."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=spark_env(), start_new_session=True
        )


def stop_group(process: subprocess.Popen[bytes]) -> None:
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


def master_state(ui_port: int) -> dict:
    # no proxy: a proxy from the environment must not answer for 127.0.0.1
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as response:
        return json.load(response)


@contextmanager
def standalone_cluster(root: Path, workers: int = 2) -> Iterator[StandaloneCluster]:
    """A master and ``workers`` one-core workers, each in its own process group, stopped
    at the end; ``ClusterError`` with the daemons' logs if they are not up in 120 s."""
    master_port, master_ui, *worker_uis = free_ports(1 + 1 + workers)
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
            processes.append(start_in_own_group(command, log))
        _wait_for_workers(cluster, processes)
        yield cluster
    finally:
        for process in reversed(processes):  # workers (and their executors) first
            stop_group(process)


def _wait_for_workers(cluster: StandaloneCluster, processes: list[subprocess.Popen[bytes]]) -> None:
    """Until the master lists every worker alive; ``ClusterError`` with the logs otherwise."""
    deadline = time.monotonic() + 120
    state: dict = {}
    while time.monotonic() < deadline:
        dead = [p.args[1] for p in processes if p.poll() is not None]
        if dead:
            raise ClusterError(f"standalone cluster: {dead} exited\n{cluster.log_tails()}")
        try:
            state = master_state(cluster.master_ui_port)
        except OSError:  # the master's web UI is not up yet
            state = {}
        alive = {urlparse(w["webuiaddress"]).port for w in state.get("workers", []) if w["state"] == "ALIVE"}
        if alive == set(cluster.worker_ui_ports):
            return
        time.sleep(1)
    raise ClusterError(f"standalone cluster not ready in 120 s (master says {state})\n{cluster.log_tails()}")


def spark_submit(
    cluster: StandaloneCluster,
    root: Path,
    python: str,
    job_args: Sequence[str],
    extra: Sequence[str] = (),
) -> str:
    """``spark-submit jobs/submit.py JOB_ARGS`` to the cluster, with the Spark event log in
    ``root/events``; its output (the Spark log included). ``ClusterError`` unless it exits 0
    on the submitting Spark."""
    settings = {
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
    (root / "events").mkdir(exist_ok=True)
    command = [
        str(SPARK_HOME / "bin" / "spark-submit"),
        *("--master", cluster.master_url),
        *(arg for key, value in settings.items() for arg in ("--conf", f"{key}={value}")),
        *extra,
        str(REPO / "jobs" / "submit.py"),
        *job_args,
    ]
    log = root / "spark-submit.log"
    process = start_in_own_group(command, log)
    try:
        code = process.wait(timeout=900)
    except subprocess.TimeoutExpired:
        stop_group(process)  # the driver's Python process too
        code = None
    output = log.read_text(errors="replace")
    if code != 0:
        raise ClusterError(f"spark-submit exit {code}\n{output[-4000:]}\n{cluster.log_tails()}")
    if "on engine spark" not in output:  # the submitting Spark, not an embedded Sail
        raise ClusterError(f"spark-submit did not run on the cluster's Spark\n{output[-4000:]}")
    return output


def successful_tasks_per_worker(events: Path) -> Counter[int]:
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
