"""The real vLLM backend on a GPU: what the stand-ins of test_translation.py cannot show.

Marked ``gpu``: ``make test`` deselects it (this project's machines have no GPU and no
vllm); ``make test-gpu`` runs it on a GPU machine with the ``gpu`` extra installed and
``VLLM_MODEL`` naming a local model folder (no model hub is assumed). Where one of those is
missing, it is skipped and says which.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import read_delta, run_tracepile

pytestmark = [pytest.mark.gpu, pytest.mark.slow]


def _missing() -> str | None:
    if importlib.util.find_spec("vllm") is None:
        return "vllm is not installed (pip install -e '.[gpu]')"
    if shutil.which("nvidia-smi") is None:
        return "no NVIDIA GPU (nvidia-smi not found)"
    if not os.environ.get("VLLM_MODEL"):
        return "VLLM_MODEL is not set to a local model folder"
    return None


def test_the_vllm_backend_writes_verified_texts_on_the_sample(tmp_path: Path) -> None:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    lakehouse = tmp_path / "lake"
    result = run_tracepile(
        "run", "--sample", "--lakehouse", str(lakehouse),
        "--set", "generate.backend=vllm", "--set", f"generate.model={os.environ['VLLM_MODEL']}",
        "--set", "questions.enabled=false", "--set", "inputs.enabled=false",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    coe = read_delta(lakehouse / "gold" / "coe").to_pylist()
    rejects = read_delta(lakehouse / "gold" / "coe_rejects").to_pylist()
    assert coe, "no text of the model was verified"
    assert {row["backend"] for row in coe} == {"vllm"}
    executions = read_delta(lakehouse / "silver" / "executions").num_rows
    assert len(coe) + len(rejects) <= executions
