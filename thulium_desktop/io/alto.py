"""ALTO (v2, v3, v4, or without a namespace) as a `PageLayout`: eScriptorium, kraken and
many library OCR pipelines write it.

A line is a `TextLine` with a `Shape/Polygon@POINTS` polygon, or else its
`HPOS/VPOS/WIDTH/HEIGHT` box, and a `BASELINE` (a y, or points in ALTO 4.2+). Its truth
is its `String@CONTENT`s joined by its `SP`s (a single space where two strings have no
`SP` between them), and a `HYP`'s hyphen, in logical order (ALTO has no reading-
direction attribute, so a `Line`'s direction is None). Lines are in document order. A
line without a usable polygon or box is skipped with a note naming it and why, and an
element ALTO does not define inside a line is noted and ignored; the rest of the page is
still read. Coordinates in `mm10` or `inch1200` are kept as they are, with the unit:
`documents.fit_to_image` converts them by the page's declared size.

ALTO holds one text per line, so a copy `page_writer` wrote with a model's readings
holds readings, not transcriptions. It says so in its `Description`: a processing
record (`OCRProcessing`, or ALTO 4's `Processing`) whose `processingSoftware/softwareName`
is `READING_SOFTWARE`. Such a document is read without truths (with `READING_NOTE`),
so that reading it again does not score the model against itself; other tools'
processing records name other software, and their text is read as truth.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from thulium_desktop.io.layout import (
    Line,
    LayoutError,
    PageLayout,
    Point,
    local_name,
    namespace,
    note_unknown_children,
    parse_points,
)

UNITS = ("pixel", "mm10", "inch1200")

#: The `processingSoftware/softwareName` of the processing record that marks an ALTO
#: whose text `page_writer` replaced with a model's readings.
READING_SOFTWARE = "thulium-desktop"
#: Why the lines of such a document have no truth.
READING_NOTE = f"its text is a reading by {READING_SOFTWARE}, not a transcription: its lines have no truth"
#: The `Description` children that record how the document's text was made (ALTO 2-4; 4 adds `Processing`).
_PROCESSING_RECORDS = ("OCRProcessing", "Processing")

#: The elements ALTO (v2 to v4) allows inside a `TextLine`.
_LINE_CHILDREN = frozenset({"Shape", "String", "SP", "HYP"})
_BOX = ("HPOS", "VPOS", "WIDTH", "HEIGHT")


def is_alto(root: ET.Element) -> bool:
    return local_name(root.tag) == "alto"


def prefix(root: ET.Element) -> str:
    """`{namespace}` of the document's elements ("" for an ALTO without a namespace)."""
    return "{" + namespace(root.tag) + "}" if namespace(root.tag) else ""


def reading_records(root: ET.Element) -> list[ET.Element]:
    """The processing records in the document's `Description` that name this program as
    their software (`READING_SOFTWARE`): present, its text is a reading, not a truth."""
    ns = prefix(root)
    description = root.find(f"{ns}Description")
    records = [] if description is None else [c for c in description if local_name(c.tag) in _PROCESSING_RECORDS]
    return [record for record in records
            if any((name.text or "").strip() == READING_SOFTWARE for name in record.iter(f"{ns}softwareName"))]


def parse_alto(root: ET.Element, path: Path) -> PageLayout:
    """The layout of the first `Page` of an ALTO document whose root is `root`."""
    ns = prefix(root)
    unit = (root.findtext(f"{ns}Description/{ns}MeasurementUnit") or "pixel").strip()
    if unit not in UNITS:
        raise LayoutError(path, f"MeasurementUnit {unit!r} is not one of ALTO's units ({', '.join(UNITS)})")
    pages = root.findall(f"{ns}Layout/{ns}Page")
    if not pages:
        raise LayoutError(path, "the ALTO has no Layout/Page element")
    notes = [f"the ALTO holds {len(pages)} pages; only the first is read"] if len(pages) > 1 else []
    with_truths = not reading_records(root)
    if not with_truths:
        notes.append(READING_NOTE)
    lines = [line for block in pages[0].iter(f"{ns}TextBlock")
             for line in _block_lines(block, ns, notes, with_truths)]
    name = root.findtext(f"{ns}Description/{ns}sourceImageInformation/{ns}fileName")
    version = namespace(root.tag).rpartition("/")[2].rstrip("#") or "without a namespace"
    return PageLayout(path, f"ALTO {version}", name.strip() if name else None, _page_size(pages[0], path),
                      tuple(lines), tuple(notes), unit)


