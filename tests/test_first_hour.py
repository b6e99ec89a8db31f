"""The first mistakes a new user makes, each as the real ``tracepile`` command: one or two plain
lines naming the thing and what to do, the exit code the README lists (2: bad usage,
configuration or engine setup), no Python traceback, and no engine started for a check
that can be made first."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from tests.conftest import run_tracepile
from tests.corruption import BAD_LINES, GOOD
from tracepile import __version__
from tracepile.cli import app
from tracepile.sources.files import source_files
from tracepile.sources.sniffing import is_binary

ENGINE_STARTED = "on engine"  # what the runner prints when a run starts its engine


def _refused(done: subprocess.CompletedProcess[str], code: int, *names: str) -> str:
    """The command's message, checked: exit ``code``, at most two lines, no traceback, no
    engine started, every one of ``names`` in it."""
    said = (done.stdout + done.stderr).strip()
    assert done.returncode == code, said
    assert "Traceback" not in said, said
    assert ENGINE_STARTED not in said, said
    assert 1 <= len(said.splitlines()) <= 2, said
    assert said.startswith("error: "), said
    for name in names:
        assert name in said, (name, said)
    return said


# --- the lakehouse ---------------------------------------------------------------------


@pytest.mark.parametrize("command", [["status"], ["ingest", "--sample"]])
def test_a_lakehouse_that_is_a_file_is_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a lakehouse\n")
    done = run_tracepile(*command, "--lakehouse", str(afile))
    _refused(done, 2, str(afile), "is a file, not a folder")


def test_a_lakehouse_inside_a_file_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x\n")
    done = run_tracepile("ingest", "--sample", "--lakehouse", str(tmp_path / "afile" / "lake"))
    _refused(done, 2, str(tmp_path / "afile"), "cannot be created")


@pytest.mark.parametrize("command", ["status", "page"])
def test_a_missing_lakehouse_is_named_with_how_to_make_one(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nonexist"
    done = run_tracepile(command, "--lakehouse", str(missing))
    _refused(done, 2, f"no lakehouse at {missing}", f"tracepile run --sample --lakehouse {missing}")
    assert not missing.exists()  # looking made nothing


# --- sources ---------------------------------------------------------------------------


def test_an_empty_source_is_named_and_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    _refused(run_tracepile("ingest", "--source", f"codeio:{empty}"), 2, f"codeio:{empty}", "is empty")
    folder = tmp_path / "blank"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(b"\n  \n")
    (folder / "b.jsonl.gz").write_bytes(gzip.compress(b"\n"))
    done = run_tracepile("ingest", "--source", f"codeio:{folder}", "--lakehouse", str(tmp_path / "lake"))
    _refused(done, 2, f"codeio:{folder}", "is empty", "2 files")
    assert not (tmp_path / "lake").exists()  # refused before any work


def test_a_source_whose_records_are_all_bad_is_not_empty(tmp_path: Path) -> None:
    """Rejected records are the reject table's business: such a source is read, not refused."""
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join(raw for raw, _ in BAD_LINES) + b"\n")
    assert source_files("codeio", str(bad)) == [str(bad)]
    one_of_two = tmp_path / "two"
    one_of_two.mkdir()
    (one_of_two / "a.jsonl").write_bytes(b"")
    (one_of_two / "b.jsonl").write_text(json.dumps(GOOD) + "\n")
    assert len(source_files("codeio", str(one_of_two))) == 2


def test_a_binary_source_file_is_refused_by_name_before_any_work(tmp_path: Path) -> None:
    noise = bytes(range(256)) * 8  # NUL bytes and undecodable ones, as /dev/urandom gives
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(noise)
    done = run_tracepile("ingest", "--source", f"codeio:{binary}", "--lakehouse", str(tmp_path / "lake"))
    _refused(done, 2, str(binary), "is not a text JSONL file (binary content)")
    assert not (tmp_path / "lake").exists()
    packed = tmp_path / "bin.jsonl.gz"
    packed.write_bytes(gzip.compress(noise))
    _refused(run_tracepile("ingest", "--source", f"math:{packed}"), 2, str(packed), "binary content")


