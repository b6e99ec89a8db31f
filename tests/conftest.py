from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYEDU_TOY = REPO.parent / "shared" / "data" / "pyedu_toy.jsonl"


@pytest.fixture(scope="session")
def pyedu_toy() -> Path:
    if not PYEDU_TOY.is_file():
        pytest.skip(f"the shared PyEdu sample is not beside the checkout: {PYEDU_TOY}")
    return PYEDU_TOY


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One embedded Sail session for the whole test session (starts in about a second)."""
    from tracepile.config import TracepileConfig
    from tracepile.engine import spark_session

    with spark_session(TracepileConfig()) as session:
        yield session
