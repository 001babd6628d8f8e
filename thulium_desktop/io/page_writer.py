"""A model's readings written back into a copy of the PAGE-XML or ALTO a page came from.

The copy is the source document with only the reading added, so that it opens in the
tool that made it (Transkribus, eScriptorium, an OCR-D workspace) with everything else
in place: namespaces and schema version, regions, reading order, metadata. Per line:

- PAGE-XML: the line's `Word`s are replaced by the reading's words (split at spaces),
  each with its `Glyph`s; every `Word` and `Glyph` has `Coords` (its box) and a
  `TextEquiv` with `@conf`, and the line gets one more `TextEquiv` with the reading and
  its `@conf` after the ones it has, which are kept: they hold the truth (a truth that
  only the replaced words held is first written as the line's own `TextEquiv`). The
  added `Word`s, and from PAGE 2016 on the added `TextEquiv`s, carry
  `comments="reading by thulium-desktop"` (`pagexml.READING_COMMENT`), so reading the
  copy again gives the truths it was given, not the readings. PAGE 2013 allows a line
  one `TextEquiv` with no `comments`: a line with a truth keeps it and has its reading
  in its words; a line without one gets the reading, which is then read back as its
  truth.
- ALTO: the line's `String`, `SP` and `HYP` elements are replaced by the reading's words
  as `String`s (box, `@WC`, per-character `@CC` on ALTO's 0 sure to 9 unsure scale)
  with a `Glyph` per character (box, `@GC`; ALTO 4, the first with `Glyph`),
  separated by `SP`s. ALTO holds one text per line, so the copy's text is the reading;
  its `Description` says so with a processing record naming this program
  (`alto.READING_SOFTWARE`): an `OCRProcessing` with an `ocrProcessingStep` (ALTO 2
  and 3, and an ALTO without a namespace), a `Processing` (ALTO 4). Read back, its
  lines have no truth (`alto.parse_alto`). The record replaces one an earlier export
  of the same document left, keeping its ID; a source without `Description` gets one,
  with the `MeasurementUnit` its coordinates were read in (pixel, which ALTO 3 and 4
  require be stated). A copy with no line written is left unmarked: its text is the
  source's.

Right-to-left lines (PAGE's `readingDirection`, kept as the source states it): words and
glyphs are written in logical order, the order they are read in, as PAGE and ALTO
order their content; their boxes then run leftwards, and an ALTO `SP` spans the gap
between its words on whichever side the next word lies.

Confidences: a glyph's is the model's for that character, a word's and a line's the
mean of their glyphs'. Boxes are in the layout's own coordinates (its unit). Lines that
are not given, and lines whose reading has no character but spaces, are left as they
are. The copy is written atomically (`io.atomic`). Comments and processing instructions
of the source are not kept (the safe parser drops them).

Both faces place a line's glyphs the same way (`placed_line_reading`): boxes found on
the line cut, moved by the cut's offset on the page and scaled to the layout's units;
and name and write a page's layout the same way (`document_output_name`,
`write_page_layout`).

A page with no XML behind it (its lines found by kraken's segmenter, `io.kraken_lines`)
gets a fresh PAGE-XML instead (`fresh_page_xml`, 2019 schema): its lines in one
`TextRegion`, in the layout's order, each with its polygon and baseline as whole pixels,
and its reading written as a copy's is (the same `Word`s, `Glyph`s and `TextEquiv`s:
read back, the lines have no truth); a `ReadingOrder` names the region.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import groupby
from pathlib import Path

import numpy as np

from thulium_desktop import __version__
from thulium_desktop.io import alto, pagexml
from thulium_desktop.io.atomic import write_bytes
from thulium_desktop.io.kraken_lines import is_segmentation
from thulium_desktop.io.layout import LayoutError, Line, PageLayout, Point, local_name, namespace, parse_xml
from thulium_desktop.io.line_images import LineImage

Box = tuple[float, float, float, float]

#: ALTO 4 added `Glyph`, and `Processing` records in place of the deprecated `OCRProcessing`.
_ALTO_V4 = "http://www.loc.gov/standards/alto/ns-v4#"
#: What an ALTO copy's processing record says its step did.
_ALTO_READING_STEP = ("each line's text (String@CONTENT) is a model's reading, not a transcription; "
                      "its confidences (WC, CC, GC) are the model's")
#: The schema of a fresh PAGE-XML: the newest, which Transkribus, eScriptorium and OCR-D read.
FRESH_PAGE_NAMESPACE = pagexml.PAGE_NAMESPACE_PREFIX + "2019-07-15"


@dataclass(frozen=True)
class Glyph:
    """One read character: itself, the model's confidence in it and its box
    `(x0, y0, x1, y1)` (ends exclusive) in the layout's coordinates."""

    char: str
    confidence: float
    box: Box


