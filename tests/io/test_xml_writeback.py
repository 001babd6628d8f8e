"""Readings written back into a copy of the page's PAGE-XML or ALTO (issue 22): valid
against the official schemas, read back with the same lines and truths (an ALTO copy,
whose one text per line is the reading, says so and is read back without truths),
everything else of the source kept, and the glyphs' boxes where the characters are.

The schemas are the official ones the test dependencies ship (`tests/xml_schemas.py`):
PAGE 2013-2019, ALTO v2 and v4. No package on the registries was found to ship ALTO
v3's, so a v3 copy is checked by reading it back."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from page_builder import ALTO_V2, ALTO_V4, PAGE_2013, PAGE_2019, alto_xml, compose_page, page_xml, write_image
from xml_schemas import assert_valid

from thulium_desktop import __version__
from thulium_desktop.cli.document_outputs import DocumentOutputs, document_output_name
from thulium_desktop.io.alto import READING_NOTE
from thulium_desktop.io.corpus import collect_images, load_item
from thulium_desktop.io.documents import read_layout
from thulium_desktop.io.kraken_lines import SEGMENTATION_FORMAT
from thulium_desktop.io.layout import Line, LayoutError, PageLayout, local_name
from thulium_desktop.io.page_writer import (
    Glyph,
    LineReading,
    enriched_layout,
    fresh_page_xml,
    write_enriched_layout,
    write_fresh_page_xml,
)
from thulium_desktop.io.pagexml import READING_COMMENT
from thulium_desktop.models import load_model
from thulium_desktop.xai.saliency import SaliencyGenerator


ALTO_V3 = "http://www.loc.gov/standards/alto/ns-v3#"


@pytest.fixture(scope="module")
def page():
    return compose_page()


def _source(tmp_path: Path, page, namespace: str, scale: float = 1.0) -> Path:
    write_image(page, tmp_path / "scan.png", scale)
    path = tmp_path / "scan.xml"
    if "alto" in namespace:
        path.write_bytes(alto_xml(page, "scan.png", namespace))
    else:
        path.write_bytes(page_xml(page, "scan.png", namespace))
    return path


def _readings(layout, text_of=lambda line: line.truth.upper(), right_to_left: bool = False) -> dict[str, LineReading]:
    """A reading per line (its truth in capitals, so it differs from the truth), each
    character a box of equal width across the line's bounding box, confidence 0.5-0.9;
    in logical order, its boxes from the right end leftwards when `right_to_left`."""
    readings = {}
    for line in layout.lines:
        text = text_of(line)
        xs, ys = [p[0] for p in line.polygon], [p[1] for p in line.polygon]
        step = (max(xs) - min(xs)) / len(text)
        places = range(len(text))[::-1] if right_to_left else range(len(text))  # each glyph's box, from the left
        readings[line.id] = LineReading(tuple(
            Glyph(ch, 0.5 + 0.4 * i / len(text), (min(xs) + j * step, min(ys), min(xs) + (j + 1) * step, max(ys)))
            for i, (ch, j) in enumerate(zip(text, places))))
    return readings


def _elements(data: bytes, name: str) -> list[ET.Element]:
    return [e for e in ET.fromstring(data).iter() if local_name(e.tag) == name]


@pytest.mark.parametrize("namespace", [PAGE_2019, PAGE_2013, ALTO_V4, ALTO_V2])
def test_the_enriched_copy_is_valid_against_the_official_schema(page, tmp_path, namespace):
    source = _source(tmp_path, page, namespace)
    assert_valid(source.read_bytes(), namespace)  # the source is, so any fault is the writer's
    data = enriched_layout(source, _readings(read_layout(source)))
    assert_valid(data, namespace)
    assert f'xmlns="{namespace}"'.encode() in data and b"ns0:" not in data  # its namespace the default, as it was


@pytest.mark.parametrize("namespace", [PAGE_2019, PAGE_2013])
def test_page_xml_round_trip_keeps_lines_and_truths_and_adds_the_readings(page, tmp_path, namespace):
    source = _source(tmp_path, page, namespace)
    before = read_layout(source)
    readings = _readings(before)
    target = write_enriched_layout(source, readings, tmp_path / "out.xml")
    assert_valid(target.read_bytes(), namespace)
    after = read_layout(target)
    assert after.format == before.format
    assert after.lines == before.lines  # ids, polygons, baselines, truths, regions
    data = target.read_bytes()
    lines = {e.get("id"): e for e in _elements(data, "TextLine")}
    for line_id, reading in readings.items():
        glyphs = [g for w in lines[line_id] if local_name(w.tag) == "Word" for g in w if local_name(g.tag) == "Glyph"]
        assert "".join(g.findtext("*/{*}Unicode") for g in glyphs) == reading.text.replace(" ", "")
        assert [float(g.find("{*}TextEquiv").get("conf")) for g in glyphs] == pytest.approx(
            [g.confidence for g in reading.glyphs if g.char != " "], abs=1e-4)
        words = [w for w in lines[line_id] if local_name(w.tag) == "Word"]
        assert [w.find("{*}TextEquiv/{*}Unicode").text for w in words] == reading.text.split(" ")
        equivs = lines[line_id].findall("{*}TextEquiv")
        if namespace == PAGE_2019:  # the truth, then the reading with its confidence
            assert [e.findtext("{*}Unicode") for e in equivs] == [_truth(before, line_id), reading.text]
            assert float(equivs[1].get("conf")) == pytest.approx(reading.confidence, abs=1e-4)
            assert equivs[1].get("index") == "2" and equivs[1].get("comments") == READING_COMMENT
        else:  # PAGE 2013 allows the line one TextEquiv: its truth stays, the reading is in its words
            assert [e.findtext("{*}Unicode") for e in equivs] == [_truth(before, line_id)]


def _truth(layout, line_id: str) -> str:
    return next(line.truth for line in layout.lines if line.id == line_id)


@pytest.mark.parametrize("namespace", [PAGE_2019, PAGE_2013])
def test_a_truth_that_only_the_replaced_words_held_is_kept_as_the_lines_own(page, tmp_path, namespace):
    source = _source(tmp_path, page, namespace)
    root = ET.fromstring(source.read_bytes())
    q = lambda name: f"{{{namespace}}}{name}"  # noqa: E731
    for n, line in enumerate(root.iter(q("TextLine"))):
        truth = line.find(q("TextEquiv"))
        line.remove(truth)
        for i, word in enumerate(truth.findtext(q("Unicode")).split(" ")):
            element = ET.Element(q("Word"), id=f"w{n}_{i}")
            ET.SubElement(element, q("Coords"), points="1,1 2,1 2,2 1,2")
            ET.SubElement(ET.SubElement(element, q("TextEquiv")), q("Unicode")).text = word
            line.insert(2 + i, element)
    source.write_bytes(ET.tostring(root))
    before = read_layout(source)
    assert [line.truth for line in before.lines] == [line.truth for line in page.lines]
    target = write_enriched_layout(source, _readings(before), tmp_path / "out.xml")
    assert_valid(target.read_bytes(), namespace)  # PAGE 2013's TextEquiv has no `index` (PAGE 2016 added it)
    assert read_layout(target).lines == before.lines


def test_a_page_line_without_truth_gets_the_reading_and_is_read_back_without_truth(page, tmp_path):
    source = _source(tmp_path, page, PAGE_2019)
    root = ET.fromstring(source.read_bytes())
    for line in root.iter(f"{{{PAGE_2019}}}TextLine"):
        line.remove(line.find(f"{{{PAGE_2019}}}TextEquiv"))
    source.write_bytes(ET.tostring(root))
    readings = _readings(read_layout(source), lambda line: "ABC DE")
    data = enriched_layout(source, readings)
    assert_valid(data, PAGE_2019)
    assert all(e.findtext("{*}TextEquiv/{*}Unicode") == "ABC DE" for e in _elements(data, "TextLine"))
    target = tmp_path / "out.xml"
    target.write_bytes(data)
    assert [line.truth for line in read_layout(target).lines] == [None] * len(page.lines)


@pytest.mark.parametrize("namespace", [ALTO_V4, ALTO_V3, ALTO_V2])
def test_an_alto_copy_is_read_back_with_its_lines_and_without_truths(page, tmp_path, namespace):
    """ALTO holds one text per line: the copy's is the reading, which must not come back
    as the line's truth (a CER of 0% against itself)."""
    source = _source(tmp_path, page, namespace)
    before = read_layout(source)
    assert [line.truth for line in before.lines] == [line.truth for line in page.lines]
    readings = _readings(before)
    target = write_enriched_layout(source, readings, tmp_path / "out.xml")
    after = read_layout(target)
    assert (after.format, after.size, after.image_name) == (before.format, before.size, before.image_name)
    assert after.lines == tuple(replace(line, truth=None) for line in before.lines)
    assert after.notes == (*before.notes, READING_NOTE)
    lines = {e.get("ID"): e for e in _elements(target.read_bytes(), "TextLine")}
    for line_id, reading in readings.items():
        assert [e.get("CONTENT") for e in lines[line_id].findall("{*}String")] == reading.text.split(" ")
    (record,) = _our_records(ET.fromstring(target.read_bytes()))
    assert local_name(record.tag) == ("Processing" if namespace == ALTO_V4 else "OCRProcessing")
    assert record.findtext(".//{*}softwareVersion") == __version__
    datetime.fromisoformat(record.findtext(".//{*}processingDateTime"))
    if namespace != ALTO_V3:  # no package ships ALTO v3's schema
        assert_valid(target.read_bytes(), namespace)


