"""File ▸ Export page layout… (Ctrl+Shift+E): the open page's PAGE-XML or ALTO written
back with every line's reading as the app shows it, its words and glyphs on the
characters, valid against the official schemas; an export asked before the lines are
read waits for them (Esc gives it up); a page kraken segmented gets a fresh PAGE-XML
(issue 22)."""

from __future__ import annotations

import logging
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from gui_helpers import WAIT_MS, open_settled
from page_builder import ALTO_V4, PAGE_2019, compose_page, edit_line, write_image
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog
from test_document_tree import composed, pages  # noqa: F401 (fixtures; `pages` needs `composed`)
from xml_schemas import assert_valid

from thulium_desktop.app import layout_export
from thulium_desktop.app.layout_export import LAYOUT_EXPORT_SHORTCUT
from thulium_desktop.io.corpus import page_image
from thulium_desktop.io.documents import cut_page_line
from thulium_desktop.io.layout import local_name
from thulium_desktop.io.pagexml import READING_COMMENT
from thulium_desktop.xai.glyph_boxes import boxes_between_centres

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def export_by_shortcut(qtbot, window, monkeypatch, target: Path) -> Path:
    """Ctrl+Shift+E, the save dialog answered with `target`; the path it suggested."""
    suggested: list[str] = []

    def save_as(parent, caption, directory, filter_):
        suggested.append(directory)
        return str(target), filter_

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as)
    with qtbot.waitSignal(window.export_flow.layout.exported, timeout=WAIT_MS) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_E, CTRL_SHIFT)
    assert blocker.args == [target]
    return Path(suggested[0])


def read_page(qtbot, make_window, path: Path):
    """The window with the page at `path` open on its first line, every line read."""
    window = make_window()
    with qtbot.waitSignal(window.client.survey.finished, timeout=WAIT_MS):
        window.open_paths([path])
    return window


def elements(parent: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in parent.iter() if local_name(e.tag) == name]