def test_a_text_file_with_a_few_bad_bytes_is_still_read_line_by_line(tmp_path: Path) -> None:
    """Lines with invalid UTF-8 in a text file stay per-line ``invalid_utf8`` rejects."""
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(b"\n".join(raw for raw, _ in BAD_LINES) + b"\n" + json.dumps(GOOD).encode() + b"\n")
    assert not is_binary(mixed.read_bytes()[:1024])
    assert source_files("codeio", str(mixed)) == [str(mixed)]
    assert not is_binary("naïve ünïcödé — ✓ ".encode() * 60)  # a character cut at 1 KB is no fault
    assert is_binary(b'{"a": 1}\x00\n') and is_binary(bytes(range(128, 256)) * 4)


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("bogus:x.jsonl", ["unknown source kind 'bogus'", "codeio"]),
        ("codeio:/no/such/file.jsonl", ["source path does not exist", "/no/such/file.jsonl"]),
        ("codeio", ["--source expects KIND:PATH", "'codeio'"]),
    ],
)
def test_a_wrong_source_spec_is_one_line(spec: str, names: list[str]) -> None:
    _refused(run_tracepile("ingest", "--source", spec), 2, *names)


# --- sandbox-run -----------------------------------------------------------------------


def test_sandbox_run_names_a_missing_entry_and_the_functions_there_are(tmp_path: Path) -> None:
    program = tmp_path / "p.py"
    program.write_text("def f(x):\n    return x\n\nasync def h():\n    pass\n")
    done = run_tracepile("sandbox-run", str(program), "--entry", "g", "--input", '{"x": 1}')
    _refused(done, 2, f"no function 'g' in {program}; functions defined there: f, h")


def test_sandbox_run_names_the_line_of_a_syntax_error(tmp_path: Path) -> None:
    program = tmp_path / "broken.py"
    program.write_text("def f(x):\n    return x\n\ndef g(:\n    pass\n")
    done = run_tracepile("sandbox-run", str(program), "--entry", "f", "--input", '{"x": 1}')
    _refused(done, 2, f"{program} line 4: SyntaxError")


def test_sandbox_run_of_a_missing_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.py"
    done = run_tracepile("sandbox-run", str(missing), "--entry", "f", "--input", "{}")
    _refused(done, 2, "nope.py", "does not exist")


# --- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[trace]\ncpu_secnds = 3\n",
            "tracepile.toml line 2: unknown key trace.cpu_secnds (did you mean trace.cpu_seconds?)",
        ),
        (
            '[trace]\ncpu_seconds = "abc"\n',
            'tracepile.toml line 2: trace.cpu_seconds = "abc": expected a number',
        ),
        (
            'lakehouse = "x"\n\n[trac]\ncpu_seconds = 3\n',
            "tracepile.toml line 3: unknown section [trac] (did you mean [trace]?)",
        ),
        (
            "[ingest]\nbatch_rows = 10\ncompetition.solutions_per_problem = 0\n",
            "tracepile.toml line 3: ingest.competition.solutions_per_problem = 0: must be greater than 0",
        ),
        ("[generate]\nbackend = 'template'\nbackend_x = 1\n", "line 3: unknown key generate.backend_x"),
        ("[trace]\nwall_seconds = 1\n[dedup]\nbands = \n", "tracepile.toml line 4, column 9: not valid TOML"),
    ],
)
def test_a_config_file_mistake_names_the_file_the_line_and_the_key(
    tmp_path: Path, toml: str, message: str
) -> None:
    (tmp_path / "tracepile.toml").write_text(toml)
    _refused(run_tracepile("config", "show", cwd=tmp_path), 2, message)


