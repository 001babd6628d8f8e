"""The list of the open folder's images, with each one's error rate and least confident
character, sortable "errors first", and the progress of reading them all.

Pages with a PAGE-XML or ALTO layout are rows with their lines under them
(`document_tree.py`): a page's row carries the page's numbers, each line its own.

A thin view: the order and the numbers come from the window's controller
(`error_review.py`, `document_tree.ordered_rows`); choosing a row or an order is only
announced.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from thulium_desktop.app.document_tree import Document, Key, Row
from thulium_desktop.app.files import SORT_ORDERS, ImageStats
from thulium_desktop.app.timeline import EDIT_COLOURS, LOW_CONFIDENCE
from thulium_desktop.io.corpus import CorpusItem
from thulium_desktop.xai.ground_truth import SUBSTITUTION

NAME, CER, CONFIDENCE = range(3)
#: A row whose file could not be read: red, with a warning icon, "✕" for its numbers.
FAILED_COLOUR = "#c0392b"
FAILED_MARK = "✕"


def stats_texts(stats: ImageStats | None) -> tuple[str, str]:
    """The CER and confidence cells: a percentage, or "–" while unknown."""
    if stats is None:
        return "–", "–"
    cer = "–" if stats.cer is None else f"{stats.cer:.0%}"
    conf = "–" if stats.min_confidence is None else f"{stats.min_confidence:.0%}"
    return cer, conf


#: A line's truth is shown after its id up to this many characters (all of it in the tooltip).
TRUTH_IN_ROW = 30


def row_name(key: Key) -> str:
    """A row's text: an image's file name, a page's (with its layout's format), a line's
    id and the start of its truth (what a user recognises the line by)."""
    if not isinstance(key, CorpusItem):
        return key.name
    line = key.line.line
    if not line.truth:
        return line.id
    truth = line.truth if len(line.truth) <= TRUTH_IN_ROW else line.truth[:TRUTH_IN_ROW - 1] + "…"
    return f"{line.id}: {truth}"


def row_label(key: Key) -> str:
    """A row's tooltip head: the image's path, the page's layout file, or `page#line`."""
    if isinstance(key, Document):
        return f"{key.image}\nlayout: {key.layout.path}"
    return key.label if isinstance(key, CorpusItem) else str(key)


