"""Layouts this program exported, found again beside their scans (issue 22): a page
written as `scan.page.xml` or `scan.alto.xml` next to `scan.png` is that page, listed
once with its lines, whether the folder, the scan or the layout is opened; the user's
own `scan.xml` is preferred to an export; an export for another image is not paired.
An export's text is the model's reading: its lines are listed without truths."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from page_builder import alto_xml, compose_page, page_xml, write_image
from test_kraken_lines import fake_kraken, kraken_lines

from thulium_desktop.app.document_tree import list_documents
from thulium_desktop.io.alto import READING_NOTE
from thulium_desktop.io.corpus import collect_images, load_item
from thulium_desktop.io.documents import find_layout, read_layout
from thulium_desktop.io.kraken_lines import segment_page
from thulium_desktop.io.layout import PageLayout
from thulium_desktop.io.page_writer import Glyph, LineReading, write_enriched_layout, write_fresh_page_xml
from thulium_desktop.io.truths import TruthSource


@pytest.fixture(scope="module")
def page():
    return compose_page()


def readings_of(layout) -> dict[str, LineReading]:
    """A reading per line, as an export holds them: the truth's characters, each on
    the line's box (where the glyph sits does not matter here)."""
    readings = {}
    for line, truth in zip(layout.lines, ("one", "two", "three", "four")):
        xs, ys = zip(*line.polygon)
        box = (float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys)))
        readings[line.id] = LineReading(tuple(Glyph(char, 0.9, box) for char in truth))
    return readings


def export_segmented(page, monkeypatch, folder: Path) -> tuple[Path, PageLayout]:
    """`folder/scan.png` segmented by (a stand-in for) kraken and exported as File ▸
    Export page layout suggests: a fresh `scan.page.xml` beside it; the scan and the
    lines kraken found."""
    scan = write_image(page, folder / "scan.png")
    fake_kraken(monkeypatch, lambda im: {"lines": [vars(line) for line in kraken_lines(page)]})
    layout = segment_page(page.image, scan)
    write_fresh_page_xml(layout, readings_of(layout), folder / "scan.page.xml")
    return scan, layout


def export_alto(page, folder: Path) -> Path:
    """`folder/scan.png` with the user's ALTO kept elsewhere, exported with readings as
    `scan.alto.xml` beside the scan; the scan."""
    scan = write_image(page, folder / "scan.png")
    source = folder.parent / "source" / "scan.xml"
    source.parent.mkdir()
    source.write_bytes(alto_xml(page, "scan.png"))
    write_enriched_layout(source, readings_of(read_layout(source)), folder / "scan.alto.xml")
    return scan


def test_a_folder_with_an_exported_page_xml_lists_the_page_once_with_its_lines(tmp_path, monkeypatch, page):
    folder = tmp_path / "images"
    scan, segmented = export_segmented(page, monkeypatch, folder)
    corpus = collect_images([folder])
    assert [item.name for item in corpus.items] == ["scan/line_0001", "scan/line_0002", "scan/line_0003",
                                                    "scan/line_0004"]
    assert corpus.missing == ()
    assert all(item.path == scan and item.line.layout.path == folder / "scan.page.xml" for item in corpus.items)
    assert [item.line.line.polygon for item in corpus.items] == [line.polygon for line in segmented.lines]
    assert [TruthSource().lookup(item).text for item in corpus.items] == [None] * 4  # readings are not truths
    cut = load_item(corpus.items[0]).image
    assert cut.shape[0] < page.image.shape[0] // 2  # a line cut out, not the page


def test_opening_the_scan_alone_finds_the_exported_page_xml(tmp_path, monkeypatch, page):
    scan, _ = export_segmented(page, monkeypatch, tmp_path)
    assert find_layout(scan) == tmp_path / "scan.page.xml"
    corpus = collect_images([scan])
    assert [item.name for item in corpus.items] == ["scan/line_0001", "scan/line_0002", "scan/line_0003",
                                                    "scan/line_0004"]
    opened_layout = collect_images([tmp_path / "scan.page.xml"]).items  # the layout opened: the same lines

    def described(items):
        return [(item.path, item.name, item.line.line) for item in items]

    assert described(opened_layout) == described(corpus.items)


def test_an_exported_alto_beside_its_scan_is_its_layout_with_no_truths(tmp_path, page):
    """ALTO holds one text per line, so the export's is the reading: taken for the truth,
    every line would score a CER of 0%."""
    folder = tmp_path / "images"
    scan = export_alto(page, folder)
    assert find_layout(scan) == folder / "scan.alto.xml"
    corpus = collect_images([folder])
    assert [item.name for item in corpus.items] == ["scan/l1", "scan/l2", "scan/l3", "scan/l4"]
    assert {item.path for item in corpus.items} == {scan}
    truths = [TruthSource().lookup(item) for item in corpus.items]
    assert [truth.text for truth in truths] == [None] * 4  # not "one", "two", ...
    assert all(truth.notes == (READING_NOTE,) for truth in truths)  # each line's truth says why
    assert corpus.missing == ()  # no failure: read and explain exit 0


