"""The `codeio` source kind: one CodeI/O / PyEdu JSON record per line -> a normalised program.

Record fields: ``problem_description, io_requirements, refcode, funcname,
ios[{input, output}], source, category, meta``. ``refcode``, ``funcname`` and ``ios``
are required; the others may be missing or null but never of the wrong type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tracepile.analysis.hashing import canonical_json, content_id
from tracepile.vocab import Domain, IngestReason, SourceKind

SOURCE_KIND = SourceKind.CODEIO

# The raw category is kept beside the domain, which is one of a closed set (vocab.Domain).
_DOMAIN_KEYWORDS = (
    (Domain.COMPETITION, ("competition", "contest", "codeforces", "leetcode", "olympiad")),
    (Domain.MATH, ("math", "arithmetic", "number theory", "geometry", "algebra", "probability")),
    (Domain.LOGIC_PUZZLES, ("puzzle", "logic")),
    (Domain.ALGORITHMS, ("algorithm", "data structure", "graph", "sort", "search", "dynamic")),
)

_REQUIRED = {"refcode": str, "funcname": str, "ios": list}
_OPTIONAL_TEXT = ("problem_description", "io_requirements", "source", "category")


@dataclass(frozen=True)
class Rejection:
    """Why a record did not become a program: a stable ``reason`` and a human ``detail`` (and,
    for a kind that reads a whole file, the line the record starts at)."""

    reason: str
    detail: str
    line: int | None = None


def domain_for_category(category: str) -> str:
    lowered = category.lower()
    for domain, keywords in _DOMAIN_KEYWORDS:
        if any(word in lowered for word in keywords):
            return domain
    return Domain.GENERAL


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _normalise_ios(ios: list[Any]) -> list[dict[str, str | None]] | Rejection:
    inputs: list[dict[str, str | None]] = []
    for index, item in enumerate(ios):
        if not isinstance(item, dict):
            return Rejection(IngestReason.WRONG_TYPE, f"ios[{index}] is {_type_name(item)}, expected object")
        if "input" not in item:
            return Rejection(IngestReason.MISSING_FIELD, f"ios[{index}].input")
        if not isinstance(item["input"], dict):
            got = _type_name(item["input"])
            return Rejection(
                IngestReason.WRONG_TYPE, f"ios[{index}].input is {got}, expected object (kwargs)"
            )
        # A missing "output" means unknown (SQL NULL); "output": null means the call returns None.
        expected = canonical_json(item["output"]) if "output" in item else None
        inputs.append({"input_json": canonical_json(item["input"]), "expected_output_json": expected})
    return inputs


def parse_codeio_record(raw: bytes) -> dict[str, Any] | Rejection:
    """Parse one line. Returns the program's content fields (with ``program_id``) or why not."""
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
    if not isinstance(record, dict):
        return Rejection(IngestReason.NOT_AN_OBJECT, f"top-level JSON is {_type_name(record)}")

    for field, expected_type in _REQUIRED.items():
        if record.get(field) is None:
            return Rejection(IngestReason.MISSING_FIELD, field)
        if not isinstance(record[field], expected_type):
            got = _type_name(record[field])
            return Rejection(
                IngestReason.WRONG_TYPE, f"{field} is {got}, expected {_type_name(expected_type())}"
            )
    for field in _OPTIONAL_TEXT:
        value = record.get(field)
        if value is not None and not isinstance(value, str):
            return Rejection(IngestReason.WRONG_TYPE, f"{field} is {_type_name(value)}, expected string")

    code: str = record["refcode"]
    if not code.strip():
        return Rejection(IngestReason.EMPTY_CODE, "refcode is blank")
    entry_point: str = record["funcname"].strip()
    if not entry_point.isidentifier():
        return Rejection(
            IngestReason.INVALID_ENTRY_POINT, f"funcname {entry_point[:80]!r} is not an identifier"
        )
    inputs = _normalise_ios(record["ios"])
    if isinstance(inputs, Rejection):
        return inputs

    category = record.get("category") or ""
    content = {
        "source_kind": SOURCE_KIND,
        "source": record.get("source") or "unknown",
        "category": category,
        "problem": record.get("problem_description") or "",
        "io_requirements": record.get("io_requirements") or "",
        "code": code,
        "entry_point": entry_point,
        "inputs": inputs,
    }
    return {
        "program_id": content_id(content),
        **content,
        "domain": domain_for_category(category),
        "meta_json": canonical_json(record["meta"]) if record.get("meta") is not None else None,
    }