def _our_records(root: ET.Element) -> list[ET.Element]:
    """The processing records that name this program as their software."""
    return [e for e in root.iter() if local_name(e.tag) in ("OCRProcessing", "Processing")
            and e.findtext(".//{*}softwareName") == "thulium-desktop"]


def test_an_alto_v4_copy_holds_the_readings_in_its_strings_and_glyphs(page, tmp_path):
    source = _source(tmp_path, page, ALTO_V4)
    before = read_layout(source)
    readings = _readings(before)
    write_enriched_layout(source, readings, tmp_path / "out.xml")
    strings = _elements((tmp_path / "out.xml").read_bytes(), "String")
    first = strings[0]
    glyphs = first.findall("{*}Glyph")
    assert "".join(g.get("CONTENT") for g in glyphs) == first.get("CONTENT")
    reading = readings[before.lines[0].id]
    assert [float(g.get("GC")) for g in glyphs] == pytest.approx([g.confidence for g in reading.glyphs[:len(glyphs)]],
                                                                 abs=1e-4)
    assert float(first.get("HPOS")) == pytest.approx(reading.glyphs[0].box[0], abs=1e-3)
    assert len(first.get("CC").split()) == len(glyphs)


@pytest.mark.parametrize("namespace", [ALTO_V3, ALTO_V2])
def test_an_alto_copy_before_v4_has_no_glyph_its_schema_lacks_but_each_characters_confidence(page, tmp_path,
                                                                                              namespace):
    """`Glyph` came with ALTO 4.0: a v2 or v3 String holds the per-character
    confidences in `@CC` only (0 sure to 9 unsure)."""
    source = _source(tmp_path, page, namespace)
    readings = _readings(read_layout(source))
    strings = _elements(enriched_layout(source, readings), "String")
    assert strings and all(string.find("{*}Glyph") is None for string in strings)
    first = readings[read_layout(source).lines[0].id].glyphs
    word = strings[0].get("CONTENT")
    assert [int(c) for c in strings[0].get("CC").split()] == [round(9 * (1 - g.confidence)) for g in first[:len(word)]]


