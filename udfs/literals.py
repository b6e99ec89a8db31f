"""The Python literals beside the typed JSON of exported rows (``mapInPandas`` body): tools
that need JSON read ``input``/``output``, a person or a trainer reads ``input_literal``
(call arguments for a function, the input dict for a script) and ``output_literal``."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from tracepile.analysis.values import literal_of_json
from tracepile.vocab import RunMode

LITERAL_COLUMNS = ("input_literal", "output_literal")


def _literal(text: str, arguments: bool) -> str | None:
    """None for a text that is not typed JSON (the export's answer check has gold's word on
    every value; a literal that cannot be written leaves the row's JSON form standing)."""
    try:
        return literal_of_json(text, arguments)
    except (ValueError, TypeError, KeyError, RecursionError):
        return None


def add_literals(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    for frame in batches:
        calls = frame["run_mode"] == RunMode.CALL.value
        yield frame.assign(
            input_literal=[_literal(text, call) for text, call in zip(frame["input"], calls, strict=True)],
            output_literal=[_literal(text, False) for text in frame["output"]],
        )
