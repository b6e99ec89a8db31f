"""CoE backends behind one interface: ``generate(requests) -> generations``, in order.

- ``template``: the deterministic renderer (``template.py``); CPU, no model.
- ``vllm``: offline ``vllm.LLM.generate`` over a whole partition at once, one engine per
  executor process (loaded on first use, kept for the process); the model's own chat
  template turns messages into prompts; prefix caching on, so the shared instructions at
  the head of every prompt are computed once. Inside Spark's Python workers vLLM must
  start its workers with spawn (``VLLM_WORKER_MULTIPROC_METHOD``), set before import.
- ``openai``: any OpenAI-compatible ``/chat/completions`` endpoint (``vllm serve``, ...),
  with bounded concurrency and retries with exponential backoff.

Model output is cleaned here (``finish``): ``<think>...</think>`` is stripped; a
generation that never finished thinking, or stopped at the token limit, is dropped
with its reason.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from tracepile.translation.prompts import count_tokens
from tracepile.translation.template import Execution, render_coe

BACKEND_ERROR = "backend_error"  # not the text's fault: the stage leaves such rows pending
TEMPLATE_VERSION = "template-v1"  # enters the prompt hash: change it when the renderer changes


@dataclass(frozen=True)
class Request:
    messages: list[dict[str, str]]
    execution: Execution


@dataclass(frozen=True)
class Generation:
    text: str | None
    finish_reason: str  # stop | length | error
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class BackendSettings:
    """The ``[generate]`` options a backend reads (hashable: one engine per distinct value)."""

    backend: str = "template"
    model: str | None = None
    max_tokens: int = 4096
    temperature: float = 0.6
    top_p: float = 0.95
    seed: int = 0
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    enable_prefix_caching: bool = True
    base_url: str = "http://localhost:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    max_concurrency: int = 8
    max_retries: int = 4
    request_timeout: float = 600.0


class Backend(Protocol):
    name: str
    model: str
    version: str  # enters the prompt hash

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int: ...

    def generate(self, requests: Sequence[Request]) -> list[Generation]: ...


class TemplateBackend:
    name, model, version = "template", "template", TEMPLATE_VERSION

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        return count_tokens(None, messages)

    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        return [Generation(render_coe(r.execution), "stop") for r in requests]


EngineFactory = Callable[[BackendSettings], Any]


def _vllm_sampling(settings: BackendSettings) -> Any:
    from vllm import SamplingParams

    return SamplingParams(
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_tokens=settings.max_tokens,
        seed=settings.seed,
    )


def _vllm_engine(settings: BackendSettings) -> Any:
    os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")  # forking under Spark breaks CUDA
    try:
        from vllm import LLM
    except ImportError as exc:
        raise RuntimeError("the vllm backend needs vLLM on the executors: pip install -e '.[gpu]'") from exc

    return LLM(
        model=settings.model,
        tensor_parallel_size=settings.tensor_parallel_size,
        gpu_memory_utilization=settings.gpu_memory_utilization,
        max_model_len=settings.max_model_len,
        enable_prefix_caching=settings.enable_prefix_caching,
        seed=settings.seed,
    )


class VllmBackend:
    """``vllm.LLM`` behind the interface. ``engine_factory`` and ``sampling_factory`` build
    the engine and its sampling parameters (tests pass stand-ins: vLLM needs a GPU and
    model weights)."""

    name, version = "vllm", "vllm"

    def __init__(
        self,
        settings: BackendSettings,
        engine_factory: EngineFactory = _vllm_engine,
        sampling_factory: EngineFactory = _vllm_sampling,
    ) -> None:
        if not settings.model:
            raise ValueError("the vllm backend needs generate.model (a model name or local path)")
        self.settings, self.model = settings, settings.model
        self._engine_factory, self._sampling_factory = engine_factory, sampling_factory
        self._engine: Any | None = None

    @property
    def engine(self) -> Any:
        if self._engine is None:
            self._engine = self._engine_factory(self.settings)
        return self._engine

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        return count_tokens(self.engine.get_tokenizer(), messages)

    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        if not requests:
            return []
        tokenizer = self.engine.get_tokenizer()
        prompts = [
            tokenizer.apply_chat_template(r.messages, tokenize=False, add_generation_prompt=True)
            for r in requests
        ]
        outputs = self.engine.generate(prompts, self._sampling_factory(self.settings), use_tqdm=False)
        return [
            Generation(
                out.outputs[0].text,
                "length" if out.outputs[0].finish_reason == "length" else "stop",
                len(out.prompt_token_ids),
                len(out.outputs[0].token_ids),
            )
            for out in outputs
        ]


class OpenAIBackend:
    """Chat completions over HTTP, ``max_concurrency`` requests at a time, each retried on
    connection errors, 429 and 5xx with exponential backoff and jitter."""

    name, version = "openai", "openai"
    RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})

    def __init__(self, settings: BackendSettings, tokenizer: Any | None = None) -> None:
        if not settings.model:
            raise ValueError("the openai backend needs generate.model (the served model's name)")
        self.settings, self.model, self.tokenizer = settings, settings.model, tokenizer
        self._sleep = time.sleep

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        return count_tokens(self.tokenizer, messages)

    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency) as pool:
            return list(pool.map(self._complete, requests))

    def _complete(self, request: Request) -> Generation:
        s = self.settings
        body = json.dumps(
            {
                "model": s.model,
                "messages": request.messages,
                "max_tokens": s.max_tokens,
                "temperature": s.temperature,
                "top_p": s.top_p,
                "seed": s.seed,
            }
        ).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if key := os.environ.get(s.api_key_env):
            headers["Authorization"] = f"Bearer {key}"
        url = s.base_url.rstrip("/") + "/chat/completions"
        problem = ""
        for attempt in range(s.max_retries + 1):
            if attempt:
                self._sleep(min(60.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0))
            try:
                post = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(post, timeout=s.request_timeout) as response:
                    reply = json.loads(response.read())
                choice, usage = reply["choices"][0], reply.get("usage") or {}
                return Generation(
                    choice["message"]["content"],
                    "length" if choice.get("finish_reason") == "length" else "stop",
                    usage.get("prompt_tokens"),
                    usage.get("completion_tokens"),
                )
            except urllib.error.HTTPError as exc:
                problem = f"HTTP {exc.code}: {exc.read()[:200].decode('utf-8', 'replace')}"
                if exc.code not in self.RETRY_STATUS:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            except (KeyError, IndexError, ValueError) as exc:  # a reply that is not a completion
                problem = f"unexpected reply: {exc}"
                break
        return Generation(None, "error", error=f"{problem} (after {attempt + 1} attempt(s))")


_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def finish(generation: Generation) -> tuple[str | None, str | None, str]:
    """(clean text, or None with the reason and detail to drop it)."""
    if generation.finish_reason == "error" or generation.text is None:
        return None, BACKEND_ERROR, generation.error or "no text"
    if generation.finish_reason == "length":
        return None, "token_limit", f"stopped at the token limit ({generation.completion_tokens} tokens)"
    text = _THINK.sub("", generation.text)
    if "<think>" in text:
        return None, "unfinished_thinking", "a <think> block that never closed"
    # chat templates that open <think> in the prompt leave only its end in the output
    text = text.rsplit("</think>", 1)[-1].strip()
    if not text:
        return None, "empty_response", "nothing after removing the thinking"
    return text, None, ""


@cache
def backend_for(settings: BackendSettings) -> Backend:
    """One backend (and so one engine) per executor process and settings, made on first use."""
    if settings.backend == "template":
        return TemplateBackend()
    if settings.backend == "vllm":
        return VllmBackend(settings)
    if settings.backend == "openai":
        return OpenAIBackend(settings, _local_tokenizer(settings.model))
    raise ValueError(f"unknown backend {settings.backend!r}: template | vllm | openai")


def _local_tokenizer(model: str | None) -> Any | None:
    """The model's tokenizer when ``model`` is a local directory and transformers is installed."""
    if not model or not os.path.isdir(model):
        return None
    try:
        from transformers import AutoTokenizer
    except ImportError:
        return None
    return AutoTokenizer.from_pretrained(model)