def _with_processing(source: Path, namespace: str, kind: str, software: str) -> None:
    """`source` with a processing record of `kind` (`OCRProcessing` or ALTO 4's
    `Processing`) naming `software`, where the schema puts it in the `Description`."""
    root = ET.fromstring(source.read_bytes())
    q = lambda name: f"{{{namespace}}}{name}"  # noqa: E731
    record = ET.SubElement(root.find(q("Description")), q(kind), ID=f"{kind}_1")
    step = record if kind == "Processing" else ET.SubElement(record, q("ocrProcessingStep"))
    ET.SubElement(ET.SubElement(step, q("processingSoftware")), q("softwareName")).text = software
    source.write_bytes(ET.tostring(root))


@pytest.mark.parametrize(("namespace", "kind", "software"), [
    (ALTO_V2, "OCRProcessing", "ABBYY FineReader"), (ALTO_V4, "OCRProcessing", "kraken"),
    (ALTO_V4, "Processing", "eScriptorium")])
def test_another_tools_processing_record_keeps_the_truths_and_the_copy_adds_ours_after_it(page, tmp_path, namespace,
                                                                                          kind, software):
    source = _source(tmp_path, page, namespace)
    _with_processing(source, namespace, kind, software)
    assert_valid(source.read_bytes(), namespace)
    before = read_layout(source)
    assert [line.truth for line in before.lines] == [line.truth for line in page.lines]
    assert READING_NOTE not in before.notes
    data = enriched_layout(source, _readings(before))
    assert_valid(data, namespace)
    records = [e for e in _elements(data, "Description")[0] if local_name(e.tag).endswith("Processing")]
    assert [r.findtext(".//{*}softwareName") for r in records] == [software, "thulium-desktop"]
    assert records[0].get("ID") == f"{kind}_1"


