"""Fixtures the CLI's tests share."""

from __future__ import annotations

import signal

import pytest


@pytest.fixture
def sigint_handler():
    """A SIGINT handler of the test's own, in place for the test and replaced by the
    inherited one afterwards. Not the inherited one itself: a process started in the
    background (`cmd &` without job control) starts with SIGINT ignored, not with
    Python's default_int_handler, and a run must hand back whatever it found."""

    def handler_before_the_run(signum, frame):
        raise AssertionError("the run's own handler should have taken this SIGINT")

    inherited = signal.signal(signal.SIGINT, handler_before_the_run)
    yield handler_before_the_run
    signal.signal(signal.SIGINT, inherited)
