"""File ▸ Find lines on this page (Ctrl+L): an image opened without PAGE-XML or ALTO is
cut into the lines kraken's segmenter finds, on a thread of its own, and becomes a page
of the Images list as if it had come with its XML (issue 22). kraken is not a test
dependency (it is heavy): its `blla` module is replaced by one that finds the synthetic
page's true lines, as kraken writes them (closed boundaries, a dict of lines)."""

from __future__ import annotations

import logging
import sys
import threading
import types

import numpy as np
import pytest
from gui_helpers import WAIT_MS, open_settled, sample_copy
from page_builder import compose_page, write_image
from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut

from thulium_desktop.app.file_panel import CER, CONFIDENCE, NAME
from thulium_desktop.app.files import PAGE_NOTE
from thulium_desktop.io.corpus import CorpusItem, load_item
from thulium_desktop.io.kraken_lines import KRAKEN_INSTALL

#: The page is written at twice the builder's size: a page, not a line, to the app's eye.
SCALE = 2
KRAKEN_IDS = ["line_0001", "line_0002", "line_0003", "line_0004"]
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture(scope="module")
def composed():
    return compose_page()


@pytest.fixture
def folder(tmp_path, composed):
    """A folder as users bring them: two line images (one with its truth) around a page
    scan that has no layout beside it."""
    images = tmp_path / "images"
    sample_copy(images, "hello.png", "hello", as_name="a_line.png")
    sample_copy(images, "price.png", as_name="z_line.png")
    write_image(composed, images / "scan.png", SCALE)
    return images


class FakeSegmenter:
    """`kraken.blla.segment` finding `lines` (or raising `error`); with `gated`, it waits
    for `gate` before answering, `entered` set meanwhile; `meanwhile` runs while it searches."""

    def __init__(self, lines: list[dict], gated: bool = False, error: Exception | None = None,
                 meanwhile=lambda: None) -> None:
        self.lines = lines
        self.error = error
        self.meanwhile = meanwhile
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.gated = gated
        self.sizes: list[tuple[int, int]] = []

    def segment(self, im, text_direction="horizontal-lr", mask=None, model=None, device="cpu"):
        self.sizes.append(im.size)
        self.entered.set()
        if self.gated:
            assert self.gate.wait(WAIT_MS / 1000)
        self.meanwhile()
        if self.error is not None:
            raise self.error
        return {"type": "baselines", "text_direction": text_direction, "lines": self.lines, "regions": {}}


def true_lines(page) -> list[dict]:
    """The page's lines as kraken gives them, at the written scale, in reading order."""
    return [{"baseline": [[x * SCALE, y * SCALE] for x, y in line.baseline],
             "boundary": [[x * SCALE, y * SCALE] for x, y in (*line.polygon, line.polygon[0])]}
            for line in page.lines]


def install(monkeypatch, segmenter: FakeSegmenter) -> FakeSegmenter:
    package, blla = types.ModuleType("kraken"), types.ModuleType("kraken.blla")
    blla.segment = segmenter.segment
    package.blla = blla
    monkeypatch.setitem(sys.modules, "kraken", package)
    monkeypatch.setitem(sys.modules, "kraken.blla", blla)
    return segmenter


@pytest.fixture
def on_scan(qtbot, make_window, folder):
    """The window with the folder open (the line with a truth read) and the scan shown."""
    window = make_window()
    open_settled(qtbot, window, [folder])
    assert window.review.files.tree.topLevelItem(0).text(CER).endswith("%")  # a_line.png measured
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.browser.go_to(folder / "scan.png")
    return window


def rows(window) -> list[tuple]:
    """The Images list as a user reads it: each top row's texts and its lines' names."""
    tree = window.review.files.tree
    items = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    return [(item.text(NAME), item.text(CER), item.text(CONFIDENCE),
             [item.child(j).text(NAME) for j in range(item.childCount())]) for item in items]


def find_lines(qtbot, window) -> None:
    qtbot.keyClick(window, Qt.Key.Key_L, CTRL)


def answered(window) -> None:
    """Wait for the search thread to end and its answer to reach the GUI thread."""
    window.page_segmentation.thread.join(WAIT_MS / 1000)
    QCoreApplication.sendPostedEvents()


