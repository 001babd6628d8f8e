"""Which images the window can step through, and the recent-files list."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QSettings

from thulium_desktop.io.images import IMAGE_SUFFIXES

MAX_RECENT = 10


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, folders replaced by the images inside them (recursively, sorted).

    Files are kept whatever their suffix: opening one explicitly should say why it
    cannot be read rather than silently skip it.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            )
        else:
            out.append(path)
    return out


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
