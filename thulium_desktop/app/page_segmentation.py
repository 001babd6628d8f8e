"""File ▸ Find lines on this page (kraken): the lines of an image opened without a
PAGE-XML or ALTO, found by kraken's baseline segmenter as `--segment` finds them in
the CLI (`io.corpus.segment_images`).

Segmenting a page takes seconds, so it runs on a daemon thread of its own, as a model
is built (`lanes/model.py`): never on the GUI thread, which stays usable, nor on the
worker, which keeps answering for the model it owns; closing the window never waits
for it. Esc cancels: what the thread finds afterwards is dropped. kraken cannot be
stopped midway, so Find lines stays disabled until the cancelled search ends (Ctrl+L
meanwhile says so): two searches would compete for the CPU with the worker. Found lines
turn the image's row of the Images list into a page with its lines
(`ImageBrowser.open_page`), its first line opened (unless the user moved on meanwhile)
and the page view outlining them all. Finding none, kraken not installed, or kraken
failing leaves the image as it was, with one line saying why.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QStatusBar

from thulium_desktop.app.document_tree import grouped
from thulium_desktop.app.files import FIND_LINES_SHORTCUT, ImageBrowser
from thulium_desktop.app.message_bar import MessageBar
from thulium_desktop.app.view_model import ViewModel
from thulium_desktop.io.corpus import Corpus, CorpusItem, page_image, segment_images
from thulium_desktop.io.images import ImageLoadError
from thulium_desktop.io.kraken_lines import KRAKEN_INSTALL, KrakenMissing
from thulium_desktop.models.errors import exception_line

log = logging.getLogger(__name__)

#: How long the status bar says what came of it.
SAID_MS = 8000


def find_lines(path: Path) -> Corpus:
    """The lines kraken finds on the image at `path`, as the CLI's `--segment` names and
    cuts them, and its notes (lines skipped, none found) in `missing`. Raises
    `ImageLoadError` when the file cannot be read any more (`segment_images` would keep
    it whole), `KrakenMissing` without kraken."""
    item = CorpusItem(path, path.stem)
    page_image(item)  # raises here; the decode is kept, so segment_images does not repeat it
    return segment_images((item,), ())


class PageSegmentation(QObject):
    """The Find lines action (`action`, enabled while an image taken whole is open and
    no search runs, not even a cancelled one) and the search it starts; `cancel` gives
    it up (Esc)."""

    _found = Signal(int, object, object)  # generation, the Corpus or None, the exception or None

    def __init__(self, browser: ImageBrowser, view_model: ViewModel, message: MessageBar, status: QStatusBar,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.browser = browser
        self.view_model = view_model
        self.message = message
        self.status = status
        self.action = QAction("Find &lines on this page (kraken)", self)
        self.action.setShortcut(QKeySequence(FIND_LINES_SHORTCUT))
        self.action.setToolTip("Find the text lines of an image opened without PAGE-XML or ALTO")
        self.action.triggered.connect(self.start)
        #: The image whose lines are being found; None when no search runs.
        self.searching: Path | None = None
        #: The search thread started last (what it finds after a cancel is dropped).
        self.thread: threading.Thread | None = None
        #: The image whose cancelled search still runs; None once its (dropped) result came.
        self.abandoned: Path | None = None
        #: Ctrl+L while the action waits for that search: a disabled action ignores its
        #: shortcut silently, so this one says why in the status bar.
        self.waiting_key = QShortcut(QKeySequence(FIND_LINES_SHORTCUT), status, self._say_waiting)
        self._generation = 0  # a result of an older generation was cancelled
        self._found.connect(self._on_found)
        view_model.events.connect("image", self._enable)
        self._enable()

    def start(self) -> None:
        """Find the lines of the open image, when it is one taken whole, on a daemon thread."""
        path = self.view_model.path
        if not self.action.isEnabled():  # a search runs, or a cancelled one is ending, or no image whole
            return
        self._generation += 1
        self.searching = path
        self._enable()
        self.status.showMessage(f"finding lines on {path.name}… (Esc cancels)")
        generation = self._generation

        def search() -> None:
            try:
                found, error = find_lines(path), None
            except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised
                found, error = None, exc
            try:
                self._found.emit(generation, found, error)
            except RuntimeError:  # the window closed while kraken searched
                pass

        self.thread = threading.Thread(target=search, name="thulium-find-lines", daemon=True)
        self.thread.start()

    def cancel(self) -> bool:
        """Give up the search in progress (its result is dropped when it comes); whether one was."""
        if self.searching is None:
            return False
        self.status.showMessage(f"Finding lines on {self.searching.name} cancelled", SAID_MS)
        self.abandoned = self.searching
        self._stop()
        return True

    def _stop(self) -> None:
        self._generation += 1
        self.searching = None
        self._enable()

    def _enable(self) -> None:
        whole_image = isinstance(self.view_model.path, Path) and self.view_model.image is not None
        idle = self.searching is None and self.abandoned is None
        self.action.setEnabled(idle and whole_image)
        self.waiting_key.setEnabled(self.abandoned is not None and whole_image)

    def _say_waiting(self) -> None:
        self.status.showMessage(f"Find lines waits for the cancelled search on {self.abandoned.name} to end "
                                "(kraken cannot be stopped midway)", SAID_MS)

    @Slot(int, object, object)
    def _on_found(self, generation: int, found: Corpus | None, error: Exception | None) -> None:
        """The thread's answer, in the GUI thread: dropped when cancelled (its thread is
        ending, so Find lines may run again), else shown."""
        if generation != self._generation:
            self.abandoned = None
            self._enable()
            return
        path = self.searching
        self._stop()
        self.status.clearMessage()
        if error is not None:
            if not isinstance(error, (KrakenMissing, ImageLoadError)):
                log.error("finding the lines of %s failed", path, exc_info=error)
            self.message.show_error(failure_text(path, error))
        elif not any(item.line is not None for item in found.items):
            self.message.show_error(f"kraken found no text line on {path.name}")
        elif path not in self.browser.files.paths:  # another folder was opened meanwhile
            self.status.showMessage(f"The lines found on {path.name} are not shown: it is no longer in the list",
                                    SAID_MS)
        else:
            self._open_page(path, found)

    def _open_page(self, path: Path, found: Corpus) -> None:
        """The image's row becomes the page of the lines found, its first line open if it
        is still the image shown; the lines kraken gave unusable are noted under what
        opening it says. None can be cut out: the image stays, and opening says why."""
        (document,) = grouped(item for item in found.items if item.line is not None)
        if not self.browser.open_page(path, document):
            return
        self.status.showMessage(f"{len(document.lines)} lines found on {path.name}", SAID_MS)
        notes = [f"Note: {path.name}: {note}" for _, note in found.missing]
        if notes:
            self.message.show_error("\n".join([self.message.text, *notes]).strip())


def failure_text(path: Path, error: Exception) -> str:
    """The one line saying why no line was found: what to install, the unreadable file,
    or kraken's own failure (a bug, kraken's or ours, whose traceback is logged)."""
    if isinstance(error, KrakenMissing):
        return f"Finding the lines of {path.name} needs kraken, which is not installed: {KRAKEN_INSTALL}"
    if isinstance(error, ImageLoadError):
        return str(error)
    return f"Finding the lines of {path.name} failed: {exception_line(error)}"