def test_the_lines_found_make_the_image_a_page_its_first_line_open_and_every_line_outlined(
        qtbot, monkeypatch, on_scan, folder, composed):
    window, scan = on_scan, folder / "scan.png"
    unusable = {"baseline": [[0, 0], [9, 0]], "boundary": [[0, 0], [9, 0]]}  # two points: no polygon
    segmenter = install(monkeypatch, FakeSegmenter([*true_lines(composed), unusable]))
    assert window.message.text.endswith(f"Note: scan.png: {PAGE_NOTE}")
    before = rows(window)
    assert [row[0] for row in before] == ["a_line.png", "scan.png", "z_line.png"]
    assert window.page_segmentation.action.isEnabled()
    with qtbot.waitSignal(window.client.survey.finished, timeout=WAIT_MS):  # the page's lines are read
        find_lines(qtbot, window)
    qtbot.waitUntil(lambda: not window.client.maps.busy, timeout=WAIT_MS)
    assert segmenter.sizes == [(composed.image.shape[1] * SCALE, composed.image.shape[0] * SCALE)]
    after = rows(window)
    assert after[0] == before[0] and after[2][0] == "z_line.png"  # the other rows as they were
    assert after[1][0] == "scan.png (kraken segmentation)" and after[1][3] == KRAKEN_IDS
    shown = window.view_model.path
    assert isinstance(shown, CorpusItem) and shown.path == scan and shown.line.line.id == "line_0001"
    assert shown.line.line.truth is None
    assert window.canvas.view.image_size() == load_item(shown).image.shape[:2]
    page = window.review.page_view
    assert page.isVisible() and page.document.layout.format == "kraken segmentation"
    assert page.selected_id == "line_0001"
    for line_id, line in zip(KRAKEN_IDS, composed.lines):  # each line outlined where it is
        ys, xs = np.nonzero(line.ink)
        middle = len(xs) // 2
        assert page.line_at((xs[middle] + 0.5) * SCALE, (ys[middle] + 0.5) * SCALE).line.line.id == line_id
        assert page.mark_of(line_id) is not None  # read, and coloured by its confidence
    assert window.status.currentMessage() == "4 lines found on scan.png"
    assert window.message.text.startswith("Note: scan.png: kraken's line 5 skipped")
    assert not window.page_segmentation.action.isEnabled()  # a line is open, not an image whole


def test_esc_cancels_while_the_app_stays_usable_and_the_late_result_is_dropped(
        qtbot, monkeypatch, on_scan, folder, composed):
    window = on_scan
    segmenter = install(monkeypatch, FakeSegmenter(true_lines(composed), gated=True))
    before = rows(window)
    find_lines(qtbot, window)
    qtbot.waitUntil(segmenter.entered.is_set, timeout=WAIT_MS)
    assert window.status.currentMessage() == "finding lines on scan.png… (Esc cancels)"
    assert not window.page_segmentation.action.isEnabled()  # one search at a time
    timer = QTimer(singleShot=True, interval=1)
    with qtbot.waitSignal(timer.timeout, timeout=WAIT_MS):  # the GUI thread is not blocked
        timer.start()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):  # nor the worker: the next image is read
        qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert window.view_model.path == folder / "z_line.png" and window.view_model.reading is not None
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.status.currentMessage() == "Finding lines on scan.png cancelled"
    segmenter.gate.set()
    answered(window)
    assert rows(window)[1] == before[1] and window.review.page_view.document is None
    assert window.view_model.path == folder / "z_line.png"
    assert window.page_segmentation.action.isEnabled()


def test_without_kraken_the_message_says_what_to_install_and_the_image_stays(qtbot, monkeypatch, on_scan, folder):
    window = on_scan
    for name in ("kraken", "kraken.blla"):  # importing it fails, installed (and imported before) or not
        monkeypatch.setitem(sys.modules, name, None)
    before = rows(window)
    find_lines(qtbot, window)
    answered(window)
    needs = f"Finding the lines of scan.png needs kraken, which is not installed: {KRAKEN_INSTALL}"
    assert window.message.text == needs
    assert KRAKEN_INSTALL == "pip install 'thulium-desktop[kraken]'"
    assert rows(window) == before and window.view_model.path == folder / "scan.png"
    assert window.page_segmentation.action.isEnabled()  # once installed, the user can try again


def test_a_page_where_kraken_finds_no_line_says_so_and_stays_an_image(qtbot, monkeypatch, on_scan, folder):
    window = on_scan
    install(monkeypatch, FakeSegmenter([]))
    before = rows(window)
    find_lines(qtbot, window)
    answered(window)
    assert window.message.text == "kraken found no text line on scan.png"
    assert rows(window) == before and window.view_model.path == folder / "scan.png"


def test_kraken_failing_is_one_line_with_its_traceback_logged(qtbot, monkeypatch, on_scan, folder, caplog):
    window = on_scan
    install(monkeypatch, FakeSegmenter([], error=RuntimeError("CUDA error: out of memory\nCompile with ...")))
    before = rows(window)
    with caplog.at_level(logging.ERROR, logger="thulium_desktop.app.page_segmentation"):
        find_lines(qtbot, window)
        answered(window)
    assert window.message.text == "Finding the lines of scan.png failed: RuntimeError: CUDA error: out of memory"
    [record] = caplog.records
    assert record.exc_info is not None and "Traceback" in caplog.text and "segment" in caplog.text
    assert rows(window) == before and window.view_model.path == folder / "scan.png"


