"""Rows in and out of a ``mapInPandas`` body, with nulls as ``None`` both ways.

pandas 3 reads a null string as NaN (its string dtype's missing value), so a row dict built
with ``to_dict`` holds a float where the table has no value: truthy, not a string, and a
column of them goes back to Arrow as floats that a string field cannot take (pyarrow's
"Expected Array, got ChunkedArray" from a program without ``meta_json``). Every body reads
its rows with ``records`` and builds its output with ``outcome_frame``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd


def records(frames: Iterable[pd.DataFrame]) -> list[dict[str, Any]]:
    """Every row of ``frames`` as a dict, a null value as None."""
    return [
        row for frame in frames for row in frame.astype(object).where(frame.notna(), None).to_dict("records")
    ]


def outcome_frame(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """``rows`` as a frame of ``columns`` (a column a row lacks is None), every column of
    Python objects, so Arrow converts each value to the output schema's type as it is (no
    column of floats where all values are missing)."""
    return pd.DataFrame(
        [[row.get(name) for name in columns] for row in rows], columns=list(columns), dtype=object
    )
