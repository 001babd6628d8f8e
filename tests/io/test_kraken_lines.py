"""Pages without XML: kraken's baseline segmenter where it is installed, and the exact
install command where it is not. kraken is not a test dependency (it is heavy), so its
`blla` module is replaced here by one that answers in kraken's own formats."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field

import numpy as np
import pytest
from page_builder import compose_page, write_image

from thulium_desktop.io.corpus import collect_images, load_item, segment_images, shard
from thulium_desktop.io.kraken_lines import KrakenMissing, segment_page
from thulium_desktop.io.line_images import cut_line


@dataclass
class BaselineLine:  # the fields of kraken.containers.BaselineLine that matter here
    id: str
    baseline: list
    boundary: list
    tags: dict = field(default_factory=dict)


@dataclass
class Segmentation:  # kraken.containers.Segmentation (kraken >= 5)
    type: str
    imagename: str
    text_direction: str
    script_detection: bool
    lines: list


@pytest.fixture(scope="module")
def page():
    return compose_page()


def fake_kraken(monkeypatch, answer) -> list:
    """Install a `kraken.blla` whose `segment` records the image it gets and returns
    `answer(image)`; the list of images seen."""
    seen = []

    def segment(im, text_direction="horizontal-lr", mask=None, model=None, device="cpu"):
        seen.append(im)
        return answer(im)

    kraken = types.ModuleType("kraken")
    blla = types.ModuleType("kraken.blla")
    blla.segment = segment
    kraken.blla = blla
    monkeypatch.setitem(sys.modules, "kraken", kraken)
    monkeypatch.setitem(sys.modules, "kraken.blla", blla)
    return seen


def kraken_lines(page) -> list[BaselineLine]:
    """What kraken would find: each line's polygon as boundary (closed, first point
    repeated, as kraken writes it) and its baseline, in reading order."""
    return [BaselineLine(f"_{i:x}", [list(p) for p in line.baseline],
                         [list(p) for p in (*line.polygon, line.polygon[0])])
            for i, line in enumerate(page.lines)]


def test_without_kraken_the_user_is_told_what_to_install(tmp_path, monkeypatch, page):
    for name in ("kraken", "kraken.blla"):  # importing it fails, installed (and imported before) or not
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(KrakenMissing) as caught:
        segment_page(page.image, tmp_path / "scan.png")
    assert str(caught.value) == (f"cannot use layout {tmp_path / 'scan.png'}: it has no PAGE-XML or ALTO beside it, "
                                 "and finding its lines needs kraken, which is not installed: "
                                 "pip install 'thulium-desktop[kraken]'")


def test_kraken_segmentation_becomes_lines_to_cut(tmp_path, monkeypatch, page):
    seen = fake_kraken(monkeypatch, lambda im: Segmentation("baselines", "scan.png", "horizontal-lr", False,
                                                            kraken_lines(page)))
    found = segment_page(page.image, tmp_path / "scan.png")
    assert seen[0].mode == "RGB" and seen[0].size == page.size
    rgb = np.asarray(seen[0])
    assert np.array_equal(rgb[..., ::-1], page.image)  # kraken gets the page in colour, as RGB
    assert [line.id for line in found.lines] == ["line_0001", "line_0002", "line_0003", "line_0004"]
    assert found.size == page.size and found.image_name == "scan.png" and found.notes == ()
    for line, placed in zip(found.lines, page.lines):
        assert line.polygon[:-1] == tuple((float(x), float(y)) for x, y in placed.polygon)
        assert line.baseline == tuple((float(x), float(y)) for x, y in placed.baseline)
        assert line.truth is None
        cut = cut_line(page.image, line)
        assert cut.mask[placed.ink[cut.offset[1]:cut.offset[1] + cut.mask.shape[0],
                                   cut.offset[0]:cut.offset[0] + cut.mask.shape[1]]].all()


def test_kraken_dicts_are_read_too_and_a_line_without_boundary_is_noted(tmp_path, monkeypatch, page):
    def answer(im):
        lines = [{"baseline": line.baseline, "boundary": line.boundary, "tags": {"type": "default"}}
                 for line in kraken_lines(page)]
        lines[1]["boundary"] = None
        return {"text_direction": "horizontal-lr", "type": "baselines", "lines": lines, "regions": {},
                "script_detection": False}

    fake_kraken(monkeypatch, answer)
    found = segment_page(page.image[:, :, 0], tmp_path / "scan.png")  # a grey page is given to kraken as RGB
    assert [line.id for line in found.lines] == ["line_0001", "line_0003", "line_0004"]
    assert found.notes == ("kraken's line 2 skipped: 0 points where at least 3 are needed",)


def test_a_shard_segments_only_its_own_pages_into_uniquely_named_lines(tmp_path, monkeypatch, page):
    seen = fake_kraken(monkeypatch, lambda im: {"lines": [vars(line) for line in kraken_lines(page)]})
    for name in ("a", "b"):
        write_image(page, tmp_path / f"{name}.png")
    for name in ("a/line_0001.png", "c.png"):  # an output name a line of a.png would take; undecodable
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"not an image")
    corpus = collect_images([tmp_path]).items
    assert [item.name for item in corpus] == ["a", "b", "c", "a/line_0001"]
    first = segment_images(shard(corpus, 0, 2), corpus)  # a and c
    assert len(seen) == 1 and first.missing == ()
    assert [item.name for item in first.items] == ["a/line_0001~2", "a/line_0002", "a/line_0003", "a/line_0004",
                                                   "c"]  # kept whole: loading it says why
    cut = load_item(first.items[1]).image
    assert cut.shape[:2] == cut_line(page.image, first.items[1].line.line).image.shape[:2]
    second = segment_images(shard(corpus, 1, 2), corpus)  # b and a/line_0001
    assert len(seen) == 2
    assert [item.name for item in second.items] == ["b/line_0001", "b/line_0002", "b/line_0003", "b/line_0004",
                                                    "a/line_0001"]

def test_a_page_where_kraken_finds_no_line_is_reported(tmp_path, monkeypatch, page):
    fake_kraken(monkeypatch, lambda im: {"lines": []})
    corpus = collect_images([write_image(page, tmp_path / "blank.png")]).items
    assert segment_images(corpus, corpus).missing == (
        (str(tmp_path / "blank.png"), "kraken's segmenter found no text line on it"),)


PRINTED_LINES = ("The quick brown fox jumps", "over the lazy dog again", "and again until the page",
                 "is full of lines of text", "written for the segmenter")


def test_krakens_own_segmenter_finds_a_printed_pages_lines_in_order(tmp_path):
    """The real `kraken.blla` (its model ships in the kraken wheel), where the `[kraken]`
    extra is installed: one line per printed row, top to bottom, each polygon holding
    its row's ink and its baseline inside the polygon's span. (On this project's small
    synthetic handwriting pages blla finds no line: it was trained on page scans.)"""
    pytest.importorskip("kraken.blla")
    import cv2

    image = np.full((1400, 1100, 3), 235, np.uint8)
    rows = [150 + i * 110 for i in range(len(PRINTED_LINES))]
    for text, y in zip(PRINTED_LINES, rows):
        cv2.putText(image, text, (60, y), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (30, 30, 30), 3, cv2.LINE_AA)
    path = tmp_path / "printed.png"
    cv2.imwrite(str(path), image)
    layout = segment_page(image, path)
    assert [line.id for line in layout.lines] == [f"line_{n:04d}" for n in range(1, len(rows) + 1)]
    for line, y in zip(layout.lines, rows):
        ys = [p[1] for p in line.polygon]
        assert min(ys) <= y - 20 and max(ys) >= y  # the row's letters stand on y, about 35 px tall
        assert all(min(ys) <= by <= max(ys) for _, by in line.baseline)
