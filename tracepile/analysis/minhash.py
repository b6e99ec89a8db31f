"""MinHash signatures and LSH band keys, vectorised over a whole batch with numpy.

The permutation scheme is datasketch 2.x's default ("affine32"): each 32-bit shingle
hash is pre-mixed with the MurmurHash3 finalizer, then permutation k maps it to
``a_k * h + b_k mod 2**32`` with odd ``a_k``; the parameters come from
``numpy.random.RandomState(seed)`` in datasketch's order. So a signature here equals
``datasketch.MinHash(num_perm, seed).update_batch(...)`` on the same shingle hashes
(a test checks it), which makes the benchmark's agreement a like-for-like comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
import xxhash

_SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_MAX_CHUNK_CELLS = 1 << 22  # shingles x permutations per numpy step: about 16 MB of uint32


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) uint32 arrays of the affine permutations, as datasketch draws them."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def lsh_threshold(bands: int, rows: int) -> float:
    """The Jaccard similarity at which a pair becomes a candidate with probability ~1/2."""
    return float((1.0 / bands) ** (1.0 / rows))


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (a bijection), as datasketch applies it."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def token_hashes(tokens: Sequence[str]) -> np.ndarray:
    """One 32-bit hash per token (xxh32 of its UTF-8 text); each distinct token hashed once."""
    codes, distinct = pd.factorize(pd.Series(tokens, dtype=object), sort=False)
    hashes = (xxhash.xxh32_intdigest(token.encode("utf-8")) for token in distinct)
    return np.fromiter(hashes, dtype=np.uint64, count=len(distinct))[codes]


def shingle_hashes(token_ids: np.ndarray, lengths: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every ``size``-token window of each program, and how many per program.

    ``token_ids`` holds the programs' token hashes back to back (``lengths`` each); windows
    never cross programs, and a program shorter than ``size`` gets one (zero-padded) window.
    """
    lengths = np.asarray(lengths, np.int64)
    if (lengths < size).any():
        pieces = np.split(token_ids, np.cumsum(lengths)[:-1])
        token_ids = np.concatenate([np.pad(piece, (0, max(0, size - len(piece)))) for piece in pieces])
        lengths = np.maximum(lengths, size)
    windows = len(token_ids) - size + 1
    combined = np.zeros(windows, np.uint64)
    for position in range(size):
        combined = combined * _SHINGLE_MULTIPLIER + token_ids[position : position + windows]
    combined ^= combined >> np.uint64(32)
    # a window is valid when it ends inside the program it starts in
    ends = np.cumsum(lengths)
    starts = np.arange(windows)
    valid = starts + size <= ends[np.searchsorted(ends, starts, side="right")]
    return (combined[valid] & np.uint64(0xFFFFFFFF)).astype(np.uint32), lengths - size + 1


def signatures(shingles: np.ndarray, counts: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """(programs, num_perm) uint32 MinHash signatures of shingles laid out as ``shingle_hashes`` returns."""
    a, b = permutations(num_perm, seed)
    counts = np.asarray(counts, np.int64)
    if (counts <= 0).any():
        raise ValueError("every program needs at least one shingle")
    out = np.empty((len(counts), num_perm), np.uint32)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    # Programs go in chunks whose shingles x permutations stay bounded in memory.
    start = 0
    while start < len(counts):
        cells = (offsets[start + 1 :] - offsets[start]) * num_perm
        stop = start + max(1, int(np.searchsorted(cells, _MAX_CHUNK_CELLS, side="right")))
        mixed = _fmix32(shingles[offsets[start] : offsets[stop]])
        permuted = np.multiply.outer(mixed, a)
        permuted += b
        out[start:stop] = np.minimum.reduceat(permuted, offsets[start:stop] - offsets[start], axis=0)
        start = stop
    return out


def band_keys(
    signature_rows: np.ndarray, bands: int, rows: int, salts: Sequence[int] | None = None
) -> np.ndarray:
    """(programs, bands) int64 keys; equal keys in the same band mean equal band values (and
    equal ``salts``: one unsigned 64-bit value per program, the hash's seed, so programs with
    different salts never share a bucket)."""
    if bands * rows > signature_rows.shape[1]:
        raise ValueError(f"bands x rows = {bands * rows} exceeds {signature_rows.shape[1]} permutations")
    seeds = [0] * signature_rows.shape[0] if salts is None else [int(salt) for salt in salts]
    keys = np.empty((signature_rows.shape[0], bands), np.int64)
    for band in range(bands):
        chunk = np.ascontiguousarray(signature_rows[:, band * rows : (band + 1) * rows])
        raw = chunk.view(np.dtype((np.void, chunk.dtype.itemsize * rows))).ravel()
        keys[:, band] = np.fromiter(
            (xxhash.xxh3_64_intdigest(value.tobytes(), seed) for value, seed in zip(raw, seeds, strict=True)),
            dtype=np.uint64,
            count=len(raw),
        ).view(np.int64)
    return keys


def estimated_jaccard(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Row-wise share of equal signature values: the MinHash estimate of Jaccard similarity."""
    return (first == second).mean(axis=1)
