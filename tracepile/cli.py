"""The ``tracepile`` command: run stages, inspect the lakehouse, show the configuration.

Exit codes: 0 success; 1 the run failed (the run log says why); 2 bad usage or
configuration; 3 a quality gate blocked a batch (it is in quarantine; the message names
the failed checks); 4 the lakehouse is in use by another run (``lease.wait_seconds`` ran
out; the message names that run); 130 interrupted.

A user's mistake (a wrong path or kind of path, bad configuration, an empty or binary
source, a wrong entry name) is one ``error:`` line and exit 2, checked before any engine
starts; anything unexpected is ``error: <type>: <message>`` and exit 1, with the traceback
only under ``tracepile --debug``.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import sys
import typing
import webbrowser
from collections.abc import Callable, Sequence
from importlib import metadata, resources
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tracepile.analysis.pyast import bound_names
from tracepile.config import ConfigError, SandboxLimits, TracepileConfig, config_to_toml, load_config
from tracepile.console import console
from tracepile.engine import EngineError, spark_session
from tracepile.insights.page import ensure_run_page
from tracepile.jobs.check_stage import CheckStage
from tracepile.jobs.dedup_stage import DedupStage
from tracepile.jobs.export_stage import FORMATS, ExportStage, check_export_destination
from tracepile.jobs.generate_stage import GenerateStage
from tracepile.jobs.ingest_stage import IngestStage
from tracepile.jobs.input_prediction_stage import InputPredictionStage
from tracepile.jobs.questions_stage import QuestionsStage
from tracepile.jobs.repair_stage import RepairStage
from tracepile.jobs.rewrite_stage import RewriteStage
from tracepile.jobs.stages import pipeline
from tracepile.jobs.trace_stage import TraceStage
from tracepile.lakehouse import Lakehouse
from tracepile.lease import LeaseHeld, current_holder
from tracepile.local_model import LocalModelError, local_model_server, with_local_model
from tracepile.runner import run_stages
from tracepile.sources.files import SourceError
from tracepile.stage import Stage
from tracepile.tables import ALL_TABLES, GATED_TABLES, RUNS, gated_table, quarantine_spec
from tracepile.udfs.sandbox import Sandbox, SandboxStartError
from tracepile.vocab import ExportKind, RunStatus, SourceKind
from tracepile.vocab import GateMode as GateChoice

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BLOCKED = 3
EXIT_IN_USE = 4
_DEBUG_HINT = "(run with --debug for the traceback)"


class _Debug:
    """Whether ``--debug`` was given: exceptions then go through with their traceback."""

    on = False


def _print_error(message: str) -> None:
    """``error: message``, each line of it, as written (no markup read, never wrapped)."""
    for line in message.splitlines() or [""]:
        console.print(f"[red]error:[/] {escape(line)}", soft_wrap=True, highlight=False)


def _plain_arguments(command: Any) -> None:
    """Show each argument as its placeholder alone, click's way (``FILE``, ``[RUN_ID]``):
    typer 0.29 writes ``{FILE}`` in the usage line and ``FILE <file>`` in the list."""
    for param in command.params:
        if param.param_type_name == "argument" and param.metavar is not None:
            shown = param.metavar if param.required else f"[{param.metavar}]"
            param.display_type_rich = lambda ctx: None
            param.get_usage_pieces = lambda ctx, shown=shown: [shown]
    for sub in getattr(command, "commands", {}).values():
        _plain_arguments(sub)


class TracepileApp(typer.Typer):
    """The ``tracepile`` command: usage errors are one ``error:`` line and exit 2; an unexpected
    exception is ``error: <type>: <message>`` and exit 1 unless ``--debug`` asks for the
    traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        kwargs.setdefault("prog_name", "tracepile")
        try:
            command = typer.main.get_command(self)
            _plain_arguments(command)
            result = command.main(*args, standalone_mode=False, **kwargs)
        except typer.TyperException as exc:  # typer's own click: a bad option, argument or command
            if type(exc).__name__ == "NoArgsIsHelpError":
                exc.show()  # type: ignore[attr-defined]  # `tracepile` alone: the help
            else:
                _print_error(exc.format_message())
                context = getattr(exc, "ctx", None)
                if context is not None:
                    console.print(f"(see {context.command_path} --help)", highlight=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            _print_error("aborted")
            sys.exit(EXIT_FAILED)
        except Exception as exc:
            if _Debug.on:
                raise
            _print_error(f"{type(exc).__name__}: {exc}")
            console.print(_DEBUG_HINT, highlight=False)
            sys.exit(EXIT_FAILED)
        sys.exit(result if isinstance(result, int) else 0)


app = TracepileApp(
    help="Turn Python programs into a verified Chain-of-Execution corpus, on Spark.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
config_app = typer.Typer(
    help="Inspect the resolved configuration.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(config_app, name="config")


def _choices(field: str) -> str:
    """``[a|b|c]``: the values a configuration key takes (its Literal in ``TracepileConfig``)."""
    return "[" + "|".join(typing.get_args(TracepileConfig.model_fields[field].annotation)) + "]"


ConfigFile = Annotated[
    str | None,
    typer.Option("--config", metavar="FILE", help="TOML config file (default ./tracepile.toml if present)"),
]
Engine = Annotated[
    str | None,
    typer.Option(
        "--engine", metavar=_choices("engine"), help="local (embedded Sail, default), spark or connect"
    ),
]
Remote = Annotated[
    str | None, typer.Option("--remote", metavar="URL", help="Spark Connect URL for --engine connect")
]
LakehouseOpt = Annotated[
    str | None,
    typer.Option("--lakehouse", metavar="PATH", help="table root: path, URI, or catalog:<catalog>.<schema>"),
]
TableFormat = Annotated[
    str | None,
    typer.Option("--table-format", metavar=_choices("table_format"), help="delta (default) or parquet"),
]
SparkConf = Annotated[
    list[str] | None,
    typer.Option("--conf", metavar="KEY=VALUE", help="Spark setting (repeatable)"),
]
GateMode = Annotated[
    str | None,
    typer.Option(
        "--gate",
        metavar="[" + "|".join(GateChoice) + "]",
        help="fail (default): a failed quality check quarantines the batch; warn: publish, record",
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="any config key, e.g. ingest.max_record_bytes=1048576 (repeatable)",
    ),
]
Sources = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        metavar="KIND:PATH",
        help="PATH a file, directory or glob (repeatable), e.g. codeio:data/pyedu/, "
        "competition:data/code_contests/, math:data/omi.jsonl, pyfiles:src/mypkg, algorithms:builtin. "
        "Kinds: " + ", ".join(SourceKind),
    ),
]
Sample = Annotated[bool, typer.Option("--sample", help="also ingest the bundled sample of programs")]
# the flag that sets each configuration key, for messages about its value
_FLAGS = {
    "engine": "--engine",
    "remote": "--remote",
    "lakehouse": "--lakehouse",
    "table_format": "--table-format",
    "spark_conf": "--conf",
    "gate.mode": "--gate",
}


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"tracepile {metadata.version('tracepile')}")  # pyproject.toml's, as installed
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_show_version, help="print the version and exit"),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="let an unexpected error through with its Python traceback")
    ] = False,
) -> None:
    """The options before the command: --version, --debug (the app's help is its own)."""
    _Debug.on = debug