@dataclass(frozen=True)
class LineReading:
    """A line's reading as glyphs in reading order (spaces included: they split words)."""

    glyphs: tuple[Glyph, ...]

    @property
    def text(self) -> str:
        return "".join(g.char for g in self.glyphs)

    @property
    def confidence(self) -> float:
        return _mean_confidence(self.glyphs)

    def words(self) -> Iterator[tuple[Glyph, ...]]:
        """The runs of glyphs between spaces."""
        runs = groupby(self.glyphs, key=lambda glyph: glyph.char.isspace())
        return (tuple(run) for space, run in runs if not space)


def placed_line_reading(tokens: Sequence[str], confidences: Sequence[float], boxes: np.ndarray, cut: LineImage,
                        layout: PageLayout, page_shape: tuple[int, ...]) -> LineReading:
    """The glyphs of a line read on its `cut` out of a page image of `page_shape`, with
    their `boxes` `[T, 4]` (line-cut pixels) in `layout`'s coordinates: moved by the
    cut's offset on the page (as `line_to_page` places maps) and scaled from the image's
    pixels to the layout's units (the image may be a scaled copy of the page described)."""
    x, y = cut.offset
    sx, sy = units_per_pixel(layout, page_shape)
    placed = (np.asarray(boxes, np.float64).reshape(-1, 4) + (x, y, x, y)) * (sx, sy, sx, sy)
    return LineReading(tuple(Glyph(char, float(conf), tuple(float(v) for v in box))
                             for char, conf, box in zip(tokens, confidences, placed)))


def units_per_pixel(layout: PageLayout, shape: tuple[int, ...]) -> tuple[float, float]:
    """The layout's units per pixel of an image of `shape` (1 where it declares no size:
    it is in pixels)."""
    if layout.size is None:
        return 1.0, 1.0
    return layout.size[0] / shape[1], layout.size[1] / shape[0]


def document_output_name(page_name: str, layout: PageLayout) -> str:
    """`<page>.alto.xml` for ALTO, `<page>.page.xml` for PAGE-XML and a segmented page."""
    return f"{page_name}.{'alto' if layout.format.startswith('ALTO') else 'page'}.xml"


def write_page_layout(layout: PageLayout, readings: Mapping[str, LineReading], target: str | os.PathLike) -> Path:
    """Write to `target` (atomically) the enriched copy of `layout`'s file with
    `readings`, or a fresh PAGE-XML when the layout is kraken's segmentation (no XML to
    copy); `target`. Raises `LayoutError` when the file no longer holds a layout."""
    if is_segmentation(layout):
        return write_fresh_page_xml(layout, readings, target)
    return write_enriched_layout(layout.path, readings, target)


def write_enriched_layout(source: str | os.PathLike, readings: Mapping[str, LineReading],
                          target: str | os.PathLike) -> Path:
    """Write to `target` (atomically) a copy of the layout file `source` with
    `readings` (by line id, as `documents.read_layout` names the lines) added; `target`.
    Raises `LayoutError` when `source` is neither PAGE-XML nor ALTO."""
    write_bytes(target, enriched_layout(source, readings))
    return Path(target)


def enriched_layout(source: str | os.PathLike, readings: Mapping[str, LineReading]) -> bytes:
    """The bytes of the copy `write_enriched_layout` writes."""
    root = parse_xml(source)
    if pagexml.is_page_xml(root):
        lines, enrich = pagexml.text_lines(root), _PageWriter(root).enrich
    elif alto.is_alto(root):
        lines, enrich = alto.text_lines(root), _AltoWriter(root).enrich
    else:
        raise LayoutError(source, f"neither PAGE-XML nor ALTO (its root element is <{local_name(root.tag)}>)")
    for line_id, reading in readings.items():
        if line_id in lines and reading.text.strip():
            enrich(lines[line_id], line_id, reading)
    return _serialise(root)


def write_fresh_page_xml(layout: PageLayout, readings: Mapping[str, LineReading],
                         target: str | os.PathLike) -> Path:
    """Write to `target` (atomically) the fresh PAGE-XML `fresh_page_xml` makes; `target`."""
    write_bytes(target, fresh_page_xml(layout, readings))
    return Path(target)


