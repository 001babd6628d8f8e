"""Contrast mode and "Absolute value" (issue 23): a contrast map keeps its sign, so the
method panel must not show "Absolute value" ticked while contrasting.

The bundled attention reader reads "hello" in hello.png; a truth of "hallo" makes its
second character a substitution ('e' read, 'a' true).
"""

from __future__ import annotations

from functools import partial

import pytest
from gui_helpers import WAIT_MS, open_settled, sample_copy

from thulium_desktop.models import load_model

SUBSTITUTED = 1


@pytest.fixture
def models():
    return partial(load_model, "attention-reader")


@pytest.fixture
def window(qtbot, make_window, tmp_path):
    """hello.png read against "hallo", gradient maps shown."""
    window = make_window()
    open_settled(qtbot, window, [sample_copy(tmp_path / "images", "hello.png", "hallo")])
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["gradient"].click()
    return window


def test_absolute_value_shows_unticked_and_locked_while_contrasting_then_comes_back(qtbot, window):
    panel = window.panel
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.timeline.select(SUBSTITUTED)
    assert panel.absolute.isChecked() and panel.absolute.isEnabled()
    assert window.canvas.view.map.min() >= 0  # absolute: unsigned

    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        panel.contrast.setChecked(True)
    assert window.view_model.view_spec().contrast == (SUBSTITUTED, "a")
    assert window.canvas.view.map.min() < 0 < window.canvas.view.map.max()  # the map is signed...
    assert not panel.absolute.isChecked() and not panel.absolute.isEnabled()  # ...and the panel says so
    assert "keep their sign" in panel.absolute.toolTip()
    assert panel.params()["absolute"] is True  # correctly read characters keep the user's choice

    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        panel.contrast.setChecked(False)
    assert panel.absolute.isChecked() and panel.absolute.isEnabled()
    assert "keep their sign" not in panel.absolute.toolTip()
    assert window.canvas.view.map.min() >= 0


def test_an_unticked_choice_is_kept_through_a_contrast(qtbot, window):
    panel = window.panel
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        panel.absolute.setChecked(False)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        panel.contrast.setChecked(True)
    assert panel.params()["absolute"] is False and "Absolute value off" in panel.absolute.toolTip()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        panel.contrast.setChecked(False)
    assert not panel.absolute.isChecked() and panel.absolute.isEnabled()