def test_a_config_file_given_by_flag_is_named_as_given(tmp_path: Path) -> None:
    config = tmp_path / "mine.toml"
    config.write_text("[export]\nseed = 0\nvalidation_fraction = 2\n")
    done = run_tracepile("config", "show", "--config", str(config))
    _refused(done, 2, f"{config} line 3: export.validation_fraction = 2: must be less than 1")


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--set", "trace.cpu_secnds=3"],
            {},
            "--set: unknown key trace.cpu_secnds (did you mean trace.cpu_seconds?)",
        ),
        (["--set", "trace.cpu_seconds=abc"], {}, '--set: trace.cpu_seconds = "abc": expected a number'),
        (["--set", "trace.backend=vllm"], {}, "unknown key trace.backend (did you mean generate.backend?)"),
        (["--set", "nokey"], {}, "--set nokey: expected KEY=VALUE"),
        (
            [],
            {"TRACEPILE_TRACE__CPU_SECNDS": "3"},
            "environment variable TRACEPILE_TRACE__CPU_SECNDS: unknown key trace.cpu_secnds "
            "(did you mean trace.cpu_seconds?)",
        ),
        ([], {"TRACEPILE_DEDUP__SEED": "-1"}, "environment variable TRACEPILE_DEDUP__SEED: dedup.seed = -1"),
        (["--engine", "bogus"], {}, "--engine: engine = \"bogus\": expected 'local', 'spark' or 'connect'"),
        (
            ["--table-format", "bogus"],
            {},
            "--table-format: table_format = \"bogus\": expected 'delta' or 'parquet'",
        ),
        (["--gate", "bogus"], {}, "--gate: gate.mode = \"bogus\": expected 'fail' or 'warn'"),
        (["--conf", "spark.x"], {}, "--conf expects KEY=VALUE"),
    ],
)
def test_a_flag_or_environment_mistake_names_the_flag_or_variable(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    _refused(run_tracepile("config", "show", *args, cwd=tmp_path, env=env), 2, message)


def test_a_bad_flag_stops_a_stage_command_before_its_engine(tmp_path: Path) -> None:
    done = run_tracepile("ingest", "--sample", "--engine", "bogus", "--lakehouse", str(tmp_path / "lake"))
    _refused(done, 2, "--engine", "bogus")
    assert not (tmp_path / "lake").exists()


# --- other first mistakes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["gate", "bogus/table"], ["no gated table 'bogus/table'", "silver/executions"]),
        (["export", "--format", "bogus", "--out", "x"], ["--format must be one of", "'bogus'"]),
        (["export", "--format", "pretrain", "--out", "x", "--kinds", "cow"], ["--kinds", "'cow'"]),
        (["ingest", "--smaple"], ["No such option: --smaple", "tracepile ingest --help"]),
        (["exprt"], ["No such command 'exprt'", "tracepile --help"]),
        (["run"], ["nothing to ingest", "--source KIND:PATH"]),
    ],
)
def test_other_usage_mistakes_are_one_or_two_lines(tmp_path: Path, args: list[str], names: list[str]) -> None:
    _refused(
        run_tracepile(*args, "--lakehouse", str(tmp_path)) if args[0] == "gate" else run_tracepile(*args),
        2,
        *names,
    )


def test_an_export_into_an_occupied_folder_stops_before_any_work(tmp_path: Path) -> None:
    occupied = tmp_path / "out"
    occupied.mkdir()
    (occupied / "train.jsonl").write_text("{}\n")
    done = run_tracepile(
        "export", "--format", "pretrain", "--out", str(occupied), "--lakehouse", str(tmp_path / "lake")
    )
    _refused(done, 2, str(occupied), "not empty")
    a_file = tmp_path / "a_file"
    a_file.write_text("x\n")
    done = run_tracepile(
        "export", "--format", "pretrain", "--out", str(a_file), "--lakehouse", str(tmp_path / "lake")
    )
    _refused(done, 2, str(a_file), "not a folder")
    assert not (tmp_path / "lake").exists()


