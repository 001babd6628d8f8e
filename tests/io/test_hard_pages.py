"""Pages as real archives bring them, in both PAGE-XML and ALTO: a line turned by a few
degrees, line boxes that overlap (only the polygon keeps a neighbour's strokes out of
the cut), a Hebrew line read right to left, and files with one broken or unknown line
element, whose other lines must still be read."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
from page_builder import (
    PAGE_2013,
    RTL_TRUTH,
    alto_xml,
    compose_hard_page,
    compose_page,
    edit_line,
    page_xml,
    write_image,
)

from thulium_desktop.io.documents import PageLine, cut_page_line, read_layout
from thulium_desktop.io.images import read_image
from thulium_desktop.io.line_images import line_to_page

FORMATS = {"page": page_xml, "alto": alto_xml}


@pytest.fixture(scope="module")
def hard_page():
    return compose_hard_page()


@pytest.fixture(scope="module")
def page():
    return compose_page()


def written(folder, page, kind: str, xml: bytes | None = None):
    """The page's image and its layout (`kind`, unless `xml` is given) read back."""
    image = write_image(page, folder / "page.png")
    path = folder / "page.xml"
    path.write_bytes(FORMATS[kind](page, "page.png") if xml is None else xml)
    return image, read_layout(path)


def cut(image, layout, line_id: str):
    line = next(line for line in layout.lines if line.id == line_id)
    return cut_page_line(read_image(image).image, image, PageLine(layout, line))[0]


def on_page(cutout, shape) -> np.ndarray:
    """The cut's mask placed on a page of `shape`: the page pixels the cut line keeps."""
    x, y = cutout.offset
    h, w = cutout.mask.shape
    mask = np.zeros(shape[:2], bool)
    mask[y:y + h, x:x + w] = cutout.mask
    return mask


def points(values) -> tuple[tuple[float, float], ...]:
    return tuple((float(x), float(y)) for x, y in values)


@pytest.mark.parametrize("kind", FORMATS)
def test_a_rotated_line_is_read_with_its_polygon_and_baseline_and_cut_whole(tmp_path, hard_page, kind):
    image, layout = written(tmp_path, hard_page, kind)
    placed = hard_page.line("l1")
    line = layout.lines[0]
    assert (line.id, line.truth, layout.notes) == ("l1", "recognition", ())
    assert line.polygon == points(placed.polygon)
    assert line.baseline == points(placed.baseline)  # ALTO 4.2 baseline points: a sloping baseline survives
    assert line.baseline[0][1] - line.baseline[1][1] > 20  # it really is turned
    cutout = cut(image, layout, "l1")
    assert on_page(cutout, hard_page.image.shape)[placed.ink].all()  # every stroke of the turned line is kept
    x, y = cutout.offset
    h, w = cutout.mask.shape
    assert np.array_equal(cutout.image[cutout.mask], placed.alone[y:y + h, x:x + w][cutout.mask])


@pytest.mark.parametrize("kind", FORMATS)
def test_a_rotated_lines_map_goes_back_to_the_page_pixel_it_was_computed_for(tmp_path, hard_page, kind):
    image, layout = written(tmp_path, hard_page, kind)
    cutout = cut(image, layout, "l1")
    h, w = cutout.mask.shape
    index = np.arange(h * w, dtype=np.float32).reshape(h, w)  # each line pixel's own number
    on_page = line_to_page(index, cutout, hard_page.image.shape)
    ys, xs = np.nonzero(~np.isnan(on_page))
    x0, y0 = cutout.offset
    assert np.array_equal(on_page[ys, xs], (ys - y0) * w + (xs - x0))
    polygon = np.zeros(hard_page.image.shape[:2], np.uint8)
    cv2.fillPoly(polygon, [np.asarray(hard_page.line("l1").polygon, np.int32)], 1)
    assert np.array_equal(~np.isnan(on_page), polygon.astype(bool))  # inside the turned polygon only
    bx, by = (round(v) for v in layout.lines[0].baseline[0])
    hot = np.zeros((h, w), np.float32)
    hot[by - y0, bx - x0] = 1.0
    assert np.unravel_index(np.nanargmax(line_to_page(hot, cutout, hard_page.image.shape)),
                            hard_page.image.shape[:2]) == (by, bx)


@pytest.mark.parametrize("kind", FORMATS)
def test_overlapping_line_boxes_keep_the_neighbours_strokes_out_of_the_cut(tmp_path, page, kind):
    image, layout = written(tmp_path, page, kind)
    for above, below in zip(layout.lines, layout.lines[1:]):
        assert max(y for _, y in above.polygon) > min(y for _, y in below.polygon)  # the boxes overlap
    for placed in page.lines:
        cutout = cut(image, layout, placed.id)
        x, y = cutout.offset
        h, w = cutout.mask.shape
        others = np.logical_or.reduce([o.ink[y:y + h, x:x + w] for o in page.lines if o is not placed])
        assert others.any()  # the neighbour's ascenders or descenders reach into the box...
        assert (cutout.image[others] == np.round(cutout.paper).astype(np.uint8)).all()  # ...and are paper
        assert placed.ink[y:y + h, x:x + w][cutout.mask].sum() == placed.ink.sum()  # its own ink is all there


