"""Pages with PAGE-XML or ALTO layouts: their lines in reading order with their truths,
cut out of the scan with paper outside the polygon, paired with their images, and hostile
or broken XML refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from page_builder import PAGE_2013, PAGE_2019, PAPER, alto_xml, compose_page, page_xml, write_image

from thulium_desktop.io import layout as layout_module
from thulium_desktop.io.documents import (
    PageLine,
    cut_page_line,
    find_image,
    find_layout,
    fit_to_image,
    read_layout,
)
from thulium_desktop.io.images import read_image
from thulium_desktop.io.layout import LayoutError, NotALayout
from thulium_desktop.io.line_images import cut_line, line_to_page


@pytest.fixture(scope="module")
def page():
    return compose_page()


def write_page(folder, page, xml: bytes, name: str = "page", xml_folder: str = ""):
    image = write_image(page, folder / f"{name}.png")
    xml_path = folder / xml_folder / f"{name}.xml"
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    xml_path.write_bytes(xml)
    return image, xml_path


@pytest.mark.parametrize("namespace", [PAGE_2013, PAGE_2019])
def test_page_xml_lines_follow_the_reading_order_with_their_truths(tmp_path, page, namespace):
    _, xml = write_page(tmp_path, page, page_xml(page, "page.png", namespace, reading_order=("r2", "r1")))
    found = read_layout(xml)
    assert found.format == "PAGE-XML " + namespace.rpartition("/")[2]
    assert [line.id for line in found.lines] == ["l3", "l4", "l1", "l2"]  # the regions' order, not the file's
    assert {line.id: line.truth for line in found.lines} == {line.id: line.truth for line in page.lines}
    assert found.image_name == "page.png" and found.size == page.size and found.notes == ()
    l1 = next(line for line in found.lines if line.id == "l1")
    assert l1.polygon == tuple((float(x), float(y)) for x, y in page.line("l1").polygon)
    assert l1.baseline == tuple((float(x), float(y)) for x, y in page.line("l1").baseline)
    assert l1.region == "r1"


def test_without_a_reading_order_lines_are_in_document_order(tmp_path, page):
    _, xml = write_page(tmp_path, page, page_xml(page, "page.png"))
    assert [line.id for line in read_layout(xml).lines] == ["l1", "l2", "l3", "l4"]


def test_alto_v4_lines_with_their_strings_and_spaces(tmp_path, page):
    _, xml = write_page(tmp_path, page, alto_xml(page, "page.png"))
    found = read_layout(xml)
    assert found.format == "ALTO ns-v4" and found.unit == "pixel" and found.size == page.size
    assert [(line.id, line.truth) for line in found.lines] == [(line.id, line.truth) for line in page.lines]
    l3 = found.lines[2]
    assert l3.polygon == tuple((float(x), float(y)) for x, y in page.line("l3").polygon)
    assert l3.baseline[0][1] == l3.baseline[1][1] == page.line("l3").baseline[0][1]


ALTO_V2_BOXES = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v2#">
  <Description><MeasurementUnit>mm10</MeasurementUnit>
    <sourceImageInformation><fileName>scan.png</fileName></sourceImageInformation></Description>
  <Layout><Page ID="p" WIDTH="2000" HEIGHT="1000"><PrintSpace><TextBlock ID="b">
    <TextLine ID="t1" HPOS="100" VPOS="200" WIDTH="800" HEIGHT="100">
      <String CONTENT="exam"/><HYP CONTENT="-"/></TextLine>
    <TextLine ID="t2" HPOS="100" VPOS="300" WIDTH="800" HEIGHT="100">
      <String CONTENT="no"/><String CONTENT="spaces"/><String CONTENT="given"/></TextLine>
    <TextLine ID="t3" HPOS="100" VPOS="400" WIDTH="800" HEIGHT="100"/>
  </TextBlock></PrintSpace></Page></Layout>
</alto>"""


@pytest.mark.parametrize(("namespace", "version"), [(' xmlns="http://www.loc.gov/standards/alto/ns-v2#"', "ns-v2"),
                                                  ("", "without a namespace")])
def test_alto_boxes_hyphens_single_spaces_and_physical_units(tmp_path, namespace, version):
    xml = tmp_path / "scan.xml"
    xml.write_text(ALTO_V2_BOXES.replace(' xmlns="http://www.loc.gov/standards/alto/ns-v2#"', namespace),
                   encoding="utf-8")
    found = read_layout(xml)
    assert found.format == f"ALTO {version}" and found.unit == "mm10" and found.image_name == "scan.png"
    assert [line.truth for line in found.lines] == ["exam-", "no spaces given", None]
    assert found.lines[0].polygon == ((100, 200), (900, 200), (900, 300), (100, 300))
    # a page 200 mm wide scanned 400 pixels wide: 0.2 pixels per tenth of a millimetre
    fitted, notes = fit_to_image(found, tmp_path / "scan.png", (400, 200))
    assert fitted.unit == "pixel" and fitted.lines[0].polygon == ((20, 40), (180, 40), (180, 60), (20, 60))
    assert notes == ("coordinates in mm10 converted to the image's pixels (0.2 pixels per unit)",)