def _page_size(page: ET.Element, path: Path) -> tuple[float, float] | None:
    if page.get("WIDTH") is None or page.get("HEIGHT") is None:
        return None
    size = _numbers(page, ("WIDTH", "HEIGHT"))
    if size is None or min(size) <= 0:
        raise LayoutError(path, f"Page WIDTH={page.get('WIDTH')!r} HEIGHT={page.get('HEIGHT')!r} is not a size")
    return size


def _numbers(element: ET.Element, names: tuple[str, ...]) -> tuple[float, ...] | None:
    """The attributes `names` as finite numbers, or None when one is missing or is not one."""
    try:
        values = tuple(float(element.get(name, "")) for name in names)
    except ValueError:
        return None
    return values if all(math.isfinite(v) for v in values) else None


def _block_lines(block: ET.Element, ns: str, notes: list[str], with_truths: bool) -> Iterator[Line]:
    """The block's usable lines, each with its truth unless `with_truths` is False."""
    for line_id, element in _line_elements(block, ns):
        note_unknown_children(element, _LINE_CHILDREN, f"an ALTO TextLine {line_id!r}", notes)
        try:
            polygon = _polygon(element, ns)
        except ValueError as exc:
            notes.append(f"TextLine {line_id!r} skipped: {exc}")
            continue
        truth = _truth(element, ns) if with_truths else None
        yield Line(line_id, polygon, _baseline(element, line_id, notes), truth, block.get("ID"))


def _line_elements(block: ET.Element, ns: str) -> Iterator[tuple[str, ET.Element]]:
    """A block's `TextLine` elements with the id their `Line` gets: their own, else one
    made from the block's id and their place in it."""
    for n, element in enumerate(block.findall(f"{ns}TextLine"), 1):
        yield element.get("ID") or f"{block.get('ID', 'block')}_line{n}", element


def text_lines(root: ET.Element) -> dict[str, ET.Element]:
    """Every `TextLine` element of the first page of an ALTO document by the id its
    `Line` is given, to write results back into the element the line was read from."""
    ns = prefix(root)
    pages = root.findall(f"{ns}Layout/{ns}Page")
    blocks = pages[0].iter(f"{ns}TextBlock") if pages else ()
    return {line_id: element for block in blocks for line_id, element in _line_elements(block, ns)}


def _polygon(line: ET.Element, ns: str) -> tuple[Point, ...]:
    """The line's `Shape/Polygon`, else its box; ValueError saying why there is neither."""
    shape = line.find(f"{ns}Shape/{ns}Polygon")
    if shape is not None:
        try:
            return parse_points(shape.get("POINTS"), 3)
        except ValueError as exc:
            raise ValueError(f"its Shape/Polygon is not a polygon ({exc})") from exc
    missing = [name for name in _BOX if line.get(name) is None]
    if missing:
        raise ValueError(f"it has neither a Shape/Polygon nor a box (no {'/'.join(missing)})")
    box = _numbers(line, _BOX)
    if box is None:
        wrong = next(name for name in _BOX if _numbers(line, (name,)) is None)
        raise ValueError(f"its {wrong} {line.get(wrong)!r} is not a number (and it has no Shape/Polygon)")
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"its box is empty (WIDTH={line.get('WIDTH')!r}, HEIGHT={line.get('HEIGHT')!r})")
    x, y, w, h = box
    return (x, y), (x + w, y), (x + w, y + h), (x, y + h)


def _baseline(line: ET.Element, line_id: str, notes: list[str]) -> tuple[Point, ...] | None:
    """ALTO up to 4.1 gives the baseline as one y across the line's box; 4.2 as points."""
    raw = line.get("BASELINE")
    if raw is None:
        return None
    try:
        y = float(raw)
    except ValueError:
        y = None
    box = _numbers(line, ("HPOS", "WIDTH"))
    if y is not None and box is not None:
        return (box[0], y), (box[0] + box[1], y)
    try:
        return parse_points(raw, 2)
    except ValueError as exc:
        notes.append(f"TextLine {line_id!r}: its BASELINE is ignored ({exc})")
        return None


def _truth(line: ET.Element, ns: str) -> str | None:
    """The strings' CONTENT joined by one space per `SP` (a space where two strings touch),
    and a `HYP`'s CONTENT as it is; None when the line has no string."""
    kinds = {f"{ns}String": "String", f"{ns}SP": "SP", f"{ns}HYP": "HYP"}
    parts: list[str] = []
    seen: list[str] = []
    for child in line:
        kind = kinds.get(child.tag)
        if kind is None:
            continue
        if kind == "String" and seen[-1:] == ["String"]:
            parts.append(" ")
        parts.append(" " if kind == "SP" else child.get("CONTENT", ""))
        seen.append(kind)
    return "".join(parts) if "String" in seen else None
