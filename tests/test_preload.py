"""Slow imports in the background: ready when ``finished()`` returns."""

from __future__ import annotations

import subprocess
import sys


def test_preload_imports_the_slow_libraries_before_finished_returns() -> None:
    """In a fresh interpreter: after ``start()`` and ``finished()`` the gate's and the page's
    libraries are imported, without the caller importing them."""
    probe = (
        "import sys; from tracepile import preload; "
        "assert not any(m in sys.modules for m in preload.SLOW_IMPORTS); "
        "preload.start(); preload.finished(); "
        "print(all(m in sys.modules for m in preload.SLOW_IMPORTS))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
