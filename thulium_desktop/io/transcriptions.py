"""Reading ground-truth transcriptions: `IMAGE.gt.txt` files and tables of file → text.

A transcription file is small, hand-made text, and the tools that make them go
wrong in familiar ways (a binary file picked by mistake, a Latin-1 export, an
empty file). Each becomes a `TranscriptionError` naming the file and the reason,
so the app and the CLI can say so instead of scoring a reading against garbage.
"""

from __future__ import annotations

import codecs
import csv
import os
from pathlib import Path

from thulium_desktop.io.regular import NotRegularFile, open_regular

#: A transcription table of a few thousand lines is a few hundred kilobytes; anything
#: this big was not meant as one.
MAX_BYTES = 16 * 2**20
#: Column names (first row) that mark a table's header, as in `resources/samples/ground_truth.tsv`.
NAME_COLUMNS = ("file", "image", "name", "path")
TEXT_COLUMNS = ("text", "truth", "transcription", "gt")
#: The longest truth compared with a reading: a line of handwriting is a few hundred
#: characters, and a longer "truth" (a whole page, a wrong file) costs time and memory in
#: every comparison while measuring nothing.
MAX_TRUTH_CHARS = 10_000


class TranscriptionError(ValueError):
    """A transcription could not be read; `str()` names the file and why."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read the transcription {self.path}: {reason}")


def read_text(path: str | os.PathLike) -> str:
    """The whole file as UTF-8 text (a BOM dropped), or UTF-16 with its BOM (what
    spreadsheets export as "Unicode text"), or a `TranscriptionError`. Only a regular
    file is read: a named pipe in its place would block forever."""
    p = Path(path)
    try:
        with open_regular(p) as file:
            size = os.fstat(file.fileno()).st_size
            data = file.read(size) if size <= MAX_BYTES else b""
    except FileNotFoundError as exc:
        raise TranscriptionError(p, "no such file") from exc
    except NotRegularFile as exc:
        raise TranscriptionError(p, "is a folder, not a text file" if exc.is_folder else str(exc)) from exc
    except OSError as exc:
        raise TranscriptionError(p, exc.strerror or str(exc)) from exc
    if size > MAX_BYTES:
        raise TranscriptionError(p, f"larger than {MAX_BYTES // 2**20} MiB; not a transcription")
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as exc:
            raise TranscriptionError(p, f"not UTF-16 text (byte {exc.start})") from exc
    if b"\x00" in data:
        raise TranscriptionError(p, "a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TranscriptionError(p, f"not UTF-8 text (byte {exc.start})") from exc
    if not text.strip():
        raise TranscriptionError(p, "the file is empty")
    return text


def load_truth(path: str | os.PathLike) -> str:
    """One image's truth: the first line of its `.gt.txt`, stripped."""
    return read_text(path).strip().splitlines()[0].strip()


class Transcriptions(dict[str, str]):
    """A table of image file name → truth, and the names it gives on more than one
    line (`repeated`: name → those line numbers; the last line is the one kept)."""

    def __init__(self, path: str | os.PathLike, texts: dict[str, str], repeated: dict[str, tuple[int, ...]]) -> None:
        super().__init__(texts)
        self.path = Path(path)
        self.repeated = repeated

    def repeat_note(self, name: str) -> str | None:
        """A warning that the table names `name` more than once, or None."""
        lines = self.repeated.get(name)
        if lines is None:
            return None
        listed = ", ".join(map(str, lines))
        return f"{self.path.name} names {name} on {len(lines)} lines ({listed}); the last one is used"


def load_transcriptions(path: str | os.PathLike) -> Transcriptions:
    """A table of image file name → truth: tab-separated, one image a line.

    A first row naming its columns (`file`, `text`, …, as the bundled samples'
    `ground_truth.tsv` does) is read as a header and the `text` column is taken;
    without one, the first column is the name and the second the text. A name on
    several lines keeps its last and is listed in `repeated`, for callers to warn.
    """
    lines = read_text(path).splitlines()
    try:
        rows = [(n, row) for n, row in enumerate(csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE), 1)
                if any(cell.strip() for cell in row)]  # blank lines are not entries
    except csv.Error as exc:  # e.g. a field over csv's size limit
        raise TranscriptionError(path, f"not a readable table: {exc}") from exc
    header = [cell.strip().lower() for cell in rows[0][1]]
    text_col = 1
    if header[0] in NAME_COLUMNS:
        text_col = next((header.index(c) for c in TEXT_COLUMNS if c in header), 1)
        rows = rows[1:]
    table: dict[str, str] = {}
    lines_of: dict[str, list[int]] = {}
    for number, row in rows:
        if len(row) <= text_col:
            raise TranscriptionError(path, f"line {number} has no tab-separated text: {row[0][:40]!r}")
        name = row[0].strip()
        table[name] = row[text_col].strip()
        lines_of.setdefault(name, []).append(number)
    if not table:
        raise TranscriptionError(path, "no transcriptions in it (a header only)")
    return Transcriptions(path, table, {n: tuple(ls) for n, ls in lines_of.items() if len(ls) > 1})
