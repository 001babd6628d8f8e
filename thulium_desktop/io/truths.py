"""Where each image's ground truth comes from: one rule for the app and the CLI.

A chosen table, then `IMAGE.gt.txt` beside the image, then the folder's
`ground_truth.tsv` (the bundled samples ship one). The window asks
`TruthSource.lookup(path)` when a file opens; `explain --contrast` asks the same for
each image, so both find the same truth. A line of a page (a corpus item cut from a
PAGE-XML or ALTO page) has its truth in the layout, and only there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from thulium_desktop.io.alto import READING_NOTE
from thulium_desktop.io.corpus import CorpusItem
from thulium_desktop.io.transcriptions import (
    MAX_TRUTH_CHARS,
    TranscriptionError,
    Transcriptions,
    load_transcriptions,
    load_truth,
)


def truth_path(image_path: str | os.PathLike) -> Path:
    """Where an image's own transcription lives: `IMAGE.gt.txt` beside it."""
    p = Path(image_path)
    return p.with_name(p.name + ".gt.txt") if not p.name.endswith(".gt.txt") else p


@dataclass(frozen=True)
class Truth:
    """An image's truth (None: there is none), or why the one there could not be used,
    and warnings about where it came from (a table naming the image twice, a truth file
    linking outside the image's folder that was not followed)."""

    text: str | None = None
    problem: str | None = None
    notes: tuple[str, ...] = ()


#: A transcription table found in an image's folder without being chosen (the bundled
#: samples ship one), so opening a folder of transcribed images shows errors at once.
FOLDER_TABLE = "ground_truth.tsv"


class TruthSource:
    """A chosen transcription table, then `IMAGE.gt.txt` beside the image, then the
    folder's own `ground_truth.tsv`.

    A table is looked up by the image's file name (as in the samples'
    `ground_truth.tsv`) and, failing that, by its path relative to the table. A truth
    file found beside an image (not one the user chose) that is a link to somewhere
    outside the image's folder is not followed: a folder of images should not be able
    to copy an arbitrary file of the machine into the outputs. A truth longer than
    `MAX_TRUTH_CHARS` is refused as the truth's problem.
    """

    def __init__(self) -> None:
        self.table: Transcriptions | None = None
        self._folder_tables: dict[Path, Transcriptions | Truth] = {}

    def forget_folders(self) -> None:
        """Read folders' `ground_truth.tsv` anew on next lookup: a folder opened again may
        carry an edited table, as its `.gt.txt` files are read anew too."""
        self._folder_tables.clear()

    def choose(self, path: str | os.PathLike) -> int:
        """Use a transcription table from now on; its number of entries. A bad table
        raises `TranscriptionError` and leaves the previous one in use."""
        self.table = load_transcriptions(path)
        return len(self.table)

    def lookup(self, image: Path | CorpusItem | None) -> Truth:
        """The truth of an image file, or of a corpus item: a line's comes from its
        layout (a table naming the page's image would give every line the same text),
        an image's as for its path."""
        if image is None:
            return Truth()
        if isinstance(image, CorpusItem):
            if image.line is not None:
                said = tuple(note for note in image.line.layout.notes if note == READING_NOTE)
                return _bounded(Truth(image.line.line.truth, notes=said), image.name)
            image = image.path
        return _bounded(self._find(image), image.name)

    def _find(self, image_path: Path) -> Truth:
        found = self._from_table(image_path)
        if found is not None:
            return found
        beside = truth_path(image_path)
        if not beside.exists():
            return self._from_folder(image_path)
        if _links_outside(beside, image_path.parent):
            folder = self._from_folder(image_path)
            return replace(folder, notes=(_not_followed(beside), *folder.notes))
        try:
            return Truth(load_truth(beside))
        except TranscriptionError as exc:
            return Truth(problem=str(exc))

    def _from_folder(self, image_path: Path) -> Truth:
        """The image's line in its folder's `ground_truth.tsv`, read once per folder; a
        table that cannot be read is named as the problem of each of its images, and
        one that links outside the folder is named in a note."""
        folder = image_path.parent
        if folder not in self._folder_tables:
            self._folder_tables[folder] = _folder_table(folder / FOLDER_TABLE)
        table = self._folder_tables[folder]
        if isinstance(table, Truth):
            return table
        return _entry(table, image_path.name) or Truth()

    def _from_table(self, image_path: Path) -> Truth | None:
        if self.table is None:
            return None
        found = _entry(self.table, image_path.name)
        if found is not None:
            return found
        try:
            relative = image_path.resolve().relative_to(self.table.path.resolve().parent)
        except ValueError:
            return None
        return _entry(self.table, relative.as_posix())


def _folder_table(path: Path) -> Transcriptions | Truth:
    """A folder's table, or the Truth every image of the folder gets when there is none
    to use: empty, the problem reading it, or the note that its link was not followed."""
    if not path.is_file():
        return Truth()
    if _links_outside(path, path.parent):
        return Truth(notes=(_not_followed(path),))
    try:
        return load_transcriptions(path)
    except TranscriptionError as exc:
        return Truth(problem=str(exc))


def _entry(table: Transcriptions, key: str) -> Truth | None:
    """`key`'s truth in `table`, with the table's warning when it names `key` twice."""
    if key not in table:
        return None
    note = table.repeat_note(key)
    return Truth(table[key], notes=(note,) if note else ())


def _links_outside(path: Path, folder: Path) -> bool:
    """Whether `path`, links followed, lies outside `folder` (links followed too)."""
    return not path.resolve().is_relative_to(folder.resolve())


def _not_followed(path: Path) -> str:
    return f"{path.name} is a link to a file outside the image's folder; it was not followed"


def _bounded(truth: Truth, name: str) -> Truth:
    """`truth`, or its refusal when it is longer than any line a reading is compared with."""
    if truth.text is None or len(truth.text) <= MAX_TRUTH_CHARS:
        return truth
    return Truth(problem=f"the truth of {name} is {len(truth.text):,} characters long; truths over "
                         f"{MAX_TRUTH_CHARS:,} characters are refused (not one line of text)", notes=truth.notes)
