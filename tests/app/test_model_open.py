"""Model ▸ Open and `--model FILE`: a user's model opens, a bad one leaves the old one in
use, and a file that runs code opens only after the user says yes (asked every time)."""

from __future__ import annotations

import builtins
import logging
import shutil
import textwrap
from pathlib import Path

import cv2
import pytest
import torch
from gui_helpers import WAIT_MS
from PySide6.QtWidgets import QFileDialog, QMessageBox

from thulium_desktop import app as app_package
from thulium_desktop.app import launch
from thulium_desktop.app.launch import build_parser
from thulium_desktop.models import open_described

BUNDLED = Path(__file__).resolve().parents[2] / "resources" / "models"

PLUGIN = """
    from pathlib import Path
    Path(__file__).with_name("plugin-ran").touch()
    from tiny_models import ALPHABET, tiny_crnn
    from thulium_desktop.models import CTCRecognizer

    def load_recognizer():
        return CTCRecognizer(tiny_crnn(seed=11), ALPHABET, 32, name="from-plugin")
"""


class MarkerOnUnpickle:
    """A pickle payload: unpickling it calls `open(marker, "w")`, creating the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


class Answers:
    """Stands in for the file dialog and the consent box: no modal dialog ever opens."""

    def __init__(self, monkeypatch, path: Path, consent: QMessageBox.StandardButton) -> None:
        self.path = path
        self.consent = consent
        self.asked: list[tuple[str, QMessageBox.StandardButton]] = []
        monkeypatch.setattr(QFileDialog, "getOpenFileName", self.file)
        monkeypatch.setattr(QMessageBox, "warning", self.warning)

    def file(self, *_args) -> tuple[str, str]:
        return str(self.path), ""

    def warning(self, _parent, _title, text, _buttons, default) -> QMessageBox.StandardButton:
        self.asked.append((text, default))
        return self.consent


def user_copy(tmp_path: Path, name: str = "ctc-reader") -> Path:
    """The bundled reader's weights and description, copied as if they were the user's own."""
    for suffix in (".safetensors", ".json"):
        shutil.copy(BUNDLED / f"ctc-reader{suffix}", tmp_path / f"{name}{suffix}")
    return tmp_path / f"{name}.safetensors"


def assert_previous_model_in_use(window, reading: str) -> None:
    assert window.client.models.current.name == "tiny-crnn"
    assert window.status.model.text() == "model: tiny-crnn"
    assert window.view_model.reading.reading.text == reading and window.model_flow.opening is None


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's own note on refused pickles
def test_a_malicious_pickle_refused_in_the_dialog_never_runs(qtbot, window, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(3), "payload": MarkerOnUnpickle(marker)}, evil)
    shutil.copy(BUNDLED / "ctc-reader.json", evil.with_suffix(".json"))
    answers = Answers(monkeypatch, evil, QMessageBox.StandardButton.No)
    before = window.view_model.reading.reading.text
    with qtbot.waitSignal(window.client.models.openFailed, timeout=WAIT_MS):
        window.model_flow.open_action.trigger()
    assert len(answers.asked) == 1
    text, default = answers.asked[0]
    assert str(evil) in text and "can run any code" in text
    assert default == QMessageBox.StandardButton.No
    assert not marker.exists()
    assert_previous_model_in_use(window, before)
    assert window.message.text == ""


@pytest.mark.parametrize("damage", ["truncated", "mismatched"])
def test_a_broken_model_file_is_named_and_the_previous_model_stays(qtbot, window, tmp_path, monkeypatch, damage,
                                                                   caplog):
    caplog.set_level(logging.INFO, logger="thulium_desktop.app.worker")
    path = user_copy(tmp_path)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:4096])
    else:  # the other bundled architecture's description over these weights
        shutil.copy(BUNDLED / "attention-reader.json", path.with_suffix(".json"))
    answers = Answers(monkeypatch, path, QMessageBox.StandardButton.Yes)
    before = window.view_model.reading.reading.text
    with qtbot.waitSignal(window.client.models.openFailed, timeout=WAIT_MS):
        window.model_flow.open_action.trigger()
    assert answers.asked == []  # a data file never asks for consent
    assert str(path) in window.message.text and "tiny-crnn is still in use" in window.message.text
    assert str(path) in caplog.text and "Traceback" not in caplog.text  # a refusal is one line, not a bug
    assert_previous_model_in_use(window, before)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):  # and it still explains
        window.panel._buttons["gradient"].click()
    assert window.canvas.view.map is not None


def test_a_user_copy_of_the_ctc_reader_opens_and_reads_the_image_again(qtbot, window, tmp_path, monkeypatch):
    path = user_copy(tmp_path, "my-reader")
    opened = open_described(path)
    expected = opened.recognizer.read(opened.recognizer.prepare(window.view_model.image).tensor).text
    assert expected != window.view_model.reading.reading.text
    Answers(monkeypatch, path, QMessageBox.StandardButton.No)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.model_flow.open_action.trigger()
    assert window.status.model.text() == f"model: {opened.summary.caption()}"
    assert "safetensors" in window.status.model.text()
    # exported captions are made from the explanation's model: they name the same
    assert {exp.model for exp in window.view_model.results.values()} >= {opened.summary.caption()}
    assert window.view_model.reading.reading.text == expected
    assert window.settings.value("model/dir") == str(tmp_path)


def test_a_plugin_opens_after_consent_and_consent_is_asked_every_time(qtbot, window, tmp_path, monkeypatch):
    plugin = tmp_path / "reader.py"
    plugin.write_text(textwrap.dedent(PLUGIN))
    answers = Answers(monkeypatch, plugin, QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.model_flow.open_action.trigger()
    assert len(answers.asked) == 1 and "Python program" in answers.asked[0][0]
    assert (tmp_path / "plugin-ran").exists()
    assert window.client.models.current.name == "from-plugin"
    assert window.status.model.text().startswith("model: from-plugin · plugin · cpu · ")
    answers.consent = QMessageBox.StandardButton.No
    with qtbot.waitSignal(window.client.models.openFailed, timeout=WAIT_MS):
        window.model_flow.open_action.trigger()
    assert len(answers.asked) == 2  # the earlier yes was not remembered
    assert window.client.models.current.name == "from-plugin"


def test_the_model_menu_offers_opening_a_file_and_a_folder(window):
    window.model_flow.fill_menu()
    texts = [a.text() for a in window.model_flow.menu.actions()]
    assert texts[-2:] == ["&Open…", "Open Hugging Face &folder…"]
    window.model_flow.fill_menu()  # refilled on every show: the actions survive the clear
    assert window.model_flow.menu.actions()[-1] is window.model_flow.open_folder_action


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_launching_with_an_untrusted_model_file_refuses_it(qapp, tmp_path, word_image, monkeypatch, capsys):
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "config"))
    samples = tmp_path / "samples"
    samples.mkdir()
    cv2.imwrite(str(samples / "first.png"), word_image)
    monkeypatch.setattr(launch, "SAMPLES_DIR", samples)
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"payload": MarkerOnUnpickle(marker)}, evil)
    shutil.copy(BUNDLED / "ctc-reader.json", evil.with_suffix(".json"))
    assert app_package.main(["--model", str(evil), "--screenshot", str(tmp_path / "shot.png")]) == 1
    err = capsys.readouterr().err
    assert str(evil) in err and "--trust" in err
    assert not marker.exists() and not (tmp_path / "shot.png").exists()
    assert build_parser().parse_args(["--model", str(evil), "--trust"]).trust
