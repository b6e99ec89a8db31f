"""Ctrl-C during a run: the first one stops the job at the end of the step in progress."""

from __future__ import annotations

import os
import signal

import pytest

from tracepile import interrupts
from tracepile.summary import step


def test_first_ctrl_c_stops_at_the_end_of_the_current_step() -> None:
    previous = signal.getsignal(signal.SIGINT)
    interrupts.install()
    try:
        finished = []
        with pytest.raises(KeyboardInterrupt), step("a long step"):
            os.kill(os.getpid(), signal.SIGINT)  # delivered to our handler, not raised here
            finished.append("the step ran to its end")
        assert finished == ["the step ran to its end"]
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupts.reset()  # later tests run steps in this process