@pytest.mark.spark
def test_page_of_an_unknown_run_is_one_line_and_exit_2(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    done = run_tracepile("page", "unknownrunid", "--lakehouse", str(lake))
    said = (done.stdout + done.stderr).strip()
    assert done.returncode == 2 and "Traceback" not in said, said
    assert said.splitlines()[-1].startswith("error: no run unknownrunid in meta/runs"), said


# --- conventions -----------------------------------------------------------------------


def test_version_prints_the_installed_version() -> None:
    done = run_tracepile("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"tracepile {__version__}\n" and re.fullmatch(r"\d+\.\d+\.\d+.*", __version__)


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    found: list[tuple[tuple[str, ...], object]] = [(path, group)]
    for name, command in getattr(group, "commands", {}).items():
        if not command.hidden:
            found += _commands(command, (*path, name))
    return found


# every command's --help from one process (a process per command costs a minute here)
_HELP_OF_EACH = """
import contextlib, io, json, sys
from tracepile.cli import app
shown = {}
for path in json.loads(sys.argv[1]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            app([*path, "--help"], prog_name="tracepile")
        except SystemExit as exit:
            code = exit.code
    shown[" ".join(path)] = [code, out.getvalue()]
print(json.dumps(shown))
"""


def test_help_keeps_every_bracketed_name_and_shows_real_placeholders() -> None:
    commands = _commands(typer.main.get_command(app))
    assert len(commands) > 15
    paths = json.dumps([list(path) for path, _ in commands])
    done = subprocess.run(
        [sys.executable, "-c", _HELP_OF_EACH, paths],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    helps = json.loads(done.stdout)
    checked = 0
    for path, command in commands:
        code, text = helps[" ".join(path)]
        assert code == 0 and text.startswith("Usage: tracepile"), (path, text)
        shown = " ".join(text.split())
        written = " ".join([command.help or "", *(getattr(p, "help", None) or "" for p in command.params)])
        for bracketed in set(re.findall(r"\[[a-z_.]+\]", written)):  # [trace], [generate] ...
            assert bracketed in shown, (path, bracketed)
            checked += 1
        assert not re.search(r"<(bool|str|int|float|file|list\[str\])>|\{[A-Z_]+\}", shown), (path, shown)
    assert checked >= 8
    ingest = " ".join(helps["ingest"][1].split())
    for placeholder in (
        "--lakehouse PATH",
        "--engine [local|spark|connect]",
        "--set KEY=VALUE",
        "--source KIND:PATH",
        "--table-format [delta|parquet]",
        "--gate [fail|warn]",
        "--sample also ingest",  # a flag: no value
    ):
        assert placeholder in ingest, placeholder
    assert "Usage: tracepile sandbox-run [OPTIONS] FILE" in helps["sandbox-run"][1]
    assert "Usage: tracepile page [OPTIONS] [RUN_ID]" in helps["page"][1]
    top = helps[""][1]
    assert "--version" in top and "--debug" in top


@pytest.mark.spark
def test_an_unexpected_error_is_one_line_unless_debug_asks_for_the_traceback(tmp_path: Path) -> None:
    """A lakehouse whose lease folder is a file: not a user mistake this command checks for,
    so it is reported as unexpected, with its type (exit 1); --debug shows where it came from."""
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "_lease").write_text("not a folder\n")
    config = tmp_path / "tracepile.toml"
    config.write_text(f'lakehouse = "{lake}"\n[lease]\nwait_seconds = 0\n')
    plain = run_tracepile("repair", "--config", str(config))
    said = (plain.stdout + plain.stderr).strip()
    assert plain.returncode == 1 and "Traceback" not in said, said
    error = [line for line in said.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and "Error:" in error[0], said
    assert said.splitlines()[-1] == "(run with --debug for the traceback)"
    debug = run_tracepile("--debug", "repair", "--config", str(config))
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
