"""A page scan made from the bundled line samples, and its layout written by hand as
PAGE-XML (2013 and 2019) and ALTO v4, the way Transkribus, eScriptorium and OCR-D write
them: the known truth every layout test checks against.

The bundled line images are pasted as ink (darkness relative to their own paper) onto a
slightly yellow page with a darker vignette, close enough that the ascenders of each
line reach into the bounding box of the line above. Each line's polygon follows its
ink's envelope, as a baseline segmenter's does, so the neighbour's strokes in the box
lie outside it.

`compose_hard_page` adds what real pages bring: a line turned by a few degrees and a
Hebrew line read right to left; `edit_line` breaks one line of a written layout.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.io.images import read_image, to_unit_gray

PAGE_2013 = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15"
PAGE_2019 = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
ALTO_V4 = "http://www.loc.gov/standards/alto/ns-v4#"
ALTO_V2 = "http://www.loc.gov/standards/alto/ns-v2#"

#: (sample file, its truth, line id, region id), in document order.
SAMPLES = (
    ("hello.png", "hello", "l1", "r1"),
    ("recognition.png", "recognition", "l2", "r1"),
    ("short-line.png", "see where it looked", "l3", "r2"),
    ("capitals.png", "HANDWRITING", "l4", "r2"),
)
#: Yellowed paper (BGR) and how much darker its corners are.
PAPER = np.array([196.0, 228.0, 240.0])
VIGNETTE = 0.15
#: How far each line's ink reaches up into the bounding box of the line above.
OVERLAP = 9
#: Columns per step of a polygon's envelope, and its margin around the ink.
STEP, MARGIN = 6, 2


@dataclass
class PlacedLine:
    id: str
    region: str
    truth: str
    polygon: tuple[tuple[int, int], ...]
    baseline: tuple[tuple[int, int], ...]
    alone: np.ndarray  # the whole page as it would be with only this line on it
    ink: np.ndarray  # bool, page-sized: where this line's ink is
    direction: str | None = None  # PAGE's readingDirection, when the line states one


@dataclass
class ComposedPage:
    image: np.ndarray  # uint8 BGR
    lines: list[PlacedLine]

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]

    def line(self, line_id: str) -> PlacedLine:
        return next(line for line in self.lines if line.id == line_id)


def _ink(sample: str) -> np.ndarray:
    """A sample's ink in [0, 1], relative to its own paper (its 90th percentile grey)."""
    grey = to_unit_gray(read_image(bundled_path("samples", sample)).image).astype(np.float64)
    paper = np.quantile(grey, 0.9)
    ink = np.clip((paper - grey) / paper, 0.0, 1.0)
    return np.where(ink > 0.1, ink, 0.0)


