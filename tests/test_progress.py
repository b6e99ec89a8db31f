"""Progress of a batched stage: batches done of total, rows per second, time left."""

from __future__ import annotations

import re
import time

from tracepile.console import console
from tracepile.summary import BatchProgress


def test_each_published_batch_says_how_far_the_stage_is() -> None:
    with console.capture() as captured, BatchProgress("trace", rows=100, batches=4) as progress:
        for rows in (25, 25, 30):
            time.sleep(0.05)
            progress.batch_done(rows)
    lines = captured.get().splitlines()
    assert [re.sub(r", [\d.,]+ rows/s, about \S+ left", "", line) for line in lines] == [
        "trace: batch 1 of 4 published, 25 of 100 rows",
        "trace: batch 2 of 4 published, 50 of 100 rows",
        "trace: batch 3 of 4 published, 80 of 100 rows",
    ]
    rate = float(re.search(r"([\d.,]+) rows/s", lines[-1]).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert 80 / 1.0 < rate < 80 / 0.15  # 80 rows in a little over 0.15 s
    assert lines[-1].endswith("about 0m00s left")  # 20 rows at that rate