def sample_path() -> str:
    return str(resources.files("tracepile") / "sample" / "programs.jsonl")


def _fail(message: str, code: int) -> NoReturn:
    _print_error(message)
    raise typer.Exit(code)


def _local_path(location: str) -> Path | None:
    """The folder a lakehouse location names on this machine (None: a URI or a catalog)."""
    if "://" in location or location.startswith("catalog:"):
        return None
    return Path(location)


def _check_lakehouse(config: TracepileConfig, *, existing: bool) -> None:
    """Stop with exit 2, before any engine starts, when the lakehouse is a local path that
    cannot be one: a file, missing (``existing``: a command that only reads it), or a folder
    that cannot be created or written."""
    path = _local_path(config.lakehouse)
    if path is None:
        return
    if path.exists() and not path.is_dir():
        _fail(f"lakehouse {path} is a file, not a folder: give --lakehouse a folder", EXIT_USAGE)
    if existing:
        if not path.exists():
            _fail(
                f"no lakehouse at {path}: make one with `tracepile run --sample --lakehouse {path}`, "
                "or give --lakehouse the folder of yours",
                EXIT_USAGE,
            )
        return
    nearest = path.absolute()
    while not nearest.exists() and nearest != nearest.parent:
        nearest = nearest.parent
    if not nearest.is_dir():
        _fail(f"lakehouse {path} cannot be created: {nearest} is a file, not a folder", EXIT_USAGE)
    if not os.access(nearest, os.W_OK | os.X_OK):
        what = "is not writable" if nearest == path.absolute() else f"cannot be created in {nearest}"
        _fail(f"lakehouse {path} {what}: give --lakehouse a folder you can write", EXIT_USAGE)