def fresh_page_xml(layout: PageLayout, readings: Mapping[str, LineReading]) -> bytes:
    """A PAGE-XML (2019) of `layout`, a page with no XML of its own (its lines found by a
    segmenter, in pixels of the image it names), with `readings` (by line id) written as
    `enriched_layout` writes them. Raises `LayoutError` when the layout does not declare
    its page's size (PAGE requires it)."""
    if layout.size is None:
        raise LayoutError(layout.path, "a PAGE-XML needs the page's size, and this layout does not declare it")
    root = ET.Element(_fresh("PcGts"))
    _metadata(root)
    width, height = layout.size
    page = ET.SubElement(root, _fresh("Page"), imageFilename=layout.image_name or layout.path.name,
                         imageWidth=str(round(width)), imageHeight=str(round(height)))
    order = ET.SubElement(ET.SubElement(page, _fresh("ReadingOrder")), _fresh("OrderedGroup"))
    region = ET.SubElement(page, _fresh("TextRegion"))
    boxes = [_bounds(line.polygon) for line in layout.lines] or [(0.0, 0.0, width, height)]  # no line: the page
    ET.SubElement(region, _fresh("Coords"), points=_points(_union(boxes)))
    elements = {line.id: _fresh_line(region, line) for line in layout.lines}
    ids = _Ids(root)
    region.set("id", ids.new("region_1"))
    order.set("id", ids.new("reading_order_1"))
    ET.SubElement(order, _fresh("RegionRefIndexed"), index="0", regionRef=region.get("id"))
    writer = _PageWriter(root)
    for line_id, reading in readings.items():
        if line_id in elements and reading.text.strip():
            writer.enrich(elements[line_id], line_id, reading)
    return _serialise(root)


def _fresh(name: str) -> str:
    return f"{{{FRESH_PAGE_NAMESPACE}}}{name}"


def _metadata(root: ET.Element) -> None:
    """PAGE's required `Metadata`: this program as its creator, now (UTC) as its times."""
    metadata = ET.SubElement(root, _fresh("Metadata"))
    now = _now()
    ET.SubElement(metadata, _fresh("Creator")).text = f"thulium-desktop {__version__}"
    ET.SubElement(metadata, _fresh("Created")).text = now
    ET.SubElement(metadata, _fresh("LastChange")).text = now


