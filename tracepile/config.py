"""One resolved configuration per run: defaults < config file < environment < CLI flags.

Defaults live only in the models below. Environment variables are named
``TRACEPILE_<KEY>`` for top-level keys and ``TRACEPILE_<SECTION>__<KEY>`` for a
section's keys (e.g. ``TRACEPILE_INGEST__MAX_RECORD_BYTES=1048576``).

A value that cannot be used is a ``ConfigError`` naming where it was set (the file and its
line, the environment variable, or the flag), the key, and for an unknown key the nearest
known one.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tracepile.vocab import (
    DUPLICATE_REASONS,
    SKIPPED_RECORD_REASONS,
    UNFIT_FUNCTION_REASONS,
    Backend,
    Domain,
    GateMode,
)

ENV_PREFIX = "TRACEPILE_"
# the config file's path, and the variables of the sandbox and of crash tests: not settings
_NOT_SETTINGS = tuple(f"{ENV_PREFIX}{name}" for name in ("CONFIG", "SANDBOX_", "TEST_"))
DEFAULT_CONFIG_FILE = "tracepile.toml"


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the key and the fix."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AlgorithmsConfig(_Section):
    """``algorithms:builtin``: the project's own classical algorithms, each with seeded instances."""

    instances: int = Field(2, gt=0, description="instances per algorithm and size")
    sizes: list[int] = Field(
        default_factory=lambda: [4, 8, 12],
        description="instance sizes (elements, vertices, characters...), each kept within the trace budget",
    )
    seed: int = Field(0, ge=0, description="seeds the instance generators")


class PyfilesConfig(_Section):
    """``pyfiles:PATH``: every public top-level function of a tree of .py files."""

    generated_inputs: int = Field(
        4, gt=0, description="inputs generated from type hints for a function whose docstring has no examples"
    )
    seed: int = Field(0, ge=0, description="seeds the input generation")


class CompetitionConfig(_Section):
    """``competition:PATH``: problems with solutions and tests (DeepMind CodeContests, APPS, TACO)."""

    solutions_per_problem: int = Field(3, gt=0, description="Python 3 solutions taken per problem")
    tests_per_solution: int = Field(
        10, gt=0, description="tests each solution runs: public first, then private, then generated"
    )


class MathConfig(_Section):
    """``math:PATH``: program-of-thought solutions (OpenMathInstruct-1, or question/code/answer)."""

    correct_only: bool = Field(
        False,
        description="skip solutions the dataset marks is_correct=false (they are run and fail otherwise)",
    )


class IngestConfig(_Section):
    competition: CompetitionConfig = Field(default_factory=CompetitionConfig)
    math: MathConfig = Field(default_factory=MathConfig)
    algorithms: AlgorithmsConfig = Field(default_factory=AlgorithmsConfig)
    pyfiles: PyfilesConfig = Field(default_factory=PyfilesConfig)
    max_record_bytes: int = Field(
        8 * 1024 * 1024, gt=0, description="a longer line is rejected as record_too_large"
    )
    reject_raw_chars: int = Field(
        4096, gt=0, description="how much of a rejected line is kept in bronze/ingest_rejects"
    )
    batch_rows: int = Field(2048, gt=0, description="rows per Arrow batch handed back to Spark")
    piece_bytes: int = Field(
        64 * 1024 * 1024,
        gt=0,
        description="an uncompressed line file larger than this is read by several tasks, one per piece",
    )
    generated_inputs: int = Field(
        5, gt=0, description="codeio: runs of a record's input_generator (seeded) that give its inputs"
    )
    generator_seed: int = Field(0, ge=0, description="codeio: the seed of the first input_generator run")


class FilterConfig(_Section):
    """Static filters (dedup stage); size caps default to CodeI/O's."""

    max_code_bytes: int = Field(10_000, gt=0, description="longer code is rejected as code_too_large")
    max_io_bytes: int = Field(1024, gt=0, description="an input or output whose JSON is longer is dropped")
    max_collection_items: int = Field(20, gt=0, description="I/O with a longer list or dict is dropped")
    max_string_chars: int = Field(100, gt=0, description="I/O with a longer string is dropped")
    max_stdin_bytes: int = Field(
        4096, gt=0, description="a script's test with longer standard input is dropped"
    )
    max_stdout_bytes: int = Field(
        4096, gt=0, description="a script's test with a longer expected output is dropped"
    )
    max_inputs: int = Field(10, gt=0, description="inputs kept per program (after removing repeats)")
    min_inputs: int = Field(1, ge=0, description="fewer usable inputs rejects the program as too_few_inputs")