class FilePanel(QWidget):
    """Images and pages of the open list; `chosen(path)` (an image), `pageChosen(document)`,
    `lineChosen(item)` (a page's line, a `CorpusItem`), `orderChanged(key)`, `cancelRequested`."""

    chosen = Signal(object)
    pageChosen = Signal(object)
    lineChosen = Signal(object)
    orderChanged = Signal(str)
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.order = QComboBox()
        for key, label in SORT_ORDERS.items():
            self.order.addItem(label, key)
        self.order.setToolTip("Errors first: reads every image of the list in the background")
        self.order.currentIndexChanged.connect(self._on_order)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Image", "CER", "Min conf."])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        for column in (CER, CONFIDENCE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(self._on_current)
        self.progress = QProgressBar()
        self.progress.setFormat("reading %v of %m")
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancelRequested)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel)
        self._progress_box = QWidget()
        self._progress_box.setLayout(progress_row)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self._progress_box.hide()
        order_row = QHBoxLayout()
        order_row.addWidget(QLabel("Sort by"))
        order_row.addWidget(self.order, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 4, 4, 4)
        column.addLayout(order_row)
        column.addWidget(self.tree, 1)
        column.addWidget(self._progress_box)
        self._items: dict[Key, QTreeWidgetItem] = {}

    @property
    def order_key(self) -> str:
        return str(self.order.currentData())

    @property
    def shown_paths(self) -> list[Path]:
        """The rows, top to bottom (what a user sees as the order)."""
        return [self.tree.topLevelItem(i).data(NAME, Qt.ItemDataRole.UserRole) for i in range(self.tree.topLevelItemCount())]

    def show_paths(self, paths: Sequence[Path], current: Path | None, stats: dict[Path, ImageStats],
                   notes: dict[Path, str], failed: Collection[Path] = ()) -> None:
        """List `paths` in this order, `current` selected, without announcing a choice;
        the `failed` ones (unreadable) marked as such."""
        self.show_rows([(path, ()) for path in paths], current, stats, notes, failed)

    def show_rows(self, rows: Sequence[Row], current: Key | None, stats: Mapping[Key, ImageStats],
                  notes: Mapping[Key, str], failed: Collection[Key] = ()) -> None:
        """List `rows` in this order (images, and pages with their lines under them, as
        `document_tree.ordered_rows` gives them; a page's own numbers under its
        `Document` in `stats`), `current` selected, without announcing a choice."""
        self.tree.blockSignals(True)
        self.tree.clear()
        self._items = {}
        self.tree.setRootIsDecorated(any(lines for _, lines in rows))
        for entry, lines in rows:
            item = self._add_row(entry, None, stats, notes, failed)
            for line in lines:
                self._add_row(line, item, stats, notes, failed)
            item.setExpanded(True)
        if current in self._items:
            self.tree.setCurrentItem(self._items[current])
        self.tree.blockSignals(False)

    def _add_row(self, key: Key, parent: QTreeWidgetItem | None, stats: Mapping[Key, ImageStats],
                 notes: Mapping[Key, str], failed: Collection[Key]) -> QTreeWidgetItem:
        item = QTreeWidgetItem([row_name(key), "", ""])
        item.setData(NAME, Qt.ItemDataRole.UserRole, key)
        item.setTextAlignment(CER, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setTextAlignment(CONFIDENCE, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._items[key] = item
        if parent is None:
            self.tree.addTopLevelItem(item)
        else:
            parent.addChild(item)
        self.show_stats(key, stats.get(key), notes.get(key, ""), key in failed)
        return item

    def show_stats(self, key: Key, stats: ImageStats | None, note: str, failed: bool = False) -> None:
        """Fill one row (an image's, a page's or a line's); `note` (the truth, or a
        problem) is its tooltip. A `failed` row (the file could not be read) looks unlike
        one not read yet: a warning icon, its name in red and "✕" for its numbers."""
        item = self._items.get(key)
        if item is None:
            return
        cer, conf = (FAILED_MARK, FAILED_MARK) if failed else stats_texts(stats)
        item.setText(CER, cer)
        item.setText(CONFIDENCE, conf)
        plain = self.palette().text().color()
        wrong = stats is not None and stats.cer is not None and stats.cer > 0
        doubtful = stats is not None and stats.min_confidence is not None and stats.min_confidence < LOW_CONFIDENCE
        item.setForeground(NAME, QColor(FAILED_COLOUR) if failed else plain)
        item.setForeground(CER, QColor(EDIT_COLOURS[SUBSTITUTION]) if wrong or failed else plain)
        item.setForeground(CONFIDENCE, QColor("#c0392b") if doubtful or failed else plain)
        item.setIcon(NAME, self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning) if failed else QIcon())
        for column in (NAME, CER, CONFIDENCE):
            item.setToolTip(column, f"{row_label(key)}\n{note}".strip())

    def select(self, key: Key) -> None:
        """Mark the open image's (or line's) row, without announcing a choice."""
        item = self._items.get(key)
        if item is not None:
            self.tree.blockSignals(True)
            self.tree.setCurrentItem(item)
            self.tree.blockSignals(False)
            self.tree.scrollToItem(item)

    def show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self._progress_box.show()

    def hide_progress(self) -> None:
        self._progress_box.hide()

    @Slot(int)
    def _on_order(self, _index: int) -> None:
        self.orderChanged.emit(self.order_key)

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_current(self, item: QTreeWidgetItem | None, _previous) -> None:
        if item is None:
            return
        key = item.data(NAME, Qt.ItemDataRole.UserRole)
        if isinstance(key, Document):
            self.pageChosen.emit(key)
        elif isinstance(key, CorpusItem):
            self.lineChosen.emit(key)
        else:
            self.chosen.emit(key)
