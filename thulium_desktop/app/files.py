"""Which images the window can step through, in which order, opening them, and the
recent-files list.

Besides by name, a folder can be ordered "errors first": by character error rate
(highest first) or by the least confident character (lowest first), from each
image's `ImageStats`; images not yet measured go last, in name order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

from thulium_desktop.io.corpus import image_paths
from thulium_desktop.io.images import ImageLoadError, load_image

MAX_RECENT = 10
#: Unreadable files listed by name in one message; the rest are counted.
MAX_PROBLEMS_SHOWN = 3
#: The orders a folder can be listed in, with their labels.
SORT_ORDERS = {"name": "Name", "error": "Error (CER, highest first)", "confidence": "Lowest confidence first"}


@dataclass(frozen=True)
class ImageStats:
    """What the file list shows and sorts by: the image's error rate against its truth
    (None without one) and its least confident character (None: not read)."""

    cer: float | None = None
    min_confidence: float | None = None


class FileList:
    """An ordered list of image paths with a current position (Page Up/Down)."""

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        self.paths = list(paths)
        self.index = 0 if self.paths else -1

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

    An unreadable file never replaces what is open: it is reported (path and reason)
    and the next readable one in the direction of travel is opened instead.
    """

    opened = Signal(object, object, str)  # path, image array, position such as "2/5"
    listed = Signal()  # another list of images replaced `files`
    moved = Signal(object, str)  # the open image's path and its position after a reorder
    problems = Signal(str)  # one line per unreadable file; "" when everything opened

    def __init__(self, settings: QSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.files = FileList()
        self.recent = RecentFiles(settings)

    def open_paths(self, paths: Iterable[str | os.PathLike]) -> bool:
        """Open files and folders, showing the first readable image; False when none is."""
        paths = list(paths)
        found = image_paths(paths)
        if not found:
            self.problems.emit("No images found in " + ", ".join(str(p) for p in paths))
            return False
        return self._open_readable(FileList(found), 0, 1)

    def step(self, delta: int) -> None:
        """Page Up/Down: the next readable image in that direction, if any."""
        index = self.files.neighbour(delta)
        if index is not None:
            self._open_readable(self.files, index, delta)

    def go_to(self, path: Path) -> None:
        """Open one image of the list (chosen in the file list)."""
        if path in self.files.paths:
            self._open_readable(self.files, self.files.paths.index(path), 1)

    def reorder(self, paths: list[Path]) -> None:
        """List the same images in another order (errors first); the open image keeps
        its place in the window but not its position, which `moved` reports."""
        self.files.reorder(paths)
        if self.files.current is not None:
            self.moved.emit(self.files.current, self.files.position())

    def last_dir(self) -> str:
        return str(self._settings.value("files/last_dir", str(Path.home())))

    def _open_readable(self, files: FileList, index: int, delta: int) -> bool:
        problems: list[str] = []
        while 0 <= index < len(files.paths):
            try:
                image = load_image(files.paths[index])
            except ImageLoadError as exc:
                problems.append(str(exc))
                index += delta
                continue
            files.index = index
            listed, self.files = files is not self.files, files
            if listed:
                self.listed.emit()
            self.recent.add(files.current)
            self._settings.setValue("files/last_dir", str(files.current.parent))
            self.opened.emit(files.current, image, files.position())
            break
        shown = problems[:MAX_PROBLEMS_SHOWN]
        if len(problems) > len(shown):
            shown.append(f"… and {len(problems) - len(shown)} more")
        self.problems.emit("\n".join(shown))
        return 0 <= index < len(files.paths)