def test_cut_lines_hold_their_ink_inside_the_polygon_and_paper_outside(page):
    for placed in page.lines:
        cut = cut_line(page.image, layout_module.Line(placed.id, placed.polygon))
        x, y = cut.offset
        h, w = cut.mask.shape
        assert np.array_equal(cut.image[cut.mask], placed.alone[y:y + h, x:x + w][cut.mask])
        outside = cut.image[~cut.mask]
        assert len(outside) and (outside == np.round(cut.paper).astype(np.uint8)).all()
        # the estimate is the page's paper there (yellowed, vignetted), not the ink's colour
        true_paper = np.median(placed.alone[y:y + h, x:x + w][~placed.ink[y:y + h, x:x + w]], axis=0)
        assert np.abs(np.asarray(cut.paper) - true_paper).max() <= 6
        assert np.all(np.asarray(cut.paper) <= PAPER)


def test_a_neighbours_strokes_in_the_box_are_paper_in_the_cut(page):
    for placed in page.lines:
        cut = cut_line(page.image, layout_module.Line(placed.id, placed.polygon))
        x, y = cut.offset
        h, w = cut.mask.shape
        others = np.zeros(cut.mask.shape, bool)
        for other in page.lines:
            if other is not placed:
                others |= other.ink[y:y + h, x:x + w]
        assert others.sum() > 0  # the page is built so that they reach into the box
        assert not (others & cut.mask).any()
        assert (cut.image[others] == np.round(cut.paper).astype(np.uint8)).all()
        assert (page.image[y:y + h, x:x + w][others].astype(int).sum(axis=1)
                < cut.image[others].astype(int).sum(axis=1)).all()  # on the page they are darker


def test_a_half_size_scan_gets_scaled_coordinates_and_a_note(tmp_path, page):
    image = write_image(page, tmp_path / "page.png", scale=0.5)
    (tmp_path / "page.xml").write_bytes(page_xml(page, "page.png"))
    found = read_layout(tmp_path / "page.xml")
    scan = read_image(image).image
    cut, notes = cut_page_line(scan, image, PageLine(found, found.lines[1]))
    width, height = page.size
    assert notes == (f"the image page.png is {scan.shape[1]}x{scan.shape[0]} pixels, a scaled copy of the "
                     f"{width}x{height} pixels page the layout describes: its coordinates are scaled by 0.5",)
    full, _ = cut_page_line(page.image, image, PageLine(found, found.lines[1]))
    assert abs(cut.offset[0] - full.offset[0] / 2) <= 1 and abs(cut.offset[1] - full.offset[1] / 2) <= 1
    assert abs(cut.image.shape[1] - full.image.shape[1] / 2) <= 1
    assert abs(cut.image.shape[0] - full.image.shape[0] / 2) <= 1


