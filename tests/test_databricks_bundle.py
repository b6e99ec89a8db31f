"""The Databricks Asset Bundle (``databricks.yml`` and ``resources/``), checked offline.

``databricks bundle validate`` needs a workspace. What can be known without one is checked
here: the YAML parses (a repeated key is an error, as it is easy to write and silently
wins elsewhere); every ``${...}`` reference resolves in every target; the job converts with
the ``databricks-sdk`` job dataclasses and keeps every key written (``from_dict`` drops
unknown keys, so a typo shows as a lost key); the tasks run the pipeline's stages in its
order, each on the cluster it needs; each task's arguments, passed through the real
``tracepile-job`` entry point, parse with the real CLI and resolve to a valid configuration
under its cluster's environment; and the wheel built by the bundle's build command has the
entry point the tasks name.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import typer
from databricks.sdk.service.jobs import JobSettings
from packaging.requirements import Requirement
from ruamel.yaml import YAML
from typer.testing import CliRunner

import tracepile.cli
from tests.wheel import copy_sources
from tracepile.config import load_config
from tracepile.jobs.stages import pipeline

ROOT = Path(__file__).resolve().parents[1]
BUNDLE_FILE = ROOT / "databricks.yml"
JOB = "tracepile"
TARGETS = ("dev", "prod")
GPU_COMMANDS = frozenset({"generate", "questions", "inputs"})
# The last task: it reads what every stage wrote, and is not part of `tracepile run`.
AFTER_PIPELINE = "export"
# Unity Catalog's dedicated (single-user) access mode, new and legacy names: catalog tables
# without the standard (shared) mode's limits on Python UDFs, which here start the sandbox's
# processes and load vLLM.
DEDICATED = frozenset({"DATA_SECURITY_MODE_DEDICATED", "SINGLE_USER"})

# Keys the CLI's configuration accepts (bundle/config/root.go and target.go, CLI v1.13).
TOP_LEVEL_KEYS = frozenset(
    {
        "bundle", "include", "workspace", "artifacts", "resources", "targets", "environments",
        "variables", "sync", "run_as", "presets", "experimental", "permissions", "scripts", "python",
    }
)  # fmt: skip
TARGET_KEYS = frozenset(
    {
        "default", "mode", "presets", "compute_id", "cluster_id", "bundle", "workspace", "artifacts",
        "resources", "variables", "git", "run_as", "sync", "permissions",
    }
)  # fmt: skip
VARIABLE_KEYS = frozenset({"description", "default", "type", "lookup"})

# A reference segment as the CLI's JSON schema spells it (letters, then letters, digits, - and _).
_SEGMENT = r"[A-Za-z]+(?:[-_]*[A-Za-z0-9]+)*"
_REFERENCE = re.compile(rf"\$\{{({_SEGMENT}(?:\.{_SEGMENT})*)\}}")
_DYNAMIC = re.compile(r"\{\{\s*([^}\s]+)\s*\}\}")
# Dynamic value references the Jobs service fills in at run time (besides job.parameters.*).
RUN_TIME_VALUES = frozenset({"job.id", "job.run_id", "job.start_time.iso_date", "task.name", "task.run_id"})
# What a workspace would tell `bundle validate` about the deploying user.
WORKSPACE_PLACEHOLDERS = {
    "workspace.current_user.short_name": "someone",
    "workspace.current_user.userName": "someone@example.com",
}

_YAML = YAML(typ="safe", pure=True)  # YAML 1.2, as the CLI's Go parser reads it (`on` stays a string)


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return _YAML.load(handle)


def _bundle() -> tuple[dict[str, Any], dict[str, Any], Path]:
    """databricks.yml, the job as written, and the file it is in (its relative paths start there)."""
    root = _load(BUNDLE_FILE)
    jobs: dict[str, tuple[dict[str, Any], Path]] = {
        key: (job, BUNDLE_FILE) for key, job in root.get("resources", {}).get("jobs", {}).items()
    }
    for pattern in root.get("include", []):
        files = sorted(ROOT.glob(pattern))
        assert files, f"include {pattern!r} matches no file"
        for path in files:
            for key, job in (_load(path).get("resources") or {}).get("jobs", {}).items():
                assert key not in jobs, f"job {key!r} is defined in {jobs[key][1]} and {path}"
                jobs[key] = (job, path)
    assert set(jobs) == {JOB}, f"the bundle should define exactly the job {JOB!r}, has {sorted(jobs)}"
    job, job_file = jobs[JOB]
    return root, job, job_file


def _references(root: dict[str, Any], target: str) -> dict[str, Any]:
    """Every ``${...}`` a target can resolve offline: its variables (defaults, then the target's
    values), the bundle's name and target, and placeholders for the deploying user."""
    declared = root["variables"]
    overrides = root["targets"][target].get("variables") or {}
    undeclared = set(overrides) - set(declared)
    assert not undeclared, f"target {target} sets undeclared variables {sorted(undeclared)}"
    values = {name: spec.get("default") for name, spec in declared.items()} | overrides
    unset = sorted(name for name, value in values.items() if value is None)
    assert not unset, f"target {target}: variables without a value: {unset}"
    return {
        **{f"var.{name}": value for name, value in values.items()},
        "bundle.name": root["bundle"]["name"],
        "bundle.target": target,
        **WORKSPACE_PLACEHOLDERS,
    }


