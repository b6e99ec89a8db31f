"""The floor plan holds: imports run one way, with no cycle, and no two modules share a name.

Every import statement counts, wherever it stands (inside functions, under
``if __name__ == "__main__"``, under ``TYPE_CHECKING``), as read from the source files.
"""

from __future__ import annotations

import ast
from collections import Counter
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from tests.conftest import REPO

# where each package's files live (pyproject's package-dir)
PACKAGES = {
    "tracepile": REPO / "tracepile",
    "tracepile.jobs": REPO / "jobs",
    "tracepile.udfs": REPO / "udfs",
    "tracepile.quality": REPO / "quality",
    "tracepile.translation": REPO / "translation",
}
# the one spark-submit entry script, for every stage: ``spark-submit jobs/submit.py COMMAND``
ENTRY_SCRIPTS = ("submit",)

# entry points -> runner -> stages -> partition code -> pure logic -> tables/config
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "entry points",
        ("tracepile.cli", "tracepile.__main__", *(f"tracepile.jobs.{s}" for s in ENTRY_SCRIPTS)),
    ),
    ("runner", ("tracepile.runner", "tracepile.migrations")),
    # tracepile.execution: what the stages share (the sandbox base, the text backend), so
    # that no stage imports another; it builds on the stage contract, so it sits with them
    ("stages", ("tracepile.jobs.", "tracepile.stage", "tracepile.execution.")),
    (
        "services the stages use",
        (
            "tracepile.quality.",
            "tracepile.lakehouse",
            "tracepile.engine",
            "tracepile.summary",
            "tracepile.interrupts",
            "tracepile.console",
            "tracepile.lease",
            "tracepile.local_model",
            "tracepile.preload",
            "tracepile.insights.",
        ),
    ),
    ("partition code", ("tracepile.udfs.",)),
    ("pure logic", ("tracepile.analysis.", "tracepile.sources.", "tracepile.translation.")),
    (
        "tables and config",
        (
            "tracepile.tables",
            "tracepile.config",
            "tracepile.vocab",
            "tracepile.storage",
            "tracepile.failures",
        ),
    ),
)


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path) -> set[str]:
    """The project modules ``module`` imports (``from pkg import name`` counts ``pkg.name``
    when that is a module, else ``pkg``)."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                targets.add(name if name in MODULES else node.module)
    return {t for t in targets if t in MODULES and t != module}


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _layer(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or (p.endswith(".") and module.startswith(p)) for p in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def test_the_graph_is_read_from_real_files() -> None:
    assert {
        "tracepile.cli",
        "tracepile.runner",
        "tracepile.jobs.trace_stage",
        "tracepile.udfs.sandbox",
    } <= set(GRAPH)
    assert "tracepile.runner" in GRAPH["tracepile.cli"]
    assert "tracepile.cli" in GRAPH["tracepile.jobs.submit"]  # the spark-submit entry, under __main__


def test_no_import_cycle() -> None:
    try:
        tuple(TopologicalSorter(GRAPH).static_order())
    except CycleError as cycle:
        raise AssertionError(f"import cycle: {' -> '.join(cycle.args[1])}") from None


def test_imports_run_one_way() -> None:
    upward = [
        f"{module} ({LAYERS[_layer(module)][0]}) imports {target} ({LAYERS[_layer(target)][0]})"
        for module, targets in GRAPH.items()
        for target in targets
        if _layer(target) < _layer(module)
    ]
    assert not upward, "\n".join(upward)


def test_no_two_modules_share_a_file_name() -> None:
    names = Counter(path.name for path in MODULES.values() if path.name not in ("__init__.py", "__main__.py"))
    assert [name for name, count in names.items() if count > 1] == []


def test_nothing_imports_a_spark_submit_entry_script() -> None:
    entries = {f"tracepile.jobs.{s}" for s in ENTRY_SCRIPTS}
    importers = {module: targets & entries for module, targets in GRAPH.items() if targets & entries}
    assert importers == {}


def _runs_as_a_script(path: Path) -> bool:
    """Whether the file has an ``if __name__ == "__main__":`` block."""
    return any(
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
    )


def test_one_spark_submit_entry_script_for_every_stage() -> None:
    """``jobs/`` has one script to submit (``jobs/submit.py COMMAND``), not one per stage."""
    jobs = {m: path for m, path in MODULES.items() if m.startswith("tracepile.jobs.")}
    scripts = {m for m, path in jobs.items() if _runs_as_a_script(path)}
    assert scripts == {f"tracepile.jobs.{s}" for s in ENTRY_SCRIPTS}


def test_no_stage_imports_another_stage() -> None:
    """A stage's module (``jobs/*_stage.py``) imports no other stage's module, and what the
    stages share (``tracepile/execution/``) imports none: a change to one stage breaks no other."""
    stages = {m for m in GRAPH if m.startswith("tracepile.jobs.") and m.endswith("_stage")}
    assert {"tracepile.jobs.trace_stage", "tracepile.jobs.generate_stage"} <= stages
    shared = {m for m in GRAPH if m.startswith("tracepile.execution.")}
    crossing = sorted(
        f"{module} imports {target}"
        for module in stages | shared
        for target in GRAPH[module] & stages
        if target != module
    )
    assert crossing == [], "\n".join(crossing)


def test_stages_reach_the_engine_only_through_the_runner() -> None:
    """A stage asks its run for the session and partitions (``run.spark``,
    ``run.python_partitions``); only the runner (and the entry points) start engines."""
    stages = {m for m in GRAPH if m.startswith(("tracepile.jobs.", "tracepile.execution."))}
    assert {m for m in stages if "tracepile.engine" in GRAPH[m]} == set()


def test_no_module_of_the_pipeline_is_over_600_lines() -> None:
    """Rooms split by what they do: no module of the stages, the partition code or the pure
    logic is a catch-all."""
    folders = ("tracepile.jobs.", "tracepile.udfs.", "tracepile.translation.", "tracepile.sources.")
    big = {
        module: n
        for module, path in MODULES.items()
        if module.startswith((*folders, "tracepile.analysis."))
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert big == {}
