"""Which images the window can step through, in which order, opening them, and the
recent-files list. Pages with a PAGE-XML or ALTO layout are stepped through line by
line: each line a `CorpusItem` cut out of its page (`document_tree.py`).

An image taken whole that looks like a page (`looks_like_page`) and has no layout
beside it is opened with a note pointing to File ▸ Find lines, which has kraken find
its lines (`page_segmentation.py`); the image's row then becomes a page (`open_page`).

Besides by name, a folder can be ordered "errors first": by character error rate
(highest first) or by the least confident character (lowest first), from each
image's `ImageStats`; images not yet measured go last, in name order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QSettings, Signal

from thulium_desktop.io.corpus import CorpusItem, list_images, load_item
from thulium_desktop.io.documents import find_layout
from thulium_desktop.io.image_quality import image_quality_notes
from thulium_desktop.io.images import ImageLoadError, LoadedImage, read_image

if TYPE_CHECKING:
    from thulium_desktop.app.document_tree import Document  # it imports this module

MAX_RECENT = 10
#: Unreadable files listed by name in one message; the rest are counted.
MAX_PROBLEMS_SHOWN = 3
#: The orders a folder can be listed in, with their labels.
SORT_ORDERS = {"name": "Name", "error": "Error (CER, highest first)", "confidence": "Lowest confidence first"}
#: File ▸ Find lines on this page (`page_segmentation.py`), named in the note below.
FIND_LINES_SHORTCUT = "Ctrl+L"
#: An image taken whole looks like a page, not a line, when it is at least this many
#: pixels tall and at most PAGE_MAX_ASPECT times as wide as it is tall: a line image is
#: tens of pixels tall and many times wider than that.
PAGE_MIN_HEIGHT = 500
PAGE_MAX_ASPECT = 3.0
#: The note on opening such an image without a layout.
PAGE_NOTE = f"no PAGE-XML/ALTO beside it: File ▸ Find lines ({FIND_LINES_SHORTCUT}) finds its lines"
#: An item of the list that could not be read, and why.
Failure = tuple[Path | CorpusItem, ImageLoadError]


@dataclass(frozen=True)
class ImageStats:
    """What the file list shows and sorts by: the image's error rate against its truth
    (None without one) and its least confident character (None: not read)."""

    cer: float | None = None
    min_confidence: float | None = None


class FileList:
    """An ordered list of image paths (and page lines, `CorpusItem`s) with a current
    position (Page Up/Down); `documents`: the list's images and pages as the Images list
    shows them (`document_tree.Entry`), empty when it holds no page."""

    def __init__(self, paths: Iterable[Path | CorpusItem] = (), documents: tuple = ()) -> None:
        self.paths = list(paths)
        self.index = 0 if self.paths else -1
        self.documents = documents

    @property
    def current(self) -> Path | None:
        return self.paths[self.index] if 0 <= self.index < len(self.paths) else None

    def neighbour(self, delta: int) -> int | None:
        """Index `delta` steps away, or None past either end."""
        target = self.index + delta
        return target if 0 <= target < len(self.paths) else None

    def position(self) -> str:
        return f"{self.index + 1}/{len(self.paths)}" if self.paths else ""

    def reorder(self, paths: list[Path]) -> None:
        """The same images in another order; the current one stays current."""
        current = self.current
        self.paths = list(paths)
        self.index = self.paths.index(current) if current is not None else self.index


def sorted_paths(paths: Iterable[Path], by: str, stats: Mapping[Path, ImageStats]) -> list[Path]:
    """`paths` in the order `by` (a key of SORT_ORDERS) asks for; ties keep name order."""
    named = sorted(paths)
    if by == "name":
        return named
    if by == "error":
        cer = {p: stats[p].cer if p in stats else None for p in named}
        return sorted(named, key=lambda p: (cer[p] is None, -(cer[p] or 0.0)))
    if by == "confidence":
        conf = {p: stats[p].min_confidence if p in stats else None for p in named}
        return sorted(named, key=lambda p: (conf[p] is None, conf[p] or 0.0))
    raise ValueError(f"unknown order {by!r}; choose from {', '.join(SORT_ORDERS)}")


def looks_like_page(image: np.ndarray) -> bool:
    """Whether an image is shaped like a page of lines rather than one line (the rule
    of `PAGE_MIN_HEIGHT` and `PAGE_MAX_ASPECT`)."""
    height, width = image.shape[:2]
    return height >= PAGE_MIN_HEIGHT and width <= PAGE_MAX_ASPECT * height


def file_title(path: Path, position: str) -> str:
    """How the window names an image of the list: `a.png (2/5)`."""
    return f"{path.name} ({position})"


class RecentFiles:
    """Most-recent-first list of opened files, persisted in QSettings."""

    KEY = "files/recent"

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def paths(self) -> list[str]:
        value = self._settings.value(self.KEY, [])
        if isinstance(value, str):  # QSettings returns a lone string for a 1-item list
            value = [value]
        return [str(v) for v in value or []]

    def add(self, path: Path) -> None:
        entry = str(path.resolve())
        items = [entry, *(p for p in self.paths() if p != entry)][:MAX_RECENT]
        self._settings.setValue(self.KEY, items)


class ImageBrowser(QObject):
    """Opening images and paging through them.

    Paging never lands on an unreadable file: it is reported (path and reason) and the
    next readable one in the direction of travel is opened instead. A file chosen in the
    list is opened even when unreadable: it becomes the current one, shown as a failure
    (`failed`), so the view never keeps showing another image under its name. Every
    unreadable file met is announced (`unreadable`) for the list to mark, and what a
    folder walk could not use (pipes, unlistable folders) is reported with them.
    """

    opened = Signal(object, object, str)  # path, image array, position such as "2/5"
    failed = Signal(object, str, str)  # the chosen file that could not be read, why, its position
    listed = Signal()  # another list of images replaced `files`
    moved = Signal(object, str)  # the open image's path and its position after a reorder
    unreadable = Signal(object, str)  # a file of the list that could not be read, and why
    #: One line per unreadable file, then one per note on how the opened image was
    #: loaded (an EXIF rotation applied, ...) and on why the model cannot read it well
    #: (too small, blank, too dark: it is read anyway); "" when there is nothing to say.
    problems = Signal(str)

    def __init__(self, settings: QSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.files = FileList()
        self.recent = RecentFiles(settings)
        #: The loaded model's input height (None: no model yet, or it does not say), which
        #: an image lower than it is upscaled to; the window sets it when a model loads.
        self.model_height: int | None = None

    def open_paths(self, paths: Iterable[str | os.PathLike]) -> bool:
        """Open files and folders, showing the first readable image (or page line); False
        when none is. Pages with a layout (an XML named, or beside a scan) are listed
        as documents: their lines, cut out of the page."""
        from thulium_desktop.app.document_tree import list_documents, ordered_rows, row_keys  # it imports this module

        paths = list(paths)
        documents = list_documents(paths)
        if any(not isinstance(entry, Path) for entry in documents.entries):
            problems = [f"{path}: {reason}" for path, reason in documents.problems]
            files = FileList(row_keys(ordered_rows(documents.entries, "name", {})), documents.entries)
            return self._open_readable(files, 0, 1, problems)
        listing = list_images(paths)
        walk_problems = [f"{path}: {reason}" for path, reason in listing.problems]
        if not listing.paths:
            self.problems.emit(_message(["No images found in " + ", ".join(map(str, paths)), *walk_problems]))
            return False
        return self._open_readable(FileList(listing.paths), 0, 1, walk_problems)

    def step(self, delta: int) -> None:
        """Page Up/Down: the next readable image in that direction, if any."""
        index = self.files.neighbour(delta)
        if index is not None:
            self._open_readable(self.files, index, delta)

    def go_to(self, path: Path) -> None:
        """Open one image of the list (chosen in the file list); when it cannot be read,
        it is current all the same, and `failed` says why."""
        if path not in self.files.paths:
            return
        self.files.index = self.files.paths.index(path)
        try:
            loaded = read_item(path)
        except ImageLoadError as exc:
            self.unreadable.emit(path, exc.reason)
            self.failed.emit(path, exc.reason, self.files.position())
            self.problems.emit(str(exc))
            return
        self._show(loaded.image)
        self.problems.emit(_message([], self._notes(path, loaded)))

    def open_page(self, path: Path, document: Document) -> bool:
        """The image `path` of the list, taken whole until now, becomes the page
        `document` (the lines kraken found on it): its row becomes the page's, its lines
        under it, the other rows as they are. While `path` is still open, the page's first
        line that can be cut out opens; when the user has moved to another item since, that
        item stays open (a search takes seconds, and the view must not jump back). Only
        the page's lines are tried: False, and nothing changed, when none of them can be
        cut out (`problems` says why). ValueError when `path` is not an image of the list."""
        if path not in self.files.paths:
            raise ValueError(f"{path} is not in the list of images")
        at, loaded, failures = _first_readable(document.lines, 0, 1)
        if loaded is None:
            reasons = dict.fromkeys(str(exc) for _, exc in failures)  # a page's lines often fail alike
            self.problems.emit(_message([f"None of the {len(document.lines)} lines found on {path.name} "
                                         "can be cut out: it stays an image", *reasons]))
            return False
        shown = self.files.current
        entries = tuple(document if entry == path else entry for entry in (self.files.documents or self.files.paths))
        paths = [key for old in self.files.paths for key in (document.lines if old == path else (old,))]
        files = FileList(paths, entries)
        if shown != path:
            self._take(files, paths.index(shown))
            self._announce_unreadable(failures)
            self.moved.emit(shown, files.position())
            return True
        self._open_loaded(files, paths.index(document.lines[at]), loaded, failures)
        return True

    def reorder(self, paths: list[Path]) -> None:
        """List the same images in another order (errors first); the open image keeps
        its place in the window but not its position, which `moved` reports."""
        self.files.reorder(paths)
        if self.files.current is not None:
            self.moved.emit(self.files.current, self.files.position())

    def last_dir(self) -> str:
        return str(self._settings.value("files/last_dir", str(Path.home())))

    def _open_readable(self, files: FileList, index: int, delta: int, problems: Iterable[str] = ()) -> bool:
        """Open the first readable file of `files` from `index` on, stepping by `delta`;
        `files` becomes the list shown when one opens (and not otherwise). `problems`
        (of the walk that found them) are reported with the files that failed."""
        index, loaded, failures = _first_readable(files.paths, index, delta)
        if loaded is None:
            if files is self.files:
                self._announce_unreadable(failures)
            self.problems.emit(_message([*problems, *(str(exc) for _, exc in failures)]))
            return False
        self._open_loaded(files, index, loaded, failures, problems)
        return True

    def _open_loaded(self, files: FileList, index: int, loaded: LoadedImage, failures: list[Failure],
                     problems: Iterable[str] = ()) -> None:
        """Show `loaded`, read from `files`' item `index`, `files` becoming the list shown;
        the files that failed on the way are marked and reported with `problems`."""
        self._take(files, index)
        self._announce_unreadable(failures)
        self._show(loaded.image)
        lines = [*problems, *(str(exc) for _, exc in failures)]
        self.problems.emit(_message(lines, self._notes(files.current, loaded)))

    def _take(self, files: FileList, index: int) -> None:
        """`files` at `index` becomes the list shown (`listed` when it is another list)."""
        files.index = index
        listed, self.files = files is not self.files, files
        if listed:
            self.listed.emit()

    def _notes(self, key: Path | CorpusItem, loaded: LoadedImage) -> list[str]:
        """The message lines on how `key` was loaded, how well the model can read it and,
        for an image taken whole that looks like a page, how to find its lines."""
        notes = [*loaded.notes, *image_quality_notes(loaded.image, self.model_height)]
        if isinstance(key, Path) and looks_like_page(loaded.image) and find_layout(key) is None:
            notes.append(PAGE_NOTE)
        return _noted(key, notes)

    def _show(self, image: np.ndarray) -> None:
        """Make the current file the recent one and announce it open with its pixels."""
        current = self.files.current
        file = current.path if isinstance(current, CorpusItem) else current  # a line: its page's scan
        self.recent.add(file)
        self._settings.setValue("files/last_dir", str(file.parent))
        self.opened.emit(current, image, self.files.position())

    def _announce_unreadable(self, failures: list[Failure]) -> None:
        for path, exc in failures:
            self.unreadable.emit(path, exc.reason)


def read_item(key: Path | CorpusItem) -> LoadedImage:
    """An image file read whole, or a page's line cut out of its scan. Raises ImageLoadError."""
    return load_item(key) if isinstance(key, CorpusItem) else read_image(key)


def _first_readable(keys: Sequence[Path | CorpusItem], index: int,
                    delta: int) -> tuple[int, LoadedImage | None, list[Failure]]:
    """The first of `keys` from `index` on, stepping by `delta`, that can be read: its
    index and pixels (None when none can), and the ones that failed on the way."""
    failures: list[Failure] = []
    while 0 <= index < len(keys):
        try:
            return index, read_item(keys[index]), failures
        except ImageLoadError as exc:
            failures.append((keys[index], exc))
            index += delta
    return index, None, failures


def _noted(path: Path, notes: Iterable[str]) -> list[str]:
    """The notes on how `path` was loaded, as lines of the message naming the file."""
    return [f"Note: {path.name}: {note}" for note in notes]


def _message(problems: list[str], notes: Iterable[str] = ()) -> str:
    """The message bar's text: the first problems (the rest counted), then the notes."""
    shown = problems[:MAX_PROBLEMS_SHOWN]
    if len(problems) > len(shown):
        shown.append(f"… and {len(problems) - len(shown)} more")
    return "\n".join([*shown, *notes])
