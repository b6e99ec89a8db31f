"""Deterministic content ids: the same content gives the same id on every run and engine."""

from __future__ import annotations

import json
from typing import Any

import xxhash


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace (Python's NaN/Infinity kept)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_id(value: Any) -> str:
    """128-bit xxh3 of the canonical JSON of ``value``, as 32 hex characters."""
    return xxhash.xxh3_128_hexdigest(canonical_json(value).encode("utf-8"))
