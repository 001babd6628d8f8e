"""Where each image's ground truth comes from: one rule for the app and the CLI.

A chosen table, then `IMAGE.gt.txt` beside the image, then the folder's
`ground_truth.tsv` (the bundled samples ship one). The window asks
`TruthSource.lookup(path)` when a file opens; `explain --contrast` asks the same for
each image, so both find the same truth.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from thulium_desktop.io.transcriptions import TranscriptionError, load_transcriptions, load_truth


def truth_path(image_path: str | os.PathLike) -> Path:
    """Where an image's own transcription lives: `IMAGE.gt.txt` beside it."""
    p = Path(image_path)
    return p.with_name(p.name + ".gt.txt") if not p.name.endswith(".gt.txt") else p


@dataclass(frozen=True)
class Truth:
    """An image's truth (None: there is none), or why the one there could not be used."""

    text: str | None = None
    problem: str | None = None


#: A transcription table found in an image's folder without being chosen (the bundled
#: samples ship one), so opening a folder of transcribed images shows errors at once.
FOLDER_TABLE = "ground_truth.tsv"


class TruthSource:
    """A chosen transcription table, then `IMAGE.gt.txt` beside the image, then the
    folder's own `ground_truth.tsv`.

    A table is looked up by the image's file name (as in the samples'
    `ground_truth.tsv`) and, failing that, by its path relative to the table.
    """

    def __init__(self) -> None:
        self.table: dict[str, str] = {}
        self.table_path: Path | None = None
        self._folder_tables: dict[Path, dict[str, str] | TranscriptionError] = {}

    def forget_folders(self) -> None:
        """Read folders' `ground_truth.tsv` anew on next lookup: a folder opened again may
        carry an edited table, as its `.gt.txt` files are read anew too."""
        self._folder_tables.clear()

    def choose(self, path: str | os.PathLike) -> int:
        """Use a transcription table from now on; its number of entries. A bad table
        raises `TranscriptionError` and leaves the previous one in use."""
        table = load_transcriptions(path)
        self.table, self.table_path = table, Path(path)
        return len(table)

    def lookup(self, image_path: Path | None) -> Truth:
        if image_path is None:
            return Truth()
        text = self._from_table(image_path)
        if text is not None:
            return Truth(text)
        beside = truth_path(image_path)
        if not beside.exists():
            return self._from_folder(image_path)
        try:
            return Truth(load_truth(beside))
        except TranscriptionError as exc:
            return Truth(problem=str(exc))

    def _from_folder(self, image_path: Path) -> Truth:
        """The image's line in its folder's `ground_truth.tsv`, read once per folder; a
        table that cannot be read is named as the problem of each of its images."""
        folder = image_path.parent
        if folder not in self._folder_tables:
            path = folder / FOLDER_TABLE
            if not path.is_file():
                self._folder_tables[folder] = {}
            else:
                try:
                    self._folder_tables[folder] = load_transcriptions(path)
                except TranscriptionError as exc:
                    self._folder_tables[folder] = exc
        table = self._folder_tables[folder]
        if isinstance(table, TranscriptionError):
            return Truth(problem=str(table))
        return Truth(table.get(image_path.name))

    def _from_table(self, image_path: Path) -> str | None:
        if self.table_path is None:
            return None
        if image_path.name in self.table:
            return self.table[image_path.name]
        try:
            relative = image_path.resolve().relative_to(self.table_path.resolve().parent)
        except ValueError:
            return None
        return self.table.get(relative.as_posix())