def exported_lines(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {line.get("id") or line.get("ID"): line for line in elements(root, "TextLine")}


def page_reading(line: ET.Element) -> str:
    """The reading a PAGE line holds: its TextEquiv marked as the program's."""
    [equiv] = [e for e in line if local_name(e.tag) == "TextEquiv" and e.get("comments") == READING_COMMENT]
    return next(e.text for e in equiv if local_name(e.tag) == "Unicode")


def page_glyphs(line: ET.Element) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Each Glyph of a PAGE line, in document order: its character and its box."""
    glyphs = []
    for glyph in elements(line, "Glyph"):
        points = next(e for e in glyph if local_name(e.tag) == "Coords").get("points")
        xs, ys = zip(*(map(float, p.split(",")) for p in points.split()))
        text = next(e for e in elements(glyph, "Unicode")).text
        glyphs.append((text, (min(xs), min(ys), max(xs), max(ys))))
    return glyphs


def alto_glyphs(line: ET.Element) -> list[tuple[str, tuple[float, float, float, float]]]:
    glyphs = []
    for glyph in elements(line, "Glyph"):
        x, y = float(glyph.get("HPOS")), float(glyph.get("VPOS"))
        glyphs.append((glyph.get("CONTENT"), (x, y, x + float(glyph.get("WIDTH")), y + float(glyph.get("HEIGHT")))))
    return glyphs


def assert_glyphs_on_their_characters(window, document, lines: dict[str, ET.Element], glyphs_of) -> None:
    """Every line holds the reading the app shows, glyph by glyph in reading order, each
    glyph's box inside the line's box and around the place the timeline shows its
    character at (moved onto the page)."""
    page = page_image(document.lines[0]).image
    for item in document.lines:
        info = window.review.reading_of(item)
        cut, _ = cut_page_line(page, item.path, item.line)
        shown = [(char, centre + cut.offset[0]) for char, centre in zip(info.reading.tokens, info.centres)
                 if not char.isspace()]
        glyphs = glyphs_of(lines[item.line.line.id])
        assert [char for char, _ in glyphs] == [char for char, _ in shown]
        polygon = np.asarray(item.line.line.polygon)
        for (_, (x0, y0, x1, y1)), (_, centre) in zip(glyphs, shown):
            assert polygon[:, 0].min() - 1 <= x0 < x1 <= polygon[:, 0].max() + 2
            assert polygon[:, 1].min() - 1 <= y0 < y1 <= polygon[:, 1].max() + 2
            assert x0 - 1 <= centre <= x1 + 1


def test_the_page_xml_export_is_valid_and_holds_each_lines_reading_as_shown(qtbot, make_window, pages,
                                                                           monkeypatch, tmp_path):  # noqa: F811
    window = read_page(qtbot, make_window, pages / "page" / "scan.xml")
    document = window.review.page_view.document
    assert window.export_flow.layout.action.isEnabled()
    target = tmp_path / "out.page.xml"
    suggested = export_by_shortcut(qtbot, window, monkeypatch, target)
    assert suggested == pages / "scan.page.xml"  # beside the scan, named after it
    assert window.status.currentMessage() == "wrote out.page.xml: 4 of 4 lines" and not window.message.text
    assert_valid(target.read_bytes(), PAGE_2019)
    lines = exported_lines(target)
    for item in document.lines:
        line = lines[item.line.line.id]
        assert page_reading(line) == window.review.reading_of(item).reading.text
        first = next(e for e in line if local_name(e.tag) == "TextEquiv")
        assert [e.text for e in first] == [item.line.line.truth]  # the truth kept, before the reading
    shown = window.view_model.path
    assert page_reading(lines[shown.line.line.id]) == window.view_model.reading.reading.text  # the open line's
    assert_glyphs_on_their_characters(window, document, lines, page_glyphs)


def test_the_alto_export_is_valid_and_its_strings_are_the_readings(qtbot, make_window, pages, monkeypatch,
                                                                  tmp_path):  # noqa: F811
    window = read_page(qtbot, make_window, pages / "alto_scan.xml")
    document = window.review.page_view.document
    target = tmp_path / "alto_scan.alto.xml"
    assert export_by_shortcut(qtbot, window, monkeypatch, target) == pages / "alto_scan.alto.xml"
    assert_valid(target.read_bytes(), ALTO_V4)
    lines = exported_lines(target)
    for item in document.lines:
        words = [s.get("CONTENT") for s in elements(lines[item.line.line.id], "String")]
        assert words == window.review.reading_of(item).reading.text.split()
    assert_glyphs_on_their_characters(window, document, lines, alto_glyphs)


def test_an_export_asked_before_the_lines_are_read_waits_for_them_with_its_progress(qtbot, make_window, pages,
                                                                                    tmp_path):  # noqa: F811
    window = make_window()
    said: list[str] = []
    window.status.messageChanged.connect(said.append)
    window.open_paths([pages / "page" / "scan.xml"])  # the lines are read in the background from now on
    assert window.review.reading_of(window.view_model.path) is None
    target = tmp_path / "scan.page.xml"
    with qtbot.waitSignal(window.export_flow.layout.exported, timeout=WAIT_MS):
        window.export_flow.layout.export(target)
        assert not target.exists()
    assert said[0] == "reading the page's lines: 0 of 4… (Esc cancels)"
    assert "reading the page's lines: 3 of 4… (Esc cancels)" in said
    assert said.index("placing the glyphs: 1 of 4 lines… (Esc cancels)") > said.index(
        "reading the page's lines: 3 of 4… (Esc cancels)")
    assert said[-1] == "wrote scan.page.xml: 4 of 4 lines"
    document = window.review.page_view.document
    assert all(page_reading(line) == window.review.reading_of(item).reading.text
               for item, line in zip(document.lines, exported_lines(target).values()))


def test_esc_gives_up_an_export_waiting_for_the_lines_and_nothing_is_written(qtbot, make_window, pages,
                                                                             tmp_path):  # noqa: F811
    window = make_window()
    window.open_paths([pages / "page" / "scan.xml"])
    out = tmp_path / "out"
    out.mkdir()
    target = out / "scan.page.xml"
    with qtbot.waitSignal(window.client.survey.finished, timeout=WAIT_MS):
        window.export_flow.layout.export(target)
        assert window.status.currentMessage().startswith("reading the page's lines: 0 of 4")
        qtbot.keyClick(window, Qt.Key.Key_Escape)
        assert window.status.currentMessage() == "Export of scan.page.xml cancelled"
    assert window.review.reading_of(window.review.page_view.document.lines[-1]) is not None  # the page was read
    assert list(out.iterdir()) == []
    assert window.status.currentMessage() == "Export of scan.page.xml cancelled" and not window.message.text


def test_esc_gives_up_an_export_placing_its_glyphs(qtbot, make_window, pages, tmp_path):  # noqa: F811
    window = read_page(qtbot, make_window, pages / "page" / "scan.xml")
    out = tmp_path / "out"
    out.mkdir()
    window.export_flow.layout.export(out / "scan.page.xml")  # every line read: its glyphs are placed next
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.status.currentMessage() == "Export of scan.page.xml cancelled"
    qtbot.wait(50)  # the turns of the event loop that would have placed and written the lines
    assert list(out.iterdir()) == [] and window.export_flow.layout.pending is None


def test_an_unwritable_target_is_one_message_and_nothing_is_written(qtbot, make_window, pages, tmp_path):  # noqa: F811
    window = read_page(qtbot, make_window, pages / "page" / "scan.xml")
    (tmp_path / "a_file").write_text("not a folder")
    target = tmp_path / "a_file" / "scan.page.xml"
    window.export_flow.layout.export(target)
    qtbot.waitUntil(lambda: window.message.text != "", timeout=WAIT_MS)
    assert window.message.text == f"Could not write {target}: Not a directory."
    assert window.status.currentMessage() == ""  # no progress left standing
    assert (tmp_path / "a_file").read_text() == "not a folder"


def test_a_layout_that_no_longer_parses_is_one_message_and_nothing_is_written(qtbot, make_window, pages,
                                                                              tmp_path):  # noqa: F811
    window = read_page(qtbot, make_window, pages / "page" / "scan.xml")
    (pages / "page" / "scan.xml").write_text("<PcGts><Page>")  # rewritten meanwhile, cut short
    out = tmp_path / "out"
    out.mkdir()
    window.export_flow.layout.export(out / "scan.page.xml")
    qtbot.waitUntil(lambda: window.message.text != "", timeout=WAIT_MS)
    assert window.message.text.startswith("Could not export the layout of scan.png: ")
    assert "scan.xml" in window.message.text and "\n" not in window.message.text
    assert list(out.iterdir()) == []


def test_the_entry_is_enabled_only_on_a_pages_line_and_its_shortcut_is_its_alone(qtbot, make_window,
                                                                                 pages):  # noqa: F811
    window = make_window()
    open_settled(qtbot, window, [pages / "plain.png"])
    assert not window.export_flow.layout.action.isEnabled()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.open_paths([pages / "page" / "scan.xml"])
    assert window.export_flow.layout.action.isEnabled()
    key = QKeySequence(LAYOUT_EXPORT_SHORTCUT)
    bound = [a for a in window.findChildren(QAction) if key in a.shortcuts()]
    bound += [s for s in window.findChildren(QShortcut) if s.key() == key]
    assert bound == [window.export_flow.layout.action]


SCALE = 2  # the segmented page is written at twice the builder's size, as test_find_lines writes it


class FoundLines:
    """`kraken.blla.segment` finding the page's true lines, as kraken writes them."""

    def __init__(self, page) -> None:
        self.lines = [{"baseline": [[x * SCALE, y * SCALE] for x, y in line.baseline],
                       "boundary": [[x * SCALE, y * SCALE] for x, y in (*line.polygon, line.polygon[0])]}
                      for line in page.lines]

    def segment(self, im, text_direction="horizontal-lr", mask=None, model=None, device="cpu"):
        return {"type": "baselines", "text_direction": text_direction, "lines": self.lines, "regions": {}}


def segmented_page(qtbot, make_window, monkeypatch, tmp_path):
    """A window with `images/scan.png` opened whole, then its lines found (File ▸ Find
    lines, by a stand-in for kraken) and read."""
    page = compose_page()
    scan = write_image(page, tmp_path / "images" / "scan.png", SCALE)
    package, blla = types.ModuleType("kraken"), types.ModuleType("kraken.blla")
    blla.segment = FoundLines(page).segment
    package.blla = blla
    monkeypatch.setitem(sys.modules, "kraken", package)
    monkeypatch.setitem(sys.modules, "kraken.blla", blla)
    window = make_window()
    open_settled(qtbot, window, [scan])
    assert not window.export_flow.layout.action.isEnabled()  # an image taken whole
    with qtbot.waitSignal(window.client.survey.finished, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
        window.page_segmentation.thread.join(WAIT_MS / 1000)
    return window


def test_a_page_kraken_segmented_exports_a_fresh_page_xml(qtbot, make_window, monkeypatch, tmp_path):
    window = segmented_page(qtbot, make_window, monkeypatch, tmp_path)
    document = window.review.page_view.document
    assert document.layout.format == "kraken segmentation"
    target = tmp_path / "scan.page.xml"
    assert export_by_shortcut(qtbot, window, monkeypatch, target) == tmp_path / "images" / "scan.page.xml"
    assert_valid(target.read_bytes(), PAGE_2019)
    lines = exported_lines(target)
    assert list(lines) == [item.line.line.id for item in document.lines]
    for item in document.lines:
        assert page_reading(lines[item.line.line.id]) == window.review.reading_of(item).reading.text
    assert_glyphs_on_their_characters(window, document, lines, page_glyphs)


def test_a_segmented_pages_export_is_its_layout_when_the_folder_is_opened_again(qtbot, make_window, monkeypatch,
                                                                                tmp_path):
    """Written where the dialog suggests, beside the scan: the folder then lists the page
    once, as its lines, not also the scan whole with the Find lines note."""
    window = segmented_page(qtbot, make_window, monkeypatch, tmp_path)
    images = tmp_path / "images"
    found = [item.line.line for item in window.review.page_view.document.lines]
    target = images / "scan.page.xml"
    assert export_by_shortcut(qtbot, window, monkeypatch, target) == target
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.open_paths([images])
    [document] = window.browser.files.documents
    assert document.layout.path == target and document.image == images / "scan.png"
    assert [(item.name, item.line.line.polygon) for item in document.lines] == [
        (f"scan/{line.id}", line.polygon) for line in found]
    assert window.view_model.path == document.lines[0] and not window.message.text  # no Find lines note


def export_failing(qtbot, window, caplog, tmp_path: Path) -> Path:
    """Export the open page into a fresh folder, logging errors, until a message shows;
    the folder."""
    caplog.set_level(logging.ERROR, logger="thulium_desktop.app.layout_export")
    out = tmp_path / "out"
    out.mkdir()
    window.export_flow.layout.export(out / "scan.page.xml")
    qtbot.waitUntil(lambda: window.message.text != "", timeout=WAIT_MS)
    return out


def test_a_failure_while_placing_the_glyphs_stops_the_export_and_writes_nothing(qtbot, make_window, pages,
                                                                                monkeypatch, caplog,
                                                                                tmp_path):  # noqa: F811
    """A bug met on the second line: one message, its traceback in the log, and no file
    that would call the lines not placed "read as blank"."""
    window = read_page(qtbot, make_window, pages / "page" / "scan.xml")
    calls = []

    def failing_on_the_second_line(centres, image):
        calls.append(image.shape)
        if len(calls) == 2:
            raise RuntimeError("centres out of order\nsecond line of the message")
        return boxes_between_centres(centres, image)

    monkeypatch.setattr(layout_export, "boxes_between_centres", failing_on_the_second_line)
    out = export_failing(qtbot, window, caplog, tmp_path)
    assert window.message.text == "Could not export the layout of scan.png: RuntimeError: centres out of order"
    qtbot.wait(50)  # the turns of the event loop that would have placed and written the other lines
    assert len(calls) == 2 and list(out.iterdir()) == []
    assert window.export_flow.layout.pending is None and window.status.currentMessage() == ""
    assert "Traceback" in caplog.text and "centres out of order" in caplog.text


def test_a_failure_while_writing_is_one_message_and_leaves_no_file(qtbot, make_window, pages, monkeypatch,
                                                                    caplog, tmp_path):  # noqa: F811
    """A bug in the writer itself (not a refused folder): one message, its traceback in
    the log, and no file (the write is atomic)."""
    window = read_page(qtbot, make_window, pages / "page" / "scan.xml")

    def failing(*args, **kwargs):
        raise ValueError("a reading the writer cannot place\nits detail")

    monkeypatch.setattr(layout_export, "write_page_layout", failing)
    out = export_failing(qtbot, window, caplog, tmp_path)
    assert window.message.text == ("Could not export the layout of scan.png: "
                                   "ValueError: a reading the writer cannot place")
    assert list(out.iterdir()) == [] and window.export_flow.layout.pending is None
    assert "Traceback" in caplog.text


def test_a_line_the_model_could_not_read_is_left_as_it_was_and_counted(qtbot, make_window, pages,
                                                                       tmp_path):  # noqa: F811
    source = pages / "page" / "scan.xml"

    def off_the_page(line: ET.Element) -> None:
        coords = next(e for e in line if local_name(e.tag) == "Coords")
        coords.set("points", " ".join(f"{int(x) + 5000},{y}" for x, y in
                                      (p.split(",") for p in coords.get("points").split())))

    source.write_bytes(edit_line(source.read_bytes(), "l3", off_the_page))
    window = read_page(qtbot, make_window, source)
    assert window.review.problem_of(window.review.page_view.document.line("l3")) is not None
    target = tmp_path / "scan.page.xml"
    with qtbot.waitSignal(window.export_flow.layout.exported, timeout=WAIT_MS):
        window.export_flow.layout.export(target)
    assert window.message.text == "wrote scan.page.xml: 3 of 4 lines; left as they were: l3 (not read)"
    assert_valid(target.read_bytes(), PAGE_2019)
    unread = exported_lines(target)["l3"]
    assert elements(unread, "Word") == [] and [e.text for e in elements(unread, "Unicode")] == ["see where it looked"]
    assert all(elements(exported_lines(target)[line_id], "Glyph") for line_id in ("l1", "l2", "l4"))
