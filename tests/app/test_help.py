"""Help: the About box, the guide (every method, every trust measure) and the first-run hint."""

from __future__ import annotations

import platform

import PySide6
import torch
from gui_helpers import WAIT_MS
from PySide6.QtCore import Qt, qVersion

from thulium_desktop import __version__
from thulium_desktop.app.trust_view import MEASURES
from thulium_desktop.models.registry import MODELS_DIR
from thulium_desktop.xai.methods import REGISTRY


def shown_help(qtbot, window, title: str) -> str:
    dialog = window.help_menu.dialogs[title]
    qtbot.waitExposed(dialog)
    return dialog.text.toPlainText()


def test_about_names_the_versions_the_models_folder_and_the_device(qtbot, window):
    window.help_menu.about_action.trigger()
    text = shown_help(qtbot, window, "About Thulium Desktop")
    for expected in (__version__, torch.__version__.split("+")[0], qVersion(), PySide6.__version__,
                     platform.python_version(), str(MODELS_DIR), "CPU"):
        assert expected in text


def test_the_guide_explains_every_method_and_every_trust_measure(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_F1)
    text = shown_help(qtbot, window, "Thulium Desktop guide")
    for method in REGISTRY.values():
        assert method.label in text and method.about in text
    for measure in MEASURES:
        assert measure in text
    assert "Deletion and insertion curves" in text and "Sanity check" in text
    window.help_menu.dialogs["Thulium Desktop guide"].close()
    window.help_menu.guide_action.trigger()  # asked again: the same window comes back
    assert len(window.help_menu.dialogs) == 1 and window.help_menu.dialogs["Thulium Desktop guide"].isVisible()


def test_the_first_run_hint_stays_until_a_character_is_selected_then_never_again(qtbot, window, make_window):
    assert window.hint.isVisible()
    assert "click a character" in window.hint.text()
    assert window.timeline.current == 0  # the first character selected for the user: still a hint
    window.timeline.setFocus()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        qtbot.keyClick(window.timeline, Qt.Key.Key_Right)
    assert window.timeline.current == 1
    assert not window.hint.isVisible()
    window.close()
    again = make_window()
    assert not again.hint.isVisible()