def _envelope(ink: np.ndarray, x: int, y: int) -> tuple[tuple[tuple[int, int], ...], int]:
    """The polygon around `ink` placed at (x, y): per `STEP` columns, its top and bottom
    rows with a margin (the line's middle band where a step has no ink), and the
    baseline's y (the median bottom)."""
    rows = np.nonzero(ink.any(axis=1))[0]
    band = (int(rows[len(rows) // 3]), int(rows[2 * len(rows) // 3]))
    top, bottom = [], []
    for c0 in range(0, ink.shape[1], STEP):
        c1 = min(ink.shape[1], c0 + STEP) - 1
        hit = np.nonzero(ink[:, c0:c1 + 1].any(axis=1))[0]
        t, b = (int(hit[0]), int(hit[-1])) if len(hit) else band
        top += [(x + c0, y + t - MARGIN), (x + c1, y + t - MARGIN)]
        bottom += [(x + c0, y + b + MARGIN), (x + c1, y + b + MARGIN)]
    baseline_y = int(np.median([p[1] for p in bottom])) - MARGIN  # the points already include y
    return tuple(top + bottom[::-1]), baseline_y


def _inside(polygon, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.asarray(polygon, np.int32)], 1)
    return mask.astype(bool)


def _placed_ink(ink: np.ndarray, x: int, y: int, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, bool)
    out[y:y + ink.shape[0], x:x + ink.shape[1]] = ink > 0
    return out


def _positions(inks: list[np.ndarray]) -> list[tuple[int, int]]:
    """Where each line goes: as close under the one above as it can be with neither
    line's ink inside the other's polygon, starting from its ink reaching `OVERLAP`
    rows into the ink rows of the line above."""
    shape = (2000, 1000)
    positions = [(40, 30)]
    for i in range(1, len(inks)):
        (px, py), above = positions[-1], inks[i - 1]
        above_polygon = _inside(_envelope(above, px, py)[0], shape)
        above_ink = _placed_ink(above, px, py, shape)
        x = 40 + 12 * i
        y = py + int(np.nonzero(above.any(axis=1))[0][-1]) - OVERLAP - int(np.nonzero(inks[i].any(axis=1))[0][0])
        while (_placed_ink(inks[i], x, y, shape) & above_polygon).any() or (
                above_ink & _inside(_envelope(inks[i], x, y)[0], shape)).any():
            y += 1
        positions.append((x, y))
    return positions


def compose_page() -> ComposedPage:
    inks = [_ink(sample) for sample, *_ in SAMPLES]
    positions = _positions(inks)
    width = max(x + ink.shape[1] for (x, _), ink in zip(positions, inks)) + 40
    height = positions[-1][1] + inks[-1].shape[0] + 30
    paper = _paper(width, height)
    factors = [_darkening(ink, x, y, (height, width)) for (x, y), ink in zip(positions, inks)]
    page = _painted(paper, factors)
    lines = []
    for (sample, truth, line_id, region), (x, y), ink, factor in zip(SAMPLES, positions, inks, factors):
        polygon, baseline_y = _envelope(ink, x, y)
        baseline = ((x, baseline_y), (x + ink.shape[1] - 1, baseline_y))
        alone = np.round(paper * factor[:, :, None]).astype(np.uint8)
        lines.append(PlacedLine(line_id, region, truth, polygon, baseline, alone, factor < 1.0))
    return ComposedPage(np.round(page).astype(np.uint8), lines)


def _paper(width: int, height: int) -> np.ndarray:
    """Yellowed paper (float BGR) darkening towards the corners by `VIGNETTE`."""
    yy, xx = np.mgrid[0:height, 0:width]
    r2 = ((xx - width / 2) / (width / 2)) ** 2 + ((yy - height / 2) / (height / 2)) ** 2
    return PAPER[None, None, :] * (1.0 - VIGNETTE * r2 / 2)[:, :, None]


def _darkening(ink: np.ndarray, x: int, y: int, shape: tuple[int, int]) -> np.ndarray:
    """The page-sized factor by which `ink` placed at (x, y) darkens the paper."""
    factor = np.ones(shape)
    factor[y:y + ink.shape[0], x:x + ink.shape[1]] = 1.0 - ink
    return factor


def _painted(paper: np.ndarray, factors: list[np.ndarray]) -> np.ndarray:
    page = paper.copy()
    for factor in factors:
        page = page * factor[:, :, None]
    return page


#: The hard page's rotated line: its sample, how far it is turned (degrees, anti-clockwise
#: as PAGE counts) and the margin of its polygon around the ink.
ROTATED_SAMPLE, ROTATION, ROTATED_MARGIN = "recognition.png", 8.0, 4
#: The hard page's right-to-left line: Hebrew ("hello world"), drawn with a font that has
#: the glyphs, laid out right to left by Pillow's raqm.
RTL_TRUTH = "שלום עולם"
HEBREW_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def compose_hard_page() -> ComposedPage:
    """A page with a line turned by `ROTATION` degrees (polygon: the ink's box turned with
    it; baseline turned too) above a Hebrew line read right to left (`RTL_TRUTH`, in
    logical order, direction "right-to-left")."""
    turned, polygon, baseline = _rotated_line(_ink(ROTATED_SAMPLE), ROTATION, 40, 30)
    hebrew = _drawn_text(RTL_TRUTH, 44)
    top = max(p[1] for p in polygon) + 30
    width = max(max(p[0] for p in polygon), 60 + hebrew.shape[1]) + 40
    height = top + hebrew.shape[0] + 30
    paper = _paper(width, height)
    factors = [_darkening(turned, 40, 30, (height, width)), _darkening(hebrew, 60, top, (height, width))]
    rtl_polygon, baseline_y = _envelope(hebrew, 60, top)
    rtl_baseline = ((60 + hebrew.shape[1] - 1, baseline_y), (60, baseline_y))  # drawn the way it is read
    shapes = [("l1", "r1", "recognition", polygon, baseline, None),
              ("l2", "r2", RTL_TRUTH, rtl_polygon, rtl_baseline, "right-to-left")]
    lines = [PlacedLine(line_id, region, truth, poly, base, np.round(paper * factor[:, :, None]).astype(np.uint8),
                        factor < 1.0, direction)
             for (line_id, region, truth, poly, base, direction), factor in zip(shapes, factors)]
    return ComposedPage(np.round(_painted(paper, factors)).astype(np.uint8), lines)


def _rotated_line(ink: np.ndarray, degrees: float, x: int, y: int):
    """`ink` turned anti-clockwise by `degrees` on a canvas that holds all of it, to be
    placed at (x, y): the turned ink, its polygon (the ink's box plus `ROTATED_MARGIN`,
    turned) and its baseline (the envelope's baseline, turned), both in page pixels."""
    height, width = ink.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    out_w, out_h = int(np.ceil(width * cos + height * sin)) + 2, int(np.ceil(width * sin + height * cos)) + 2
    matrix[:, 2] += (out_w / 2 - width / 2, out_h / 2 - height / 2)
    turned = cv2.warpAffine(ink, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR)
    turned = np.where(turned > 0.1, turned, 0.0)
    rows, cols = np.nonzero(ink.any(axis=1))[0], np.nonzero(ink.any(axis=0))[0]
    m = ROTATED_MARGIN
    box = [(cols[0] - m, rows[0] - m), (cols[-1] + m, rows[0] - m), (cols[-1] + m, rows[-1] + m),
           (cols[0] - m, rows[-1] + m)]
    baseline_y = _envelope(ink, 0, 0)[1]
    turn = lambda points: tuple((int(round(x + px)), int(round(y + py)))  # noqa: E731
                                for px, py in cv2.transform(np.array([points], np.float64), matrix)[0])
    return turned, turn(box), turn([(cols[0], baseline_y), (cols[-1], baseline_y)])


def _drawn_text(text: str, size: int) -> np.ndarray:
    """`text` drawn right to left in `HEBREW_FONT` as ink in [0, 1], cropped to its ink
    with a small margin."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(HEBREW_FONT), size)
    canvas = Image.new("L", (size * (len(text) + 2), size * 2), 255)
    ImageDraw.Draw(canvas).text((size // 2, size // 4), text, font=font, fill=0, direction="rtl")
    ink = (255.0 - np.asarray(canvas, np.float64)) / 255.0
    rows, cols = np.nonzero(ink.any(axis=1))[0], np.nonzero(ink.any(axis=0))[0]
    ink = ink[rows[0] - 6:rows[-1] + 7, cols[0] - 6:cols[-1] + 7]
    return np.where(ink > 0.1, ink, 0.0)


def edit_line(xml: bytes, line_id: str, edit: Callable[[ET.Element], None]) -> bytes:
    """`xml` (PAGE or ALTO) with `edit` applied to the `TextLine` whose id is `line_id`:
    the way a test breaks one line of an otherwise good file."""
    root = ET.fromstring(xml)
    ET.register_namespace("", root.tag[1:].partition("}")[0])
    element = next(e for e in root.iter() if e.tag.endswith("TextLine") and line_id in (e.get("id"), e.get("ID")))
    edit(element)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_image(page: ComposedPage, path: Path, scale: float = 1.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = page.image
    if scale != 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    assert cv2.imwrite(str(path), image)
    return path


def _points(points) -> str:
    return " ".join(f"{x},{y}" for x, y in points)


def page_xml(page: ComposedPage, image_name: str, namespace: str = PAGE_2019,
             reading_order: tuple[str, ...] | None = None) -> bytes:
    """PAGE-XML for `page`: one TextRegion per region, its lines with Coords, Baseline
    and TextEquiv; a ReadingOrder of the regions when `reading_order` is given."""
    ET.register_namespace("", namespace)
    q = lambda name: f"{{{namespace}}}{name}"  # noqa: E731
    root = ET.Element(q("PcGts"))
    meta = ET.SubElement(root, q("Metadata"))
    ET.SubElement(meta, q("Creator")).text = "thulium tests"
    ET.SubElement(meta, q("Created")).text = ET.SubElement(meta, q("LastChange")).text = "2026-01-01T00:00:00"
    width, height = page.size
    element = ET.SubElement(root, q("Page"), imageFilename=image_name, imageWidth=str(width), imageHeight=str(height))
    if reading_order is not None:
        group = ET.SubElement(ET.SubElement(element, q("ReadingOrder")), q("OrderedGroup"), id="ro1")
        for index, region in enumerate(reading_order):
            ET.SubElement(group, q("RegionRefIndexed"), index=str(index), regionRef=region)
    regions: dict[str, ET.Element] = {}
    for line in page.lines:
        if line.region not in regions:
            regions[line.region] = ET.SubElement(element, q("TextRegion"), id=line.region)
            members = [p for other in page.lines if other.region == line.region for p in other.polygon]
            xs, ys = [p[0] for p in members], [p[1] for p in members]
            box = ((min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys)))
            ET.SubElement(regions[line.region], q("Coords"), points=_points(box))
        text_line = ET.SubElement(regions[line.region], q("TextLine"), id=line.id)
        if line.direction is not None:
            text_line.set("readingDirection", line.direction)
        ET.SubElement(text_line, q("Coords"), points=_points(line.polygon))
        ET.SubElement(text_line, q("Baseline"), points=_points(line.baseline))
        ET.SubElement(ET.SubElement(text_line, q("TextEquiv")), q("Unicode")).text = line.truth
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _alto_baseline(baseline) -> str:
    """A level baseline as ALTO's single y (ALTO up to 4.1), any other as its points (4.2)."""
    if all(y == baseline[0][1] for _, y in baseline):
        return str(baseline[0][1])
    return " ".join(f"{x} {y}" for x, y in baseline)


def alto_xml(page: ComposedPage, image_name: str, namespace: str = ALTO_V4) -> bytes:
    """ALTO for `page` (v4 unless another ALTO `namespace` is given): a TextBlock per
    region, lines with a Shape/Polygon (ALTO 3 and later), a BASELINE and their words as
    Strings separated by SP elements."""
    ET.register_namespace("", namespace)
    q = lambda name: f"{{{namespace}}}{name}"  # noqa: E731
    root = ET.Element(q("alto"))
    description = ET.SubElement(root, q("Description"))
    ET.SubElement(description, q("MeasurementUnit")).text = "pixel"
    ET.SubElement(ET.SubElement(description, q("sourceImageInformation")), q("fileName")).text = image_name
    width, height = page.size
    element = ET.SubElement(ET.SubElement(root, q("Layout")), q("Page"), ID="p1", WIDTH=str(width),
                            HEIGHT=str(height), PHYSICAL_IMG_NR="1")
    space = ET.SubElement(element, q("PrintSpace"), HPOS="0", VPOS="0", WIDTH=str(width), HEIGHT=str(height))
    blocks: dict[str, ET.Element] = {}
    for line in page.lines:
        if line.region not in blocks:
            members = [p for other in page.lines if other.region == line.region for p in other.polygon]
            x0, y0 = min(p[0] for p in members), min(p[1] for p in members)
            x1, y1 = max(p[0] for p in members), max(p[1] for p in members)
            blocks[line.region] = ET.SubElement(space, q("TextBlock"), ID=line.region, HPOS=str(x0), VPOS=str(y0),
                                                WIDTH=str(x1 - x0), HEIGHT=str(y1 - y0))
        xs, ys = [p[0] for p in line.polygon], [p[1] for p in line.polygon]
        text_line = ET.SubElement(blocks[line.region], q("TextLine"), ID=line.id, HPOS=str(min(xs)),
                                  VPOS=str(min(ys)), WIDTH=str(max(xs) - min(xs)), HEIGHT=str(max(ys) - min(ys)),
                                  BASELINE=_alto_baseline(line.baseline))
        if namespace != ALTO_V2:
            ET.SubElement(ET.SubElement(text_line, q("Shape")), q("Polygon"), POINTS=" ".join(
                f"{x} {y}" for x, y in line.polygon))
        for i, word in enumerate(line.truth.split(" ")):
            if i:
                ET.SubElement(text_line, q("SP"))
            ET.SubElement(text_line, q("String"), CONTENT=word)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
