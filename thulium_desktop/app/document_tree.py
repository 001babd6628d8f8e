"""The open list as documents: images taken whole, and pages with their lines.

A page that comes with a PAGE-XML or ALTO layout, or whose lines kraken found
(`page_segmentation.py`), is not one image to read but its lines (`io.corpus`: items named `<page>/<line id>`). Listing those lines flat would
bury which page holds the worst ones, so the Images list shows each page as a row
with its lines under it, in reading order or errors first, and the page row with the
page's own numbers: its CER over every measured line (weighted by each line's truth,
so it is the page's edits over its characters) and its least confident character.

Plain Python (no Qt): the panel (`file_panel.py`) only shows what this orders.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from thulium_desktop.app.files import SORT_ORDERS, ImageStats
from thulium_desktop.io.corpus import CorpusItem, collect_images
from thulium_desktop.io.layout import PageLayout


@dataclass(frozen=True, eq=False)
class Document:
    """A page scan and its layout, with its lines as corpus items in reading order.
    Compared by identity, as its layout is (one listing, one document per page)."""

    image: Path
    layout: PageLayout = field(repr=False)
    lines: tuple[CorpusItem, ...] = field(repr=False)

    @property
    def name(self) -> str:
        """How the list names the page: its image, and the layout's format."""
        return f"{self.image.name} ({self.layout.format})"

    def line(self, line_id: str) -> CorpusItem:
        """The page's line of this id (as the layout names it). Raises KeyError."""
        for item in self.lines:
            if item.line.line.id == line_id:
                return item
        raise KeyError(f"{self.image.name} has no line {line_id!r}")


#: A row at the top of the list: an image taken whole, or a page.
Entry = Path | Document
#: What carries numbers in the list: an image, a page's line, or a page (its lines' sum).
Key = Path | CorpusItem | Document
#: A top-level row and the rows under it (a page's lines; none for an image).
Row = tuple[Entry, tuple[CorpusItem, ...]]


@dataclass(frozen=True)
class DocumentListing:
    """What some opened paths hold, as the list shows it, and what could not be used
    (path, reason): unreadable layouts, layouts whose image is missing, folders that
    cannot be listed."""

    entries: tuple[Entry, ...]
    problems: tuple[tuple[str, str], ...]


def list_documents(paths: Iterable[str | os.PathLike]) -> DocumentListing:
    """The documents of `paths` as the CLI finds them (`collect_images`: folders walked,
    pages with a layout beside them, or a layout file named, stand for their lines),
    grouped back into pages."""
    corpus = collect_images(paths)
    return DocumentListing(grouped(corpus.items), corpus.missing)


def grouped(items: Iterable[CorpusItem]) -> tuple[Entry, ...]:
    """Corpus items as the list's rows: each image taken whole, and each page's lines
    (consecutive items of one layout, as `collect_images` and `segment_images` give
    them) gathered into its `Document`."""
    entries: list[Entry] = []
    for item in items:
        if item.line is None:
            entries.append(item.path)
            continue
        last = entries[-1] if entries else None
        if isinstance(last, Document) and last.layout is item.line.layout:
            entries[-1] = Document(last.image, last.layout, (*last.lines, item))
        else:
            entries.append(Document(item.path, item.line.layout, (item,)))
    return tuple(entries)


def page_stats(document: Document, stats: Mapping[Key, ImageStats]) -> ImageStats | None:
    """A page's numbers from its lines read so far (None: none read): the CER of the
    page's text (each measured line's CER weighted by its truth's length, i.e. all
    edits over all characters) and the least confident character of any line."""
    read = [(item, stats[item]) for item in document.lines if item in stats]
    if not read:
        return None
    measured = [(len(item.line.line.truth or ""), s.cer) for item, s in read if s.cer is not None]
    chars = sum(n for n, _ in measured)
    cer = sum(n * c for n, c in measured) / chars if chars else None
    confidences = [s.min_confidence for _, s in read if s.min_confidence is not None]
    return ImageStats(cer, min(confidences) if confidences else None)


def with_page_stats(entries: Iterable[Entry], stats: Mapping[Key, ImageStats]) -> dict[Key, ImageStats]:
    """`stats` with each page's own numbers added (`page_stats`), as the list shows them."""
    out = dict(stats)
    for entry in entries:
        if isinstance(entry, Document) and (page := page_stats(entry, stats)) is not None:
            out[entry] = page
    return out


def ordered_rows(entries: Sequence[Entry], by: str, stats: Mapping[Key, ImageStats]) -> list[Row]:
    """The list's rows in the order `by` (a key of `files.SORT_ORDERS`): images and pages
    by their numbers (a page by its own, `page_stats`), each page's lines by theirs;
    ties, and the "name" order, keep images and pages by path and lines in reading
    order. Rows not measured yet go last."""
    full = with_page_stats(entries, stats)
    top = _ordered(sorted(entries, key=entry_path), by, full.get)
    return [(entry, tuple(_ordered(entry.lines, by, full.get)) if isinstance(entry, Document) else ())
            for entry in top]


def row_keys(rows: Iterable[Row]) -> list[Path | CorpusItem]:
    """What Page Up/Down steps through, in the rows' order: each image, and each line of
    each page (a page itself is no image to read)."""
    return [key for entry, lines in rows for key in (lines if isinstance(entry, Document) else (entry,))]


def entry_path(entry: Entry) -> Path:
    """The file a top-level row stands for: the image, or the page's scan."""
    return entry.image if isinstance(entry, Document) else entry


T = TypeVar("T")


def _ordered(keys: Sequence[T], by: str, stats_of: Callable[[T], ImageStats | None]) -> list[T]:
    """`keys` (in name order) ordered `by` error (highest CER first) or confidence
    (lowest first); stable, so ties keep name order, and unmeasured ones go last."""
    if by == "name":
        return list(keys)
    if by not in SORT_ORDERS:
        raise ValueError(f"unknown order {by!r}; choose from {', '.join(SORT_ORDERS)}")

    def value(key: T) -> float | None:
        found = stats_of(key)
        if found is None:
            return None
        return found.cer if by == "error" else found.min_confidence

    sign = -1.0 if by == "error" else 1.0
    return sorted(keys, key=lambda k: (value(k) is None, sign * (value(k) or 0.0)))
