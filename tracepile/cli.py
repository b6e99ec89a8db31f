"""The ``tracepile`` command: run stages, inspect the lakehouse, show the configuration.

Exit codes: 0 success; 1 the run failed (the run log says why); 2 bad usage or
configuration; 3 a quality gate blocked a batch (it is in quarantine; the message names
the failed checks); 130 interrupted.
"""

from __future__ import annotations

import inspect
import json
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, NoReturn

import pyarrow.fs as pafs
import typer
from rich.console import Console
from rich.table import Table

from tracepile import interrupts
from tracepile.config import ConfigError, TracepileConfig, config_to_toml, load_config
from tracepile.engine import EngineError, spark_session
from tracepile.lakehouse import Lakehouse
from tracepile.quality.gate import GateBlocked
from tracepile.quality.html_report import report_location
from tracepile.report import RunReport, StageReport, console, new_run_id
from tracepile.sources.files import SourceError
from tracepile.storage import filesystem_for
from tracepile.tables import ALL_TABLES, GATED_TABLES, RUNS, gated_table, quarantine_spec
from tracepile.udfs.sandbox import Limits, Sandbox, SandboxStartError

app = typer.Typer(
    help="Turn Python programs into a verified Chain-of-Execution corpus, on Spark.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect the resolved configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")

ConfigFile = Annotated[
    str | None,
    typer.Option("--config", help="TOML config file (default ./tracepile.toml if present)"),
]
Engine = Annotated[
    str | None, typer.Option("--engine", help="local (embedded Sail, default) | spark | connect")
]
Remote = Annotated[str | None, typer.Option("--remote", help="Spark Connect URL for --engine connect")]
LakehouseOpt = Annotated[
    str | None,
    typer.Option("--lakehouse", help="table root: path, URI, or catalog:<catalog>.<schema>"),
]
TableFormat = Annotated[str | None, typer.Option("--table-format", help="delta (default) | parquet")]
SparkConf = Annotated[list[str] | None, typer.Option("--conf", help="Spark setting KEY=VALUE (repeatable)")]
GateMode = Annotated[
    str | None,
    typer.Option(
        "--gate", help="fail (default): a failed quality check quarantines the batch; warn: publish, record"
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="any config key, e.g. ingest.max_record_bytes=1048576 (repeatable)"),
]
Sources = Annotated[
    list[str] | None,
    typer.Option("--source", help="KIND:PATH; PATH a file, directory or glob (repeatable). Kinds: codeio"),
]
Sample = Annotated[bool, typer.Option("--sample", help="also ingest the bundled sample of programs")]


StageRunner = Callable[..., list[StageReport]]
EXIT_BLOCKED = 3


def sample_path() -> str:
    return str(resources.files("tracepile") / "sample" / "programs.jsonl")


def _fail(message: str, code: int) -> NoReturn:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


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
        return load_config(config_file, overrides=overrides, assignments=assignments)
    except ConfigError as exc:
        _fail(str(exc), 2)


def _source_list(sources: list[str] | None, sample: bool) -> list[str]:
    """The --source specs (plus the sample), checked before any engine starts."""
    from tracepile.jobs.ingest import list_source_files

    chosen = list(sources or [])
    if sample:
        chosen.append(f"codeio:{sample_path()}")
    if not chosen:
        _fail("nothing to ingest: give --source KIND:PATH (repeatable) or --sample", 2)
    try:
        list_source_files(chosen)
    except SourceError as exc:
        _fail(str(exc), 2)
    return chosen


def _record_run(lakehouse: Lakehouse, report: RunReport, config: TracepileConfig) -> None:
    row = (
        report.run_id,
        report.command,
        report.status,
        report.started_at,
        report.finished_at,
        config.engine,
        config_to_toml(config),
        report.to_json(),
    )
    lakehouse.append(RUNS, lakehouse.spark.createDataFrame([row], RUNS.schema))


