"""Choosing and opening models from the window: the Model menu, the open dialogs, the
consent asked before a model file may run code, the device the model runs on (Model ▸
Device, kept in the settings), and the model and its device in the status bar.

Its own object so that the window only follows what a loaded model changes (the
layers, the reading); how a model gets there, and what its failures say, live here.
"""

from __future__ import annotations

import html
import os
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenuBar, QMessageBox

from thulium_desktop import models
from thulium_desktop.app.device_menu import AUTO, DeviceMenu
from thulium_desktop.models import MODEL_SUFFIXES, ModelLoadError, OpenedModel, UntrustedModelError

if TYPE_CHECKING:
    from thulium_desktop.app.window import MainWindow
    from thulium_desktop.app.worker import LoadedModel

MODEL_FILTER = "Models (" + " ".join(f"*{s}" for s in MODEL_SUFFIXES) + ");;All files (*)"
#: Added to a model's name while it reads with its folder's generation settings: the
#: job lanes key their caches by the name, so the two readings' maps are never mixed.
FOLDER_DECODING_SUFFIX = " (folder decoding)"
#: The settings key of the Model ▸ Device entry chosen last ("auto", "cpu", "cuda:1").
DEVICE_SETTING = "model/device"


def decoded_name(name: str, decoding: str) -> str:
    """The name a model read with `decoding` goes by (see `FOLDER_DECODING_SUFFIX`)."""
    base = name.removesuffix(FOLDER_DECODING_SUFFIX)
    return base + FOLDER_DECODING_SUFFIX if decoding == "folder" else base


def open_with_decoding(path: str, decoding: str) -> OpenedModel:
    """The model folder at `path` opened again, reading with `decoding` under its
    `decoded_name` (the status bar's caption says it too). Runs on the loader thread."""
    opened = models.open_described(path)
    recognizer = opened.recognizer
    recognizer.decoding = decoding
    recognizer.name = decoded_name(recognizer.name, decoding)
    return OpenedModel(recognizer, replace(opened.summary, name=recognizer.name))


def markdown_code_html(text: str) -> str:
    """Plain text with Markdown `code` spans as rich text: the library's messages mark code
    that way for the terminal, where backticks read fine; a dialog shows them as code."""
    parts = html.escape(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick is not code
        parts[-2:] = [parts[-2] + "`" + parts[-1]]
    spans = (f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))
    return "<p>" + "".join(spans).replace("\n", "<br>") + "</p>"