class DedupConfig(_Section):
    """Exact and near-duplicate removal, decontamination."""

    shingle_size: int = Field(5, gt=0, description="tokens per shingle (n-gram of normalised tokens)")
    num_perm: int = Field(128, gt=0, description="MinHash permutations")
    bands: int = Field(16, gt=0, description="LSH bands; threshold ~ (1/bands)^(1/rows)")
    rows: int = Field(8, gt=0, description="signature rows per band")
    seed: int = Field(1, ge=0, description="permutation seed; changing it invalidates stored signatures")
    verify_candidates: bool = Field(
        True, description="keep a candidate edge only if its estimated Jaccard >= min_jaccard"
    )
    min_jaccard: float = Field(0.9, ge=0, le=1, description="similarity an edge needs when verified")
    max_iterations: int = Field(30, gt=0, description="bound on connected-components rounds")
    benchmarks: list[str] = Field(
        default_factory=list,
        description="benchmark files or folders to decontaminate against "
        "(JSONL, JSON, Parquet or text; gzip detected)",
    )
    decontam_ngram: int = Field(13, gt=0, description="words per n-gram for decontamination")
    workers: int = Field(
        0, ge=0, description="processes for per-program work on the embedded engine; 0 = one per core"
    )
    pool_min_programs: int = Field(
        2000, ge=0, description="below this many new programs the work runs inline (no pool start-up)"
    )

    @model_validator(mode="after")
    def _bands_fit(self) -> DedupConfig:
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands * self.rows}) exceeds num_perm ({self.num_perm})")
        return self


class SandboxLimits(_Section):
    """The sandbox's limits per run (the ``[trace]`` section's first part; also ``tracepile sandbox-run``)."""

    cpu_seconds: float = Field(5.0, gt=0, description="CPU time per run")
    wall_seconds: float = Field(10.0, gt=0, description="wall-clock time per run")
    memory_bytes: int = Field(1 << 30, gt=0, description="address space per run")
    file_bytes: int = Field(1 << 20, ge=0, description="largest file a run may write (in its own directory)")
    open_files: int = Field(64, gt=3, description="open file descriptors per run")
    output_bytes: int = Field(1 << 16, gt=0, description="stdout + stderr per run")
    trace_lines: int = Field(300, gt=0, description="a longer trace stops the run as too_long")
    trace_bytes: int = Field(1 << 18, gt=0, description="a larger trace stops the run as too_long")
    trace_depth: Annotated[int, Field(gt=0)] | Literal["defs"] = Field(
        1,
        description='snoop depth: 1 traces the entry function; "defs" the number of functions the program '
        "defines (the published method's depth)",
    )
    untraced_calls: bool = Field(
        True, description="at depth 1, calls the entry function makes run untraced (same snoop text, faster)"
    )
    allowed_packages: list[str] = Field(
        default_factory=lambda: ["numpy", "sympy", "mpmath"],
        description="installed packages beyond the standard library that runs may import "
        "(list a package's own dependencies too: mpmath for sympy)",
    )


class TraceConfig(SandboxLimits):
    """The trace stage: the sandbox's limits per run, and how the runs are spread."""

    workers: int = Field(0, ge=0, description="sandbox processes per executor; 0 = one per core")
    partitions: int = Field(
        0, ge=0, description="spread the runs over this many tasks; 0 = as silver/programs is read"
    )
    domain_quota: dict[Domain, int] = Field(
        default_factory=dict,
        description="most programs per domain ever traced, e.g. {algorithms = 100}; the rest wait, "
        "untraced, for a larger quota (unset domains: no cap)",
    )
    batch_rows: int = Field(
        10_000, gt=0, description="runs per published batch: a crash loses at most the batch in flight"
    )