@pytest.mark.parametrize("namespace", [ALTO_V4, ALTO_V2])
def test_exporting_an_exported_alto_again_replaces_our_record(page, tmp_path, namespace):
    source = _source(tmp_path, page, namespace)
    first = write_enriched_layout(source, _readings(read_layout(source)), tmp_path / "scan.alto.xml")
    (earlier,) = _our_records(ET.fromstring(first.read_bytes()))
    again = enriched_layout(first, _readings(read_layout(first), lambda line: "ABC DE"))
    assert_valid(again, namespace)
    (record,) = _our_records(ET.fromstring(again))
    assert record.get("ID") == earlier.get("ID")
    target = tmp_path / "again.xml"
    target.write_bytes(again)
    assert [line.truth for line in read_layout(target).lines] == [None] * len(page.lines)


@pytest.mark.parametrize("namespace", [ALTO_V4, ALTO_V2])
def test_an_alto_without_description_gets_one_saying_its_unit_and_that_it_holds_readings(page, tmp_path, namespace):
    """ALTO 4 requires a `Description` to state its `MeasurementUnit`: pixel, the unit
    an ALTO that states none is read in."""
    source = _source(tmp_path, page, namespace)
    root = ET.fromstring(source.read_bytes())
    root.remove(root.find(f"{{{namespace}}}Description"))
    source.write_bytes(ET.tostring(root))
    before = read_layout(source)
    data = enriched_layout(source, _readings(before))
    assert_valid(data, namespace)
    description = ET.fromstring(data)[0]
    assert local_name(description.tag) == "Description"
    assert description.findtext("{*}MeasurementUnit") == "pixel"
    target = tmp_path / "out.xml"
    target.write_bytes(data)
    after = read_layout(target)
    assert after.unit == before.unit == "pixel"
    assert after.lines == tuple(replace(line, truth=None) for line in before.lines)


