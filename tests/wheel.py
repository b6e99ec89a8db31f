"""Building the project's wheel in a test, offline, without writing into the repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO


def copy_sources(destination: Path) -> None:
    """What the wheel is built from, copied so the build leaves nothing (no ``build/``) here."""
    with (REPO / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)
    setuptools = project["tool"]["setuptools"]
    folders = {"tracepile", *setuptools.get("package-dir", {}).values()}
    for name in ["pyproject.toml", project["project"]["readme"]]:
        shutil.copy2(REPO / name, destination / name)
    for folder in folders:
        shutil.copytree(REPO / folder, destination / folder, ignore=shutil.ignore_patterns("__pycache__"))


def build_wheel(workdir: Path) -> Path:
    """The wheel, built from a copy of the sources under ``workdir`` with this environment's
    setuptools (no build isolation, no package index)."""
    source = workdir / "source"
    source.mkdir(parents=True)
    copy_sources(source)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*command, "-w", str(workdir / "dist"), str(source)], check=True, timeout=300)
    (wheel,) = (workdir / "dist").glob("tracepile-*.whl")
    return wheel
