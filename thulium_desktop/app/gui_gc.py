"""Garbage collection on the GUI thread only.

CPython runs its cyclic garbage collector in whichever thread happens to allocate
when a threshold is crossed: with the engine allocating on the worker thread, that
is usually the worker. Unreachable Qt objects (a closed window, a replaced graphics
item) would then be destroyed off the GUI thread while it paints, which crashes Qt
(seen here as aborts and segfaults inside pyqtgraph's paint). pyqtgraph's own advice
is the same: turn automatic collection off and collect from a GUI-thread timer.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QTimer

#: How often the GUI thread checks whether a collection is due.
INTERVAL_MS = 500


def collect_if_due() -> None:
    """Collect the oldest generation whose count passed its threshold, as CPython would."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    for generation in (2, 1, 0):
        if counts[generation] > thresholds[generation]:
            gc.collect(generation)
            return


@contextmanager
def collect_in_gui_thread(interval_ms: int = INTERVAL_MS) -> Iterator[None]:
    """For the block: no automatic collection; a GUI-thread timer collects instead.
    Afterwards everything left is collected (still on this thread) and the
    automatic collector is restored as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    timer = QTimer()
    timer.timeout.connect(collect_if_due)
    timer.start(interval_ms)
    try:
        yield
    finally:
        timer.stop()
        gc.collect()
        if was_enabled:
            gc.enable()
