"""On a line, the selected character's map is computed first and shown while the rest of
the line is still being computed, through the real window and worker."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from gui_helpers import SAMPLES, WAIT_MS

from thulium_desktop.io.images import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai.saliency import Cancelled, SaliencyGenerator

SELECTED = 3


@pytest.fixture
def models():
    """The window's model: the bundled CTC reader (replaces the tiny one of the app tests)."""
    return lambda: load_model("ctc-reader")


class OthersWait(SaliencyGenerator):
    """The real engine, except that the maps of several characters at once (the rest of
    the line, after the selected one) wait for `gate`, polling cancel as the engine does:
    the test looks at the window in between."""

    gate = threading.Event()

    def explain(self, image, *args, tokens="all", cancel=None, **kwargs):
        if isinstance(tokens, list) and len(tokens) > 1:
            while not self.gate.wait(0.005):
                if cancel is not None and cancel():
                    raise Cancelled("cancelled while the rest of the line waited")
        return super().explain(image, *args, tokens=tokens, cancel=cancel, **kwargs)


def test_the_selected_character_s_map_is_shown_before_the_rest_of_the_line(qtbot, make_window):
    OthersWait.gate.clear()
    window = make_window(OthersWait)
    window.client.follow(window.view_model)  # MainWindow.__init__ does this once it has the hook
    image = load_image(SAMPLES / "recognition.png")
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.show_image(image, "recognition")
    count = len(window.view_model.reading.reading.tokens)
    assert count > SELECTED + 1
    window.timeline.select(SELECTED)
    with qtbot.waitSignal(window.client.maps.partial, timeout=WAIT_MS):
        window.panel._buttons["gradient"].click()
    spec = window.view_model.view_spec()
    partial = window.view_model.partials[spec]
    missing = np.isnan(partial).all(axis=(1, 2))
    assert not missing[SELECTED] and missing.sum() == count - 1, "the selected map alone came first"
    assert window.client.maps.busy and spec not in window.view_model.results, "the rest is still computing"
    assert window.canvas.view.map is not None
    assert "refining… 1 of 2" in window.details.text()  # a one-pass method's progress within the line
    window.grab().save("/tmp/h23e-selected-first.png")

    window.timeline.select(SELECTED + 1)  # not computed yet: no map rather than a blank one
    assert window.canvas.view.map is None and window.client.maps.busy

    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        OthersWait.gate.set()
    final = window.view_model.results[spec]
    whole = SaliencyGenerator(load_model("ctc-reader")).explain(image, method="gradient")
    np.testing.assert_allclose(final.maps, whole.maps, rtol=1e-4, atol=1e-5)
    assert window.canvas.view.map is not None and "refining" not in window.details.text()


def test_a_streamed_method_refines_the_selected_map_first(qtbot, make_window, monkeypatch):
    monkeypatch.setattr("thulium_desktop.app.worker.PARTIAL_INTERVAL_S", 0.0)
    OthersWait.gate.clear()
    window = make_window(OthersWait)
    window.client.follow(window.view_model)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.show_image(load_image(SAMPLES / "recognition.png"), "recognition")
    window.timeline.select(SELECTED)
    window.panel.set_params({"num_steps": 16, "tolerance": 0.0})  # 16 steps each part, none added
    window.panel._buttons["integrated"].click()
    spec = window.view_model.view_spec()
    qtbot.waitUntil(lambda: "refining… 16 of 32" in window.details.text(), timeout=WAIT_MS)
    partial = window.view_model.partials[spec]
    assert not np.isnan(partial[SELECTED]).any() and np.isnan(partial[SELECTED + 1]).all()
    assert window.canvas.view.map is not None and spec not in window.view_model.results
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        OthersWait.gate.set()
    assert spec in window.view_model.results
