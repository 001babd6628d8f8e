"""Errors first: the open image's ground truth against its reading, and the file list
with every image's error rate and least confident character, sortable by them.

The window hands over what happens (an image opened, its reading arrived); this
controller finds the truth (`io.truths.TruthSource`), compares, marks the timeline,
fills the truth bar and the file list, and, when the list is to be ordered by
error or confidence, has the client read the images not read yet in the background.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QDockWidget, QWidget

from thulium_desktop.app.client import EngineClient
from thulium_desktop.app.file_panel import FilePanel
from thulium_desktop.app.files import ImageBrowser, ImageStats, sorted_paths
from thulium_desktop.app.timeline import TokenTimeline, shown_char
from thulium_desktop.app.truth_bar import TruthBar
from thulium_desktop.io.truths import Truth, TruthSource
from thulium_desktop.app.worker import ReadingInfo
from thulium_desktop.io.transcriptions import TranscriptionError
from thulium_desktop.xai.ground_truth import MATCH, SUBSTITUTION, Comparison, compare
from thulium_desktop.models import Reading


def image_stats(reading: Reading | None, truth: Truth) -> ImageStats:
    """An image's numbers for the file list; an empty reading is as unsure as can be."""
    if reading is None:
        return ImageStats()
    cer = compare(reading.tokens, truth.text).cer if truth.text is not None else None
    conf = float(np.min(reading.confidences)) if len(reading) else 0.0
    return ImageStats(cer, conf)


def truth_note(truth: Truth) -> str:
    if truth.problem is not None:
        return truth.problem
    return f"truth: {truth.text}" if truth.text is not None else "no truth (no IMAGE.gt.txt, none in a chosen table)"


