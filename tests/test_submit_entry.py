"""``spark-submit jobs/submit.py COMMAND``, the one entry script for every stage, as a plain
Python process (no Spark): a missing or unknown command is one line and exit 2, a known one is
that tracepile command."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tracepile.cli import JOB_COMMANDS, app

SCRIPT = REPO / "jobs" / "submit.py"


def _submit(*args: str) -> subprocess.CompletedProcess[str]:
    # wide enough that the help's lines are not wrapped
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120, cwd=REPO, env=env
    )


def test_every_stage_command_is_a_job_command() -> None:
    commands = {command.name for command in app.registered_commands}
    assert set(JOB_COMMANDS) <= commands
    assert {"run", "ingest", "dedup", "rewrite", "trace", "generate", "questions", "inputs", "export"} <= set(
        JOB_COMMANDS
    )


@pytest.mark.parametrize(
    ("args", "problem"), [((), "no command"), (("bogus", "--lakehouse", "x"), "unknown command 'bogus'")]
)
def test_a_missing_or_unknown_command_is_one_line_listing_the_commands(
    args: tuple[str, ...], problem: str
) -> None:
    done = _submit(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"{problem}: spark-submit jobs/submit.py COMMAND [OPTIONS]")
    assert line.endswith(", ".join(JOB_COMMANDS))
    assert "Traceback" not in done.stderr


def test_a_command_gets_its_own_help() -> None:
    done = _submit("trace", "--help")
    assert done.returncode == 0, done.stderr
    assert "trace [OPTIONS]" in done.stdout
    assert "Run every input of silver/programs in the sandbox, traced by snoop" in done.stdout
    assert "--lakehouse" in done.stdout