class GenerateConfig(_Section):
    """CoE generation (``tracepile generate``): the backend, its model and sampling."""

    backend: Backend = Field(
        Backend.TEMPLATE,
        description="template: rendered from the steps (CPU); vllm: offline engine; openai: HTTP",
    )
    model: str | None = Field(None, description="vllm: model name or local path; openai: the served model")
    max_prompt_tokens: int = Field(8192, gt=0, description="a longer translation prompt is dropped")
    max_tokens: int = Field(4096, gt=0, description="tokens per generation; hitting it drops the text")
    temperature: float = Field(0.6, ge=0, description="sampling temperature")
    top_p: float = Field(0.95, gt=0, le=1, description="nucleus sampling")
    seed: int = Field(0, ge=0, description="sampling seed")
    tensor_parallel_size: int = Field(1, gt=0, description="vllm: GPUs per engine")
    data_parallel: int = Field(
        0, ge=0, description="vllm: engines (one per task/GPU); 0 = as the data is read"
    )
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="vllm: share of GPU memory")
    max_model_len: int | None = Field(None, description="vllm: context length (default: the model's)")
    enable_prefix_caching: bool = Field(True, description="vllm: reuse the shared instructions' KV cache")
    base_url: str = Field("http://localhost:8000/v1", description="openai: the endpoint")
    api_key_env: str = Field("OPENAI_API_KEY", description="openai: environment variable holding the key")
    max_concurrency: int = Field(8, gt=0, description="openai: requests in flight per task")
    max_retries: int = Field(4, ge=0, description="openai: retries per request (backoff doubles)")
    request_timeout: float = Field(600.0, gt=0, description="openai: seconds per request")
    retry_with_feedback: bool = Field(
        False, description="model backends: regenerate a failed text once, with the error as feedback"
    )
    min_checked_claims: int = Field(
        1,
        ge=0,
        description="model backends: a text with a right answer is kept only if at least this many of "
        "its steps were checked against the run (unchecked_reasoning otherwise); 0 keeps bare answers",
    )
    batch_rows: int = Field(
        10_000, gt=0, description="executions per published batch: a crash loses at most one batch"
    )
    max_rows: int | None = Field(
        None,
        gt=0,
        description="most pending executions written per run, taken in coe_id order so the next run "
        "goes on where this one stopped; None = all (the rest stay pending)",
    )

    @model_validator(mode="after")
    def _model_given(self) -> GenerateConfig:
        if self.backend != Backend.TEMPLATE and not self.model:
            raise ValueError(f"backend {self.backend} needs generate.model (a model name or local path)")
        return self


class RewritesConfig(_Section):
    """Meaning-preserving rewrites of programs (AST transforms), kept only when differential
    execution in the sandbox gives the original's outputs on every input."""

    enabled: bool = Field(True, description="tracepile run makes rewrites (tracepile rewrite always does)")
    per_program: int = Field(2, ge=0, description="rewrites tried per program, distinct kinds first")
    seed: int = Field(0, ge=0, description="seeds which transforms and names are chosen")
    neighbour_cpu_seconds: float = Field(
        0.5,
        gt=0,
        description="CPU time per run on a neighbouring input (the extra check inputs of a program "
        "with few): one the original does not finish in this time is not checked on",
    )


class QuestionsConfig(_Section):
    """Variable-tracing questions from the steps of ok executions, answered and verified."""

    enabled: bool = Field(True, description="tracepile run asks questions (tracepile questions always does)")
    per_kind: int = Field(1, ge=0, description="questions of each kind per execution, at most")
    seed: int = Field(0, ge=0, description="seeds which candidate questions are chosen")
    max_executions: int | None = Field(
        None,
        gt=0,
        description="most pending executions asked about per run, in execution_id order so the next "
        "run goes on where this one stopped; None = all (the rest stay pending)",
    )