def _resolve_config(
    config_file: str | None,
    engine: str | None,
    remote: str | None,
    lakehouse: str | None,
    table_format: str | None,
    conf: list[str] | None,
    gate: str | None,
    assignments: list[str] | None,
) -> TracepileConfig:
    spark_conf: dict[str, str] = {}
    for item in conf or []:
        key, sep, value = item.partition("=")
        if not sep:
            _fail(f"--conf expects KEY=VALUE, got {item!r}", 2)
        spark_conf[key.strip()] = value.strip()
    overrides = {
        "engine": engine,
        "remote": remote,
        "lakehouse": lakehouse,
        "table_format": table_format,
        "spark_conf": spark_conf or None,
        "gate.mode": gate,
    }
    try:
        return load_config(config_file, overrides=overrides, assignments=assignments, flags=_FLAGS)
    except ConfigError as exc:
        _fail(str(exc), EXIT_USAGE)


def _source_list(sources: list[str] | None, sample: bool) -> list[str]:
    """The --source specs (plus the sample)."""
    chosen = list(sources or [])
    if sample:
        chosen.append(f"{SourceKind.CODEIO}:{sample_path()}")
    if not chosen:
        _fail("nothing to ingest: give --source KIND:PATH (repeatable) or --sample", 2)
    return chosen


def _execute(command: str, config: TracepileConfig, stages: Callable[[], Sequence[Stage]]) -> None:
    """Run the stages through the runner (made first, so a bad --source fails before any engine
    starts); print the summary; exit non-zero unless the run succeeded."""
    _check_lakehouse(config, existing=False)
    try:
        chosen = stages()
    except SourceError as exc:
        _fail(str(exc), 2)
    try:
        summary = run_stages(command, chosen, config)
    except EngineError as exc:
        _fail(str(exc), 2)
    except LeaseHeld as exc:
        _fail(str(exc), EXIT_IN_USE)
    except KeyboardInterrupt:
        _fail("interrupted; the engine was stopped and staging data removed", 130)
    summary.render(Console())
    if summary.status != RunStatus.SUCCEEDED:
        raise typer.Exit(EXIT_BLOCKED if summary.status == RunStatus.BLOCKED else 1)


_CONFIG_OPTIONS = (
    ("config_file", ConfigFile),
    ("engine", Engine),
    ("remote", Remote),
    ("lakehouse", LakehouseOpt),
    ("table_format", TableFormat),
    ("conf", SparkConf),
    ("gate", GateMode),
    ("set_", SetOpt),
)
_SOURCE_OPTIONS = (("source", Sources, None), ("sample", Sample, False))


def _register_command(
    name: str,
    summary: str,
    handler: Callable[..., None],
    with_sources: bool = False,
    target: typer.Typer = app,
    arguments: tuple[tuple[str, Any], ...] = (),
    defaults: dict[str, Any] | None = None,
    former_name: str | None = None,
) -> None:
    """A command taking the configuration options (and --source/--sample when it reads
    sources, and ``arguments`` passed on by name, optional where ``defaults`` has them): the
    option list is declared once, as the command's signature. ``former_name``: a name it
    had, kept working but not listed."""

    def command(**options: Any) -> None:
        config = _resolve_config(*(options[name] for name, _ in _CONFIG_OPTIONS))
        sources = _source_list(options["source"], options["sample"]) if with_sources else None
        handler(config, sources, **{name: options[name] for name, _ in arguments})

    keyword = inspect.Parameter.KEYWORD_ONLY
    given = defaults or {}
    parameters = [
        inspect.Parameter(
            n,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=a,
            default=given.get(n, inspect.Parameter.empty),
        )
        for n, a in arguments
    ]
    parameters += [inspect.Parameter(n, keyword, default=None, annotation=a) for n, a in _CONFIG_OPTIONS]
    if with_sources:
        parameters[len(arguments) : len(arguments)] = [
            inspect.Parameter(n, keyword, default=d, annotation=a) for n, a, d in _SOURCE_OPTIONS
        ]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__doc__ = summary
    target.command(name)(command)
    if former_name:
        target.command(former_name, hidden=True)(command)


