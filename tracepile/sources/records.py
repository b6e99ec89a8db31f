"""What every source kind's parser shares: why a record was rejected, and one JSON record
decoded from its raw bytes (or the reason it could not be)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tracepile.vocab import IngestReason


@dataclass(frozen=True)
class Rejection:
    """Why a record did not become a program: a stable ``reason`` and a human ``detail`` (and,
    for a kind that reads a whole file, the line the record starts at)."""

    reason: str
    detail: str
    line: int | None = None


def json_type_name(value: Any) -> str:
    """The JSON name of a parsed value's type (``object``, ``array``, ``null``...)."""
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


# a \uD800-\uDFFF escape: legal JSON text, but alone (not in a pair) it decodes to no character
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _lone_surrogate(record: Any) -> bool:
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def decode_record(raw: bytes) -> dict[str, Any] | Rejection:
    """One JSONL line as a JSON object, or why not: invalid UTF-8 or JSON (a lone surrogate
    escape included: no text holds it), or not an object."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection(IngestReason.INVALID_UTF8, f"byte {exc.start}: {exc.reason}")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejection(IngestReason.INVALID_JSON, f"line col {exc.colno}: {exc.msg}")
    except RecursionError:
        return Rejection(IngestReason.INVALID_JSON, "nested too deeply")
    if _SURROGATE_ESCAPE.search(raw) and _lone_surrogate(record):
        return Rejection(IngestReason.INVALID_JSON, "a \\uD800-\\uDFFF escape that is not half of a pair")
    if not isinstance(record, dict):
        return Rejection(IngestReason.NOT_AN_OBJECT, f"top-level JSON is {json_type_name(record)}")
    return record
