"""Ctrl+C during a batch run: the first press finishes the current image, the second stops now.

A corpus run can take hours; losing the image in flight is fine, losing the
summary of everything already done is not. The first SIGINT only sets a flag
that the batch loop reads between images; a second one raises KeyboardInterrupt
at once, as Python normally does.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class StopRequest:
    """Set by the first Ctrl+C; `requested` is read by the loop between images."""

    def __init__(self, notify: Callable[[str], None]) -> None:
        self.requested = False
        self._notify = notify

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self._notify("stopping after the current image (press Ctrl+C again to stop at once)")


@contextmanager
def stop_after_current(notify: Callable[[str], None]) -> Iterator[StopRequest]:
    """Install the two-stage Ctrl+C handler for the block and restore the previous one after.

    Signal handlers can only be set from the main thread; elsewhere (a test runner's
    worker, an embedding app) Ctrl+C keeps its usual meaning. A process started with
    SIGINT ignored (`nohup`, a shell's background job) keeps ignoring it, as Unix
    programs do; and a handler set outside Python (which `signal.getsignal` reports
    as None and cannot be put back) is left alone too.
    """
    stop = StopRequest(notify)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if in_main else None
    if previous is None or previous is signal.SIG_IGN:
        yield stop
        return
    signal.signal(signal.SIGINT, stop._handle)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