class ModelFlow(QObject):
    """The window's Model menu and everything a model's opening may say or ask."""

    def __init__(self, window: MainWindow, menu_bar: QMenuBar) -> None:
        super().__init__(window)
        self.window = window
        self.opening: str | None = None  # a user's model file on its way in
        self.menu = menu_bar.addMenu("&Model")
        self.menu.setToolTipsVisible(True)
        self.menu.aboutToShow.connect(self.fill_menu)
        # Owned by the window, so the menu's clear() on every show keeps them.
        self.open_action = QAction("&Open…", window)
        self.open_action.triggered.connect(self.open_dialog)
        self.open_folder_action = QAction("Open Hugging Face &folder…", window)
        self.open_folder_action.triggered.connect(self.open_folder_dialog)
        self.folder_decoding_action = QAction("Read with the folder's generation settings", window)
        self.folder_decoding_action.setCheckable(True)
        self.folder_decoding_action.setEnabled(False)
        self.folder_decoding_action.setToolTip(
            "Read as the folder's generation_config.json says (beam search), and explain the tokens of that "
            "reading by their teacher-forced scores; unchecked, the model's plain greedy reading")
        self.folder_decoding_action.triggered.connect(self.read_with_folder_settings)
        #: The file or folder each user model in use was opened from, by the name it goes by.
        self._sources: dict[str, str] = {}
        lane = window.client.models
        lane.failed.connect(self._on_failed)
        lane.openFailed.connect(self._on_open_failed)
        lane.cancelled.connect(self._on_cancelled)
        device = str(window.settings.value(DEVICE_SETTING, AUTO))
        self.device_menu = DeviceMenu(window, device)  # the window's: the menu's clear() keeps it
        self.device_menu.chosen.connect(self.choose_device)
        lane.ready.connect(self._say_device_note)
        lane.moved.connect(self._on_moved)
        lane.moveFailed.connect(self._on_move_failed)
        lane.devicesListed.connect(self.device_menu.set_choices)
        if lane.devices is not None:  # the worker answered before this window was made
            self.device_menu.set_choices(lane.devices)
        lane.deviceStatus.connect(self._show_device_status)
        lane.set_device(device)  # the first model goes there once it is built

    def fill_menu(self) -> None:
        """The bundled models, the loaded one checked; choosing one switches to it."""
        self.menu.clear()
        current = self.window.client.models.name
        unreadable: list[ModelLoadError] = []
        for info in models.list_models(unreadable=unreadable):
            action = self.menu.addAction(info.name)
            action.setToolTip(info.description)
            action.setCheckable(True)
            action.setChecked(info.name == current)
            action.setData(info.name)
            action.triggered.connect(self._choose)
        for exc in unreadable:  # a damaged installation: named, the other models still offered
            action = self.menu.addAction(f"{Path(exc.path).name}: unreadable")
            action.setToolTip(str(exc))  # the whole path and reason
            action.setEnabled(False)
        if self.menu.isEmpty():
            self.menu.addAction("No bundled models installed").setEnabled(False)
        self.menu.addSeparator()
        self.menu.addMenu(self.device_menu)  # where the model in use runs
        self.menu.addAction(self.folder_decoding_action)  # how the model in use reads
        self.menu.addSeparator()
        self.menu.addAction(self.open_action)
        self.menu.addAction(self.open_folder_action)

    @Slot()
    def open_dialog(self) -> None:
        """Model ▸ Open…: a user's weights, checkpoint or plugin."""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open model", self._model_dir(), MODEL_FILTER)
        if path:
            self.open(path)

    @Slot()
    def open_folder_dialog(self) -> None:
        """Model ▸ Open Hugging Face folder…: a checkpoint is a folder, not a file."""
        folder = QFileDialog.getExistingDirectory(self.window, "Open Hugging Face model folder", self._model_dir())
        if folder:
            self.open(folder)

    def _model_dir(self) -> str:
        """Models live apart from images: the dialogs remember their own folder."""
        return str(self.window.settings.value("model/dir", self.window.browser.last_dir()))

    def open(self, path: str | os.PathLike, trust: bool = False) -> None:
        """Open a user's model file; the model in use stays until it has loaded.

        Files that would run code are refused by the library unless `trust`; the
        refusal comes back to `_on_open_failed`, which asks the user.
        """
        self.opening = str(path)
        self.window.settings.setValue("model/dir", str(Path(path).parent))
        self.window.status.model.setText(f"opening {Path(path).name}… (Esc cancels)")
        self.window.client.models.open(str(path), trust)

    def arrived(self) -> bool:
        """Whether the model just loaded is the user's file that was on its way in (then
        remembered as the source of the model now in use)."""
        opened, self.opening = self.opening, None
        current = self.window.client.models.current
        if opened is not None and current is not None:
            self._sources[current.name] = opened
        return opened is not None

    @Slot(bool)
    def read_with_folder_settings(self, on: bool) -> None:
        """Model ▸ Read with the folder's generation settings: the model in use opened
        again from its folder, reading as its settings say (`on`) or greedily, under
        another name so that the other reading's maps are not shown for this one."""
        current = self.window.client.models.current
        source = self._sources.get(current.name) if current is not None else None
        if current is None or source is None or not current.decodings:
            self.folder_decoding_action.setChecked(False)
            self.window.message.show_error("Only a TrOCR folder opened with Model ▸ Open can read with "
                                           "its folder's generation settings.")
            return
        decoding = "folder" if on else "greedy"
        self._sources[decoded_name(current.name, decoding)] = source
        self.window.switch_model(partial(open_with_decoding, source, decoding))

    def show(self, info: LoadedModel | None) -> None:
        """The model in use and its device, in the status bar and the Model menu."""
        status = self.window.status
        self.folder_decoding_action.setEnabled(info is not None and bool(info.decodings))
        self.folder_decoding_action.setChecked(info is not None and info.decoding == "folder")
        if info is None:
            status.model.setText("no model")
            return
        status.set_model(info.caption or info.name, info.device)
        self.device_menu.set_current(info.device_key)

    @Slot(str)
    def choose_device(self, key: str) -> None:
        """Model ▸ Device: remember the choice and move the model there, on the worker;
        the map being computed is dropped, and asked for again once the model has moved.
        Without a model in use, the next one loaded goes there (and says so)."""
        self.window.settings.setValue(DEVICE_SETTING, key)
        if self.window.client.models.current is not None:
            self.window.status.set_moving()
        self.window.client.models.set_device(key)

    @Slot(object)
    def _on_moved(self, info: LoadedModel) -> None:
        """The model on its new device: shown, its key saved (a move that failed before it
        saved the key the model then stayed under), and the view's maps asked again."""
        self.window.settings.setValue(DEVICE_SETTING, info.device_key)
        self.show(info)
        self._ask_again()

    @Slot(object)
    def _show_device_status(self, info: LoadedModel) -> None:
        """The GPU's free memory as a job left it (the worker asks after each one)."""
        self.window.status.set_device(info.device)

    @Slot(str, str)
    def _on_move_failed(self, key: str, message: str) -> None:
        """The model stays where it was, usable: the menu's check and the saved choice go
        back to its device, and the message bar says why."""
        self.window.settings.setValue(DEVICE_SETTING, key)
        self.device_menu.set_current(key)
        current = self.window.client.models.current
        if current is not None:  # else a model is loading: it names its own device
            self.show(current)
        self.window.message.show_error(message)
        self._ask_again()

    def _ask_again(self) -> None:
        """Ask for the view's maps again after a device switch dropped the job computing
        them: cached ones come at once (maps are the same on every device, so the caches
        are not keyed by it), the others are computed where the model now is."""
        self.window.status.set_idle()
        self.window.request()

    @Slot(object)
    def _say_device_note(self, info: LoadedModel) -> None:
        """A model that could not go to the device chosen in an earlier session runs
        elsewhere; said in the status bar (the menu shows where), the choice kept for
        the next session."""
        if info.device_note:
            self.window.status.showMessage("\u26a0 " + info.device_note, 15000)

    @Slot()
    def _choose(self) -> None:
        name = self.sender().data()
        if name != self.window.client.models.name:
            self.window.switch_model(partial(models.open_described, name))

    @Slot(str, object)
    def _on_open_failed(self, path: str, error: Exception) -> None:
        """A refusal asks for consent (never remembered: the next open asks again); any
        other failure is named in the message bar, and the model in use stays."""
        self.opening = None
        client = self.window.client
        self.show(client.models.current)
        if isinstance(error, UntrustedModelError):
            if self._consents_to_run(error):
                self.open(path, trust=True)
            else:
                self.window.status.showMessage(f"{Path(path).name} was not opened", 5000)
            return
        reason = error.reason if isinstance(error, ModelLoadError) else f"{type(error).__name__}: {error}"
        still = f" {client.models.name} is still in use." if client.models.current else ""
        self.window.message.show_error(f"Could not open the model {path}: {reason.rstrip('.')}.{still}")

    @Slot(str)
    def _on_cancelled(self, message: str) -> None:
        """A load or open given up: the model in use (if any) named again, and why."""
        self.opening = None
        self.show(self.window.client.models.current)
        self.window.status.showMessage(message, 8000)

    def _consents_to_run(self, error: UntrustedModelError) -> bool:
        answer = QMessageBox.warning(
            self.window,
            "Run code from this model file?",
            markdown_code_html(str(error)),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.window.status.model.setText("no model")
        self.window.message.show_error(f"The model could not be loaded: {message}")