def _stages_command(
    name: str, summary: str, stages: Callable[[TracepileConfig, list[str]], Sequence[Stage]], **kwargs: Any
) -> None:
    """A command that runs ``stages(config, sources)`` through the runner."""

    def handler(config: TracepileConfig, sources: list[str] | None) -> None:
        _execute(name, config, lambda: stages(config, sources or []))

    _register_command(name, summary, handler, **kwargs)


LOCAL_MODEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    (
        "local_model",
        Annotated[
            bool,
            typer.Option(
                "--local-model",
                help="write the texts with the local model (the llm extra, docs/model.md): "
                "a llama-cpp server on 127.0.0.1 for the run, the openai backend against it, at most "
                "local_model.max_executions executions per run (the rest stay pending)",
            ),
        ],
    ),
    (
        "model_url",
        Annotated[
            str | None,
            typer.Option(
                "--model-url",
                metavar="URL",
                help="as --local-model, with an already running OpenAI-compatible server "
                "(http://HOST:PORT/v1; local_model.url): nothing is started",
            ),
        ],
    ),
)


def _model_log_dir(config: TracepileConfig) -> Path | None:
    """``<lakehouse>/_local_model`` for a lakehouse on a local path; else a temporary folder."""
    if "://" in config.lakehouse or config.lakehouse.startswith("catalog:"):
        return None
    return Path(config.lakehouse) / "_local_model"


def _model_stages_command(
    name: str, summary: str, stages: Callable[[TracepileConfig, list[str]], Sequence[Stage]], **kwargs: Any
) -> None:
    """A stages command that also takes --local-model / --model-url: the run goes inside the
    local model's server (``tracepile/local_model.py``), with [generate] pointed at it."""

    def handler(
        config: TracepileConfig, sources: list[str] | None, local_model: bool, model_url: str | None
    ) -> None:
        if model_url:
            config = config.model_copy(
                update={"local_model": config.local_model.model_copy(update={"url": model_url})}
            )
        if not (local_model or model_url):
            _execute(name, config, lambda: stages(config, sources or []))
            return
        try:
            with local_model_server(config.local_model, _model_log_dir(config)) as server:
                served = with_local_model(config, server)
                console.print(
                    f"local model {server.model} at {server.base_url}"
                    + (f" (log {server.log})" if server.log else "")
                    + f"; at most {config.local_model.max_executions} executions this run",
                    highlight=False,
                )
                _execute(name, served, lambda: stages(served, sources or []))
        except LocalModelError as exc:
            _fail(str(exc), 2)

    _register_command(
        name,
        summary,
        handler,
        arguments=LOCAL_MODEL_OPTIONS,
        defaults={"local_model": False, "model_url": None},
        **kwargs,
    )


