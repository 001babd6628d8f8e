"""Cutting a text line out of a page scan, and drawing a line's map back onto the page.

A line's polygon rarely fills its bounding box: the box of a handwritten line also
holds the descenders of the line above and the ascenders of the line below. A
recogniser given the raw box reads those too, so every pixel of the box outside the
polygon is set to the paper colour. The cut keeps where it came from (the box's offset
on the page and the polygon in line coordinates), so a map computed on the line can be
placed back on the page inside the same polygon (`line_to_page`).

A turned line (a few degrees off, its baseline sloping) is cut the same way, not
deskewed: its polygon's box holds all of it, and the mask keeps out the neighbours
that the larger box takes in. Cut pixels are the page's own pixels, so a map goes back
by a shift alone, exactly, pixel for pixel; rotating the cut by its baseline would
resample the ink and make every map travel back through the inverse rotation, blurring
it at the polygon's edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from thulium_desktop.io.images import to_unit_gray
from thulium_desktop.io.layout import Line

#: The paper colour is the median colour of this brightest share of the box's pixels:
#: a line's ink covers far less than half of its box, so the brighter half is paper,
#: ink and a neighbour's strokes are left out, and the estimate follows the page's
#: local tint (yellowed paper, a darker vignette towards the edges).
PAPER_SHARE = 0.5


@dataclass(frozen=True, eq=False)
class LineImage:
    """A line cut out of its page: the pixels of its box (dtype and channels of the page)
    with paper outside the polygon, the box's top-left corner on the page as (x, y), the
    polygon in line coordinates, the mask of the pixels inside it, the paper colour used
    (one value per channel) and the line it was cut for."""

    image: np.ndarray
    offset: tuple[int, int]
    polygon: np.ndarray
    mask: np.ndarray
    paper: tuple[float, ...]
    line: Line


def cut_line(page: np.ndarray, line: Line) -> LineImage:
    """`line` cut out of `page` (HxW or HxWxC, any dtype): its polygon's bounding box,
    clipped to the page, with every pixel outside the polygon set to the paper colour.
    Raises ValueError when the polygon lies outside the page."""
    points = np.asarray(line.polygon, dtype=np.float64)
    x0, y0, x1, y1 = _box(points, page.shape[:2], line.id)
    box = page[y0:y1, x0:x1]
    polygon = points - (x0, y0)
    mask = np.zeros(box.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    inside = mask.astype(bool)
    paper = paper_colour(box)
    fill = np.asarray(paper)
    image = box.copy()
    image[~inside] = fill.round().astype(page.dtype) if np.issubdtype(page.dtype, np.integer) else fill
    return LineImage(image, (x0, y0), polygon, inside, paper, line)


def _box(points: np.ndarray, shape: tuple[int, int], line_id: str) -> tuple[int, int, int, int]:
    """The polygon's bounding box as (x0, y0, x1, y1), ends exclusive, clipped to the page."""
    height, width = shape
    x0 = max(0, math.floor(points[:, 0].min()))
    y0 = max(0, math.floor(points[:, 1].min()))
    x1 = min(width, math.floor(points[:, 0].max()) + 1)
    y1 = min(height, math.floor(points[:, 1].max()) + 1)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"line {line_id!r} lies outside the page ({width}x{height} pixels)")
    return x0, y0, x1, y1


def paper_colour(pixels: np.ndarray) -> tuple[float, ...]:
    """The paper's colour in `pixels` (HxW or HxWxC): the per-channel median of the
    brightest `PAPER_SHARE` of them, brightness measured as grey."""
    flat = pixels.reshape(-1, pixels.shape[2] if pixels.ndim == 3 else 1)
    grey = to_unit_gray(pixels).reshape(-1)
    brightest = flat[grey >= np.quantile(grey, 1.0 - PAPER_SHARE)]
    return tuple(float(v) for v in np.median(brightest, axis=0))


def line_to_page(line_map: np.ndarray, line: LineImage, page_shape: tuple[int, ...]) -> np.ndarray:
    """A map computed on `line` placed on its page: float32 of the page's height and
    width, the map inside the line's polygon and NaN elsewhere (so the page view can
    leave those pixels as they are). A map of another size than the line image (a
    model's own resolution) is first resized to it."""
    values = np.asarray(line_map, dtype=np.float32)
    height, width = line.mask.shape
    if values.shape != (height, width):
        values = cv2.resize(values, (width, height), interpolation=cv2.INTER_LINEAR)
    page = np.full(page_shape[:2], np.nan, dtype=np.float32)
    x, y = line.offset
    window = page[y:y + height, x:x + width]
    window[line.mask] = values[line.mask]
    return page