def _execute(
    command: str,
    config: TracepileConfig,
    body: Callable[[Lakehouse, str], list[StageReport]],
) -> None:
    """Run ``body`` in a session; record the run; print the summary; exit non-zero on failure."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop engines, drop staging
    interrupts.install()
    report = RunReport(
        run_id=new_run_id(),
        command=command,
        engine=config.engine,
        lakehouse=config.lakehouse,
        started_at=datetime.now(UTC),
    )
    console.print(f"[bold]tracepile {command}[/]: run {report.run_id} on engine {config.engine}")
    try:
        with spark_session(config) as spark:
            lakehouse = Lakehouse(spark, config.lakehouse, config.table_format)
            report.lakehouse = lakehouse.location
            try:
                report.stages = body(lakehouse, report.run_id)
                report.status = "succeeded"
            except GateBlocked as blocked:
                report.stages, report.status, report.error = blocked.stage_reports, "blocked", str(blocked)
            except Exception as exc:  # recorded in meta/runs and shown; the exit code says failed
                console.print_exception(max_frames=8)
                report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"
            report.finished_at = datetime.now(UTC)
            report.tables = {
                spec.qualified_name: lakehouse.count(spec) for spec in ALL_TABLES if spec != RUNS
            }
            report.quality_report = _existing_report(lakehouse, config, report.run_id)
            _record_run(lakehouse, report, config)
    except EngineError as exc:
        _fail(str(exc), 2)
    except KeyboardInterrupt:
        _fail("interrupted; the engine was stopped and staging data removed", 130)
    report.render(Console())
    if report.status != "succeeded":
        raise typer.Exit(EXIT_BLOCKED if report.status == "blocked" else 1)


def _existing_report(lakehouse: Lakehouse, config: TracepileConfig, run_id: str) -> str | None:
    """The run's HTML quality report, if a gate of this run wrote one."""
    location = report_location(lakehouse, config, run_id)
    if location is None:
        return None
    fs, path, _ = filesystem_for(location)
    return location if fs.get_file_info(path).type == pafs.FileType.File else None


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
) -> None:
    """A command taking the configuration options (and --source/--sample when it reads
    sources, and positional ``arguments`` passed on by name): the option list is declared
    once, as the command's signature."""

    def command(**options: Any) -> None:
        config = _resolve_config(*(options[name] for name, _ in _CONFIG_OPTIONS))
        sources = _source_list(options["source"], options["sample"]) if with_sources else None
        handler(config, sources, **{name: options[name] for name, _ in arguments})

    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=a) for n, a in arguments
    ]
    parameters += [inspect.Parameter(n, keyword, default=None, annotation=a) for n, a in _CONFIG_OPTIONS]
    if with_sources:
        parameters[:0] = [
            inspect.Parameter(n, keyword, default=d, annotation=a) for n, a, d in _SOURCE_OPTIONS
        ]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__doc__ = summary
    target.command(name)(command)


def _stage_runner(name: str, runner: StageRunner) -> Callable[[TracepileConfig, list[str] | None], None]:
    def handler(config: TracepileConfig, sources: list[str] | None) -> None:
        _execute(name, config, lambda lh, run_id: runner(lh.spark, lh, config, sources, run_id))

    return handler


def _ingest_only(*args: Any) -> list[StageReport]:
    from tracepile.jobs.ingest import run_ingest

    return [run_ingest(*args)]


def _whole_pipeline(*args: Any) -> list[StageReport]:
    from tracepile.jobs.pipeline import run_pipeline

    return run_pipeline(*args)


_register_command(
    "run",
    "Run every stage in order (ingest -> dedup -> trace -> generate) and print a summary.",
    _stage_runner("run", _whole_pipeline),
    with_sources=True,
)
_register_command(
    "ingest",
    "Read sources into bronze/sources; bad lines go to bronze/ingest_rejects with a reason.",
    _stage_runner("ingest", _ingest_only),
    with_sources=True,
)


def _dedup_only(
    spark: Any, lakehouse: Lakehouse, config: TracepileConfig, _: Any, run_id: str
) -> list[StageReport]:
    from tracepile.jobs.dedup import run_dedup

    return [run_dedup(spark, lakehouse, config, run_id)]


_register_command(
    "dedup",
    """Filter and deduplicate new bronze/sources rows into silver/programs.

    Static filters, decontamination (dedup.benchmarks), exact and near-duplicate removal
    against the batch and the existing corpus (silver/signatures). Every dropped program
    lands in silver/rejects with a reason.
    """,
    _stage_runner("dedup", _dedup_only),
)


def _trace_only(*args: Any) -> list[StageReport]:
    from tracepile.jobs.trace import run_trace

    spark, lakehouse, config, _, run_id = args  # no sources: trace reads silver/programs
    return [run_trace(spark, lakehouse, config, run_id)]


_register_command(
    "trace",
    """Run every input of silver/programs in the sandbox, traced by snoop, into silver/executions.

    Each run: a run traced by snoop, then an untraced run under another hash seed, compared
    with each other and with the expected output. Limits: the [trace] config section.
    Resumable: inputs already in silver/executions are skipped.
    """,
    _stage_runner("trace", _trace_only),
)


def _generate_only(*args: Any) -> list[StageReport]:
    from tracepile.jobs.generate import run_generate

    spark, lakehouse, config, _, run_id = args  # no sources: generate reads silver/executions
    return [run_generate(spark, lakehouse, config, run_id)]


