"""Decontamination: word n-gram overlap between a program and benchmark texts.

Benchmarks are files given in config: JSONL (each line one item; every string in the
record is its text) or plain text (the whole file is one item). A program is contaminated
when its code or problem text shares at least one n-gram of words (lower-cased ``\\w+``
runs) with an item; the detail names the file, the item and the shared words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

_WORD = re.compile(r"\w+")


class BenchmarkError(ValueError):
    """A benchmark file that cannot be read; the message names the file and line."""


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def benchmark_items(path: str) -> Iterator[tuple[str, str]]:
    """(origin, text) for each item of a benchmark file."""
    file = Path(path)
    try:
        if file.suffix == ".jsonl":
            with file.open(encoding="utf-8") as lines:
                for number, line in enumerate(lines, 1):
                    if line.strip():
                        yield f"{file.name}:{number}", "\n".join(_strings(json.loads(line)))
        else:
            yield file.name, file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchmarkError(f"benchmark file {path}: {exc}") from exc


def ngram_hashes(text: str, size: int) -> tuple[list[str], np.ndarray]:
    """The words of ``text`` and the 64-bit hash of each ``size``-word window."""
    words = _WORD.findall(text.lower())
    windows = (" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1))
    return words, np.fromiter(map(xxhash.xxh3_64_intdigest, windows), dtype=np.uint64)


@dataclass(frozen=True)
class BenchmarkIndex:
    """Sorted n-gram hashes of every benchmark item, and the item each came from."""

    ngram_size: int
    hashes: np.ndarray
    origins: tuple[str, ...]
    origin_of: np.ndarray  # index into origins, aligned with hashes

    @classmethod
    def from_files(cls, paths: Sequence[str], ngram_size: int) -> BenchmarkIndex:
        all_hashes: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        origins: list[str] = []
        for path in paths:
            for origin, text in benchmark_items(path):
                _, hashes = ngram_hashes(text, ngram_size)
                all_hashes.append(hashes)
                owners.append(np.full(len(hashes), len(origins), np.int32))
                origins.append(origin)
        hashes = np.concatenate(all_hashes) if all_hashes else np.empty(0, np.uint64)
        owner = np.concatenate(owners) if owners else np.empty(0, np.int32)
        order = np.argsort(hashes, kind="stable")
        return cls(ngram_size, hashes[order], tuple(origins), owner[order])

    def __len__(self) -> int:
        return len(self.hashes)

    def overlap(self, fields: dict[str, str]) -> str | None:
        """A detail naming the first shared n-gram of any field, or None when clean."""
        if not len(self.hashes):
            return None
        for field, text in fields.items():
            words, hashes = ngram_hashes(text, self.ngram_size)
            found = np.flatnonzero(np.isin(hashes, self.hashes))
            if len(found):
                first = int(found[0])
                at = int(np.searchsorted(self.hashes, hashes[first]))
                shared = " ".join(words[first : first + self.ngram_size])
                origin = self.origins[self.origin_of[at]]
                return f"{field} shares {len(found)} {self.ngram_size}-gram(s) with {origin}: '{shared}'"
        return None
