"""MinHash signatures equal datasketch's; LSH band keys and thresholds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from datasketch import MinHash

from tracepile.analysis.minhash import band_keys, lsh_threshold, shingle_hashes, signatures, token_hashes

PROGRAMS = [
    ["def", "f", "(", "x", ")", ":", "return", "x", "+", "1"],
    ["def", "f", "(", "y", ")", ":", "return", "y", "*", "2", "+", "1"],
    ["a", "b"],  # shorter than a shingle: one padded window
    [str(i) for i in range(300)],
]


def _batch(size: int = 5) -> tuple[np.ndarray, np.ndarray]:
    tokens = [t for program in PROGRAMS for t in program]
    return shingle_hashes(token_hashes(tokens), np.array([len(p) for p in PROGRAMS]), size)


def test_batch_signatures_equal_datasketch_per_program() -> None:
    shingles, counts = _batch()
    batch = signatures(shingles, counts, num_perm=128, seed=1)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for row, (start, stop) in enumerate(itertools.pairwise(offsets)):
        sketch = MinHash(num_perm=128, seed=1, hashfunc=int)
        sketch.update_batch(shingles[start:stop].tolist())
        assert np.array_equal(batch[row], sketch.hashvalues)


def test_windows_stay_inside_their_program() -> None:
    shingles, counts = _batch()
    assert counts.tolist() == [len(PROGRAMS[0]) - 4, len(PROGRAMS[1]) - 4, 1, 296]
    alone, _ = shingle_hashes(token_hashes(PROGRAMS[1]), np.array([len(PROGRAMS[1])]), 5)
    assert np.array_equal(alone, shingles[counts[0] : counts[0] + counts[1]])


def test_chunked_signatures_equal_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    shingles, counts = _batch()
    whole = signatures(shingles, counts, 64, 7)
    monkeypatch.setattr("tracepile.analysis.minhash._MAX_CHUNK_CELLS", 64)  # one program per chunk
    assert np.array_equal(signatures(shingles, counts, 64, 7), whole)


def test_equal_bands_give_equal_keys_and_others_differ() -> None:
    rows = np.tile(np.arange(32, dtype=np.uint32), (2, 1))
    rows[1, 8:] += 1  # band 0 (values 0..7) equal, the other three differ
    keys = band_keys(rows, bands=4, rows=8)
    assert keys[0, 0] == keys[1, 0]
    assert (keys[0, 1:] != keys[1, 1:]).all()
    with pytest.raises(ValueError, match="exceeds"):
        band_keys(rows, bands=5, rows=8)


def test_salts_keep_equal_bands_of_different_salts_apart() -> None:
    rows = np.tile(np.arange(32, dtype=np.uint32), (3, 1))  # three equal signatures
    salted = band_keys(rows, bands=4, rows=8, salts=[7, 7, 2**64 - 1])
    assert (salted[0] == salted[1]).all()
    assert (salted[0] != salted[2]).all()  # another salt: no bucket shared
    assert np.array_equal(band_keys(rows, 4, 8, salts=[0, 0, 0]), band_keys(rows, 4, 8))


def test_threshold_follows_bands_and_rows() -> None:
    assert lsh_threshold(16, 8) == pytest.approx(0.7071, abs=1e-4)
    assert lsh_threshold(20, 5) < lsh_threshold(16, 8) < lsh_threshold(8, 16)