def _now() -> str:
    """Now (UTC, whole seconds) as PAGE's and ALTO's `xsd:dateTime`s take it."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _fresh_line(region: ET.Element, line: Line) -> ET.Element:
    """A `TextLine` for `line` in `region`: its polygon (`Coords`) and baseline."""
    element = ET.SubElement(region, _fresh("TextLine"), id=line.id)
    ET.SubElement(element, _fresh("Coords"), points=_polygon_points(line.polygon))
    if line.baseline is not None:
        ET.SubElement(element, _fresh("Baseline"), points=_polygon_points(line.baseline))
    if line.direction is not None:
        element.set("readingDirection", line.direction)
    return element


def _polygon_points(points: Iterable[Point]) -> str:
    """Points as PAGE `points`: whole, non-negative pixels (the schema's `PointsType`)."""
    return " ".join(f"{max(0, round(x))},{max(0, round(y))}" for x, y in points)


def _bounds(points: Iterable[Point]) -> Box:
    xs, ys = zip(*points)
    return min(xs), min(ys), max(xs), max(ys)


def _serialise(root: ET.Element) -> bytes:
    """The document (changed in place) with its namespace as the default one (no `ns0:`
    prefixes), as the tools that wrote it did; with generated prefixes only where some
    element lies outside it. (ElementTree's own `default_namespace` refuses any document
    with an attribute, since attributes have no namespace.)"""
    ns = namespace(root.tag)
    if ns and all(namespace(e.tag) for e in root.iter()):  # else an element without one would fall into it
        for element in root.iter():
            if namespace(element.tag) == ns:
                element.tag = local_name(element.tag)
        root.set("xmlns", ns)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


class _Ids:
    """New element ids that clash with none of the document's (`id`, `ID`)."""

    def __init__(self, root: ET.Element) -> None:
        self.taken = {v for e in root.iter() for k, v in e.attrib.items() if k in ("id", "ID")}

    def new(self, wanted: str) -> str:
        name, n = wanted, 1
        while name in self.taken:
            n += 1
            name = f"{wanted}_{n}"
        self.taken.add(name)
        return name


class _PageWriter:
    """Writes readings into the `TextLine`s of one PAGE-XML document."""

    def __init__(self, root: ET.Element) -> None:
        self.ns = "{" + namespace(root.tag) + "}"
        self.ids = _Ids(root)
        # PAGE before 2016 allows one TextEquiv per element, with `conf` as its only attribute
        self.many_equivs = namespace(root.tag)[len(pagexml.PAGE_NAMESPACE_PREFIX):] >= "2016"

    def q(self, name: str) -> str:
        return self.ns + name

    def enrich(self, line: ET.Element, line_id: str, reading: LineReading) -> None:
        self._keep_word_truth(line)
        for word in line.findall(self.q("Word")):
            line.remove(word)
        equivs = line.findall(self.q("TextEquiv"))
        at = _index_of(line, equivs[0]) if equivs else _first_index(line, ("TextStyle", "UserDefined", "Labels"))
        words = [self._word(glyphs, f"{line_id}_w{n}") for n, glyphs in enumerate(reading.words(), 1)]
        line[at:at] = words
        if equivs and not self.many_equivs:
            return  # the line's one TextEquiv is its truth: the reading is in its words
        reading_equiv = self._equiv(reading.text, reading.confidence)
        if equivs:
            indices = [int(e.get("index")) for e in equivs if (e.get("index") or "").lstrip("-").isdigit()]
            reading_equiv.set("index", str(max(indices, default=1) + 1))
        line.insert(_index_of(line, equivs[-1]) + 1 if equivs else at + len(words), reading_equiv)

    def _keep_word_truth(self, line: ET.Element) -> None:
        """A line whose truth only its words hold gets it as its own `TextEquiv` (index
        1 from PAGE 2016 on; PAGE 2013 has no `index`) before the words are replaced."""
        if line.findall(self.q("TextEquiv")):
            return
        truth = pagexml.line_truth(line, self.ns)
        if truth is None:
            return
        equiv = ET.Element(self.q("TextEquiv"), index="1") if self.many_equivs else ET.Element(self.q("TextEquiv"))
        ET.SubElement(equiv, self.q("Unicode")).text = truth
        line.insert(_first_index(line, ("TextStyle", "UserDefined", "Labels")), equiv)

    def _word(self, glyphs: tuple[Glyph, ...], word_id: str) -> ET.Element:
        word = ET.Element(self.q("Word"), id=self.ids.new(word_id), comments=pagexml.READING_COMMENT)
        ET.SubElement(word, self.q("Coords"), points=_points(_union(g.box for g in glyphs)))
        for n, glyph in enumerate(glyphs, 1):
            element = ET.SubElement(word, self.q("Glyph"), id=self.ids.new(f"{word_id}g{n}"))
            ET.SubElement(element, self.q("Coords"), points=_points(glyph.box))
            element.append(self._equiv(glyph.char, glyph.confidence))
        word.append(self._equiv("".join(g.char for g in glyphs), _mean_confidence(glyphs)))
        return word

    def _equiv(self, text: str, confidence: float) -> ET.Element:
        equiv = ET.Element(self.q("TextEquiv"), conf=_number(_clip(confidence)))
        if self.many_equivs:
            equiv.set("comments", pagexml.READING_COMMENT)
        ET.SubElement(equiv, self.q("Unicode")).text = text
        return equiv


class _AltoWriter:
    """Writes readings into the `TextLine`s of one ALTO document."""

    def __init__(self, root: ET.Element) -> None:
        self.root = root
        self.ns = alto.prefix(root)
        self.v4 = namespace(root.tag) == _ALTO_V4
        self.ids = _Ids(root)
        self.marked = False

    def q(self, name: str) -> str:
        return self.ns + name

    def enrich(self, line: ET.Element, line_id: str, reading: LineReading) -> None:
        """Replace the line's text with `reading`; the first line written marks the
        document as holding readings (`_mark_as_reading`)."""
        if not self.marked:
            self._mark_as_reading()
            self.marked = True
        text = [c for c in line if c.tag in (self.q("String"), self.q("SP"), self.q("HYP"))]
        at = _index_of(line, text[0]) if text else len(line)
        for child in text:
            line.remove(child)
        elements: list[ET.Element] = []
        previous: Box | None = None
        for n, glyphs in enumerate(reading.words(), 1):
            box = _union(g.box for g in glyphs)
            if previous is not None:
                elements.append(self._space(previous, box))
            elements.append(self._string(glyphs, box, f"{line_id}_s{n}"))
            previous = box
        line[at:at] = elements

    def _mark_as_reading(self) -> None:
        """Record in the `Description` that this program wrote the document's text, so
        that it is not read back as truth: a fresh record in place of an earlier
        export's (its ID kept, which a `Page@PROCESSING` may name)."""
        description = self._description()
        earlier = alto.reading_records(self.root)
        for record in earlier:
            description.remove(record)
        kept_id = earlier[0].get("ID") if earlier else None
        record_id = kept_id or self.ids.new("thulium_desktop_reading")
        if self.v4:
            step = ET.SubElement(description, self.q("Processing"), ID=record_id)
        else:
            step = ET.SubElement(ET.SubElement(description, self.q("OCRProcessing"), ID=record_id),
                                 self.q("ocrProcessingStep"))
        ET.SubElement(step, self.q("processingDateTime")).text = _now()
        ET.SubElement(step, self.q("processingStepDescription")).text = _ALTO_READING_STEP
        software = ET.SubElement(step, self.q("processingSoftware"))
        ET.SubElement(software, self.q("softwareName")).text = alto.READING_SOFTWARE
        ET.SubElement(software, self.q("softwareVersion")).text = __version__

    def _description(self) -> ET.Element:
        """The document's `Description`, made first child (with the unit its coordinates
        were read in) where it has none."""
        description = self.root.find(self.q("Description"))
        if description is None:
            description = ET.Element(self.q("Description"))
            ET.SubElement(description, self.q("MeasurementUnit")).text = "pixel"
            self.root.insert(0, description)
        return description

    def _space(self, previous: Box, box: Box) -> ET.Element:
        """The `SP` between two words read one after the other: from the left one's right
        edge to the right one's left edge, so also in a right-to-left line."""
        left, right = sorted((previous, box), key=lambda b: b[0])
        return ET.Element(self.q("SP"), HPOS=_number(left[2]), VPOS=_number(previous[1]),
                          WIDTH=_number(max(0.0, right[0] - left[2])))

    def _string(self, glyphs: tuple[Glyph, ...], box: Box, string_id: str) -> ET.Element:
        string = ET.Element(self.q("String"), ID=self.ids.new(string_id), **_alto_box(box),
                            CONTENT="".join(g.char for g in glyphs), WC=_number(_mean_confidence(glyphs)),
                            CC=" ".join(str(round(9 * (1 - _clip(g.confidence)))) for g in glyphs))
        if self.v4:
            for n, glyph in enumerate(glyphs, 1):
                ET.SubElement(string, self.q("Glyph"), ID=self.ids.new(f"{string_id}g{n}"), **_alto_box(glyph.box),
                              CONTENT=glyph.char, GC=_number(_clip(glyph.confidence)))
        return string


def _index_of(parent: ET.Element, child: ET.Element) -> int:
    return list(parent).index(child)


def _first_index(parent: ET.Element, names: tuple[str, ...]) -> int:
    """Where the first child named one of `names` is (the end when none is)."""
    return next((i for i, c in enumerate(parent) if local_name(c.tag) in names), len(parent))


def _union(boxes) -> Box:
    x0, y0, x1, y1 = zip(*boxes)
    return min(x0), min(y0), max(x1), max(y1)


def _points(box: Box) -> str:
    """A box as PAGE `Coords@points`: whole pixels, clockwise from the top left (the
    schema's points are non-negative integers)."""
    x0, y0, x1, y1 = (max(0, round(v)) for v in box)
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    return f"{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}"


def _alto_box(box: Box) -> dict[str, str]:
    x0, y0, x1, y1 = box
    return {"HPOS": _number(x0), "VPOS": _number(y0), "WIDTH": _number(x1 - x0), "HEIGHT": _number(y1 - y0)}


def _mean_confidence(glyphs) -> float:
    values = [_clip(g.confidence) for g in glyphs]
    return sum(values) / len(values) if values else 0.0


def _clip(confidence: float) -> float:
    return min(1.0, max(0.0, float(confidence)))


def _number(value: float) -> str:
    """A number as the schemas' floats take it: at most 4 decimals, no exponent."""
    return f"{float(value):.4f}".rstrip("0").rstrip(".")
