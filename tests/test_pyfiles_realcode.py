"""The ``pyfiles`` reader on real public code nobody here wrote: modules of the running
interpreter's standard library whose functions have doctests (``statistics``, ``difflib``).

Every program made from a doctest runs outside the project, in a plain ``python -I``, on its
inputs and gives the doctest's output (a bundle that left out module-level state would not), and
no code or problem shown for an input holds that input's expected output.
"""

from __future__ import annotations

import ast
import doctest
import json
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from tracepile.analysis.values import decode, parse_literal, to_literal, values_equal
from tracepile.config import PyfilesConfig
from tracepile.sources.pyfiles import parse_pyfile, scan_tree
from tracepile.sources.pyfiles_examples import ARROWS
from tracepile.sources.records import Rejection

STDLIB = Path(sysconfig.get_paths()["stdlib"])
MODULES = ("statistics", "difflib")

# Runs one bundle in a fresh interpreter, knowing nothing of the project: each input (a Python
# literal of keyword arguments) -> the repr of the return value, or the exception.
RUNNER = """
import json, sys, types
job = json.load(sys.stdin)
module = types.ModuleType("bundle")
sys.modules["bundle"] = module
exec(compile(job["code"], "bundle.py", "exec"), module.__dict__)
results = []
for kwargs in job["inputs"]:
    try:
        results.append(["ok", repr(getattr(module, job["entry"])(**eval(kwargs)))])
    except Exception as exc:
        results.append(["error", f"{type(exc).__name__}: {exc}"])
print(json.dumps(results))
"""


def read_file(path: str) -> str | None:
    file = Path(path)
    return file.read_text(encoding="utf-8") if file.is_file() else None


@pytest.fixture(scope="module")
def programs() -> list[dict[str, Any]]:
    paths = [str(STDLIB / f"{name}.py") for name in MODULES]
    tree = scan_tree(str(STDLIB), paths)
    rows = [
        row
        for path in paths
        for row in parse_pyfile(
            path, Path(path).read_text(encoding="utf-8"), PyfilesConfig(), tree, read_file
        )
    ]
    for row in rows:
        assert not isinstance(row, Rejection) or row.detail  # every reject says why
    return [row for row in rows if isinstance(row, dict)]


def _doctested(programs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in programs if json.loads(p["meta_json"])["input_origin"] == "doctest"]


def _shown_texts(program: dict[str, Any]) -> list[str]:
    """What a prompt shows in prose: every docstring of the code, and the problem."""
    texts = [program["problem"]]
    for node in ast.walk(ast.parse(program["code"])):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            docstring = ast.get_docstring(node, clean=False)
            texts += [docstring] if docstring else []
    return texts


def test_doctest_programs_reproduce_their_outputs_in_plain_python(programs: list[dict[str, Any]]) -> None:
    doctested = _doctested(programs)
    assert len(doctested) >= 12
    checked = 0
    for program in doctested:
        items = [item for item in program["inputs"] if item["expected_output_json"] is not None]
        job = {
            "code": program["code"],
            "entry": program["entry_point"],
            "inputs": [to_literal(decode(item["input_json"])) for item in items],
        }
        done = subprocess.run(
            [sys.executable, "-I", "-c", RUNNER],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (program["entry_point"], done.stderr[-500:])
        for item, (status, shown) in zip(items, json.loads(done.stdout), strict=True):
            assert status == "ok", (program["entry_point"], item, shown)
            expected = decode(item["expected_output_json"])
            assert values_equal(parse_literal(shown), expected), (program["entry_point"], item, shown)
            checked += 1
    assert checked >= 20  # 28 on Python 3.11


def test_no_prompt_shows_the_answer_to_its_input(programs: list[dict[str, Any]]) -> None:
    """Neither a doctest, nor a written example of the function, nor the expected output on a line
    of its own stands in what is shown for an input."""
    shown_inputs = 0
    for program in programs:
        texts = _shown_texts(program)
        for text in texts:
            assert doctest.DocTestParser().get_examples(text) == [], program["entry_point"]
            assert ">>>" not in text, program["entry_point"]
            for line in text.splitlines():
                assert not (f"{program['entry_point']}(" in line and any(a in line for a in ARROWS)), line
        for item in program["inputs"]:
            if item["expected_output_json"] is None:
                continue
            answer = to_literal(decode(item["expected_output_json"]))
            for text in texts:
                assert answer not in {line.strip() for line in text.splitlines()}, (
                    program["entry_point"],
                    answer,
                )
            shown_inputs += 1
    assert shown_inputs >= 20
