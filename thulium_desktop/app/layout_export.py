"""File ▸ Export page layout… (Ctrl+Shift+E): the open page's PAGE-XML or ALTO written
back with every line's reading, as the CLI's `read` writes it (`io.page_writer`): an
enriched copy of the page's layout file, or a fresh PAGE-XML for a page whose lines
kraken found.

The readings are the ones the window shows: the survey lane reads every line of an open
page for the page view's colours, and `ErrorReview` keeps them with each character's
place on the line (`ReadingInfo.centres`). The glyph boxes are tiled between those
places (`xai.glyph_boxes.boxes_between_centres`, the CLI's rule for a line read without
a map) and placed on the page as the CLI places them (`placed_line_reading`). That is
numpy on the GUI thread: a few milliseconds a line on a small scan, over a hundred on a
4000-pixel-wide one (its ink mask), so one line is placed per turn of the event loop
and the window stays responsive on a page of many lines.

An export asked before every line is read waits for the survey; both steps show their
progress in the status bar, and Esc gives the export up (nothing is written). A line
the model could not read is left in the file as it was, and the final message counts it.
A page that can no longer be placed (its scan or layout changed), or any other failure
while placing (a bug: its traceback is logged), stops the export with one message and
writes nothing: a partial file would say the lines left out were read as blank.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from thulium_desktop.app.document_tree import Document
from thulium_desktop.app.worker import ReadingInfo
from thulium_desktop.io.corpus import CorpusItem, page_image
from thulium_desktop.io.documents import cut_page_line
from thulium_desktop.io.images import ImageLoadError
from thulium_desktop.io.layout import LayoutError
from thulium_desktop.io.page_writer import LineReading, document_output_name, placed_line_reading, write_page_layout
from thulium_desktop.models.errors import exception_line
from thulium_desktop.xai.glyph_boxes import boxes_between_centres

if TYPE_CHECKING:
    from thulium_desktop.app.window import MainWindow

log = logging.getLogger(__name__)

LAYOUT_EXPORT_SHORTCUT = "Ctrl+Shift+E"
#: How long the status bar says what came of an export.
SAID_MS = 10_000


def suggested_layout_path(folder: Path, document: Document) -> Path:
    """`<page stem>.page.xml` (PAGE-XML, a segmented page) or `<page stem>.alto.xml` in `folder`."""
    return folder / document_output_name(document.image.stem, document.layout)


def placed_lines(document: Document, infos: Mapping[CorpusItem, ReadingInfo]) -> Iterator[tuple[str, LineReading]]:
    """Each read line's id and glyphs in the layout's coordinates, one line at a time:
    boxes tiled between the characters' centres on the line as the worker cut it,
    placed on the page as the CLI places them. Raises `ImageLoadError` or `LayoutError`
    when the page's image or layout no longer fits what was read."""
    if not infos:
        return
    page = page_image(document.lines[0]).image
    for item, info in infos.items():
        cut, _ = cut_page_line(page, item.path, item.line)
        boxes = boxes_between_centres(info.centres, cut.image)
        yield item.line.line.id, placed_line_reading(info.reading.tokens, info.reading.confidences, boxes, cut,
                                                     document.layout, page.shape)


@dataclass
class _Pending:
    """An export of a page's layout: waiting for its lines to be read, then placing the
    read lines' glyphs (`placing`, `placed`) until it writes them all."""

    document: Document
    target: Path
    read: dict[CorpusItem, ReadingInfo] = field(default_factory=dict)
    placing: Iterator[tuple[str, LineReading]] | None = None
    placed: dict[str, LineReading] = field(default_factory=dict)


