"""Lines of a page that has no PAGE-XML or ALTO, found by kraken's baseline segmenter.

kraken (`pip install 'thulium-desktop[kraken]'`) is optional: it brings heavy
dependencies, and most pages arrive with their layout. `kraken.blla.segment` ships its
trained model inside the wheel and returns, in reading order, each line's baseline and
boundary polygon: kraken 5 and later as a `Segmentation` whose `lines` are
`BaselineLine`s, earlier versions (and `dataclasses.asdict` of one) as a dict with a
`"lines"` list of dicts. Both are read here into the same `PageLayout` the XML readers
give, so the lines are cut and explained as a layout's are.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from thulium_desktop.io.layout import Line, LayoutError, PageLayout, parse_points

KRAKEN_INSTALL = "pip install 'thulium-desktop[kraken]'"
#: `PageLayout.format` of a segmented page: a layout with no XML file behind it.
SEGMENTATION_FORMAT = "kraken segmentation"


class KrakenMissing(LayoutError):
    """kraken is not installed; `str()` says what to install."""


def segment_page(image: np.ndarray, path: Path) -> PageLayout:
    """The lines kraken's baseline segmenter finds in `image` (a decoded page, as
    `io.images.read_image` gives it, read from `path`), in kraken's reading order,
    named `line_0001`, ... A line kraken gives without a usable boundary is skipped
    with a note. Raises `KrakenMissing` when kraken cannot be imported."""
    blla = _blla(path)
    result = blla.segment(_pil_rgb(image))
    lines: list[Line] = []
    notes: list[str] = []
    for n, found in enumerate(_field(result, "lines") or [], 1):
        line_id = f"line_{n:04d}"
        try:
            polygon = parse_points(_flat(_field(found, "boundary")), 3)
            baseline = parse_points(_flat(_field(found, "baseline")), 2)
        except (TypeError, ValueError) as exc:  # TypeError: points that are not (x, y) pairs
            notes.append(f"kraken's line {n} skipped: {exc}")
            continue
        lines.append(Line(line_id, polygon, baseline))
    height, width = image.shape[:2]
    return PageLayout(path, SEGMENTATION_FORMAT, path.name, (float(width), float(height)), tuple(lines),
                      tuple(notes))


def is_segmentation(layout: PageLayout) -> bool:
    """Whether `layout` came from kraken's segmenter rather than from a PAGE-XML or ALTO
    file: its `path` is then the page's image, and there is no XML to enrich."""
    return layout.format == SEGMENTATION_FORMAT


def _blla(path: Path) -> Any:
    try:
        return importlib.import_module("kraken.blla")
    except ImportError as exc:
        raise KrakenMissing(path, f"it has no PAGE-XML or ALTO beside it, and finding its lines needs kraken, "
                                  f"which is not installed: {KRAKEN_INSTALL}") from exc


def _field(record: Any, name: str) -> Any:
    """`record[name]` for kraken's dicts, `record.name` for its dataclasses."""
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)


def _flat(points: Any) -> str:
    """kraken's `[[x, y], ...]` (or `[(x, y), ...]`) written as PAGE points, so that one
    parser checks both."""
    return " ".join(f"{x},{y}" for x, y in (points or []))


def _pil_rgb(image: np.ndarray) -> Image.Image:
    """The page as the RGB PIL image kraken's segmenter takes (8 bits, colour kept)."""
    pixels = image if image.dtype == np.uint8 else (image // 257).astype(np.uint8)
    if pixels.ndim == 2:
        rgb = cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
    else:
        rgb = cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGB if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return Image.fromarray(rgb)
