"""The two-stage Ctrl+C handler respects what the process was started with."""

from __future__ import annotations

import signal

import pytest

from thulium_desktop.cli.interrupt import stop_after_current


@pytest.fixture
def restore_sigint():
    inherited = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, inherited)


def test_an_ignored_sigint_stays_ignored(restore_sigint):
    """A run started with SIGINT ignored (nohup, a background job) is not made stoppable."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with stop_after_current(lambda _: None) as stop:
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and not stop.requested


def test_the_previous_handler_is_back_after_the_run(restore_sigint):
    def mine(signum, frame):
        raise AssertionError("not expected to run")

    signal.signal(signal.SIGINT, mine)
    with stop_after_current(lambda _: None) as stop:
        assert signal.getsignal(signal.SIGINT) == stop._handle
    assert signal.getsignal(signal.SIGINT) is mine