def test_the_app_lists_a_folder_with_an_exported_alto_as_a_page_without_truths(tmp_path, page):
    folder = tmp_path / "images"
    scan = export_alto(page, folder)
    (document,) = list_documents([folder]).entries
    assert document.image == scan and document.layout.path == folder / "scan.alto.xml"
    assert [item.line.line.id for item in document.lines] == ["l1", "l2", "l3", "l4"]
    assert [item.line.line.truth for item in document.lines] == [None] * 4
    assert READING_NOTE in document.layout.notes


def test_the_users_own_layout_is_preferred_to_an_export_beside_it(tmp_path, monkeypatch, page):
    scan, _ = export_segmented(page, monkeypatch, tmp_path)
    (tmp_path / "scan.xml").write_bytes(page_xml(page, "scan.png"))  # the user's tool: with the truths
    assert find_layout(scan) == tmp_path / "scan.xml"
    for opened in (tmp_path, scan):
        corpus = collect_images([opened])
        assert [item.name for item in corpus.items] == ["scan/l1", "scan/l2", "scan/l3", "scan/l4"]
        assert {item.line.layout.path for item in corpus.items} == {tmp_path / "scan.xml"}
        assert [TruthSource().lookup(item).text for item in corpus.items] == [line.truth for line in page.lines]


def test_other_xml_on_the_scans_name_does_not_hide_the_export(tmp_path, monkeypatch, page):
    scan, _ = export_segmented(page, monkeypatch, tmp_path)
    (tmp_path / "scan.xml").write_text('<mets xmlns="http://www.loc.gov/METS/"/>', encoding="utf-8")
    assert find_layout(scan) == tmp_path / "scan.page.xml"
    assert len(collect_images([tmp_path]).items) == 4


def test_an_export_for_another_image_of_the_same_name_is_not_paired(tmp_path, page):
    write_image(page, tmp_path / "scan.jpg")
    png = write_image(page, tmp_path / "scan.png")
    (tmp_path / "scan.alto.xml").write_bytes(alto_xml(page, "scan.jpg"))
    assert find_layout(png) is None
    assert find_layout(tmp_path / "scan.jpg") == tmp_path / "scan.alto.xml"
    corpus = collect_images([tmp_path])
    assert [(item.name, item.path.name) for item in corpus.items] == [
        ("scan/l1", "scan.jpg"), ("scan/l2", "scan.jpg"), ("scan/l3", "scan.jpg"), ("scan/l4", "scan.jpg"),
        ("scan", "scan.png"),  # taken whole
    ]


def _regions_only(page, image_name: str) -> bytes:
    """The page's PAGE-XML with its regions but no `TextLine`: an OCR-D step before line
    detection (OCR-D-SEG-BLOCK), or a Transkribus page before its lines were found."""
    root = ET.fromstring(page_xml(page, image_name))
    for region in root.iter():
        for line in [c for c in region if c.tag.endswith("}TextLine")]:
            region.remove(line)
    return ET.tostring(root)


def test_a_layout_without_lines_claims_neither_the_page_nor_its_image(tmp_path, page):
    """A region-only step that sorts before the line step must not hide the page: its
    lines come from the step that has them; with no such step, the image is read whole."""
    write_image(page, tmp_path / "OCR-D-IMG" / "0001.png")
    for step, data in (("OCR-D-SEG-BLOCK", _regions_only(page, "OCR-D-IMG/0001.png")),
                       ("OCR-D-SEG-LINE", page_xml(page, "OCR-D-IMG/0001.png"))):
        (tmp_path / step).mkdir()
        (tmp_path / step / "0001.xml").write_bytes(data)
    corpus = collect_images([tmp_path])
    assert [item.name for item in corpus.items] == [f"OCR-D-SEG-LINE/0001/l{n}" for n in range(1, 5)]
    (tmp_path / "OCR-D-SEG-LINE" / "0001.xml").unlink()
    assert [(item.name, item.line) for item in collect_images([tmp_path]).items] == [("OCR-D-IMG/0001", None)]


def test_a_scan_whose_own_layout_has_no_lines_yet_is_read_whole(tmp_path, page):
    write_image(page, tmp_path / "scan.png")
    (tmp_path / "scan.xml").write_bytes(_regions_only(page, "scan.png"))
    assert [(item.name, item.line) for item in collect_images([tmp_path]).items] == [("scan", None)]


def test_an_image_met_before_the_layout_that_names_it_is_not_taken_whole(tmp_path, page):
    """An OCR-D workspace: `OCR-D-IMG/` is listed before the step folder holding its layout."""
    write_image(page, tmp_path / "OCR-D-IMG" / "0001.png")
    (tmp_path / "OCR-D-SEG").mkdir()
    (tmp_path / "OCR-D-SEG" / "0001.xml").write_bytes(page_xml(page, "OCR-D-IMG/0001.png"))
    corpus = collect_images([tmp_path])
    assert [item.name for item in corpus.items] == ["OCR-D-SEG/0001/l1", "OCR-D-SEG/0001/l2", "OCR-D-SEG/0001/l3",
                                                    "OCR-D-SEG/0001/l4"]
    assert corpus.missing == ()
