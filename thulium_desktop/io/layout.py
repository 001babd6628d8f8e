"""A page's layout as PAGE-XML and ALTO describe it: its lines, and a safe way to read the XML.

A page scan arrives with an XML file from Transkribus, eScriptorium, kraken or OCR-D
that says where each text line is (a polygon, often a baseline) and what it says (its
transcription). `pagexml.py` and `alto.py` turn either format into the `PageLayout`
defined here; `documents.py` pairs it with its image and `line_images.py` cuts the
lines out.

The XML comes from the user's folders, so it is parsed defensively: only regular files
under `MAX_LAYOUT_BYTES`, and any entity declaration is refused before it is expanded
(a "billion laughs" file is a few hundred bytes that expand to gigabytes; an external
entity would read another file of the machine). Neither format needs entities.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from pathlib import Path
from xml.parsers import expat

from thulium_desktop.io.regular import NotRegularFile, open_regular

#: The largest layout file read: a PAGE-XML of a dense page with every glyph is a few
#: megabytes; anything far larger is not a page description.
MAX_LAYOUT_BYTES = 64 * 2**20

Point = tuple[float, float]


class LayoutError(ValueError):
    """A layout file (or the pairing of it with its image) cannot be used; `str()` is one
    line naming the file and why."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot use layout {self.path}: {reason}")


class NotALayout(LayoutError):
    """Well-formed XML that is neither PAGE-XML nor ALTO (a METS file, a config): a folder
    walk passes over it, as it passes over files that are not images."""


@dataclass(frozen=True)
class Line:
    """One text line of a page, in page pixels: its polygon (closed implicitly), its
    baseline when the layout gives one, its id, its truth (None: not transcribed), the
    id of its region and its reading direction as the layout states it (PAGE's
    `readingDirection`, e.g. "right-to-left"; None when not stated: ALTO has no such
    attribute). The truth is always in logical (reading) order, as both formats store
    it. Tuples, not arrays, so that a line can key a dict."""

    id: str
    polygon: tuple[Point, ...]
    baseline: tuple[Point, ...] | None = None
    truth: str | None = None
    region: str | None = None
    direction: str | None = None

    def scaled(self, sx: float, sy: float) -> Line:
        """The same line on an image scaled by (sx, sy)."""
        return replace(self, polygon=_scale(self.polygon, sx, sy),
                       baseline=None if self.baseline is None else _scale(self.baseline, sx, sy))


@dataclass(frozen=True, eq=False)
class PageLayout:
    """A page's lines in reading order, the image the layout names and the size it
    declares (width, height, in `unit`; None when not declared), and notes on what was
    skipped or changed while reading it. Compared by identity: one parse, one layout."""

    path: Path
    format: str
    image_name: str | None
    size: tuple[float, float] | None
    lines: tuple[Line, ...]
    notes: tuple[str, ...] = ()
    unit: str = "pixel"


def _scale(points: tuple[Point, ...], sx: float, sy: float) -> tuple[Point, ...]:
    return tuple((x * sx, y * sy) for x, y in points)


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def parse_points(text: str | None, minimum: int) -> tuple[Point, ...]:
    """Points written as PAGE (`"x1,y1 x2,y2"`) or ALTO (that, or `"x1 y1 x2 y2"`) write
    them. Raises ValueError saying what is wrong when there are fewer than `minimum`
    points, an odd count of numbers, or anything that is not a number."""
    raw = (text or "").replace(",", " ").split()
    numbers = [float(n) for n in raw if _NUMBER.fullmatch(n)]
    if len(numbers) != len(raw):
        raise ValueError(f"points {_shorten(text)!r} hold something that is not a number")
    if len(numbers) % 2:
        raise ValueError(f"points {_shorten(text)!r} have an odd count of numbers")
    points = tuple(zip(numbers[0::2], numbers[1::2]))
    if len(points) < minimum:
        raise ValueError(f"{len(points)} points where at least {minimum} are needed")
    return points


def _shorten(text: str | None, limit: int = 40) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def local_name(tag: str) -> str:
    """An element's name without its namespace (`{ns}TextLine` -> `TextLine`)."""
    return tag.rpartition("}")[2]


def note_unknown_children(line: ET.Element, allowed: frozenset[str], what: str, notes: list[str]) -> None:
    """A note for each child of `line` (`what`: e.g. "a PAGE TextLine 'l2'") whose name is
    not in `allowed`: such an element is ignored, and the user learns that part of the
    file was not understood rather than losing it silently."""
    for child in line:
        if local_name(child.tag) not in allowed:
            notes.append(f"{what}: element <{local_name(child.tag)}> is not understood there; it is ignored")


def namespace(tag: str) -> str:
    """An element's namespace URI ("" when it has none)."""
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def parse_xml(path: str | os.PathLike) -> ET.Element:
    """The root element of a layout file, read within `MAX_LAYOUT_BYTES` from a regular
    file only, with entity declarations refused. Raises `LayoutError` (one line)."""
    p = Path(path)
    try:
        with open_regular(p) as file:
            length = os.fstat(file.fileno()).st_size
            if length > MAX_LAYOUT_BYTES:
                raise LayoutError(p, f"{length:,} bytes is more than the {MAX_LAYOUT_BYTES:,} a layout file may have")
            data = file.read(length)
    except FileNotFoundError as exc:
        raise LayoutError(p, "no such file") from exc
    except NotRegularFile as exc:
        raise LayoutError(p, str(exc)) from exc
    except OSError as exc:
        raise LayoutError(p, (exc.strerror or str(exc)).lower()) from exc
    return _parse_bytes(p, data)


def _parse_bytes(path: Path, data: bytes) -> ET.Element:
    """An ElementTree built by expat with the same `{namespace}name` tags ElementTree
    uses, refusing entity declarations as they are met (before any expansion)."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True

    def refuse_entity(name: str, *_: object) -> None:
        raise LayoutError(path, f"declares the XML entity {name!r}; entities are refused (they can expand "
                                "to gigabytes or read other files, and PAGE-XML and ALTO need none)")

    parser.EntityDeclHandler = refuse_entity
    parser.StartElementHandler = lambda tag, attrs: builder.start(
        _clark(tag), {_clark(k): v for k, v in attrs.items()})
    parser.EndElementHandler = lambda tag: builder.end(_clark(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise LayoutError(path, f"not well-formed XML (line {exc.lineno}, column {exc.offset + 1}): "
                                f"{expat.ErrorString(exc.code)}") from exc
    return builder.close()


def _clark(name: str) -> str:
    """expat's `ns}name` as ElementTree's `{ns}name`."""
    return "{" + name if "}" in name else name