def test_an_alto_copy_with_no_reading_written_keeps_the_sources_truths(page, tmp_path):
    source = _source(tmp_path, page, ALTO_V4)
    readings = _readings(read_layout(source), lambda line: "  ")  # only spaces: the lines are left as they are
    target = tmp_path / "out.xml"
    target.write_bytes(enriched_layout(source, readings))
    assert _our_records(ET.fromstring(target.read_bytes())) == []
    assert read_layout(target).lines == read_layout(source).lines


def _right_to_left_source(tmp_path: Path, page, namespace: str) -> Path:
    """The page's layout with every PAGE line marked right to left (ALTO states no direction)."""
    source = _source(tmp_path, page, namespace)
    if "alto" not in namespace:
        root = ET.fromstring(source.read_bytes())
        for line in root.iter(f"{{{namespace}}}TextLine"):
            line.set("readingDirection", "right-to-left")
        source.write_bytes(ET.tostring(root))
    return source


def _left(element: ET.Element) -> float:
    """The left edge of a PAGE element's `Coords`."""
    return min(float(p.split(",")[0]) for p in element.find("{*}Coords").get("points").split())


def test_a_right_to_left_page_line_keeps_its_direction_and_logical_order(page, tmp_path):
    source = _right_to_left_source(tmp_path, page, PAGE_2019)
    before = read_layout(source)
    assert {line.direction for line in before.lines} == {"right-to-left"}
    readings = _readings(before, right_to_left=True)
    data = enriched_layout(source, readings)
    assert_valid(data, PAGE_2019)
    target = tmp_path / "out.xml"
    target.write_bytes(data)
    assert read_layout(target).lines == before.lines  # direction included
    for line in _elements(data, "TextLine"):
        assert line.get("readingDirection") == "right-to-left"
        words = [w for w in line if local_name(w.tag) == "Word"]
        assert [w.findtext("{*}TextEquiv/{*}Unicode") for w in words] == readings[line.get("id")].text.split(" ")
        glyphs = [g for w in words for g in w if local_name(g.tag) == "Glyph"]
        assert "".join(g.findtext("{*}TextEquiv/{*}Unicode") for g in glyphs) == readings[line.get("id")].text.replace(
            " ", "")
        lefts = [_left(g) for g in glyphs]
        assert lefts == sorted(lefts, reverse=True)  # logical order: the first glyph is the rightmost
        assert [_left(w) for w in words] == sorted((_left(w) for w in words), reverse=True)


def test_a_right_to_left_alto_line_has_its_spaces_between_its_words(page, tmp_path):
    source = _source(tmp_path, page, ALTO_V4)
    readings = _readings(read_layout(source), right_to_left=True)
    data = enriched_layout(source, readings)
    assert_valid(data, ALTO_V4)
    spaces = 0
    for line in _elements(data, "TextLine"):
        parts = [e for e in line if local_name(e.tag) in ("String", "SP")]
        assert " ".join(e.get("CONTENT") for e in parts if local_name(e.tag) == "String") == readings[
            line.get("ID")].text
        for before, space, after in zip(parts[::2], parts[1::2], parts[2::2]):
            hpos, width = float(space.get("HPOS")), float(space.get("WIDTH"))
            assert width > 0  # the gap between the words, not an empty space at the earlier one's end
            assert float(after.get("HPOS")) + float(after.get("WIDTH")) == pytest.approx(hpos, abs=1e-3)
            assert hpos + width == pytest.approx(float(before.get("HPOS")), abs=1e-3)
            spaces += 1
    assert spaces  # the page has lines of several words


def _without_ours(root: ET.Element) -> ET.Element:
    """`root` with the elements the writer adds taken out (and the source's words and
    strings too, which it replaces): ALTO's processing record naming this program too."""
    root = copy.deepcopy(root)
    ours = _our_records(root)
    for parent in root.iter():
        for child in list(parent):
            if local_name(child.tag) in ("Word", "String", "SP", "HYP") or child.get("comments") == READING_COMMENT \
                    or child in ours:
                parent.remove(child)
    return root