class LayoutExport(QObject):
    """The page layout export of the window; `action` is its menu entry, enabled while a
    line of a page is open (`open_line`). `exported` carries the path written."""

    exported = Signal(object)

    def __init__(self, window: MainWindow, open_line: Callable[[], CorpusItem | None]) -> None:
        super().__init__(window)
        self.window = window
        self.open_line = open_line
        self.pending: _Pending | None = None
        self._placer = QTimer(self, interval=0)  # one line's glyphs per turn of the event loop
        self._placer.timeout.connect(self._place_next)
        self.action = QAction("Export page &layout…", window)
        self.action.setShortcut(QKeySequence(LAYOUT_EXPORT_SHORTCUT))
        self.action.setToolTip("Write the page's PAGE-XML or ALTO with every line's reading, words and glyphs")
        self.action.setEnabled(False)
        self.action.triggered.connect(self.export_dialog)
        window.view_model.events.connect("image", self._update_action)  # after the page view follows it
        survey = window.review.survey
        survey.read.connect(self._on_line_read)
        survey.finished.connect(self._on_survey_finished)

    @property
    def document(self) -> Document | None:
        """The page of the open line (None: no page's line is open)."""
        return self.window.review.page_view.document if self.open_line() is not None else None

    @Slot()
    def export_dialog(self) -> None:
        """Ctrl+Shift+E: ask where to write the open page's layout, then write it."""
        document = self.document
        if document is None:
            return
        from thulium_desktop.app.export_dialog import export_folder  # matplotlib: ~0.5 s, not at launch

        settings = self.window.settings
        suggested = suggested_layout_path(export_folder(settings.value("export/dir"), document.image), document)
        kind = "ALTO" if suggested.name.endswith(".alto.xml") else "PAGE-XML"
        path, _ = QFileDialog.getSaveFileName(self.window, "Export page layout", str(suggested),
                                              f"{kind} (*.xml);;All files (*)")
        if path:
            settings.setValue("export/dir", str(Path(path).parent))
            self.export(Path(path))

    def export(self, target: Path) -> None:
        """Write the open page's layout to `target` once every line of it is read
        (reading the ones no survey is reading yet)."""
        document = self.document
        if document is None:
            self.window.message.show_error("Open a line of a page before exporting its layout.")
            return
        self._stop()
        self.pending = _Pending(document, target)
        if not self._write_when_read():
            survey = self.window.review.survey
            if not survey.running:
                survey.start(self._unanswered(document))

    def cancel(self) -> bool:
        """Esc: give up an export still waiting for its lines or placing their glyphs
        (nothing is written); whether there was one."""
        if self.pending is None:
            return False
        target = self.pending.target
        self._stop()
        self.window.status.showMessage(f"Export of {target.name} cancelled", SAID_MS)
        return True

    # -- internals -------------------------------------------------------------------
    def _unanswered(self, document: Document) -> list[CorpusItem]:
        """The page's lines neither read nor found unreadable yet."""
        review = self.window.review
        return [item for item in document.lines if review.reading_of(item) is None and review.problem_of(item) is None]

    def _waiting(self) -> bool:
        """Whether an export waits for its page's lines to be read."""
        return self.pending is not None and self.pending.placing is None

    def _write_when_read(self) -> bool:
        """Start placing the pending export's glyphs if every line of its page is
        answered, else show how far the reading is; whether it started."""
        pending = self.pending
        left = len(self._unanswered(pending.document))
        total = len(pending.document.lines)
        if left:
            self.window.status.showMessage(f"reading the page's lines: {total - left} of {total}… (Esc cancels)")
            return False
        review = self.window.review
        pending.read = {item: info for item in pending.document.lines
                        if (info := review.reading_of(item)) is not None}
        pending.placing = placed_lines(pending.document, pending.read)
        self._placer.start()
        return True

    @Slot()
    def _place_next(self) -> None:
        """Place one more line's glyphs, or write the layout once all are placed. Any
        failure stops the export: nothing escapes this slot while the timer fires."""
        pending = self.pending
        try:
            line_id, reading = next(pending.placing)
        except StopIteration:
            self._stop()
            self._write(pending)
            return
        except (ImageLoadError, LayoutError) as exc:
            self._give_up(pending, str(exc))
            return
        except Exception as exc:  # a bug: said in one line, its traceback in the log
            log.exception("placing the glyphs of %s failed", pending.document.image)
            self._give_up(pending, exception_line(exc))
            return
        pending.placed[line_id] = reading
        done, total = len(pending.placed), len(pending.read)
        self.window.status.showMessage(f"placing the glyphs: {done} of {total} lines… (Esc cancels)")

    def _give_up(self, pending: _Pending, reason: str) -> None:
        """Stop placing `pending` without writing anything, and say why in one message."""
        self._stop()
        self.window.message.show_error(f"Could not export the layout of {pending.document.image.name}: {reason}")

    def _stop(self) -> None:
        """End the pending export and its progress in the status bar."""
        self._placer.stop()
        self.pending = None
        self.window.status.clearMessage()

    def _write(self, pending: _Pending) -> None:
        """Write the page's layout with the lines placed; one message either way."""
        document, readings = pending.document, pending.placed
        try:
            written = write_page_layout(document.layout, readings, pending.target)
        except OSError as exc:
            self.window.message.show_error(f"Could not write {pending.target}: {exc.strerror or exc}.")
            return
        except LayoutError as exc:
            self.window.message.show_error(f"Could not export the layout of {document.image.name}: {exc}")
            return
        except Exception as exc:  # a bug: said in one line, its traceback in the log (nothing half-written)
            log.exception("writing the layout of %s failed", document.image)
            self.window.message.show_error(f"Could not export the layout of {document.image.name}: {exception_line(exc)}")
            return
        filled = sum(1 for reading in readings.values() if reading.text.strip())
        said = f"wrote {written.name}: {filled} of {len(document.lines)} lines"
        left = [f"{item.line.line.id} ({'read as blank' if item in pending.read else 'not read'})"
                for item in document.lines if not readings.get(item.line.line.id, LineReading(())).text.strip()]
        if left:
            self.window.message.show_error(f"{said}; left as they were: {', '.join(left)}")
        self.window.status.showMessage(said, SAID_MS)
        self.exported.emit(written)

    @Slot()
    def _update_action(self) -> None:
        self.action.setEnabled(self.document is not None)

    @Slot(object, object, str)
    def _on_line_read(self, key: object, _info: object, _problem: str) -> None:
        if self._waiting() and key in self.pending.document.lines:
            self._write_when_read()

    @Slot(bool)
    def _on_survey_finished(self, complete: bool) -> None:
        """A survey ended before the page's lines were all answered: once the window has
        settled (a new model's survey replaces the old one's at once), wait for the one
        running, else read what is left, else (the survey was stopped) stop."""
        if self._waiting():
            QTimer.singleShot(0, lambda: self._after_survey(complete))

    def _after_survey(self, complete: bool) -> None:
        if not self._waiting():
            return
        pending = self.pending
        if pending.document not in self.window.browser.files.documents:
            self._stop()
            self.window.message.show_error(f"Export of {pending.target.name} stopped: "
                                           f"{pending.document.name} is no longer open.")
        elif not self._write_when_read() and not self.window.review.survey.running:
            if complete:
                self.window.review.survey.start(self._unanswered(pending.document))
            else:
                self._stop()
                self.window.status.showMessage(f"Export of {pending.target.name} stopped: the reading of the "
                                               "page's lines was cancelled", SAID_MS)
