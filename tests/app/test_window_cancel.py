"""Esc during a streaming method: the partial map stays, marked as cancelled, not final."""

from __future__ import annotations

import threading

from gui_helpers import WAIT_MS
from PySide6.QtCore import Qt

from thulium_desktop.xai.saliency import Cancelled, SaliencyGenerator


class StallingEngine(SaliencyGenerator):
    """The real engine, except that a streaming job stops after its first partial map
    and waits there until it is cancelled: a job caught half way, on demand."""

    stalled = threading.Event()

    def explain(self, image, *args, on_partial=None, cancel=None, **kwargs):
        if on_partial is None:
            return super().explain(image, *args, cancel=cancel, **kwargs)

        def stall(maps, done, total):
            on_partial(maps, done, total)
            if done < total:
                self.stalled.set()
                while not cancel():
                    threading.Event().wait(0.005)
                raise Cancelled("cancelled half way")

        return super().explain(image, *args, on_partial=stall, cancel=cancel, **kwargs)


def test_escape_leaves_a_partial_map_that_says_it_was_cancelled(qtbot, make_window, word_image, monkeypatch):
    monkeypatch.setattr("thulium_desktop.app.worker.PARTIAL_INTERVAL_S", 0.0)
    StallingEngine.stalled.clear()
    window = make_window(StallingEngine)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.show_image(word_image, "minimum")
    window.panel.num_steps.setValue(16)
    with qtbot.waitSignal(window.client.maps.partial, timeout=WAIT_MS):
        window.panel._buttons["integrated"].click()
    qtbot.waitUntil(lambda: "refining… 2 of 16" in window.details.text(), timeout=WAIT_MS)
    assert not window.cancelled.badge.isVisible()
    full_opacity = window.canvas.view.heat.opacity()
    with qtbot.waitSignal(window.client.maps.cancelled, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert "cancelled at 2 of 16" in window.details.text() and "refining" not in window.details.text()
    assert window.status.currentMessage() == "Cancelled at 2 of 16"
    assert window.canvas.view.map is not None, "the partial map is kept"
    assert window.cancelled.badge.isVisible() and "partial" in window.cancelled.badge.text()
    assert window.canvas.view.heat.opacity() < full_opacity

    StallingEngine.stalled.clear()
    with qtbot.waitSignal(window.client.maps.partial, timeout=WAIT_MS):
        window.timeline.select(1)  # asking again resumes refining: no longer marked
    qtbot.waitUntil(lambda: "refining" in window.details.text(), timeout=WAIT_MS)
    assert not window.cancelled.badge.isVisible()
    assert window.canvas.view.heat.opacity() == full_opacity
    with qtbot.waitSignal(window.client.maps.cancelled, timeout=WAIT_MS):
        window.client.cancel()
