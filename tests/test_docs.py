"""Every shell block in README.md and docs/ is checked: each command names something that exists.

A ``tracepile`` command (also behind ``spark-submit jobs/submit.py``) parses with the real CLI,
options, arguments and ``--set`` keys included; a ``make`` target is in the Makefile; a ``databricks bundle``
target and job are in the bundle; a pip extra is in pyproject.toml; a file of this project
that a command reads exists. A command this test does not know fails it, so a new kind of
block gets a check before it lands. Every page the README links exists.
"""

from __future__ import annotations

import itertools
import re
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from ruamel.yaml import YAML
from typer._click.exceptions import ClickException  # typer 0.29 carries its own click
from typer.core import TyperGroup

from tracepile.cli import JOB_COMMANDS, app
from tracepile.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_FENCES = {"bash", "sh", "shell", "console"}

# programs the pages run that belong to the system or to the tools the pages install
# (python, pip, a shell built-in, unzip): nothing of this project to check in them
SYSTEM_PROGRAMS = {"rm", "cp", "unzip", "sed", "curl", "export", "echo", "python3.11", "python3"}
# spark-submit's own options that take a value, as PySpark 4.0.1's spark-submit --help lists them
SPARK_SUBMIT_VALUED = {"--master", "--conf", "--packages", "--py-files", "--jars", "--deploy-mode", "--name"}


@dataclass(frozen=True)
class ShellCommand:
    page: Path
    line: int
    words: list[str]

    def __str__(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}: {shlex.join(self.words)}"


def _blocks(page: Path) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each shell block on the page."""
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M):
        if match.group(1) in SHELL_FENCES:
            yield page.read_text(encoding="utf-8")[: match.start(2)].count("\n") + 1, match.group(2)


def shell_commands() -> list[ShellCommand]:
    """Every command of every shell block: continuations joined, comments, prompts and output
    lines (a ``console`` block's lines without ``$``) left out, loops opened."""
    found: list[ShellCommand] = []
    for page in PAGES:
        for first, text in _blocks(page):
            lines = text.replace("\\\n", " ").splitlines()
            console_block = any(line.startswith("$ ") for line in lines)
            for offset, line in enumerate(lines):
                if console_block:
                    if not line.startswith("$ "):
                        continue
                    line = line[2:]
                words = shlex.split(line, comments=True)
                while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value before a command
                    words = words[1:]
                if words[:1] == ["for"]:
                    words = words[words.index("do") + 1 :] if "do" in words else []
                if not words or words[0] in {"done", "do"}:
                    continue
                found.append(ShellCommand(page, first + offset, [w.rstrip(";") for w in words]))
    return found


COMMANDS = shell_commands()


def _check_tracepile(args: list[str]) -> None:
    """``args`` parse as the real CLI parses them (unknown commands, options and missing
    required values fail), without running anything."""
    command: object = typer.main.get_command(app)
    context = None
    while isinstance(command, TyperGroup):  # tracepile, then config
        assert args, "a command is missing"
        context = command.make_context(args[0], [], parent=context, resilient_parsing=True)
        name, args = args[0], args[1:]
        command = command.get_command(context, name)
        assert command is not None, f"no command {name!r}"
    command.make_context(name, list(args), parent=context)  # type: ignore[attr-defined]
    settings = [value for option, value in itertools.pairwise(args) if option == "--set"]
    load_config(None, assignments=settings, environ={})  # each --set names a real key with a valid value


def _makefile_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(encoding="utf-8"), re.M))


def _bundle() -> tuple[set[str], set[str]]:
    yaml = YAML(typ="safe")
    bundle = yaml.load((REPO / "databricks.yml").read_text(encoding="utf-8"))
    jobs: set[str] = set()
    for resource in sorted((REPO / "resources").glob("*.yml")):
        jobs |= set(
            (yaml.load(resource.read_text(encoding="utf-8")) or {}).get("resources", {}).get("jobs", {})
        )
    return set(bundle["targets"]), jobs


def _check_spark_submit(words: list[str]) -> None:
    index = 1
    while words[index].startswith("--"):
        assert words[index] in SPARK_SUBMIT_VALUED, (
            f"not a spark-submit option this page may use: {words[index]}"
        )
        index += 2
    application, args = words[index], words[index + 1 :]
    assert application == "jobs/submit.py" and (REPO / application).is_file()
    assert args[0] in JOB_COMMANDS, f"jobs/submit.py does not take {args[0]!r}"
    _check_tracepile(args)


def _check_pip(words: list[str]) -> None:
    extras = set(
        tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
            "optional-dependencies"
        ]
    )
    for word in words:
        match = re.fullmatch(r"\.\[([\w,]+)\]", word)
        if match:
            assert set(match.group(1).split(",")) <= extras | {"dev"}, f"no such extra: {word}"


def check(command: ShellCommand) -> None:
    program, words = Path(command.words[0]).name, command.words
    if program == "tracepile":
        _check_tracepile(words[1:])
    elif program == "make":
        assert set(words[1:]) <= _makefile_targets(), f"no such make target in {words[1:]}"
    elif program == "spark-submit":
        _check_spark_submit(words)
    elif program == "spark-class":
        assert words[1] in {"org.apache.spark.deploy.master.Master", "org.apache.spark.deploy.worker.Worker"}
    elif program == "databricks":
        targets, jobs = _bundle()
        assert words[1] == "bundle" and words[2] in {"validate", "deploy", "run"}
        assert words[words.index("-t") + 1] in targets
        if words[2] == "run":
            assert words[3] in jobs, f"no job {words[3]!r} in resources/"
    elif program == "pip":
        _check_pip(words)
    else:
        assert program in SYSTEM_PROGRAMS, f"a command this test does not check: {program}"


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_every_shell_command_in_the_docs_names_what_exists(command: ShellCommand) -> None:
    check(command)


def test_the_docs_have_shell_blocks_and_the_check_catches_a_wrong_one() -> None:
    assert len(COMMANDS) > 30 and any(c.words[0] == "tracepile" for c in COMMANDS)
    page = REPO / "README.md"
    for wrong in (
        ["tracepile", "run", "--smaple"],
        ["tracepile", "exprt"],
        ["tracepile", "trace", "--set", "trace.wall_secs=1"],
        ["make", "demoo"],
        ["spark-submit", "jobs/submit.py", "status"],
        ["pip", "install", "-e", ".[gpus]"],
        ["databricks", "bundle", "run", "tracepile", "-t", "staging"],
        ["wget", "http://example.com"],
    ):
        with pytest.raises((AssertionError, ClickException, ConfigError)):
            check(ShellCommand(page, 1, wrong))


def test_every_page_the_readme_links_exists() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)(?:#[\w-]+)?\)", readme)
    assert links
    missing = [link for link in links if not (REPO / link).is_file()]
    assert not missing
    documented = {link.split("#")[0] for link in links}
    assert {f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")} <= documented