def test_an_rtl_lines_truth_and_direction_survive_page_xml(tmp_path, hard_page):
    image, layout = written(tmp_path, hard_page, "page")
    line = layout.lines[1]
    assert (line.id, line.truth, line.direction) == ("l2", RTL_TRUTH, "right-to-left")
    assert line.truth[0] == "ש"  # logical order: the first letter read is the rightmost drawn
    assert layout.lines[0].direction is None
    assert line.baseline == points(hard_page.line("l2").baseline)  # drawn from right to left, as given
    kept = on_page(cut(image, layout, "l2"), hard_page.image.shape)
    assert kept[hard_page.line("l2").ink].all() and not kept[hard_page.line("l1").ink].any()


def test_a_regions_reading_direction_is_inherited_and_a_lines_own_wins(tmp_path, hard_page):
    root = ET.fromstring(page_xml(hard_page, "page.png", PAGE_2013))
    ns = root.tag.partition("}")[0] + "}"
    regions = {region.get("id"): region for region in root.iter(f"{ns}TextRegion")}
    regions["r1"].set("readingDirection", "right-to-left")
    regions["r2"].set("readingDirection", "left-to-right")  # l2 says right-to-left itself
    _, layout = written(tmp_path, hard_page, "page", ET.tostring(root))
    assert [line.direction for line in layout.lines] == ["right-to-left", "right-to-left"]


def test_an_rtl_lines_truth_survives_alto_which_states_no_direction(tmp_path, hard_page):
    _, layout = written(tmp_path, hard_page, "alto")
    assert [(line.truth, line.direction) for line in layout.lines] == [("recognition", None), (RTL_TRUTH, None)]


def test_an_unknown_reading_direction_is_noted_and_left_out(tmp_path, hard_page):
    xml = edit_line(page_xml(hard_page, "page.png"), "l2", lambda e: e.set("readingDirection", "rtl"))
    _, layout = written(tmp_path, hard_page, "page", xml)
    assert layout.lines[1].direction is None and layout.lines[1].truth == RTL_TRUTH
    assert layout.notes == ("TextLine 'l2': readingDirection 'rtl' is not one of PAGE's (left-to-right, "
                            "right-to-left, top-to-bottom, bottom-to-top); it is ignored",)


def drop(name: str):
    return lambda element: element.remove(next(c for c in element if c.tag.endswith(name)))


def add_unknown(element: ET.Element) -> None:
    ET.SubElement(element, element.tag.partition("}")[0] + "}Glyphs")


def set_points(name: str, attribute: str, value: str):
    return lambda element: next(c for c in element.iter() if c.tag.endswith(name)).set(attribute, value)


def shapeless_with(**attributes: str | None):
    """An edit taking away a line's Shape and setting (None: removing) attributes of its box."""
    def edit(element: ET.Element) -> None:
        drop("Shape")(element)
        for name, value in attributes.items():
            if value is None:
                element.attrib.pop(name)
            else:
                element.set(name, value)
    return edit


@pytest.mark.parametrize("kind, edit, note", [
    ("page", drop("Coords"), "TextLine 'l2' skipped: it has no Coords"),
    ("page", set_points("Coords", "points", "12,40 oops,41 90,44"),
     "TextLine 'l2' skipped: its Coords are not a polygon (points '12,40 oops,41 90,44' hold something that "
     "is not a number)"),
    ("page", set_points("Baseline", "points", "1,2,3"),
     "TextLine 'l2': its Baseline is ignored (points '1,2,3' have an odd count of numbers)"),
    ("alto", shapeless_with(HPOS="left"),
     "TextLine 'l2' skipped: its HPOS 'left' is not a number (and it has no Shape/Polygon)"),
    ("alto", set_points("Polygon", "POINTS", "10 20 thirty 40 50 60"),
     "TextLine 'l2' skipped: its Shape/Polygon is not a polygon (points '10 20 thirty 40 50 60' hold "
     "something that is not a number)"),
    ("alto", shapeless_with(WIDTH="0", HEIGHT="45"),
     "TextLine 'l2' skipped: its box is empty (WIDTH='0', HEIGHT='45')"),
    ("alto", shapeless_with(HPOS=None, HEIGHT=None),
     "TextLine 'l2' skipped: it has neither a Shape/Polygon nor a box (no HPOS/HEIGHT)"),
    ("alto", shapeless_with(VPOS=""), "TextLine 'l2' skipped: its VPOS '' is not a number (and it has no "
     "Shape/Polygon)"),
])
def test_a_malformed_line_is_named_in_a_note_and_the_others_are_read(tmp_path, page, kind, edit, note):
    xml = edit_line(FORMATS[kind](page, "page.png"), "l2", edit)
    _, layout = written(tmp_path, page, kind, xml)
    assert layout.notes == (note,)
    kept = [line.id for line in layout.lines]
    assert kept == (["l1", "l2", "l3", "l4"] if "Baseline" in note else ["l1", "l3", "l4"])
    assert {line.id: line.truth for line in layout.lines} == {p.id: p.truth for p in page.lines if p.id in kept}


@pytest.mark.parametrize("kind, element", [("page", "a PAGE"), ("alto", "an ALTO")])
def test_an_element_not_understood_inside_a_line_is_named_and_the_line_still_read(tmp_path, page, kind, element):
    _, layout = written(tmp_path, page, kind, edit_line(FORMATS[kind](page, "page.png"), "l3", add_unknown))
    assert layout.notes == (f"{element} TextLine 'l3': element <Glyphs> is not understood there; it is ignored",)
    assert [(line.id, line.truth) for line in layout.lines] == [(p.id, p.truth) for p in page.lines]