def test_a_line_image_gets_no_page_note_and_ctrl_l_is_find_lines_alone(qtbot, make_window, folder):
    window = make_window()
    open_settled(qtbot, window, [folder / "a_line.png"])
    assert PAGE_NOTE not in window.message.text
    assert window.page_segmentation.action.isEnabled()  # an image taken whole may still be a page
    ctrl_l = QKeySequence("Ctrl+L")
    bound = [a for a in window.findChildren(QAction) if ctrl_l in a.shortcuts()]
    bound += [s for s in window.findChildren(QShortcut) if s.key() == ctrl_l and s.isEnabled()]
    assert bound == [window.page_segmentation.action]


def test_moving_on_during_the_search_keeps_the_item_open_while_the_row_becomes_the_page(
        qtbot, monkeypatch, on_scan, folder, composed):
    window = on_scan
    segmenter = install(monkeypatch, FakeSegmenter(true_lines(composed), gated=True))
    find_lines(qtbot, window)
    qtbot.waitUntil(segmenter.entered.is_set, timeout=WAIT_MS)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_PageDown)
    with qtbot.waitSignal(window.client.survey.finished, timeout=WAIT_MS):  # the page's lines are read
        segmenter.gate.set()
        answered(window)
    assert window.view_model.path == folder / "z_line.png"  # no jump back to the page
    after = rows(window)
    assert after[1][0] == "scan.png (kraken segmentation)" and after[1][3] == KRAKEN_IDS
    assert window.review.files.tree.currentItem().text(NAME) == "z_line.png"
    assert window.view_model.title == "z_line.png (6/6)"  # the position follows the open item
    assert window.status.currentMessage() == "4 lines found on scan.png"
    page = window.review.page_view
    assert not page.isVisible()  # no empty page view beside a line image
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):  # stepping back lands on the page's last line
        qtbot.keyClick(window, Qt.Key.Key_PageUp)
    assert window.view_model.path.line.line.id == "line_0004"
    assert page.isVisible() and page.selected_id == "line_0004"


def test_sorted_by_name_only_the_lines_of_the_page_are_read_in_the_background(
        qtbot, monkeypatch, on_scan, folder, composed):
    window = on_scan
    install(monkeypatch, FakeSegmenter(true_lines(composed)))
    surveyed = []
    window.client.survey.read.connect(lambda key, info, problem: surveyed.append(key))
    with qtbot.waitSignal(window.client.survey.finished, timeout=WAIT_MS):
        find_lines(qtbot, window)
    assert surveyed == list(window.review.page_view.document.lines)  # none of the folder's line images
    assert window.review.reading_of(folder / "z_line.png") is None
    with qtbot.waitSignal(window.client.survey.finished, timeout=WAIT_MS):  # errors first reads the rest
        panel = window.review.files
        panel.order.setCurrentIndex(panel.order.findData("error"))
    assert surveyed[-1] == folder / "z_line.png" and window.review.reading_of(folder / "z_line.png") is not None


def test_lines_that_cannot_be_cut_out_leave_the_image_as_it_was_and_say_why(
        qtbot, monkeypatch, on_scan, folder, composed):
    window, scan = on_scan, folder / "scan.png"
    install(monkeypatch, FakeSegmenter(true_lines(composed), meanwhile=lambda: scan.write_bytes(b"not a scan")))
    before = rows(window)
    find_lines(qtbot, window)
    answered(window)
    headline, *reasons = window.message.text.splitlines()
    assert headline == "None of the 4 lines found on scan.png can be cut out: it stays an image"
    assert len(reasons) == 1 and "scan.png" in reasons[0]  # the lines fail alike: said once
    assert window.view_model.path == scan and rows(window) == before  # not the next image opened
    assert window.status.currentMessage() == ""  # not "4 lines found"
    assert window.review.page_view.document is None


def test_after_esc_find_lines_waits_for_the_abandoned_search_and_says_why(
        qtbot, monkeypatch, on_scan, folder, composed):
    window, flow = on_scan, on_scan.page_segmentation
    segmenter = install(monkeypatch, FakeSegmenter(true_lines(composed), gated=True))
    find_lines(qtbot, window)
    qtbot.waitUntil(segmenter.entered.is_set, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.view_model.path == folder / "scan.png" and not flow.action.isEnabled()
    find_lines(qtbot, window)  # kraken still runs on the first thread: no second search
    assert window.status.currentMessage() == (
        "Find lines waits for the cancelled search on scan.png to end (kraken cannot be stopped midway)")
    assert len(segmenter.sizes) == 1 and flow.searching is None
    segmenter.gate.set()
    answered(window)  # its result is dropped, and Find lines may run again
    assert flow.action.isEnabled() and window.review.page_view.document is None
    with qtbot.waitSignal(window.client.survey.finished, timeout=WAIT_MS):
        find_lines(qtbot, window)
        answered(window)
    assert len(segmenter.sizes) == 2 and window.review.page_view.document is not None