@pytest.mark.parametrize("namespace", [PAGE_2019, ALTO_V4])
def test_everything_else_in_the_source_is_kept(page, tmp_path, namespace):
    source = _source(tmp_path, page, namespace)
    root = ET.fromstring(source.read_bytes())
    page_element = next(e for e in root.iter() if local_name(e.tag) == "Page")
    extra = ET.SubElement(page_element, page_element.tag.replace("Page", "Unknown"), custom="kept")
    extra.text = "not ours"
    source.write_bytes(ET.tostring(root))
    out = ET.fromstring(enriched_layout(source, _readings(read_layout(source))))
    assert ET.tostring(_without_ours(out)) == ET.tostring(_without_ours(root))
    assert out.tag == root.tag  # the same namespace, so the same schema version


def test_a_file_that_is_no_layout_is_refused_and_the_target_left_as_it_was(tmp_path):
    source = tmp_path / "config.xml"
    source.write_text("<config/>")
    target = tmp_path / "out.xml"
    target.write_text("before")
    with pytest.raises(LayoutError, match="neither PAGE-XML nor ALTO"):
        write_enriched_layout(source, {}, target)
    assert target.read_text() == "before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.xml", "out.xml"]


@pytest.mark.parametrize(("namespace", "model", "method", "scale"), [
    (PAGE_2019, "ctc-reader", "gradient", 1.0), (ALTO_V4, "attention-reader", None, 0.75)])
def test_document_outputs_write_each_page_with_glyphs_on_its_characters(page, tmp_path, namespace, model, method,
                                                                        scale):
    """The CLI's hook on a page read by a bundled reader: explained (glyph boxes from the
    maps) or only read (from the reader's attention), from the scan or a scaled copy of
    it. Each glyph box lies on its line's ink in the layout's coordinates, in reading
    order, and the copy validates."""
    source = _source(tmp_path, page, namespace, scale)
    recognizer = load_model(model)
    engine = SaliencyGenerator(recognizer)
    outputs = DocumentOutputs(recognizer, tmp_path / "out")
    written = []
    for item in collect_images([str(source)]).items:
        image = load_item(item).image
        explanation = engine.explain(image, method=method) if method else None
        reading = explanation.reading if explanation else engine.read(image)
        written.append(outputs.add(item, reading, {method: explanation} if method else None))
    assert written[:-1] == [None] * (len(page.lines) - 1)
    assert written[-1] == tmp_path / "out" / document_output_name("scan", read_layout(source))
    assert outputs.finish() == []
    data = written[-1].read_bytes()
    assert_valid(data, namespace)
    for line in _elements(data, "TextLine"):
        ink = page.line(line.get("id" if namespace == PAGE_2019 else "ID")).ink
        boxes = [_box(g) for g in line.iter() if local_name(g.tag) == "Glyph"]
        assert boxes, "every line was read"
        on_ink = [ink[int(y0):int(y1) + 1, int(x0):int(x1) + 1].any() for x0, y0, x1, y1 in boxes]
        assert sum(on_ink) >= 0.9 * len(boxes)
        centres = [(x0 + x1) / 2 for x0, _, x1, _ in boxes]
        assert sum(b >= a for a, b in zip(centres, centres[1:])) >= 0.8 * (len(centres) - 1)


