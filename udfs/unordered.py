"""Work through a thread pool without barriers: results as they finish, in any order.

``pool.map`` over a chunk waits for the chunk's slowest item, so one program that runs
to its time limit leaves every other sandbox worker idle until it ends. Here a fixed
number of items is in flight at any time and each finished one is replaced at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def unordered_map(
    pool: ThreadPoolExecutor, function: Callable[[Item], Result], items: Iterable[Item], in_flight: int
) -> Iterator[Result]:
    """``function`` of every item, yielded as each finishes; at most ``in_flight`` items are
    submitted and unfinished at once, so a long input is read as the work goes."""
    pending: set[Future[Result]] = set()
    source = iter(items)
    exhausted = False
    while pending or not exhausted:
        while not exhausted and len(pending) < in_flight:
            item = next(source, _END)
            if item is _END:
                exhausted = True
            else:
                pending.add(pool.submit(function, item))  # type: ignore[arg-type]
        if not pending:
            return
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            yield future.result()


_END = object()