class LocalModelConfig(_Section):
    """The local model (``--local-model``, the ``llm`` extra): SmolLM2-135M-Instruct served by
    llama-cpp-python on 127.0.0.1, used through the openai backend (``tracepile/local_model.py``)."""

    max_executions: int = Field(
        24,
        gt=0,
        description="executions the model writes Chain-of-Execution texts for per run "
        "(sets generate.max_rows); the rest stay pending for later runs",
    )
    question_executions: int = Field(
        4,
        ge=0,
        description="executions the model answers questions about per run, each up to one question "
        "per kind (sets questions.max_executions; 0 leaves the questions stage out)",
    )
    input_executions: int = Field(
        4,
        ge=0,
        description="executions the model predicts an input for per run (sets inputs.max_executions; "
        "0 leaves the inputs stage out)",
    )
    min_verified_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="gate.min_verified_rate for runs with the local model: a 135M model is mostly "
        "wrong, which the verifier sorts out, so its batches are not blocked for it",
    )
    threads: int = Field(
        1,
        gt=0,
        description="CPU threads the server computes with (more only where cores are idle: on busy "
        "cores a second thread slowed replies down)",
    )
    context_tokens: int = Field(4096, gt=0, description="the server's context window (prompt + reply)")
    max_tokens: int = Field(
        1024, gt=0, description="tokens per reply (generate.max_tokens is lowered to this)"
    )
    concurrency: int = Field(
        2, gt=0, description="requests in flight (the server answers one at a time; the next waits ready)"
    )
    startup_seconds: float = Field(
        120.0, gt=0, description="how long to wait for the server to answer before giving up"
    )
    url: str | None = Field(
        None,
        description="an already running OpenAI-compatible server (http://HOST:PORT/v1): "
        "nothing is started, its first listed model is used",
    )

    @model_validator(mode="after")
    def _reply_fits(self) -> LocalModelConfig:
        if self.max_tokens >= self.context_tokens:
            raise ValueError(
                f"max_tokens ({self.max_tokens}) leaves no room for a prompt in "
                f"context_tokens ({self.context_tokens})"
            )
        return self


class InputsConfig(_Section):
    """Input prediction: the code and a recorded output of a called function, an input that
    gives it, kept only where running that input in the sandbox returns the output."""

    enabled: bool = Field(
        True, description="tracepile run predicts inputs after questions (tracepile inputs always does)"
    )
    seed: int = Field(0, ge=0, description="seeds which executions are taken first when a run is bounded")
    max_executions: int | None = Field(
        None,
        gt=0,
        description="most pending executions predicted per run, in a seeded order so the next run goes "
        "on where this one stopped; None = all (the rest stay pending)",
    )


class ExportConfig(_Section):
    """Training files from gold/coe (``tracepile export``)."""

    seed: int = Field(0, ge=0, description="seeds the shuffle and the train/validation split")
    validation_fraction: float = Field(0.02, ge=0, lt=1, description="share of rows in the validation split")
    min_validation_programs: int = Field(
        10,
        ge=2,
        description="a corpus of fewer original programs gets no validation split (one program's "
        "rows make no measure of generalisation), and the summary says so",
    )
    shard_rows: int = Field(100_000, gt=0, description="rows per JSONL file")


class GateConfig(_Section):
    """The quality gate every stage's batch passes before it is published (``quality/``)."""

    mode: GateMode = Field(
        GateMode.FAIL,
        description="fail: a failed check quarantines the batch and the run exits 3; "
        "warn: the batch is published and failures are recorded (CHECK constraints still block)",
    )
    min_ok_rate: float = Field(
        0.2, ge=0, le=1, description="a trace batch with a smaller share of status ok is blocked"
    )
    max_reject_rate: float = Field(
        0.5, ge=0, le=1, description="ingest and dedup: a larger share of any one reject reason blocks"
    )
    reject_rate_limits: dict[str, float] = Field(
        default_factory=lambda: {
            reason.value: 1.0
            for reason in (*DUPLICATE_REASONS, *UNFIT_FUNCTION_REASONS, *SKIPPED_RECORD_REASONS)
        },
        description="per-reason overrides of max_reject_rate (duplicates are normal in a growing corpus, "
        "and so are functions of a pyfiles tree that cannot be programs, and dataset records that hold "
        "no runnable Python program)",
    )
    input_executions: int = Field(
        4,
        ge=0,
        description="executions the model predicts an input for per run (sets inputs.max_executions; "
        "0 leaves the inputs stage out)",
    )
    min_verified_rate: float = Field(
        0.5, ge=0, le=1, description="a generate batch with a smaller share of verified texts is blocked"
    )
    rate_min_rows: int = Field(
        20, ge=0, description="rate checks on a smaller batch are recorded as warnings, never block"
    )
    report_dir: str | None = Field(
        None, description="where the per-run gate reports (and run pages) go; default <lakehouse>/reports"
    )
    examples: int = Field(5, ge=0, le=100, description="failing values (and their ids) kept per check")


