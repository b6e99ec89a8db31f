"""Named points where the crash-safety tests kill a real run, as ``kill -9`` or a lost node would.

``TRACEPILE_TEST_CRASH_AT=<point>`` (set by those tests only) makes the run send SIGKILL to its
whole process group on reaching ``<point>``: nothing unwinds, no handler runs, no staging is
removed. Unset, a point costs one environment lookup. Points: ``<stage>:start``,
``<stage>:staged:<name>`` (mid-stage: an intermediate materialised, nothing published),
``<stage>:published:<layer>/<name>`` (after that table's commit, before the batch's next),
and ``trace:running`` (inside a trace task, after its first runs).
"""

from __future__ import annotations

import os
import signal

ENV = "TRACEPILE_TEST_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.killpg(os.getpgrp(), signal.SIGKILL)