def test_an_image_of_another_shape_is_refused_in_one_line(tmp_path, page):
    (tmp_path / "page.xml").write_bytes(page_xml(page, "page.png"))
    found = read_layout(tmp_path / "page.xml")
    cropped = page.image[:, : page.size[0] // 2]
    with pytest.raises(LayoutError) as caught:
        cut_page_line(cropped, tmp_path / "page.png", PageLine(found, found.lines[0]))
    width, height = page.size
    assert str(caught.value) == (f"cannot use layout {tmp_path / 'page.xml'}: the image page.png is "
                                 f"{width // 2}x{height} pixels but the layout describes a page of "
                                 f"{width}x{height} pixels")


def test_a_line_map_goes_back_onto_the_page_inside_its_polygon(page):
    placed = page.line("l2")
    cut = cut_line(page.image, layout_module.Line(placed.id, placed.polygon))
    line_map = np.random.default_rng(0).random(cut.mask.shape).astype(np.float32)
    on_page = line_to_page(line_map, cut, page.image.shape)
    assert on_page.shape == page.image.shape[:2]
    x, y = cut.offset
    h, w = cut.mask.shape
    window = on_page[y:y + h, x:x + w]
    assert np.array_equal(window[cut.mask], line_map[cut.mask])
    inside = np.zeros(page.image.shape[:2], bool)
    inside[y:y + h, x:x + w] = cut.mask
    assert np.isnan(on_page[~inside]).all() and not np.isnan(on_page[inside]).any()
    assert inside[placed.ink].all()  # every stroke of the line can be coloured by its map
    coarse = line_to_page(np.ones((4, 16), np.float32), cut, page.image.shape)  # a model's own resolution
    assert (coarse[inside] == 1.0).all() and np.isnan(coarse[~inside]).all()


def test_the_image_a_layout_names_is_found_where_exports_put_it(tmp_path, page):
    image = write_image(page, tmp_path / "doc" / "0001.png")
    transkribus = tmp_path / "doc" / "page" / "0001.xml"
    transkribus.parent.mkdir()
    transkribus.write_bytes(page_xml(page, "0001.png"))
    assert find_image(read_layout(transkribus)) == image
    assert find_layout(image) == transkribus
    ocrd = tmp_path / "ws"
    ocrd_image = write_image(page, ocrd / "OCR-D-IMG" / "0001.png")
    (ocrd / "OCR-D-SEG").mkdir()
    (ocrd / "OCR-D-SEG" / "0001.xml").write_bytes(page_xml(page, "OCR-D-IMG/0001.png"))
    assert find_image(read_layout(ocrd / "OCR-D-SEG" / "0001.xml")) == ocrd_image
    beside, xml = write_page(tmp_path / "flat", page, alto_xml(page, "page.png"))
    assert find_image(read_layout(xml)) == beside and find_layout(beside) == xml
    assert find_layout(write_image(page, tmp_path / "alone" / "page.png")) is None


def test_a_missing_image_is_named_in_one_line(tmp_path, page):
    (tmp_path / "page.xml").write_bytes(page_xml(page, "scans/gone.tif"))
    with pytest.raises(LayoutError) as caught:
        find_image(read_layout(tmp_path / "page.xml"))
    assert str(caught.value) == (f"cannot use layout {tmp_path / 'page.xml'}: the image it names, 'scans/gone.tif', "
                                 f"is neither in {tmp_path} nor in {tmp_path.parent}")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">
<Page imageFilename="a.png" imageWidth="10" imageHeight="10"><TextRegion id="r">
<TextLine id="l"><Coords points="0,0 5,0 5,5"/><TextEquiv><Unicode>&lol9;</Unicode></TextEquiv></TextLine>
</TextRegion></Page></PcGts>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE alto [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<alto><Layout><Page WIDTH="10" HEIGHT="10"><PrintSpace><TextBlock>
<TextLine HPOS="0" VPOS="0" WIDTH="5" HEIGHT="5"><String CONTENT="&secret;"/></TextLine>
</TextBlock></PrintSpace></Page></Layout></alto>"""


@pytest.mark.parametrize(("text", "reason"), [
    (BILLION_LAUGHS, "declares the XML entity 'lol'; entities are refused (they can expand to gigabytes or read "
                     "other files, and PAGE-XML and ALTO need none)"),
    (EXTERNAL_ENTITY, "declares the XML entity 'secret'; entities are refused (they can expand to gigabytes or "
                      "read other files, and PAGE-XML and ALTO need none)"),
    ('<?xml version="1.0"?>\n<alto><Layout><Page></Layout></alto>',
     "not well-formed XML (line 2, column 23): mismatched tag"),
])
def test_hostile_and_malformed_xml_is_refused_in_one_line(tmp_path, text, reason):
    path = tmp_path / "page.xml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LayoutError) as caught:
        read_layout(path)
    assert caught.value.reason == reason and "\n" not in str(caught.value)


def test_a_layout_file_over_the_size_limit_is_not_read(tmp_path, page, monkeypatch):
    path = tmp_path / "page.xml"
    path.write_bytes(page_xml(page, "page.png"))
    monkeypatch.setattr(layout_module, "MAX_LAYOUT_BYTES", 1000)
    with pytest.raises(LayoutError, match=f"{path.stat().st_size:,} bytes is more than the 1,000 a layout file"):
        read_layout(path)


def test_xml_that_is_no_layout_says_what_it_is(tmp_path):
    path = tmp_path / "mets.xml"
    path.write_text('<mets:mets xmlns:mets="http://www.loc.gov/METS/"/>', encoding="utf-8")
    with pytest.raises(NotALayout, match=r"neither PAGE-XML nor ALTO \(its root element is <mets>\)"):
        read_layout(path)


def test_a_broken_line_is_skipped_with_a_note_and_the_rest_is_read(tmp_path, page):
    text = page_xml(page, "page.png").decode("utf-8")
    broken = text.replace(f'points="{" ".join(f"{x},{y}" for x, y in page.line("l2").polygon)}"',
                          'points="12,40 oops,41 90,44"', 1)
    assert broken != text
    path = tmp_path / "page.xml"
    path.write_text(broken, encoding="utf-8")
    found = read_layout(path)
    assert [line.id for line in found.lines] == ["l1", "l3", "l4"]
    assert found.notes == ("TextLine 'l2' skipped: its Coords are not a polygon (points '12,40 oops,41 90,44' "
                           "hold something that is not a number)",)