class LeaseConfig(_Section):
    """One run at a time writes a lakehouse (``tracepile/lease.py``): the others wait or stop."""

    wait_seconds: float = Field(
        3600.0, ge=0, description="how long a run waits for the lakehouse's current run; 0 = stop at once"
    )
    heartbeat_seconds: float = Field(10.0, gt=0, description="how often the holder renews its lease")
    stale_seconds: float = Field(
        60.0, gt=0, description="a holder on another host whose heartbeat is older is taken as dead"
    )
    dir: str | None = Field(
        None,
        description="folder of the lease (a local or mounted path, e.g. a Databricks volume); "
        "default <lakehouse>/_lease; required to serialise runs on a catalog lakehouse",
    )


class TracepileConfig(_Section):
    engine: Literal["local", "spark", "connect"] = Field(
        "local", description="local = embedded Sail; spark = classic PySpark; connect = --remote"
    )
    remote: str | None = Field(None, description="Spark Connect URL (sc://host:port) for engine=connect")
    spark_master: str = Field(
        "local[*]", description="master for a local JVM session (engine=spark outside spark-submit)"
    )
    lakehouse: str = Field(
        "./lakehouse", description="root path or URI of the tables, or catalog:<catalog>.<schema>"
    )
    table_format: Literal["delta", "parquet"] = Field(
        "delta", description="parquet only where Delta cannot be had (classic Spark offline)"
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict, description="extra Spark settings, e.g. spark.sql.shuffle.partitions"
    )
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    filters: FilterConfig = Field(default_factory=FilterConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    trace: TraceConfig = Field(default_factory=TraceConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    rewrites: RewritesConfig = Field(default_factory=RewritesConfig)
    questions: QuestionsConfig = Field(default_factory=QuestionsConfig)
    inputs: InputsConfig = Field(default_factory=InputsConfig)
    local_model: LocalModelConfig = Field(default_factory=LocalModelConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    lease: LeaseConfig = Field(default_factory=LeaseConfig)


def _parse_scalar(text: str) -> Any:
    """A value from the environment or --set, read as a TOML value when it is one."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *sections, key = dotted.split(".")
    node = tree
    for section in sections:
        node = node.setdefault(section, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{dotted}: {section} is not a section")
    node[key] = value


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


Key = tuple[str, ...]  # a dotted key as its parts: ("trace", "cpu_seconds")


@dataclass(frozen=True)
class _Layer:
    """One source of settings, and where in it a key was set (for messages)."""

    tree: dict[str, Any]
    where: Callable[[Key], str]


_TOML_HEADER = re.compile(r"^\s*\[\[?\s*(?P<name>[^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_TOML_KEY = re.compile(r"^\s*(?P<key>[A-Za-z0-9_\-\"' .]+?)\s*=")
_TOML_POSITION = re.compile(r"\s*\(at line (?P<line>\d+), column (?P<column>\d+)\)")


def _key_parts(text: str) -> Key:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


def toml_key_lines(text: str) -> dict[Key, int]:
    """The line each key and section of a TOML text is first set on (tomllib keeps no
    positions): ``[section]`` headers and ``key =`` lines, dotted keys too."""
    lines: dict[Key, int] = {}
    section: Key = ()
    for number, line in enumerate(text.splitlines(), start=1):
        if header := _TOML_HEADER.match(line):
            section = _key_parts(header["name"])
            lines.setdefault(section, number)
        elif key := _TOML_KEY.match(line):
            path = section + _key_parts(key["key"])
            for end in range(len(section) + 1, len(path) + 1):
                lines.setdefault(path[:end], number)
    return lines


def _nearest(named: Mapping[Key, str], key: Key, default: str) -> str:
    """What ``named`` says of ``key`` or of the nearest section above it that it names."""
    for end in range(len(key), 0, -1):
        if key[:end] in named:
            return named[key[:end]]
    return default


def _file_layer(path: str | Path) -> _Layer:
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {name}") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"config file {name} is a folder: give --config a .toml file") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {name} is not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise ConfigError(f"config file {name} cannot be read: {exc.strerror or exc}") from exc
    try:
        tree = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        where = f"{name} line {position['line']}, column {position['column']}" if position else name
        reason = _TOML_POSITION.sub("", message)
        raise ConfigError(f"{where}: not valid TOML: {reason}") from exc
    lines = {key: f"{name} line {number}" for key, number in toml_key_lines(text).items()}
    return _Layer(tree, lambda key: _nearest(lines, key, name))


def _env_layer(environ: Mapping[str, str]) -> _Layer:
    layer: dict[str, Any] = {}
    names: dict[Key, str] = {}
    for name, text in environ.items():
        if name.startswith(ENV_PREFIX) and not name.startswith(_NOT_SETTINGS):
            dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
            _set_dotted(layer, dotted, _parse_scalar(text))
            names[_key_parts(dotted)] = f"environment variable {name}"
    return _Layer(layer, lambda key: _nearest(names, key, "the environment"))


def _flag_layer(overrides: Mapping[str, Any], flags: Mapping[str, str], assignments: list[str]) -> _Layer:
    layer: dict[str, Any] = {}
    names: dict[Key, str] = {}
    for dotted, value in overrides.items():
        if value is not None:
            _set_dotted(layer, dotted, value)
            names[_key_parts(dotted)] = flags.get(dotted, f"--set {dotted}")
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {assignment}: expected KEY=VALUE, e.g. --set trace.cpu_seconds=3")
        _set_dotted(layer, key.strip(), _parse_scalar(text.strip()))
        names[_key_parts(key.strip())] = "--set"
    return _Layer(layer, lambda key: _nearest(names, key, "the flags"))


def _is_set(tree: Mapping[str, Any], key: Key) -> bool:
    node: Any = tree
    for part in key:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _section_model(key: Key) -> type[BaseModel] | None:
    """The model of the section ``key`` names (``()``: the whole configuration)."""
    model: type[BaseModel] = TracepileConfig
    for part in key:
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _known_keys(model: type[BaseModel] = TracepileConfig, prefix: Key = ()) -> list[Key]:
    """Every key and section of the configuration, as parts."""
    keys: list[Key] = []
    for name, field in model.model_fields.items():
        keys.append((*prefix, name))
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += _known_keys(annotation, (*prefix, name))
    return keys


def _setting_key(loc: tuple[str, ...]) -> Key:
    """The configuration key a validation error is about: its location up to the first part
    that is not a section (a union's member or a dict's item may come after)."""
    for end in range(1, len(loc) + 1):
        if _section_model(loc[:end]) is None:
            return loc[:end]
    return loc


def _is_table(key: Key) -> bool:
    """Whether ``key`` is a setting whose value is a table of its own keys (``spark_conf``)."""
    model = _section_model(key[:-1]) if key else None
    field = model.model_fields.get(key[-1]) if model is not None else None
    return field is not None and typing.get_origin(field.annotation) is dict


def _suggestion(key: Key, section: bool = False) -> str:
    """`` (did you mean x?)`` for an unknown key: a close name in its section, else the same
    name in another section, else a close dotted name."""
    model = _section_model(key[:-1])
    known = {".".join(k): k for k in _known_keys() if section == (_section_model(k) is not None)}
    close = difflib.get_close_matches(key[-1], list(model.model_fields) if model else [], n=1)
    found = [".".join((*key[:-1], close[0]))] if close and ".".join((*key[:-1], close[0])) in known else []
    found = found or [name for name, k in known.items() if k[-1] == key[-1]]
    found = found or difflib.get_close_matches(".".join(key), list(known), n=1, cutoff=0.8)
    if not found:
        return ""
    return f" (did you mean [{found[0]}]?)" if section else f" (did you mean {found[0]}?)"


def _expected(error: Mapping[str, Any]) -> str:
    """What a value should have been, in plain words."""
    ctx = error.get("ctx") or {}
    plain = {
        "float_parsing": "expected a number",
        "float_type": "expected a number",
        "int_parsing": "expected a whole number",
        "int_type": "expected a whole number",
        "int_from_float": "expected a whole number",
        "bool_parsing": "expected true or false",
        "bool_type": "expected true or false",
        "string_type": 'expected a string (in quotes: "...")',
        "list_type": "expected a list, e.g. [1, 2]",
        "dict_type": "expected a table of keys, e.g. {key = 1}",
        "model_type": "expected a section ([name] with keys under it)",
        "model_attributes_type": "expected a section ([name] with keys under it)",
        "greater_than": f"must be greater than {ctx.get('gt')}",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "less_than": f"must be less than {ctx.get('lt')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "literal_error": f"expected {ctx.get('expected')}",
        "enum": f"expected {ctx.get('expected')}",
    }
    return plain.get(error["type"]) or str(error["msg"]).removeprefix("Value error, ")


def _shown(value: Any) -> str:
    """A value as it would be written in TOML (a string in quotes)."""
    try:
        return tomli_w.dumps({"v": value}).strip().removeprefix("v = ")
    except (TypeError, ValueError):
        return repr(value)


def _problems(exc: ValidationError, layers: list[_Layer]) -> list[str]:
    """One line per key with a problem: where it was set, the key, what is wrong."""

    def where(key: Key) -> str:
        for layer in reversed(layers):
            if _is_set(layer.tree, key) or (not key and layer.tree):
                return layer.where(key)
        return "the defaults"

    lines: dict[str, list[str]] = {}
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            is_section = isinstance(error.get("input"), dict)
            dotted = ".".join(loc)
            words = f"unknown section [{dotted}]" if is_section else f"unknown key {dotted}"
            lines.setdefault(f"{where(loc)}: {words}{_suggestion(loc, is_section)}", [])
            continue
        key = _setting_key(loc)
        if _section_model(key) is not None and error["type"] not in ("model_type", "model_attributes_type"):
            # a check across a section's keys (a model validator): name the keys set there
            setters = [k for k in _known_keys() if k[: len(key)] == key and len(k) > len(key)]
            chosen = [k for k in setters if any(_is_set(layer.tree, k) for layer in layers)]
            given = where(chosen[-1]) if chosen else None
            head = f"{given}: " if given else ""
            lines.setdefault(f"{head}{'.'.join(key) or 'configuration'}: {_expected(error)}", [])
            continue
        if _is_table(key) and len(loc) > len(key):  # an entry of a table such as trace.domain_quota
            entry = (*key, loc[len(key)])
            if loc[-1] == "[key]":
                head = f"{where(entry)}: {'.'.join(key)}: key {_shown(error.get('input'))}"
            else:
                head = f"{where(entry)}: {'.'.join(entry)} = {_shown(error.get('input'))}"
        else:
            head = f"{where(key)}: {'.'.join(key)} = {_shown(error.get('input'))}"
        lines.setdefault(head, []).append(_expected(error))
    for why in lines.values():  # a union's members: "expected a whole number or 'defs'"
        why[1:] = [reason.removeprefix("expected ") for reason in why[1:]]
    return [f"{head}: {' or '.join(dict.fromkeys(why))}" if why else head for head, why in lines.items()]


def load_config(
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    assignments: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, str] | None = None,
) -> TracepileConfig:
    """Resolve the configuration.

    ``config_file``: an explicit file (must exist); else ``$TRACEPILE_CONFIG``; else
    ``./tracepile.toml`` when present. ``overrides``: CLI flags as dotted keys (None
    values are ignored), ``flags`` naming the flag of each for messages. ``assignments``:
    ``--set key=value`` strings. A ``ConfigError`` names where a bad key was set.
    """
    environ = os.environ if environ is None else environ
    layers: list[_Layer] = []
    path = config_file or environ.get(f"{ENV_PREFIX}CONFIG")
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = DEFAULT_CONFIG_FILE
    if path is not None:
        layers.append(_file_layer(path))
    layers.append(_env_layer(environ))
    layers.append(_flag_layer(overrides or {}, flags or {}, assignments or []))

    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _deep_merge(merged, layer.tree)
    try:
        config = TracepileConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError("\n".join(_problems(exc, layers))) from exc
    if config.engine == "connect" and not config.remote:
        raise ConfigError("engine 'connect' needs a Spark Connect URL: --remote sc://HOST:PORT")
    return config


def config_to_toml(config: TracepileConfig) -> str:
    return tomli_w.dumps(config.model_dump(exclude_none=True))