_model_stages_command(
    "run",
    "Run every stage in order (ingest -> dedup -> rewrite -> trace -> generate -> questions -> "
    "inputs; --set rewrites.enabled=false, questions.enabled=false or inputs.enabled=false leaves "
    "those out) and print a summary.\n\n"
    "--local-model: the texts and answers from a real model on this machine (docs/model.md).",
    pipeline,
    with_sources=True,
)
_stages_command(
    "ingest",
    "Read sources into bronze/sources; bad records go to bronze/ingest_rejects with a reason.\n\n"
    "Kinds (--source KIND:PATH, repeatable):\n\n"
    "codeio:data/pyedu/ - CodeI/O / PyEdu JSONL records (plain or gzip; a file, folder or glob); "
    "records with an input_generator and no ios get their inputs by running it in the sandbox.\n\n"
    "competition:data/code_contests/ - problems with solutions and tests: DeepMind CodeContests or "
    "APPS / TACO records (JSONL, gzip, Parquet or Arrow shards); solutions run as stdin/stdout scripts "
    "(ingest.competition.solutions_per_problem, tests_per_solution).\n\n"
    "math:data/openmathinstruct.jsonl - program-of-thought solutions (OpenMathInstruct-1, or "
    "question/code/answer); the printed answer is checked against the expected one.\n\n"
    "pyfiles:src/mypkg - every public top-level function of a tree of .py files "
    "(inputs from its docstring examples, else from its type hints).\n\n"
    "algorithms:builtin - the project's classical algorithms with seeded instances "
    "(ingest.algorithms.sizes, instances, seed).",
    lambda config, sources: [IngestStage(config, sources)],
    with_sources=True,
)
_stages_command(
    "dedup",
    """Filter and deduplicate new bronze/sources rows into silver/programs.

    Static filters, decontamination (dedup.benchmarks), exact and near-duplicate removal
    against the batch and the existing corpus (silver/signatures). Every dropped program
    lands in silver/rejects with a reason (and a duplicate with its keeper_id).
    """,
    lambda config, _: [DedupStage(config)],
)
_stages_command(
    "rewrite",
    """Add verified rewrites of silver/programs: AST transforms checked by differential execution.

    Each original function program gets up to rewrites.per_program variants (renaming, loop
    and comprehension forms, inverted conditions, helpers, reordering, recursion made
    iterative); a variant is kept only if it gives the original's results on every input in
    the sandbox, else it goes to silver/rewrite_rejects with the differing input. Kept ones
    are traced and generated like any program. Options: the [rewrites] section. Resumable.
    """,
    lambda config, _: [RewriteStage(config)],
)
_stages_command(
    "trace",
    """Run every input of silver/programs in the sandbox, traced by snoop, into silver/executions.

    Each run: a run traced by snoop, then an untraced run under another hash seed, compared
    with each other and with the expected output. Limits: the [trace] config section.
    Resumable: inputs already in silver/executions are skipped.
    """,
    lambda config, _: [TraceStage(config)],
)
_model_stages_command(
    "generate",
    """Write a Chain-of-Execution text for every ok execution into gold/coe, verified against it.

    Backend: --set generate.backend=template (default, CPU) | vllm | openai, with
    generate.model and the [generate] section; --local-model: the openai backend against a
    local model server started for the run (docs/model.md). Texts whose final answer or
    stated values disagree with the execution go to gold/coe_rejects. Resumable: done
    generations (same execution, backend, model and prompt) are skipped; generate.max_rows
    bounds a run, the rest stay pending.
    """,
    lambda config, _: [GenerateStage(config)],
)
_stages_command(
    "questions",
    """Ask variable-tracing questions about ok executions; verified answers into gold/questions.

    Kinds: value_after_line, line_count, branch_taken, return_value, first_line_with_value,
    each answered from the trace (a question whose answer depends on the hash seed is not
    asked), by the [generate] backend, and verified like a CoE text; the rest go to
    gold/question_rejects. Options: the [questions] section (per_kind, seed). Resumable.
    """,
    lambda config, _: [QuestionsStage(config)],
)
_model_stages_command(
    "inputs",
    """Predict inputs: for ok executions of called functions, an input that gives the recorded output.

    The prompt shows the code and one return value; the [generate] backend answers (the
    template from the recorded run; --local-model: a local model server, docs/model.md) and
    the input it states is run in the sandbox under both hash seeds: kept in
    gold/input_predictions only where the call returns that output (any such input), the rest
    in gold/input_prediction_rejects. Options: the [inputs] section (max_executions, seed).
    Resumable.
    """,
    lambda config, _: [InputPredictionStage(config)],
)


def _export(config: TracepileConfig, _: None, export_format: str, out: str, kinds: str) -> None:
    if export_format not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)}, got {export_format!r}", 2)
    chosen = [kind.strip() for kind in kinds.split(",") if kind.strip()]
    if not chosen or set(chosen) - set(ExportKind):
        _fail(f"--kinds takes a comma-separated list of {', '.join(ExportKind)}, got {kinds!r}", 2)
    try:
        check_export_destination(out)
    except ValueError as exc:
        _fail(str(exc), EXIT_USAGE)
    _execute("export", config, lambda: [ExportStage(config, export_format, out, chosen)])


