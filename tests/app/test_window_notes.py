"""What a user must know about a map is shown with it: the selected method's notes under
the map, marked, and integrated gradients' completeness gap as a share of the score's
change with the steps it took (issue 24). Through the real window, with the bundled CTC
reader, whose BiLSTM head sits after its GradCAM layer."""

from __future__ import annotations

import re
from functools import partial

import pytest
from gui_helpers import WAIT_MS, open_settled, sample_copy

from thulium_desktop.app.details import NOTE_MARK
from thulium_desktop.models import load_model
from thulium_desktop.xai.spec import MethodSpec

CAM_NOTE = "feeds a recurrent or attention head, which reads each character from its neighbours too"


@pytest.fixture
def models():
    """The windows here read with the bundled CTC reader (overrides the tiny CRNN)."""
    return partial(load_model, "ctc-reader")


@pytest.fixture
def hello(qtbot, make_window, tmp_path):
    window = make_window()
    window.panel.num_steps.setValue(4)
    open_settled(qtbot, window, [sample_copy(tmp_path / "images", "hello.png")])
    assert len(window.view_model.reading.reading) > 2
    return window


def show(qtbot, window, method: str) -> None:
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons[method].click()


def test_gradcam_on_a_recurrent_head_shows_its_note_under_the_map_and_attention_does_not(qtbot, hello):
    show(qtbot, hello, "gradcam")
    exp = hello.view_model.results[MethodSpec.build("gradcam", hello.panel.params())]
    [note] = [n for n in exp.notes if CAM_NOTE in n]
    shown = hello.details.text()
    assert f"{NOTE_MARK} {note}" in shown and "<b>GradCAM</b>" in shown
    assert hello.details.isVisible()
    show(qtbot, hello, "attention")
    assert NOTE_MARK not in hello.details.text() and CAM_NOTE not in hello.details.text()


def test_integrated_gradients_show_the_relative_gap_and_the_steps_it_took(qtbot, hello):
    show(qtbot, hello, "integrated")
    exp = hello.view_model.results[MethodSpec.build("integrated", hello.panel.params())]
    k = hello.view_model.selection
    gap = re.search(r"completeness gap (\d+)% after (\d+) steps", hello.details.text())
    assert gap is not None, hello.details.text()
    assert int(gap[1]) == round(100 * exp.relative_gaps[k]) and int(gap[2]) == exp.steps[k] >= 4


def test_a_new_note_reaches_the_status_bar_once_per_model(qtbot, hello):
    show(qtbot, hello, "gradcam")
    exp = hello.view_model.results[MethodSpec.build("gradcam", hello.panel.params())]
    [note] = [n for n in exp.notes if CAM_NOTE in n]
    assert hello.status.currentMessage() == f"\u26a0 {note.short}"  # short: it shares the line
    hello.status.clearMessage()
    with qtbot.waitSignal(hello.settled, timeout=WAIT_MS):  # another GradCAM map, the same note
        hello.panel.normalize.setChecked(False)
    assert hello.status.currentMessage() == ""  # said once; the details still show it
    assert CAM_NOTE in hello.details.text()
