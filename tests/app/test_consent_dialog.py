"""The consent box for a model file that would run code: its advice reads as text, with
the code it names set as code, not as Markdown backticks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from gui_helpers import WAIT_MS
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QTextDocument
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox

from thulium_desktop.app.model_flow import markdown_code_html

BUNDLED = Path(__file__).resolve().parents[2] / "resources" / "models"


class Payload:
    """Any object beyond plain tensors makes the file a full pickle."""


def test_code_spans_become_code_and_unpaired_backticks_stay():
    assert markdown_code_html("save `a.pt` & <b>") == "<p>save <code>a.pt</code> &amp; &lt;b&gt;</p>"
    assert markdown_code_html("it's `odd") == "<p>it&#x27;s `odd</p>"
    assert GuiQt.mightBeRichText(markdown_code_html("plain"))


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's own note on refused pickles
def test_the_consent_box_renders_the_code_it_names(qtbot, window, tmp_path):
    path = tmp_path / "pickled.pt"
    torch.save({"weight": torch.zeros(3), "extra": Payload()}, path)
    shutil.copy(BUNDLED / "ctc-reader.json", path.with_suffix(".json"))
    seen: list[tuple[str, Qt.TextFormat]] = []

    def answer_no() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, answer_no)
            return
        label = next(w for w in box.findChildren(QLabel) if w.objectName() == "qt_msgbox_label")
        seen.append((label.text(), label.textFormat()))
        box.button(QMessageBox.StandardButton.No).click()

    QTimer.singleShot(0, answer_no)
    with qtbot.waitSignal(window.client.models.openFailed, timeout=WAIT_MS):
        window.model_flow.open(path)
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT_MS)
    text, text_format = seen[0]
    assert text_format != Qt.TextFormat.PlainText
    assert GuiQt.mightBeRichText(text) and "<code>safetensors.torch.save_file(" in text
    shown = QTextDocument()
    shown.setHtml(text)
    assert "`" not in shown.toPlainText() and str(path) in shown.toPlainText()
    assert window.client.models.name == "tiny-crnn"