_register_command(
    "export",
    """Write gold/coe, gold/questions and gold/input_predictions as training files: deduplicated on
    text, shuffled and split.

    Formats: llamafactory (messages JSONL + dataset_info.json), sharegpt, alpaca, pretrain
    (text JSONL), parquet. Every row carries meta (kind, program_id, execution_id, input,
    output, source, domain, run_mode). The split goes by original program: its rewrites and
    questions land on its side. Options: the [export] section (seed, validation_fraction,
    shard_rows).
    """,
    _export,
    arguments=(
        (
            "export_format",
            Annotated[
                str,
                typer.Option(
                    "--format",
                    metavar="[" + "|".join(FORMATS) + "]",
                    help="llamafactory, sharegpt, alpaca, pretrain or parquet",
                ),
            ],
        ),
        (
            "out",
            Annotated[
                str, typer.Option("--out", metavar="FOLDER", help="a new or empty folder for the files")
            ],
        ),
        (
            "kinds",
            Annotated[
                str,
                typer.Option(
                    "--kinds",
                    metavar="KIND,...",
                    help="what to export, comma-separated: " + ", ".join(ExportKind) + " (all)",
                ),
            ],
        ),
    ),
    defaults={"kinds": ",".join(ExportKind)},
)


def _gate(config: TracepileConfig, _: None, table: str) -> None:
    try:
        spec = gated_table(table)
    except ValueError as exc:
        _fail(str(exc), 2)
    _execute("gate", config, lambda: [CheckStage(config, spec)])


_register_command(
    "gate",
    """Run a table's quality checks on its published rows, on demand.

    The same suite, CHECK constraints and (for silver/executions) ok rate as the gate every
    batch passes. Results go to meta/validations and the run's gate report; nothing is moved.
    Exit code 3 when a check fails (with --gate warn only CHECK constraints count).
    """,
    _gate,
    arguments=(
        (
            "table",
            Annotated[str, typer.Argument(metavar="TABLE", help="layer/name, e.g. silver/executions")],
        ),
    ),
)


_register_command(
    "repair",
    """Remove duplicate keys left by runs that overlapped (before the lakehouse lease).

    Dry run by default: lists each table's duplicate keys and extra rows. With --apply, each
    damaged table is rewritten in one commit keeping the earliest row of each key (the
    earliest run's). Takes the lakehouse's lease like any run; recorded in meta/runs.
    """,
    lambda config, _, apply: _execute("repair", config, lambda: [RepairStage(config, apply)]),
    arguments=(
        (
            "apply",
            Annotated[bool, typer.Option("--apply", help="rewrite the damaged tables (default: dry run)")],
        ),
    ),
    defaults={"apply": False},
)


def _status(config: TracepileConfig, _: None) -> None:
    from pyspark.sql import functions as F

    _check_lakehouse(config, existing=True)
    out = Console()
    try:
        with spark_session(config) as spark:
            lh = Lakehouse(spark, config.lakehouse, config.table_format)
            tables = Table(title=f"lakehouse {lh.location}", title_justify="left")
            for column in ("table", "rows", "version", "description"):
                tables.add_column(column, justify="right" if column in ("rows", "version") else "left")
            quarantines = [quarantine_spec(spec) for spec in GATED_TABLES]
            for spec in [*ALL_TABLES, *(q for q in quarantines if lh.exists(q))]:
                rows, version = lh.count(spec), lh.version(spec)
                tables.add_row(
                    spec.qualified_name,
                    "absent" if rows is None else f"{rows:,}",
                    "-" if version is None else str(version),
                    spec.description,
                )
            out.print(tables)
            holder = current_holder(config.lakehouse, config.lease)
            if holder is not None:
                out.print(f"in use by {holder.describe()}", highlight=False)
            if not lh.exists(RUNS):
                out.print("no runs recorded yet")
                return
            last = lh.read(RUNS).orderBy(F.col("started_at").desc()).limit(1).collect()[0]
            out.print(
                f"last run: {last['run_id']} ({last['command']}) {last['status']}, "
                f"finished {last['finished_at']:%Y-%m-%d %H:%M:%S}"
            )
    except EngineError as exc:
        _fail(str(exc), 2)


def _page(config: TracepileConfig, _: None, run_id: str | None, open_page: bool, any_command: bool) -> None:
    _check_lakehouse(config, existing=True)
    try:
        with spark_session(config) as spark:
            location = ensure_run_page(
                Lakehouse(spark, config.lakehouse, config.table_format), config, run_id, any_command
            )
    except EngineError as exc:
        _fail(str(exc), 2)
    except LookupError as exc:
        hint = "; `tracepile status` names the last run" if run_id else "; a run writes one"
        _fail(f"{exc}{hint}", EXIT_USAGE)
    except ValueError as exc:
        _fail(str(exc), 2)
    typer.echo(location)
    if open_page:
        webbrowser.open(Path(location).as_uri() if "://" not in location else location)


