"""Pages as documents: a layout file read in either format, paired with its scan.

Opening the XML finds the image it names; opening an image finds the XML beside it.
Both look where the common exports put them: Transkribus writes `page/IMAGE.xml` beside
the images, eScriptorium `IMAGE.xml` (ALTO) or `alto/`, OCR-D a folder per step with
the image named relative to the workspace (`OCR-D-IMG/IMAGE.tif`). An image that is a
scaled copy of the one described (the same aspect ratio) is used with the coordinates
scaled, and a note says so; any other difference in size is refused, because every
polygon would cut the wrong pixels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import numpy as np

from thulium_desktop.io.alto import is_alto, parse_alto
from thulium_desktop.io.layout import Line, LayoutError, NotALayout, PageLayout, local_name, parse_xml
from thulium_desktop.io.line_images import LineImage, cut_line
from thulium_desktop.io.pagexml import is_page_xml, parse_page_xml
from thulium_desktop.io.regular import irregular_reason

#: Sub-folders beside the images where exports put the layout files.
LAYOUT_FOLDERS = ("page", "alto")
#: How far the image's and the layout's aspect ratios may differ for the image to be
#: taken as a scaled copy (rounding the scaled size to whole pixels stays well within).
ASPECT_TOLERANCE = 0.01


@dataclass(frozen=True)
class PageLine:
    """One line of a page and the page's layout (sizes, units, the file for messages)."""

    layout: PageLayout
    line: Line


def read_layout(path: str | os.PathLike) -> PageLayout:
    """The layout in a PAGE-XML or ALTO file. Raises `NotALayout` for other XML and
    `LayoutError` for a file that cannot be used (each a one-line message)."""
    p = Path(path)
    root = parse_xml(p)
    if is_page_xml(root):
        return parse_page_xml(root, p)
    if is_alto(root):
        return parse_alto(root, p)
    raise NotALayout(p, f"neither PAGE-XML nor ALTO (its root element is <{local_name(root.tag)}>)")


def find_image(layout: PageLayout) -> Path:
    """The image file `layout` names: relative to the layout's folder, or to the folder
    above it (layouts in `page/`, `alto/` or an OCR-D step folder), by its path and
    then by its bare name. Raises `LayoutError` when none of these is a regular file."""
    if not layout.image_name:
        raise LayoutError(layout.path, "it does not name its image (PAGE imageFilename / ALTO fileName)")
    named = PurePosixPath(layout.image_name.replace("\\", "/").removeprefix("file://"))
    relatives = [named.name] if named.is_absolute() else [str(named), named.name]
    here = layout.path.parent
    for folder in (here, here.parent):
        for relative in relatives:
            candidate = folder / relative
            if irregular_reason(candidate) is None:
                return candidate
    raise LayoutError(layout.path, f"the image it names, {layout.image_name!r}, is neither in {here} nor in {here.parent}")


def find_layout(image_path: str | os.PathLike) -> Path | None:
    """The layout file of an image, looked for as `IMAGE.xml` beside it, then in `page/`
    and `alto/` beside it (IMAGE: the image's name without its suffix); None if none."""
    image = Path(image_path)
    name = image.with_suffix(".xml").name
    for candidate in (image.parent / name, *(image.parent / folder / name for folder in LAYOUT_FOLDERS)):
        if irregular_reason(candidate) is None:
            return candidate
    return None


def fit_to_image(layout: PageLayout, image_path: Path, size: tuple[int, int]) -> tuple[PageLayout, tuple[str, ...]]:
    """`layout` in the pixels of an image of `size` (width, height), and a note when its
    coordinates had to be scaled or converted. Raises `LayoutError` when the image is
    not the page described (another aspect ratio), or when a layout in physical units
    does not declare the page's size to convert them by."""
    width, height = size
    if layout.size is None:
        if layout.unit != "pixel":
            raise LayoutError(layout.path, f"its coordinates are in {layout.unit} and it does not declare the page's "
                                           "size, so they cannot be converted to the image's pixels")
        return layout, ()
    declared_w, declared_h = layout.size
    sx, sy = width / declared_w, height / declared_h
    if abs(sx / sy - 1.0) > ASPECT_TOLERANCE:
        raise LayoutError(layout.path, f"the image {image_path.name} is {width}x{height} pixels but the layout "
                                       f"describes a page of {_size(layout)}")
    if layout.unit != "pixel":
        note = f"coordinates in {layout.unit} converted to the image's pixels ({sx:.4g} pixels per unit)"
    elif (width, height) != (round(declared_w), round(declared_h)):
        note = (f"the image {image_path.name} is {width}x{height} pixels, a scaled copy of the "
                f"{_size(layout)} page the layout describes: its coordinates are scaled by {sx:.4g}")
    else:
        return layout, ()
    lines = tuple(line.scaled(sx, sy) for line in layout.lines)
    return replace(layout, size=(float(width), float(height)), lines=lines, unit="pixel"), (note,)


def _size(layout: PageLayout) -> str:
    w, h = layout.size
    unit = "" if layout.unit == "pixel" else f" {layout.unit}"
    return f"{w:g}x{h:g}{unit}" + (" pixels" if not unit else "")


def cut_page_line(page: np.ndarray, image_path: Path, page_line: PageLine) -> tuple[LineImage, tuple[str, ...]]:
    """`page_line` cut out of its decoded page image (read from `image_path`), the
    layout fitted to the image first; the notes on that fitting. Raises `LayoutError`."""
    height, width = page.shape[:2]
    fitted, notes = fit_to_image(page_line.layout, image_path, (width, height))
    line = page_line.line
    if fitted is not page_line.layout:
        line = fitted.lines[page_line.layout.lines.index(line)]
    try:
        return cut_line(page, line), notes
    except ValueError as exc:
        raise LayoutError(page_line.layout.path, str(exc)) from exc