def _box(glyph: ET.Element) -> tuple[float, float, float, float]:
    if glyph.get("HPOS") is not None:
        x, y, w, h = (float(glyph.get(k)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
        return x, y, x + w, y + h
    points = [tuple(map(float, p.split(","))) for p in glyph.find("{*}Coords").get("points").split()]
    xs, ys = zip(*points)
    return min(xs), min(ys), max(xs), max(ys)


def _segmentation(page, image_name: str = "scan.png") -> PageLayout:
    """The page's lines as kraken's segmenter gives them: named `line_NNNN`, polygon and
    baseline only (no truth, region or direction), in pixels of the scan, no XML behind."""
    lines = tuple(Line(f"line_{n:04d}", line.polygon, line.baseline) for n, line in enumerate(page.lines, 1))
    return PageLayout(Path(image_name), SEGMENTATION_FORMAT, image_name, tuple(map(float, page.size)), lines)


def test_a_segmented_page_gets_a_fresh_page_xml_with_its_lines_and_readings(page, tmp_path):
    layout = _segmentation(page)
    readings = _readings(layout, lambda line: "ABC DE")
    target = write_fresh_page_xml(layout, readings, tmp_path / "scan.page.xml")
    data = target.read_bytes()
    assert_valid(data, PAGE_2019)
    assert b"ns0:" not in data
    back = read_layout(target)
    assert back.format == "PAGE-XML 2019-07-15"
    assert (back.image_name, back.size) == ("scan.png", layout.size)
    assert [(line.id, line.polygon, line.baseline) for line in back.lines] == [
        (line.id, line.polygon, line.baseline) for line in layout.lines]  # in kraken's order
    assert [line.truth for line in back.lines] == [None] * len(layout.lines)  # readings are not truths
    assert len({line.region for line in back.lines}) == 1
    for line in _elements(data, "TextLine"):
        reading = readings[line.get("id")]
        equiv = line.find("{*}TextEquiv")
        assert (equiv.findtext("{*}Unicode"), equiv.get("comments")) == (reading.text, READING_COMMENT)
        assert float(equiv.get("conf")) == pytest.approx(reading.confidence, abs=1e-4)
        glyphs = [g for g in line.iter() if local_name(g.tag) == "Glyph"]
        assert "".join(g.findtext("{*}TextEquiv/{*}Unicode") for g in glyphs) == reading.text.replace(" ", "")
    creator, created, changed = (e.text for e in _elements(data, "Metadata")[0])
    assert creator.startswith("thulium-desktop ")
    assert datetime.fromisoformat(created) == datetime.fromisoformat(changed)
    region_ref = _elements(data, "RegionRefIndexed")
    assert [r.get("regionRef") for r in region_ref] == [e.get("id") for e in _elements(data, "TextRegion")]


def test_a_fresh_page_xml_region_holds_its_lines_and_lines_without_reading_stay_bare(page, tmp_path):
    layout = _segmentation(page)
    first = layout.lines[0].id
    reading = _readings(layout, lambda line: "AB")[first]
    data = fresh_page_xml(layout, {first: reading, "no_such_line": reading})
    assert_valid(data, PAGE_2019)
    (region,) = _elements(data, "TextRegion")
    x0, y0, x1, y1 = _box(region)
    for line in layout.lines:
        xs, ys = zip(*line.polygon)
        assert x0 <= min(xs) and y0 <= min(ys) and max(xs) <= x1 and max(ys) <= y1
    lines = _elements(data, "TextLine")
    assert [len(line.findall("{*}Word")) for line in lines] == [1] + [0] * (len(lines) - 1)
    assert all(line.find("{*}TextEquiv") is None for line in lines[1:])


def test_a_fresh_page_xml_writes_whole_non_negative_pixels(tmp_path):
    """kraken's points may fall just outside the page or between pixels; PAGE's points
    are non-negative integers."""
    line = Line("line_0001", ((-2.4, 3.6), (50.5, 3.6), (50.5, 20.2), (-2.4, 20.2)), ((-1.0, 15.49), (50.0, 15.51)))
    layout = PageLayout(Path("scan.png"), SEGMENTATION_FORMAT, "scan.png", (60.0, 30.0), (line,))
    target = tmp_path / "scan.page.xml"
    target.write_bytes(fresh_page_xml(layout, {}))
    assert_valid(target.read_bytes(), PAGE_2019)
    (back,) = read_layout(target).lines
    assert back.polygon == ((0, 4), (50, 4), (50, 20), (0, 20))  # round half to even: 50.5 -> 50
    assert back.baseline == ((0, 15), (50, 16))
