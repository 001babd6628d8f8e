"""Errors first: the open image's ground truth against its reading, and the file list
with every image's error rate and least confident character, sortable by them; for
pages with a layout, the list as a document tree and the page view of the page whose
line is shown, its lines coloured as they are read.

The view model holds the shown image's truth and its comparison with the reading;
this controller finds each image's truth (`io.truths.TruthSource`), follows the
model to mark the timeline and fill the truth bar and the file list, and has the
survey lane read in the background what is not read yet: every image when the list is
to be ordered by error or confidence, else only the lines of pages (their colours).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QDockWidget, QWidget

from thulium_desktop.app.document_tree import Document, ordered_rows, page_stats, row_keys, with_page_stats
from thulium_desktop.app.file_panel import FilePanel
from thulium_desktop.app.files import ImageBrowser, ImageStats, sorted_paths
from thulium_desktop.app.page_view import PageView
from thulium_desktop.app.lanes.model import ModelLane
from thulium_desktop.app.lanes.survey import SurveyLane
from thulium_desktop.app.timeline import TokenTimeline
from thulium_desktop.app.truth_bar import TruthBar
from thulium_desktop.app.view_model import ViewModel
from thulium_desktop.io.corpus import CorpusItem, page_image
from thulium_desktop.io.images import ImageLoadError
from thulium_desktop.io.layout import LayoutError
from thulium_desktop.io.truths import Truth, TruthSource
from thulium_desktop.app.worker import LoadedModel, ReadingInfo
from thulium_desktop.io.transcriptions import TranscriptionError
from thulium_desktop.xai.ground_truth import compare
from thulium_desktop.xai.ground_truth import truth_problem as uncomparable
from thulium_desktop.models import Reading


#: A truth longer than this is cut short in a list row's tooltip.
TRUTH_SHOWN = 200


def image_stats(reading: Reading | None, truth: Truth) -> ImageStats:
    """An image's numbers for the file list; an empty reading is as unsure as can be.
    A truth too long for the reading (`truth_problem`) is not measured against it."""
    if reading is None:
        return ImageStats()
    comparable = truth.text is not None and uncomparable(reading.text, truth.text) is None
    cer = compare(reading.tokens, truth.text).cer if comparable else None
    conf = float(np.min(reading.confidences)) if len(reading) else 0.0
    return ImageStats(cer, conf)


def truth_note(truth: Truth) -> str:
    """A list row's word on the image's truth: it (cut short when long), or why it cannot
    be used, then each note on where it came from (a table naming the image twice, a
    link that was not followed)."""
    if truth.problem is not None:
        said = truth.problem
    elif truth.text is not None:
        text = truth.text if len(truth.text) <= TRUTH_SHOWN else truth.text[:TRUTH_SHOWN] + "…"
        said = f"truth: {text}"
    else:
        said = "no truth (no IMAGE.gt.txt, none in a chosen table)"
    return "\n".join([said, *truth.notes])


class ErrorReview(QObject):
    """Ground truth, comparison and the errors-first file list. `problem` carries a
    chosen table's failure to the message bar; an image's own unusable `.gt.txt` is
    named in the truth bar, beside the image it belongs to."""

    problem = Signal(str)
    #: While a survey answers, the list is re-sorted at most this often: sorting and
    #: rebuilding it per answer made a survey of thousands of images freeze the window.
    RESORT_MS = 400

    def __init__(self, survey: SurveyLane, models: ModelLane, browser: ImageBrowser, timeline: TokenTimeline,
                 view_model: ViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.survey = survey
        self.browser = browser
        self.timeline = timeline
        self.view_model = view_model
        self.source = TruthSource()
        self.truth_bar = TruthBar()
        self.files = FilePanel()
        self.dock = QDockWidget("Images", parent)
        self.dock.setObjectName("images-dock")
        self.dock.setWidget(self.files)
        self.dock.hide()
        self.page_view = PageView()  # the window places it; shown while pages are listed
        self.page_view.hide()
        self._page_of: dict[CorpusItem, Document] = {}
        self._truths: dict[Path, Truth] = {}
        self._readings: dict[Path | CorpusItem, ReadingInfo] = {}  # as the window shows them
        self._unreadable: dict[Path, str] = {}  # why the survey could not read an image
        self._stats_of: dict[Path, ImageStats] = {}  # computed once per reading and truth
        self._resort = QTimer(self)
        self._resort.setSingleShot(True)
        self._resort.setInterval(self.RESORT_MS)
        self._resort.timeout.connect(self._show_list)
        browser.listed.connect(self._on_listed)
        browser.unreadable.connect(self._on_unreadable)
        self.files.chosen.connect(browser.go_to)
        self.files.lineChosen.connect(browser.go_to)
        self.files.pageChosen.connect(lambda document: browser.go_to(document.lines[0]))
        self.page_view.lineChosen.connect(browser.go_to)
        self.files.orderChanged.connect(self._on_order)
        self.files.cancelRequested.connect(survey.cancel)
        survey.read.connect(self._on_surveyed)
        survey.progress.connect(self.files.show_progress)
        survey.finished.connect(self._on_survey_finished)
        models.ready.connect(self._on_model_ready)
        view_model.events.connect("image", self._on_image)
        view_model.events.connect("truth", self._show_truth)
        view_model.events.connect("reading", self._on_reading)

    # -- what the window asks ----------------------------------------------------------
    def truth_for(self, path: Path | None) -> Truth:
        """The truth of the image read from `path` (None: an array, which has none)."""
        return self._truth(path) if path is not None else Truth()

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
        if self.view_model.path is not None:
            self.view_model.set_truth(self._truth(self.view_model.path))
        self._show_list()
        return count

    def reading_of(self, key: Path | CorpusItem) -> ReadingInfo | None:
        """The model's reading of an image or a page's line (and where each character
        sits), as the window shows it; None while it is not read."""
        return self._readings.get(key)

    def problem_of(self, key: Path | CorpusItem) -> str | None:
        """Why the model could not read an image or a page's line; None when it could
        (or has not tried yet)."""
        return self._unreadable.get(key)

    # -- following the view model ------------------------------------------------------
    def _on_image(self) -> None:
        self._show_truth()
        path = self.view_model.path
        if path is not None:
            if self.view_model.image is not None and self._unreadable.pop(path, None) is not None:
                self._show_stats(path)  # read now (the file was mended): no longer marked
            self.files.select(path)
            self._show_page(path)

    def _on_reading(self) -> None:
        """The shown file's reading arrived: mark its errors and update its row. (While
        another model reads it again, the bar keeps the last comparison.)"""
        path, info = self.view_model.path, self.view_model.reading
        if path is None or info is None:
            return
        self._readings[path] = info
        self._stats_of.pop(path, None)
        self._show_truth()
        self._show_stats(path)
        if self.files.order_key != "name":
            self._show_list()

    def _show_truth(self) -> None:
        """The shown image's errors on the timeline and its truth in the bar: compared
        with the reading, else the truth alone (or why it cannot be used), else nothing."""
        comparison, truth, problem = self.view_model.comparison, self.view_model.truth, self.view_model.truth_problem
        self.timeline.set_comparison(comparison)
        if comparison is not None:
            self.truth_bar.show_comparison(comparison)
        elif problem is not None:
            self.truth_bar.show_problem(problem)
        elif truth.text is not None:
            self.truth_bar.show_pending(truth.text)
        else:
            self.truth_bar.hide()

    # -- internals -------------------------------------------------------------------
    def _truth(self, path: Path) -> Truth:
        if path not in self._truths:
            self._truths[path] = self.source.lookup(path)
        return self._truths[path]

    def _stats(self) -> dict[Path, ImageStats]:
        return {p: self._stats_for(p) for p in self.browser.files.paths}

    def _stats_for(self, path: Path) -> ImageStats:
        """An image's numbers, aligned once per reading (not once per list refresh)."""
        if path not in self._stats_of:
            info = self._readings.get(path)
            if info is None:
                return ImageStats()
            self._stats_of[path] = image_stats(info.reading, self._truth(path))
        return self._stats_of[path]

    def _note(self, path: Path) -> str:
        return self._unreadable.get(path) or truth_note(self._truth(path))

    def _show_stats(self, path: Path | CorpusItem) -> None:
        self.files.show_stats(path, self._stats_for(path), self._note(path), path in self._unreadable)
        document = self._page_of.get(path)
        if document is not None:
            stats = {item: self._stats_for(item) for item in document.lines}
            self.files.show_stats(document, page_stats(document, stats), "")
            if self.page_view.document is document:
                self.page_view.show_stats(stats)

    def _show_page(self, key: Path | CorpusItem) -> None:
        """The page of the line shown in the page view, read once per page, the line
        outlined; an image taken whole leaves the page view as it is. The first page of
        the list shown opens the view (hidden while the list held no page line open)."""
        document = self._page_of.get(key)
        if document is None:
            return
        if self.page_view.document is not document:
            if self.page_view.document not in self._page_of.values():
                self.page_view.show()
            try:
                self.page_view.show_page(document, page_image(key).image)  # decoded when the line was
            except (ImageLoadError, LayoutError) as exc:
                self.problem.emit(str(exc))
                return
            self.page_view.show_stats({item: self._stats_for(item) for item in document.lines})
        self.page_view.select_line(key.line.line.id)

    def _show_list(self) -> None:
        """List the images in the chosen order, the open one still current."""
        files = self.browser.files
        stats = self._stats()
        notes = {p: self._note(p) for p in files.paths}
        if not files.documents:
            self.browser.reorder(sorted_paths(files.paths, self.files.order_key, stats))
            self.files.show_paths(files.paths, files.current, stats, notes, set(self._unreadable))
            return
        rows = ordered_rows(files.documents, self.files.order_key, stats)
        self.browser.reorder(row_keys(rows))
        self.files.show_rows(rows, files.current, with_page_stats(files.documents, stats), notes,
                             set(self._unreadable))

    def _survey_unread(self) -> None:
        """Read in the background what is not read yet: errors first needs every image
        read, the page view's colours only the lines of pages. Sorted by name, a folder of
        thousands of line images around one page (segmented by Find lines, or with its
        XML) is not read for that page's sake."""
        paths = self.browser.files.paths
        wanted = paths if self.files.order_key != "name" else [key for key in paths if key in self._page_of]
        unread = [key for key in wanted if key not in self._readings]
        if unread:
            self.survey.start(unread)

    # -- signals -----------------------------------------------------------------------
    @Slot()
    def _on_listed(self) -> None:
        self.survey.cancel()
        self._truths.clear()
        self.source.forget_folders()
        self._stats_of.clear()
        self._unreadable.clear()
        documents = self.browser.files.documents
        self._page_of = {item: entry for entry in documents if isinstance(entry, Document) for item in entry.lines}
        self._show_list()
        self.dock.setVisible(len(self.browser.files.paths) > 1 or bool(self._page_of))
        self.page_view.setVisible(self.browser.files.current in self._page_of)  # not empty beside an image
        self._survey_unread()

    @Slot(object, str)
    def _on_unreadable(self, path: Path, reason: str) -> None:
        """A file of the list could not be opened: its row says so."""
        self._unreadable[path] = f"cannot read this file: {reason}"
        self._show_stats(path)

    @Slot(str)
    def _on_order(self, key: str) -> None:
        self._show_list()
        if key != "name":
            self._survey_unread()

    @Slot(object, object, str)
    def _on_surveyed(self, path: Path, info: ReadingInfo | None, problem: str) -> None:
        if info is not None:
            self._readings[path] = info
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
    def _on_model_ready(self, info: LoadedModel) -> None:
        """Readings belong to a model: another one reads the list anew."""
        self._readings.clear()
        self._stats_of.clear()
        self._unreadable.clear()
        if self.browser.files.paths:
            self._show_list()
            self._survey_unread()