_register_command(
    "page",
    """Print where a run's page is, or open it with --open.

    Without RUN_ID: the latest pipeline run's (`tracepile run`), or with --any the latest
    run of any command (an export, a repair).

    The page: status mix per stage, reject reasons, trace-length and token-length
    histograms, domain/source mix and throughput per stage, for the run and for the whole
    corpus, with its facts beside it as facts.json. Every run writes its own; a missing one
    is made again from meta/runs.
    """,
    _page,
    arguments=(
        (
            "run_id",
            Annotated[
                str | None,
                typer.Argument(metavar="RUN_ID", help="a run id (see meta/runs); default the latest"),
            ],
        ),
        ("open_page", Annotated[bool, typer.Option("--open", help="open the page in a browser")]),
        (
            "any_command",
            Annotated[
                bool,
                typer.Option(
                    "--any", help="the latest run of any command (default: the latest pipeline run)"
                ),
            ],
        ),
    ),
    defaults={"run_id": None, "open_page": False, "any_command": False},
    former_name="report",
)


_register_command(
    "status", "Tables (quarantine included) with row counts and Delta versions, and the last run.", _status
)
_register_command(
    "show",
    "Print the configuration as resolved from defaults, file, environment and flags (TOML).",
    lambda config, _: typer.echo(config_to_toml(config), nl=False),
    target=config_app,
)


_TRACE_DEFAULT = "default: [trace] in the config"


def _entry_program(file: Path, entry: str) -> str:
    """The text of ``file``, checked before anything runs: UTF-8, valid Python, and binding the
    name ``entry`` somewhere (exit 2 naming the line, or the functions the file defines)."""
    try:
        source = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        _fail(f"{file} is not UTF-8 text (byte {exc.start}): give a .py file", EXIT_USAGE)
    try:
        tree = ast.parse(source, filename=str(file))
    except SyntaxError as exc:
        _fail(f"{file} line {exc.lineno}: SyntaxError: {exc.msg}", EXIT_USAGE)
    bound = bound_names(tree)
    if entry not in bound and "*" not in bound:  # a star import may bring it: the sandbox will say
        functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        defined = ", ".join(functions) if functions else "none"
        _fail(f"no function {entry!r} in {file}; functions defined there: {defined}", EXIT_USAGE)
    return source


