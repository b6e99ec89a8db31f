"""CoE backends behind one interface: ``generate(requests) -> generations``, in order.

- ``template``: the deterministic renderer (``template.py``); CPU, no model.
- ``vllm``: offline ``vllm.LLM.generate`` over a whole partition at once, one engine per
  backend (loaded on first use; callers keep one backend per process); the model's own chat
  template turns messages into prompts; prefix caching on, so the shared instructions at
  the head of every prompt are computed once. Inside Spark's Python workers vLLM must
  start its workers with spawn (``VLLM_WORKER_MULTIPROC_METHOD``), set before import.
- ``openai``: any OpenAI-compatible ``/chat/completions`` endpoint (``vllm serve``, ...)
  through the ``openai`` SDK, which retries with backoff and honours ``Retry-After``;
  ``max_concurrency`` requests in flight. Prompt tokens are counted as the model counts them:
  by a local model directory's tokenizer, else by the server's own tokenizer where it has
  one (llama.cpp's ``/extras/tokenize``, next to ``/v1``), the messages framed as ChatML
  (exact for ChatML models such as SmolLM2, the content's real tokens plus a few for the
  framing otherwise); where the server has no such endpoint, the estimate (characters /
  3.5), with a note in the log and in ``token_counter``.

Model output is cleaned here (``finish``): ``<think>...</think>`` is stripped; a
generation that never finished thinking, or stopped at the token limit, is dropped
with its reason, and so is an execution the template cannot tell (``unrenderable``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from tracepile.config import GenerateConfig
from tracepile.translation.prompts import count_tokens
from tracepile.translation.template import Execution, Unrenderable, render_coe
from tracepile.vocab import Backend as BackendName
from tracepile.vocab import GenerateOutcome

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

BACKEND_ERROR = GenerateOutcome.BACKEND_ERROR  # not the text's fault: the stage leaves such rows pending
TEMPLATE_VERSION = "template-v3"  # enters the prompt hash: change it when the renderer changes
UNRENDERABLE = GenerateOutcome.UNRENDERABLE  # the template cannot tell this execution: a reject


@dataclass(frozen=True)
class Request:
    messages: list[dict[str, str]]
    execution: Execution


@dataclass(frozen=True)
class Generation:
    text: str | None
    finish_reason: str  # stop | length | error | unrenderable
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None
    seconds: float | None = None  # how long a served model took to answer this request


class Backend(Protocol):
    name: str
    model: str
    version: str  # enters the prompt hash

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int: ...

    def generate(self, requests: Sequence[Request]) -> list[Generation]: ...


class TemplateBackend:
    name, model, version = BackendName.TEMPLATE, "template", TEMPLATE_VERSION

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        return count_tokens(None, messages)

    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        return [self._render(r.execution) for r in requests]

    @staticmethod
    def _render(execution: Execution) -> Generation:
        try:
            return Generation(render_coe(execution), "stop")
        except Unrenderable as exc:  # that row is rejected; the others go on
            return Generation(None, UNRENDERABLE, error=str(exc))


EngineFactory = Callable[[GenerateConfig], Any]


def _vllm_sampling(settings: GenerateConfig) -> Any:
    from vllm import SamplingParams

    return SamplingParams(
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_tokens=settings.max_tokens,
        seed=settings.seed,
    )


def _vllm_engine(settings: GenerateConfig) -> Any:
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

    name = version = BackendName.VLLM

    def __init__(
        self,
        settings: GenerateConfig,
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
    """Chat completions through one shared ``openai.OpenAI`` client (thread-safe),
    ``max_concurrency`` requests at a time. The SDK retries connection errors, 408, 409, 429
    and 5xx up to ``max_retries`` times with backoff; what still fails becomes an error
    generation, never an exception."""

    name = version = BackendName.OPENAI
    NO_KEY = "EMPTY"  # the SDK refuses no key; a local ``vllm serve`` ignores it

    TOKENIZE_TIMEOUT = 30.0  # seconds for one /extras/tokenize request

    def __init__(self, settings: GenerateConfig, tokenizer: Any | None = None) -> None:
        if not settings.model:
            raise ValueError("the openai backend needs generate.model (the served model's name)")
        self.settings, self.model, self.tokenizer = settings, settings.model, tokenizer
        self.tokenize_url = tokenize_url(settings.base_url)
        # how prompt tokens are counted: set by the first count; a missing endpoint is the only
        # answer kept (a server that is down is asked again next time)
        self.token_counter = "tokenizer" if tokenizer is not None else "not counted yet"
        self._server_tokenizes: bool | None = None if tokenizer is None else False

    @cached_property
    def client(self) -> openai.OpenAI:
        # made on first use, so a backend built on the driver holds no connection pool; the SDK
        # is imported here too, since it takes half a second and most runs never use it
        import openai

        s = self.settings
        return openai.OpenAI(
            base_url=s.base_url,
            api_key=os.environ.get(s.api_key_env) or self.NO_KEY,
            max_retries=s.max_retries,
            timeout=s.request_timeout,
        )

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        if self.tokenizer is None and self._server_tokenizes is not False:
            counted = self._server_count(chatml(messages))
            if counted is not None:
                return counted
        return count_tokens(self.tokenizer, messages)

    def _server_count(self, text: str) -> int | None:
        """The server's token count of ``text``; None (and a note) where it cannot say."""
        request = urllib.request.Request(
            self.tokenize_url,
            json.dumps({"input": text}).encode("utf-8"),
            {"Content-Type": "application/json", "Authorization": f"Bearer {self._key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.TOKENIZE_TIMEOUT) as reply:
                tokens = json.load(reply)["tokens"]
            if not isinstance(tokens, list):
                raise TypeError(f"tokens is a {type(tokens).__name__}")
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 405, 501):  # no such endpoint: this server never counts
                self._server_tokenizes = False
            self._estimating(f"{self.tokenize_url} answered HTTP {exc.code}")
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:  # down, or not a token list
            self._estimating(f"{self.tokenize_url}: {type(exc).__name__}: {exc}")
            return None
        self._server_tokenizes, self.token_counter = True, f"server tokenizer ({self.tokenize_url})"
        return len(tokens)

    def _estimating(self, why: str) -> None:
        note = f"estimate (characters / 3.5): {why}"
        if note != self.token_counter:
            log.warning("prompt tokens counted by %s", note)
        self.token_counter = note

    @property
    def _key(self) -> str:
        return os.environ.get(self.settings.api_key_env) or self.NO_KEY

    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        if not requests:
            return []
        client = self.client  # made here, before the threads could race to make it
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency) as pool:
            return list(pool.map(lambda request: self._complete(client, request), requests))

    def _complete(self, client: openai.OpenAI, request: Request) -> Generation:
        import openai

        s = self.settings
        started = time.perf_counter()
        try:
            reply = client.chat.completions.create(
                model=self.model,
                messages=request.messages,
                max_tokens=s.max_tokens,
                temperature=s.temperature,
                top_p=s.top_p,
                seed=s.seed,
            )
            choice, usage = reply.choices[0], reply.usage
            return Generation(
                choice.message.content,
                "length" if choice.finish_reason == "length" else "stop",
                usage.prompt_tokens if usage else None,
                usage.completion_tokens if usage else None,
                seconds=time.perf_counter() - started,
            )
        except openai.APIStatusError as exc:
            problem = f"HTTP {exc.status_code}: {exc.response.text[:200]}{_attempts(exc)}"
        except openai.APIError as exc:  # connection error, timeout, a body that is not JSON
            cause = f" {type(exc.__cause__).__name__}: {exc.__cause__}" if exc.__cause__ else ""
            problem = f"{type(exc).__name__}: {exc}{cause}{_attempts(exc)}"
        except (AttributeError, IndexError, TypeError, ValueError) as exc:  # a reply that is not a completion
            problem = f"unexpected reply: {exc!r}"
        return Generation(None, "error", error=problem)


