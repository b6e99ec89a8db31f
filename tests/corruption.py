"""Planted bad lines for ingest tests: each kind of damage a real source shows, with its reason."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

GOOD = {
    "problem_description": "Add two numbers.",
    "io_requirements": "Input: a, b (int). Output: int.",
    "refcode": "def main_solution(a, b):\n    return a + b",
    "funcname": "main_solution",
    "ios": [{"input": {"a": 1, "b": 2}, "output": 3}],
    "source": "planted",
    "category": "math",
    "meta": {},
}


def _variant(**changes: object) -> bytes:
    record = {k: v for k, v in GOOD.items() if changes.get(k, "") is not None}
    record.update({k: v for k, v in changes.items() if v is not None})
    return json.dumps(record).encode()


# (raw line, expected reason): 20 lines.
BAD_LINES: list[tuple[bytes, str]] = [
    (b'{"problem_description": "cut off', "invalid_json"),
    (b"{'single': 'quotes'}", "invalid_json"),
    (b"not json at all", "invalid_json"),
    (b'{"a": 1,}', "invalid_json"),
    (b'{"refcode": "x = \xff\xfe"}', "invalid_utf8"),
    (b"\xc3\x28 broken two-byte sequence", "invalid_utf8"),
    (b"[1, 2, 3]", "not_an_object"),
    (b'"just a string"', "not_an_object"),
    (b"42", "not_an_object"),
    (_variant(refcode=None), "missing_field"),
    (_variant(funcname=None), "missing_field"),
    (_variant(ios=None), "missing_field"),
    (_variant(ios="[{}]"), "wrong_type"),
    (_variant(refcode=["def f(): pass"]), "wrong_type"),
    (_variant(problem_description=7), "wrong_type"),
    (_variant(ios=[{"input": [1, 2], "output": 3}]), "wrong_type"),
    (_variant(ios=[{"output": 3}]), "missing_field"),
    (_variant(refcode="   \n\t"), "empty_code"),
    (_variant(refcode=""), "empty_code"),
    (_variant(funcname="main solution()"), "invalid_entry_point"),
]


def write_corrupted_copy(source: Path, target: Path) -> Counter[str]:
    """``source`` with the 20 bad lines spread through it; returns expected reject reasons."""
    good_lines = source.read_bytes().splitlines()
    step = max(1, len(good_lines) // len(BAD_LINES))
    out: list[bytes] = []
    bad = iter(BAD_LINES)
    for index, line in enumerate(good_lines):
        if index % step == 0:
            planted = next(bad, None)
            if planted is not None:
                out.append(planted[0])
        out.append(line)
    out.extend(raw for raw, _ in bad)
    target.write_bytes(b"\n".join(out) + b"\n")
    return Counter(reason for _, reason in BAD_LINES)