class ErrorReview(QObject):
    """Ground truth, comparison and the errors-first file list. `problem` carries a
    chosen table's failure to the message bar; an image's own unusable `.gt.txt` is
    named in the truth bar, beside the image it belongs to."""

    problem = Signal(str)
    #: While a survey answers, the list is re-sorted at most this often: sorting and
    #: rebuilding it per answer made a survey of thousands of images freeze the window.
    RESORT_MS = 400

    def __init__(self, client: EngineClient, browser: ImageBrowser, timeline: TokenTimeline,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.browser = browser
        self.timeline = timeline
        self.source = TruthSource()
        self.truth_bar = TruthBar()
        self.files = FilePanel()
        self.dock = QDockWidget("Images", parent)
        self.dock.setObjectName("images-dock")
        self.dock.setWidget(self.files)
        self.dock.hide()
        self.path: Path | None = None
        self.truth = Truth()
        self.comparison: Comparison | None = None
        self._truths: dict[Path, Truth] = {}
        self._readings: dict[Path, Reading] = {}
        self._unreadable: dict[Path, str] = {}  # why the survey could not read an image
        self._scorable = ""  # what the loaded model can contrast with (ModelInfo.scorable)
        self._stats_of: dict[Path, ImageStats] = {}  # computed once per reading and truth
        self._resort = QTimer(self)
        self._resort.setSingleShot(True)
        self._resort.setInterval(self.RESORT_MS)
        self._resort.timeout.connect(self._show_list)
        browser.listed.connect(self._on_listed)
        self.files.chosen.connect(browser.go_to)
        self.files.orderChanged.connect(self._on_order)
        self.files.cancelRequested.connect(client.cancel_survey)
        client.surveyRead.connect(self._on_surveyed)
        client.surveyProgress.connect(self.files.show_progress)
        client.surveyFinished.connect(self._on_survey_finished)
        client.modelReady.connect(self._on_model_ready)

    # -- what the window tells ---------------------------------------------------------
    def choose_transcriptions(self, path: str | os.PathLike) -> int | None:
        """File ▸ Open transcriptions…: use a table of file → truth; its size, or None
        (and `problem`) when it cannot be read, the previous table staying in use."""
        try:
            count = self.source.choose(path)
        except TranscriptionError as exc:
            self.problem.emit(str(exc))
            return None
        self._truths.clear()
        self._stats_of.clear()
        self.set_image(self.path)
        reading = self._readings.get(self.path) if self.path is not None else None
        if reading is not None:
            self._compare(reading)
        self._show_list()
        return count

    def set_image(self, path: Path | None) -> None:
        """A new image is shown (None: not from a file); its truth, if any, is looked up."""
        self.path = path
        self.comparison = None
        self.timeline.set_comparison(None)
        self.truth = self._truth(path) if path is not None else Truth()
        if self.truth.problem is not None:
            self.truth_bar.show_problem(self.truth.problem)
        elif self.truth.text is not None:
            self.truth_bar.show_pending(self.truth.text)
        else:
            self.truth_bar.hide()
        if path is not None:
            self.files.select(path)

    def set_reading(self, info: ReadingInfo) -> None:
        """The shown image's reading arrived: compare, mark, and update its row."""
        if self.path is None:
            return
        self._readings[self.path] = info.reading
        self._stats_of.pop(self.path, None)
        self._compare(info.reading)
        self._show_stats(self.path)
        if self.files.order_key != "name":
            self._show_list()

    def contrast_target(self, index: int) -> tuple[int, str] | None:
        """(index, true character) when read character `index` is a substitution."""
        if self.comparison is None:
            return None
        truth = self.comparison.substituted(index)
        scorable = truth is not None and len(truth) == 1 and truth in self._scorable
        return (index, truth) if scorable else None

    def no_contrast_reason(self, index: int) -> str:
        """Why read character `index` (ALL: the whole reading) shows its own map though
        Contrast with truth is on, so the switch never seems to do nothing."""
        if self.comparison is None:
            return "Contrast with truth: this image has no truth to contrast with."
        kinds = self.comparison.kinds
        if SUBSTITUTION not in kinds:
            why = "this reading has none"
        elif not 0 <= index < len(kinds):
            why = "select one marked on the timeline"
        elif kinds[index] == MATCH:
            why = f"‘{shown_char(self.comparison.truth_chars[index])}’ was read correctly"
        elif kinds[index] == SUBSTITUTION:
            truth = shown_char(self.comparison.truth_chars[index])
            why = (f"the model cannot score the true ‘{truth}’ (not in its alphabet)" if self._scorable
                   else "this model cannot score a character it did not read")
        else:
            why = f"character {index + 1} has no true counterpart ({kinds[index]})"
        return f"Contrast applies to substituted characters only: {why}, so its own map is shown."

    # -- internals -------------------------------------------------------------------
    def _truth(self, path: Path) -> Truth:
        if path not in self._truths:
            self._truths[path] = self.source.lookup(path)
        return self._truths[path]

    def _compare(self, reading: Reading) -> None:
        if self.truth.text is None:
            return
        self.comparison = compare(reading.tokens, self.truth.text)
        self.timeline.set_comparison(self.comparison)
        self.truth_bar.show_comparison(self.comparison)

    def _stats(self) -> dict[Path, ImageStats]:
        return {p: self._stats_for(p) for p in self.browser.files.paths}

    def _stats_for(self, path: Path) -> ImageStats:
        """An image's numbers, aligned once per reading (not once per list refresh)."""
        if path not in self._stats_of:
            reading = self._readings.get(path)
            if reading is None:
                return ImageStats()
            self._stats_of[path] = image_stats(reading, self._truth(path))
        return self._stats_of[path]

    def _note(self, path: Path) -> str:
        return self._unreadable.get(path) or truth_note(self._truth(path))

    def _show_stats(self, path: Path) -> None:
        self.files.show_stats(path, self._stats_for(path), self._note(path))

    def _show_list(self) -> None:
        """List the images in the chosen order, the open one still current."""
        files = self.browser.files
        stats = self._stats()
        self.browser.reorder(sorted_paths(files.paths, self.files.order_key, stats))
        notes = {p: self._note(p) for p in files.paths}
        self.files.show_paths(files.paths, files.current, stats, notes)

    def _survey_unread(self) -> None:
        """Errors first needs every image read: read those not read yet, in the background."""
        unread = [p for p in self.browser.files.paths if p not in self._readings]
        if unread:
            self.client.survey(unread)

    # -- signals -----------------------------------------------------------------------
    @Slot()
    def _on_listed(self) -> None:
        self.client.cancel_survey()
        self._truths.clear()
        self.source.forget_folders()
        self._stats_of.clear()
        self._unreadable.clear()
        self._show_list()
        self.dock.setVisible(len(self.browser.files.paths) > 1)
        if self.files.order_key != "name":
            self._survey_unread()

    @Slot(str)
    def _on_order(self, key: str) -> None:
        self._show_list()
        if key != "name":
            self._survey_unread()

    @Slot(object, object, str)
    def _on_surveyed(self, path: Path, info: ReadingInfo | None, problem: str) -> None:
        if info is not None:
            self._readings[path] = info.reading
            self._stats_of.pop(path, None)
            self._unreadable.pop(path, None)
        else:
            self._unreadable[path] = problem
        self._show_stats(path)
        if self.files.order_key != "name" and not self._resort.isActive():
            self._resort.start()

    @Slot(bool)
    def _on_survey_finished(self, _complete: bool) -> None:
        self.files.hide_progress()
        if self._resort.isActive():  # the last answers: sort now, not a beat later
            self._resort.stop()
            self._show_list()

    @Slot(object)
    def _on_model_ready(self, info) -> None:
        """Readings belong to a model: another one reads the list anew."""
        self._scorable = info.scorable
        self._readings.clear()
        self._stats_of.clear()
        self._unreadable.clear()
        if self.browser.files.paths:
            self._show_list()
            if self.files.order_key != "name":
                self._survey_unread()

