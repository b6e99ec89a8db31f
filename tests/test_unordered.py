"""``unordered_map``: results as they finish, never more than ``in_flight`` items at once,
and a slow item holds back nothing but itself (the trace stage's rows)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tracepile.udfs.unordered import unordered_map


def test_every_item_once_in_order_of_finishing() -> None:
    def work(item: float) -> float:
        time.sleep(item)
        return item

    with ThreadPoolExecutor(2) as pool:
        done = list(unordered_map(pool, work, [0.6, 0.01, 0.02, 0.01, 0.03], in_flight=4))
    assert sorted(done) == [0.01, 0.01, 0.02, 0.03, 0.6]
    # the slow first item did not hold back the four quick ones behind it
    assert done[-1] == 0.6


def test_never_more_in_flight_than_asked_and_reads_lazily() -> None:
    lock, running, most = threading.Lock(), [0], [0]
    taken: list[int] = []

    def work(item: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.005)
        with lock:
            running[0] -= 1
        return item * 2

    def items():
        for item in range(40):
            taken.append(item)
            yield item

    with ThreadPoolExecutor(8) as pool:
        results = unordered_map(pool, work, items(), in_flight=3)
        first = next(results)
        assert len(taken) <= 4  # three submitted, one more after the first finished
        rest = list(results)
    assert sorted([first, *rest]) == [2 * i for i in range(40)]
    assert most[0] <= 3


def test_an_error_reaches_the_caller() -> None:
    def work(item: int) -> int:
        if item == 3:
            raise ValueError("bad row")
        return item

    with ThreadPoolExecutor(2) as pool, pytest.raises(ValueError, match="bad row"):
        list(unordered_map(pool, work, range(6), in_flight=2))


def test_nothing_to_do() -> None:
    with ThreadPoolExecutor(1) as pool:
        assert list(unordered_map(pool, lambda x: x, [], in_flight=2)) == []