@app.command("sandbox-run")
def sandbox_run(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="the program, a .py file", exists=True, dir_okay=False),
    ],
    entry: Annotated[str, typer.Option("--entry", metavar="NAME", help="the function to call")],
    input_json: Annotated[
        str, typer.Option("--input", metavar="JSON", help="JSON object of keyword arguments")
    ],
    expected_json: Annotated[
        str | None, typer.Option("--expected", metavar="JSON", help="expected return value (JSON)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    cpu_seconds: Annotated[
        float | None, typer.Option(metavar="SECONDS", help=f"CPU time limit; {_TRACE_DEFAULT}")
    ] = None,
    wall_seconds: Annotated[
        float | None, typer.Option(metavar="SECONDS", help=f"wall-clock limit; {_TRACE_DEFAULT}")
    ] = None,
    memory_mb: Annotated[
        int | None, typer.Option(metavar="MB", help=f"address-space limit; {_TRACE_DEFAULT}")
    ] = None,
    output_bytes: Annotated[
        int | None, typer.Option(metavar="BYTES", help=f"cap on stdout + stderr; {_TRACE_DEFAULT}")
    ] = None,
    trace_lines: Annotated[
        int | None, typer.Option(metavar="LINES", help=f"trace budget in lines; {_TRACE_DEFAULT}")
    ] = None,
    untraced_calls: Annotated[
        bool | None,
        typer.Option(
            help=f"calls made by the entry function run untraced (same snoop text); {_TRACE_DEFAULT}"
        ),
    ] = None,
    config_file: ConfigFile = None,
    set_: SetOpt = None,
) -> None:
    """Run one program in the sandbox, as the trace stage does: a traced run, then an untraced
    run under another hash seed; prints the status, return value, output and trace. Limits
    come from the [trace] section of the config (file, environment, --set); flags override.

    Exit code 0 when the status is ok, 1 otherwise, 2 on bad usage.
    """
    try:
        kwargs = json.loads(input_json)
        if expected_json is not None:
            json.loads(expected_json)
    except json.JSONDecodeError as exc:
        _fail(f"--input and --expected take JSON: {exc}", 2)
    if not isinstance(kwargs, dict):
        _fail("--input must be a JSON object of keyword arguments", 2)
    source = _entry_program(file, entry)
    flags = {
        "cpu_seconds": cpu_seconds,
        "wall_seconds": wall_seconds,
        "memory_bytes": None if memory_mb is None else memory_mb << 20,
        "output_bytes": output_bytes,
        "trace_lines": trace_lines,
        "untraced_calls": untraced_calls,
    }
    assignments = [
        *(set_ or []),
        *(f"trace.{key}={json.dumps(v)}" for key, v in flags.items() if v is not None),
    ]
    config = _resolve_config(config_file, None, None, None, None, None, None, assignments)
    limits: SandboxLimits = config.trace
    try:
        with Sandbox(workers=1) as sandbox:
            result = sandbox.execute(source, entry, input_json, expected_json, limits)
    except SandboxStartError as exc:
        _fail(str(exc), 2)
    report = {
        "status": result.status,
        "return_value": json.loads(result.return_json) if result.return_json is not None else None,
        "stdout": result.stdout,
        "error": result.error,
        "steps": result.steps,
        "trace_text": result.trace_text,
        "cpu_s": result.cpu_s,
        "wall_s": result.wall_s,
    }
    if as_json:
        typer.echo(json.dumps(report))
    else:
        out = Console()
        colour = "green" if result.status == "ok" else "red"
        out.print(
            f"status [{colour}]{result.status}[/] (cpu {result.cpu_s:.3f} s, wall {result.wall_s:.3f} s)"
        )
        for name in ("error", "stdout"):
            if report[name]:
                out.print(f"{name}: {report[name]}", markup=False)
        if result.return_json is not None:
            out.print(f"return value: {result.return_json}", markup=False)
        if result.trace_text:
            out.print(result.trace_text, markup=False, highlight=False)
    if result.status != "ok":
        raise typer.Exit(1)


# the commands that run stages through the runner: what ``spark-submit jobs/submit.py`` takes
JOB_COMMANDS = (
    "run",
    "ingest",
    "dedup",
    "rewrite",
    "trace",
    "generate",
    "questions",
    "inputs",
    "export",
    "gate",
    "repair",
)


def main_for_job(command: str, argv: list[str]) -> NoReturn:
    """``tracepile COMMAND ARGV`` with the engine defaulting to the submitting Spark (under
    ``spark-submit`` or on Databricks); for ``jobs/submit.py`` and ``tracepile-job``."""
    under_spark = "PYSPARK_GATEWAY_PORT" in os.environ or "DATABRICKS_RUNTIME_VERSION" in os.environ
    app([command, *(["--engine", "spark"] if under_spark else []), *argv])
    raise SystemExit(0)


def submit(argv: list[str]) -> NoReturn:
    """Entry for ``spark-submit jobs/submit.py COMMAND [OPTIONS]``: one of ``JOB_COMMANDS``,
    with that command's options. A missing or unknown command is one line and exit 2."""
    if not argv or argv[0] not in JOB_COMMANDS:
        problem = f"unknown command {argv[0]!r}" if argv else "no command"
        typer.echo(
            f"{problem}: spark-submit jobs/submit.py COMMAND [OPTIONS], "
            f"COMMAND one of {', '.join(JOB_COMMANDS)}",
            err=True,
        )
        raise SystemExit(2)
    main_for_job(argv[0], argv[1:])


def job() -> NoReturn:
    """The wheel's ``tracepile-job`` script (a Databricks ``python_wheel_task``):
    ``tracepile-job COMMAND [OPTIONS]`` runs ``tracepile COMMAND`` on the cluster's Spark."""
    if len(sys.argv) < 2:
        console.print("usage: tracepile-job COMMAND [OPTIONS] (e.g. tracepile-job ingest --source KIND:PATH)")
        raise SystemExit(2)
    main_for_job(sys.argv[1], sys.argv[2:])
