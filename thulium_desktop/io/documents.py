"""Pages as documents: a layout file read in either format, paired with its scan.

Opening the XML finds the image it names; opening an image finds the XML beside it.
Both look where the common exports put them: Transkribus writes `page/IMAGE.xml` beside
the images, eScriptorium `IMAGE.xml` (ALTO) or `alto/`, OCR-D a folder per step with
the image named relative to the workspace (`OCR-D-IMG/IMAGE.tif`), and this program's
own exports `IMAGE.page.xml` or `IMAGE.alto.xml` beside the scan. An image that is a
scaled copy of the one described (the same aspect ratio) is used with the coordinates
scaled, and a note says so; any other difference in size is refused, because every
polygon would cut the wrong pixels.
"""

from __future__ import annotations

import os
from collections.abc import Callable
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
#: What this program's exports put between a page's name and `.xml` (`IMAGE.page.xml`,
#: `IMAGE.alto.xml`: `page_writer.document_output_name`).
EXPORT_TAGS = (".page", ".alto")
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


def layout_candidates(image_path: str | os.PathLike) -> tuple[Path, ...]:
    """Where the layout file of an image may be, in the order they are preferred (IMAGE:
    the image's name without its suffix): what the user's tools write, `IMAGE.xml`
    beside it, then in `page/` and `alto/` beside it; then what this program's exports
    write beside it, `IMAGE.page.xml`, then `IMAGE.alto.xml`. The user's file comes
    first because an export is made from it and holds the model's readings: an ALTO
    export's text is the reading, which would be read back as the truth."""
    image = Path(image_path)
    name = image.with_suffix(".xml").name
    users = (image.parent / name, *(image.parent / folder / name for folder in LAYOUT_FOLDERS))
    return (*users, *(image.parent / f"{image.stem}{tag}.xml" for tag in EXPORT_TAGS))


def find_layout(image_path: str | os.PathLike,
                read: Callable[[Path], PageLayout] = read_layout) -> Path | None:
    """The layout file of an image: the first of `layout_candidates` that is a regular
    file holding a layout and does not name another image (an export for `scan.tif`
    is not the layout of `scan.png` beside it; a layout naming no image, or one that is
    not there, as a converted scan's does, is taken on its name). Other XML on those
    names (METS, a tool's settings) is passed over; a layout that cannot be read is
    returned, so that reading it says why. None if none. `read` reads a candidate as
    `read_layout` does (a caller that keeps what it read passes its own)."""
    image = Path(image_path)
    for candidate in layout_candidates(image):
        if irregular_reason(candidate) is not None:
            continue
        try:
            layout = read(candidate)
        except NotALayout:
            continue
        except LayoutError:
            return candidate
        if not _names_other_image(layout, image):
            return candidate
    return None


def _names_other_image(layout: PageLayout, image_path: Path) -> bool:
    """Whether the image `layout` names (`find_image`) is a file other than `image_path`."""
    try:
        named = find_image(layout)
    except LayoutError:
        return False
    return named.resolve() != image_path.resolve()


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