def _resolve(node: Any, references: Mapping[str, Any]) -> Any:
    """``node`` with its ``${...}`` references replaced, as the CLI does at deploy time. A string
    that is one whole reference takes the value's own type (the CLI converts it to the field's)."""
    if isinstance(node, dict):
        return {key: _resolve(value, references) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, references) for item in node]
    if not isinstance(node, str):
        return node

    def value(name: str) -> Any:
        assert name in references, f"${{{name}}} refers to nothing the bundle declares"
        return _resolve(references[name], references)  # a variable's value may hold references

    whole = _REFERENCE.fullmatch(node)
    if whole:
        return value(whole.group(1))
    resolved = _REFERENCE.sub(lambda match: str(value(match.group(1))), node)
    assert "${" not in resolved, f"malformed reference left in {node!r}"
    return resolved


def _resolved_job(target: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The job as ``target`` deploys it, and the target's variables."""
    root, job, _ = _bundle()
    assert "resources" not in root["targets"][target], (
        "a target overrides resources: teach this test to merge them, or it checks the wrong job"
    )
    references = _references(root, target)
    variables = {name[len("var.") :]: value for name, value in references.items() if name.startswith("var.")}
    return _resolve(job, references), _resolve(variables, references)


def _tasks(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tasks = {task["task_key"]: task for task in job["tasks"]}
    assert len(tasks) == len(job["tasks"]), "two tasks share a task_key"
    return tasks


def _command(task: dict[str, Any]) -> str:
    return task["python_wheel_task"]["parameters"][0]


def _differences(written: Any, kept: Any, path: str = "job") -> list[str]:
    """Where the SDK's round trip (``kept``) lost or changed what was ``written``."""
    if isinstance(written, dict) and isinstance(kept, dict):
        return [
            problem
            for key, value in written.items()
            for problem in (
                _differences(value, kept[key], f"{path}.{key}")
                if key in kept
                else [f"{path}.{key}: dropped (not a field of the SDK's dataclass: a typo?)"]
            )
        ]
    if isinstance(written, list) and isinstance(kept, list) and len(written) == len(kept):
        return [
            problem
            for index, (item, kept_item) in enumerate(zip(written, kept, strict=True))
            for problem in _differences(item, kept_item, f"{path}[{index}]")
        ]
    return [] if written == kept else [f"{path}: wrote {written!r}, the SDK kept {kept!r}"]


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [text for value in node.values() for text in _strings(value)]
    if isinstance(node, list):
        return [text for item in node for text in _strings(item)]
    return [node] if isinstance(node, str) else []


def _cluster_for(command: str) -> str:
    return "gpu" if command in GPU_COMMANDS else "cpu"


def _gpu_extra() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["project"]["optional-dependencies"]["gpu"]


def test_bundle_parses_with_known_keys_and_two_targets() -> None:
    root, _, job_file = _bundle()
    assert set(root) <= TOP_LEVEL_KEYS, f"unknown top-level keys: {sorted(set(root) - TOP_LEVEL_KEYS)}"
    assert set(root["targets"]) == set(TARGETS)
    for name, target in root["targets"].items():
        assert set(target) <= TARGET_KEYS, f"target {name}: unknown keys {sorted(set(target) - TARGET_KEYS)}"
    assert [name for name, target in root["targets"].items() if target.get("default")] == ["dev"]
    assert root["targets"]["dev"]["mode"] == "development"
    assert root["targets"]["prod"]["mode"] == "production"
    # production mode refuses to deploy without an explicit root path (one copy of the job)
    assert root["targets"]["prod"]["workspace"]["root_path"]
    for name, spec in root["variables"].items():
        unknown = set(spec) - VARIABLE_KEYS
        assert not unknown, f"variable {name}: unknown keys {sorted(unknown)}"
        assert spec.get("description"), f"variable {name} has no description"
    assert job_file.parent == ROOT / "resources"


def test_every_variable_is_used_and_every_reference_resolves() -> None:
    root, job, _ = _bundle()
    used = {name for text in _strings([root, job]) for name in _REFERENCE.findall(text)}
    unused = {f"var.{name}" for name in root["variables"]} - used
    assert not unused, f"declared but never used: {sorted(unused)}"
    for target in TARGETS:
        resolved, _ = _resolved_job(target)
        left = [text for text in _strings(resolved) if "${" in text]
        assert not left, f"{target}: unresolved {left}"


@pytest.mark.parametrize("target", TARGETS)
def test_job_converts_with_the_sdk_and_keeps_every_key(target: str) -> None:
    job, _ = _resolved_job(target)
    settings = JobSettings.from_dict(job)
    problems = _differences(job, settings.as_dict())
    assert not problems, "\n".join(problems)
    # two runs on one lakehouse must not overlap: the second waits in the queue
    assert settings.max_concurrent_runs == 1
    assert settings.queue is not None and settings.queue.enabled
    for task in settings.tasks or []:
        wheel = task.python_wheel_task
        assert wheel is not None, f"{task.task_key}: not a python_wheel_task"
        assert (wheel.package_name, wheel.entry_point) == ("tracepile", "tracepile-job")
        assert wheel.parameters, f"{task.task_key}: no parameters (the first is the command)"


def test_tasks_run_the_pipeline_stages_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no ./tracepile.toml: the defaults, which run every stage
    stages = [stage.name for stage in pipeline(load_config(environ={}), ["algorithms:builtin"])]
    _, job, _ = _bundle()
    tasks = _tasks(job)
    parents: dict[str, list[str]] = {}
    for key, task in tasks.items():
        parents[key] = [dependency["task_key"] for dependency in task.get("depends_on", [])]
        missing = set(parents[key]) - set(tasks)
        assert not missing, f"{key} depends on tasks that do not exist: {sorted(missing)}"
        assert len(parents[key]) <= 1, f"{key} depends on {parents[key]}: the stages form one chain"
    first = [key for key, up in parents.items() if not up]
    assert len(first) == 1, f"one task should start the run, these do: {first}"
    children = {up[0]: key for key, up in parents.items() if up}
    assert len(children) == len(tasks) - 1, "two tasks depend on the same task: the stages form one chain"
    order = [first[0]]
    while order[-1] in children:
        order.append(children[order[-1]])
    assert [_command(tasks[key]) for key in order] == [*stages, AFTER_PIPELINE]
    assert order == [_command(tasks[key]) for key in order], "each task_key should be its command"


@pytest.mark.parametrize("target", TARGETS)
def test_cpu_tasks_on_the_cpu_cluster_and_model_tasks_on_the_gpu_cluster(target: str) -> None:
    job, _ = _resolved_job(target)
    root, _, job_file = _bundle()
    clusters = {cluster["job_cluster_key"]: cluster["new_cluster"] for cluster in job["job_clusters"]}
    assert set(clusters) == {"cpu", "gpu"}
    assert "-gpu-ml-" in clusters["gpu"]["spark_version"], "the GPU cluster needs an ML GPU runtime"
    assert "gpu" not in clusters["cpu"]["spark_version"]
    for key, cluster in clusters.items():
        assert cluster["data_security_mode"] in DEDICATED, f"{key}: not a Unity Catalog dedicated cluster"
    # the wheel the tasks install is the bundle's artifact: <artifact path>/dist/*.whl
    artifact = root["artifacts"]["tracepile"]
    assert artifact["type"] == "whl"
    wheel_glob = (BUNDLE_FILE.parent / artifact["path"] / "dist" / "*.whl").resolve()
    vllm = [{"pypi": {"package": requirement}} for requirement in _gpu_extra()]
    for key, task in _tasks(job).items():
        on_gpu = _command(task) in GPU_COMMANDS
        assert task["job_cluster_key"] == _cluster_for(_command(task)), f"{key} is on the wrong cluster"
        wheels = [library["whl"] for library in task["libraries"] if "whl" in library]
        assert [(job_file.parent / path).resolve() for path in wheels] == [wheel_glob], key
        others = [library for library in task["libraries"] if "whl" not in library]
        # a whl library cannot name the `gpu` extra, so its pins are pypi libraries
        assert others == (vllm if on_gpu else []), f"{key}: libraries {others}"


def _through_the_entry_point(
    package: str, entry_point: str, parameters: list[str], monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """What ``tracepile`` is asked to run when Databricks starts the task: the entry point found
    by name in the package's metadata (as the wheel task does), called with ``sys.argv`` set to
    the parameters on a Databricks runtime; the command itself is recorded, not run."""
    found = [ep for ep in metadata.distribution(package).entry_points if ep.name == entry_point]
    assert len(found) == 1, f"{package} has {len(found)} entry points named {entry_point!r}"
    recorded: list[list[str]] = []
    with monkeypatch.context() as patch:
        patch.setattr(tracepile.cli, "app", recorded.append)
        patch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")
        patch.setattr(sys, "argv", [entry_point, *parameters])
        with pytest.raises(SystemExit) as exited:
            found[0].load()()
    assert exited.value.code in (0, None) and len(recorded) == 1
    return recorded[0]


def _config_arguments(command: typer.core.TyperCommand, params: Mapping[str, Any]) -> list[str]:
    """The parsed options that ``tracepile config show`` also takes, as arguments again."""
    arguments: list[str] = []
    for option in command.params:
        value = params.get(option.name)
        if value is None:
            continue
        for item in value if option.multiple else [value]:
            arguments += [option.opts[0], str(item)]
    return arguments


@pytest.mark.parametrize("target", TARGETS)
def test_task_arguments_parse_and_resolve_to_the_catalog_lakehouse(
    target: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    job, var = _resolved_job(target)
    monkeypatch.chdir(tmp_path)  # no ./tracepile.toml
    for name in [name for name in os.environ if name.startswith("TRACEPILE_")]:
        monkeypatch.delenv(name)
    job_parameters = {parameter["name"]: parameter["default"] for parameter in job["parameters"]}
    clusters = {cluster["job_cluster_key"]: cluster["new_cluster"] for cluster in job["job_clusters"]}
    cli = typer.main.get_command(tracepile.cli.app)
    show = cli.commands["config"].commands["show"]
    volume = f"/Volumes/{var['catalog']}/{var['schema']}/{var['volume']}"

    def run_time(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("job.parameters."):
            assert name.removeprefix("job.parameters.") in job_parameters, f"no job parameter {name}"
            return job_parameters[name.removeprefix("job.parameters.")]
        assert name in RUN_TIME_VALUES, f"{{{{{name}}}}} is not a dynamic value reference"
        return match.group(0)  # filled in by the Jobs service; a plain string to the CLI

    for key, task in _tasks(job).items():
        wheel = task["python_wheel_task"]
        parameters = [_DYNAMIC.sub(run_time, parameter) for parameter in wheel["parameters"]]
        argv = _through_the_entry_point(wheel["package_name"], wheel["entry_point"], parameters, monkeypatch)
        command = cli.commands.get(argv[0])
        assert command is not None, f"{key}: {argv[0]!r} is not a tracepile command"
        params = command.make_context(argv[0], argv[1:]).params  # raises on a bad option or value
        assert params["engine"] == "spark", f"{key}: not on the cluster's Spark session"

        environment = clusters[task["job_cluster_key"]].get("spark_env_vars", {})
        shown = CliRunner().invoke(
            tracepile.cli.app, ["config", "show", *_config_arguments(show, params)], env=environment
        )
        assert shown.exit_code == 0, f"{key}: {shown.output}"
        config = tomllib.loads(shown.stdout)
        assert config["lakehouse"] == f"catalog:{var['catalog']}.{var['schema']}", key
        assert "." not in var["catalog"] and "." not in var["schema"]
        # the lease serialises writers of a catalog lakehouse only where it has a folder
        assert config["lease"]["dir"] == f"{volume}/_lease", key
        assert config["gate"]["report_dir"] == f"{volume}/reports", key
        generate = config["generate"]
        if argv[0] in GPU_COMMANDS:
            assert (generate["backend"], generate["model"]) == ("vllm", var["model"]), key
            # every prompt the prompt filter lets through, with a whole generation, fits the engine
            assert generate["max_model_len"] >= generate["max_prompt_tokens"] + generate["max_tokens"]
            assert generate["data_parallel"] == var["gpu_workers"], "one vLLM engine per GPU worker"
        if argv[0] == "ingest":
            assert list(params["source"]) == [var["sources"]]
        if argv[0] == AFTER_PIPELINE:
            assert params["out"].startswith(f"{volume}/exports/"), params["out"]
            assert "{{job.run_id}}" in params["out"], "export needs a new folder on every run"


def test_built_wheel_has_the_entry_point_every_task_names(tmp_path: Path) -> None:
    root, job, _ = _bundle()
    artifact = root["artifacts"]["tracepile"]
    source = tmp_path / "source"
    source.mkdir()
    copy_sources(source)
    # The bundle's own build command, offline: the build backend comes from this environment,
    # so it must be the one pyproject.toml asks for (the dev extra installs it).
    with (source / "pyproject.toml").open("rb") as handle:
        for requirement in map(Requirement, tomllib.load(handle)["build-system"]["requires"]):
            installed = metadata.version(requirement.name)
            assert requirement.specifier.contains(installed), f"{requirement} is needed, {installed} is here"
    build = shlex.split(artifact["build"])
    assert build[:4] == ["python3", "-m", "pip", "wheel"], build
    done = subprocess.run(
        [sys.executable, *build[1:], "--no-build-isolation", "--no-index"],
        cwd=source / artifact["path"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel_path,) = (source / artifact["path"] / "dist").glob("*.whl")  # the artifact's files

    with zipfile.ZipFile(wheel_path) as wheel:
        names = wheel.namelist()
        wheel.extractall(tmp_path / "wheel")
    (info,) = (tmp_path / "wheel").glob("*.dist-info")
    built = metadata.PathDistribution(info)
    for task in job["tasks"]:
        wheel_task = task["python_wheel_task"]
        assert wheel_task["package_name"] == built.metadata["Name"]
        # found by name in any group, as the wheel task looks it up
        found = [ep for ep in built.entry_points if ep.name == wheel_task["entry_point"]]
        assert len(found) == 1, (
            f"{task['task_key']}: {len(found)} entry points named {wheel_task['entry_point']!r}"
        )
        module = found[0].module.replace(".", "/") + ".py"
        assert module in names, f"{module} is not in the wheel"
        assert callable(found[0].load())