def tokenize_url(base_url: str) -> str:
    """llama.cpp's tokenize endpoint for an OpenAI-compatible ``base_url``: beside ``/v1``."""
    root = base_url.rstrip("/")
    root = root.removesuffix("/v1")
    return f"{root}/extras/tokenize"


def chatml(messages: list[dict[str, str]]) -> str:
    """The messages as the ChatML prompt a server makes of them, the reply's opening included."""
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return f"{turns}<|im_start|>assistant\n"


def _attempts(exc: openai.APIError) -> str:
    """How many times the request was sent: the SDK numbers each try in a request header."""
    retries = exc.request.headers.get("x-stainless-retry-count")
    return f" (after {int(retries) + 1} attempt(s))" if retries is not None else ""


_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def finish(generation: Generation) -> tuple[str | None, str | None, str]:
    """(clean text, or None with the reason and detail to drop it)."""
    if generation.finish_reason == UNRENDERABLE:
        return None, UNRENDERABLE, generation.error or "the template cannot tell this execution"
    if generation.finish_reason == "error" or generation.text is None:
        return None, BACKEND_ERROR, generation.error or "no text"
    if generation.finish_reason == "length":
        return (
            None,
            GenerateOutcome.TOKEN_LIMIT,
            f"stopped at the token limit ({generation.completion_tokens} tokens)",
        )
    text = _THINK.sub("", generation.text)
    if "<think>" in text:
        return None, GenerateOutcome.UNFINISHED_THINKING, "a <think> block that never closed"
    # chat templates that open <think> in the prompt leave only its end in the output
    text = text.rsplit("</think>", 1)[-1].strip()
    if not text:
        return None, GenerateOutcome.EMPTY_RESPONSE, "nothing after removing the thinking"
    return text, None, ""


def backend_for(settings: GenerateConfig) -> Backend:
    """The backend ``settings`` name. Cheap: a model engine or HTTP client is made on first
    use, so the driver may call this; callers keep one per process to keep the engine."""
    match settings.backend:
        case BackendName.TEMPLATE:
            return TemplateBackend()
        case BackendName.VLLM:
            return VllmBackend(settings)
        case BackendName.OPENAI:
            return OpenAIBackend(settings, _local_tokenizer(settings.model))
    raise ValueError(f"unknown backend {settings.backend!r}: {' | '.join(BackendName)}")


def _local_tokenizer(model: str | None) -> Any | None:
    """The model's tokenizer when ``model`` is a local directory and transformers is installed."""
    if not model or not os.path.isdir(model):
        return None
    try:
        from transformers import AutoTokenizer
    except ImportError:
        return None
    return AutoTokenizer.from_pretrained(model)