_register_command(
    "generate",
    """Write a Chain-of-Execution text for every ok execution into gold/coe, verified against it.

    Backend: --set generate.backend=template (default, CPU) | vllm | openai, with
    generate.model and the [generate] section. Texts whose final answer or stated values
    disagree with the execution go to gold/coe_rejects. Resumable: done generations
    (same execution, backend, model and prompt) are skipped.
    """,
    _stage_runner("generate", _generate_only),
)


def _export(config: TracepileConfig, _: None, export_format: str, out: str) -> None:
    from tracepile.jobs.export import FORMATS, run_export

    if export_format not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)}, got {export_format!r}", 2)
    _execute(
        "export", config, lambda lh, run_id: [run_export(lh.spark, lh, config, export_format, out, run_id)]
    )


_register_command(
    "export",
    """Write gold/coe as training files: deduplicated on text, shuffled and split with a seed.

    Formats: llamafactory (messages JSONL + dataset_info.json), sharegpt, alpaca, pretrain
    (text JSONL), parquet. Every row carries meta (program_id, execution_id, input, output,
    source, domain). Options: the [export] section (seed, validation_fraction, shard_rows).
    """,
    _export,
    arguments=(
        (
            "export_format",
            Annotated[
                str, typer.Option("--format", help="llamafactory | sharegpt | alpaca | pretrain | parquet")
            ],
        ),
        ("out", Annotated[str, typer.Option("--out", help="a new or empty folder for the files")]),
    ),
)


def _gate(config: TracepileConfig, _: None, table: str) -> None:
    from tracepile.quality.gate import run_gate

    try:
        spec = gated_table(table)
    except ValueError as exc:
        _fail(str(exc), 2)
    _execute("gate", config, lambda lh, run_id: [run_gate(lh, config, spec, run_id)])


_register_command(
    "gate",
    """Run a table's quality checks on its published rows, on demand.

    The same suite, CHECK constraints and (for silver/executions) ok rate as the gate every
    batch passes. Results go to meta/validations and an HTML report; nothing is moved.
    Exit code 3 when a check fails (with --gate warn only CHECK constraints count).
    """,
    _gate,
    arguments=(("table", Annotated[str, typer.Argument(help="layer/name, e.g. silver/executions")]),),
)


def _status(config: TracepileConfig, _: None) -> None:
    from pyspark.sql import functions as F

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


_register_command(
    "status", "Tables (quarantine included) with row counts and Delta versions, and the last run.", _status
)
_register_command(
    "show",
    "Print the configuration as resolved from defaults, file, environment and flags (TOML).",
    lambda config, _: typer.echo(config_to_toml(config), nl=False),
    target=config_app,
)


@app.command("sandbox-run")
def sandbox_run(
    file: Annotated[Path, typer.Argument(help="the program, a .py file", exists=True, dir_okay=False)],
    entry: Annotated[str, typer.Option("--entry", help="the function to call")],
    input_json: Annotated[str, typer.Option("--input", help="JSON object of keyword arguments")],
    expected_json: Annotated[
        str | None, typer.Option("--expected", help="expected return value (JSON)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    cpu_seconds: Annotated[float, typer.Option(help="CPU time limit")] = Limits.cpu_seconds,
    wall_seconds: Annotated[float, typer.Option(help="wall-clock limit")] = Limits.wall_seconds,
    memory_mb: Annotated[int, typer.Option(help="address-space limit")] = Limits.memory_bytes >> 20,
    output_bytes: Annotated[int, typer.Option(help="cap on stdout + stderr")] = Limits.output_bytes,
    trace_lines: Annotated[int, typer.Option(help="trace budget in lines")] = Limits.trace_lines,
    untraced_calls: Annotated[
        bool, typer.Option(help="calls made by the entry function run untraced (same snoop text, faster)")
    ] = Limits.untraced_calls,
) -> None:
    """Run one program in the sandbox, as the trace stage does: a traced run, then an untraced
    run under another hash seed; prints the status, return value, output and trace.

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
    limits = Limits(
        cpu_seconds=cpu_seconds,
        wall_seconds=wall_seconds,
        memory_bytes=memory_mb << 20,
        output_bytes=output_bytes,
        trace_lines=trace_lines,
        untraced_calls=untraced_calls,
    )
    try:
        with Sandbox(workers=1) as sandbox:
            result = sandbox.execute(
                file.read_text(encoding="utf-8"), entry, input_json, expected_json, limits
            )
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


def main_for_job(command: str, argv: list[str]) -> NoReturn:
    """Entry for ``spark-submit jobs/<stage>.py``: the engine defaults to the submitting Spark."""
    under_spark = "PYSPARK_GATEWAY_PORT" in os.environ or "DATABRICKS_RUNTIME_VERSION" in os.environ
    app([command, *(["--engine", "spark"] if under_spark else []), *argv])
    raise SystemExit(0)
