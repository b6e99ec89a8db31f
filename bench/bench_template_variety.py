"""Phrasing variety and speed of the template renderer, against the previous one.

Runs the first input of each of the first ``--problems`` PyEdu programs in a real sandbox,
renders the ok executions with the current renderer and with the one committed at
``--previous`` (``git show REV:translation/template.py``, loaded as a temporary module,
so nothing of it is copied here), and prints, per renderer: the share of distinct word
4-grams (inline code counted as one word: ``template.phrasing_variety``), texts per
second (median of ``--repeats`` renders of the whole set), how many texts verify and
how many "nothing changes" lines they hold.

Run: ``python bench/bench_template_variety.py [--problems 60] [--repeats 5] [--previous HEAD]``
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console
from rich.table import Table

from tracepile.translation.template import Execution, phrasing_variety, render_coe
from tracepile.translation.verify import verify
from tracepile.udfs.sandbox import Sandbox
from tracepile.vocab import Status

ROOT = Path(__file__).resolve().parents[1]
PYEDU = ROOT.parent / "shared" / "data" / "pyedu_toy.jsonl"


def executions(problems: int) -> list[Execution]:
    """Ok runs of the first input of each of the first ``problems`` programs."""
    records = [json.loads(line) for line in PYEDU.read_text(encoding="utf-8").splitlines()[:problems]]
    runs = []
    with Sandbox(workers=1) as sandbox:
        for record in records:
            input_json = json.dumps(record["ios"][0]["input"])
            result = sandbox.execute(record["refcode"], record["funcname"], input_json)
            if result.status == Status.OK:
                runs.append(
                    Execution(
                        record["funcname"],
                        input_json,
                        result.return_json,
                        result.steps,
                        code=record["refcode"],
                    )
                )
    return runs


def previous_renderer(revision: str) -> ModuleType:
    """The template module as committed at ``revision``, imported from a temporary file."""
    source = subprocess.run(
        ["git", "show", f"{revision}:translation/template.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("template_previous", handle.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    Path(handle.name).unlink()
    return module


def measure(render: Callable[[Any], str], runs: list[Any], repeats: int) -> tuple[list[str], float]:
    """The texts, and the median seconds to render them all."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        texts = [render(run) for run in runs]
        seconds.append(time.perf_counter() - start)
    return texts, statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--previous", default="HEAD", help="git revision of the previous renderer")
    options = parser.parse_args()
    current = executions(options.problems)
    old = previous_renderer(options.previous)
    # every field the previous Execution knows (older ones had no ``code``)
    known = {field.name for field in dataclasses.fields(old.Execution)}
    old_runs = [old.Execution(**{k: v for k, v in vars(e).items() if k in known}) for e in current]
    table = Table(title=f"Template texts of {len(current)} ok PyEdu executions (median of {options.repeats})")
    for column in (
        "renderer",
        "distinct 4-grams",
        "texts/s",
        "verified",
        "'nothing changes' lines",
        "words/text",
    ):
        table.add_column(column, justify="left" if column == "renderer" else "right")
    for name, render, runs in (
        (f"previous ({options.previous})", old.render_coe, old_runs),
        ("current", render_coe, current),
    ):
        texts, seconds = measure(render, runs, options.repeats)
        verified = sum(verify(text, run).ok for text, run in zip(texts, current, strict=True))
        table.add_row(
            name,
            f"{phrasing_variety(texts):.3f}",
            f"{len(texts) / seconds:,.0f}",
            f"{verified}/{len(texts)}",
            str(sum(text.count("nothing changes") for text in texts)),
            f"{statistics.mean(len(text.split()) for text in texts):.0f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
