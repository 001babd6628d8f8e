"""The Images list as a document tree: pages with a PAGE-XML or ALTO layout listed with
their lines, each line with its CER and lowest confidence, sortable errors first (issue 22)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gui_helpers import SAMPLES
from page_builder import alto_xml, compose_page, page_xml, write_image

from thulium_desktop.app.document_tree import Document, list_documents, ordered_rows, row_keys, with_page_stats
from thulium_desktop.app.error_review import image_stats
from thulium_desktop.app.file_panel import CER, CONFIDENCE, NAME, FilePanel
from thulium_desktop.io.corpus import load_item
from thulium_desktop.io.truths import TruthSource
from thulium_desktop.models.registry import load_model


#: The layouts' truths: what the page shows (and the bundled model reads), except one
#: edit in l2 and three in l4, so the lines' error rates differ.
TRUTHS = {"l1": "hello", "l2": "recognitiom", "l3": "see where it looked", "l4": "HANDWRITTEN"}


@pytest.fixture(scope="module")
def composed():
    page = compose_page()
    for line in page.lines:
        line.truth = TRUTHS[line.id]
    return page


@pytest.fixture
def pages(tmp_path, composed) -> Path:
    """A folder as users bring them: a scan with PAGE-XML in `page/` (Transkribus), a scan
    with ALTO beside it (eScriptorium), and a plain line image without a layout."""
    folder = tmp_path / "pages"
    write_image(composed, folder / "scan.png")
    (folder / "page").mkdir()
    (folder / "page" / "scan.xml").write_bytes(page_xml(composed, "scan.png"))
    write_image(composed, folder / "alto_scan.png")
    (folder / "alto_scan.xml").write_bytes(alto_xml(composed, "alto_scan.png"))
    shutil.copy(SAMPLES / "hello.png", folder / "plain.png")
    return folder


@pytest.fixture(scope="module")
def reader():
    return load_model("ctc-reader")


def measured(items, reader) -> dict:
    """Each item read by the bundled model and compared with its truth, as the app's list does."""
    truths = TruthSource()
    stats = {}
    for item in items:
        reading = reader.read(reader.prepare(load_item(item).image).tensor)
        stats[item] = image_stats(reading, truths.lookup(item))
    return stats


def shown_tree(panel: FilePanel) -> list[tuple[str, list[str]]]:
    """The tree's rows as a user reads them: each top row's name and its children's."""
    tree = panel.tree
    return [(tree.topLevelItem(i).text(NAME), [tree.topLevelItem(i).child(j).text(NAME)
                                               for j in range(tree.topLevelItem(i).childCount())])
            for i in range(tree.topLevelItemCount())]


def test_a_folder_lists_each_page_with_its_lines_in_reading_order(qtbot, pages, composed):
    listing = list_documents([pages])
    panel = FilePanel()
    qtbot.addWidget(panel)
    panel.show_rows(ordered_rows(listing.entries, "name", {}), None, {}, {})
    ids = [line.id for line in composed.lines]
    truths = [line.truth for line in composed.lines]
    expected_lines = [f"{i}: {t}" for i, t in zip(ids, truths)]
    assert shown_tree(panel) == [
        ("alto_scan.png (ALTO ns-v4)", expected_lines),
        ("plain.png", []),
        ("scan.png (PAGE-XML 2019-07-15)", expected_lines),
    ]
    assert panel.tree.rootIsDecorated()
    assert listing.problems == ()


@pytest.mark.parametrize("layout", ["page/scan.xml", "alto_scan.xml"])
def test_opening_a_layout_file_opens_its_page(pages, composed, layout):
    (document,) = list_documents([pages / layout]).entries
    assert isinstance(document, Document)
    assert document.image.name == Path(layout).with_suffix(".png").name
    assert [item.line.line.truth for item in document.lines] == [line.truth for line in composed.lines]


def test_lines_show_their_cer_and_confidence_and_the_page_its_own(qtbot, pages, reader):
    (document,) = list_documents([pages / "page" / "scan.xml"]).entries
    stats = measured(document.lines, reader)
    panel = FilePanel()
    qtbot.addWidget(panel)
    panel.show_rows(ordered_rows([document], "name", stats), None, with_page_stats([document], stats), {})
    page_row = panel.tree.topLevelItem(0)
    for j, item in enumerate(document.lines):
        row = page_row.child(j)
        assert row.text(CER) == f"{stats[item].cer:.0%}"
        assert row.text(CONFIDENCE) == f"{stats[item].min_confidence:.0%}"
    lengths = [len(item.line.line.truth) for item in document.lines]
    page_cer = sum(n * stats[item].cer for n, item in zip(lengths, document.lines)) / sum(lengths)
    assert page_row.text(CER) == f"{page_cer:.0%}"
    assert page_row.text(CONFIDENCE) == f"{min(s.min_confidence for s in stats.values()):.0%}"


def test_errors_first_puts_the_worst_lines_and_pages_first(qtbot, pages, reader):
    listing = list_documents([pages])
    alto, plain, page = listing.entries
    stats = measured([*page.lines, alto.lines[0]], reader)
    panel = FilePanel()
    qtbot.addWidget(panel)
    panel.order.setCurrentIndex(panel.order.findData("error"))
    rows = ordered_rows(listing.entries, panel.order_key, stats)
    panel.show_rows(rows, None, with_page_stats(listing.entries, stats), {})
    assert [name.split(":")[0] for name in shown_tree(panel)[0][1]] == ["l4", "l2", "l1", "l3"]  # 27%, 9%, 0%, 0%
    assert [name for name, _ in shown_tree(panel)] == [page.name, alto.name, "plain.png"]  # 9%, 0%, not read
    assert shown_tree(panel)[1][1][0].startswith("l1")  # the one line read first, the others in reading order
    steps = row_keys(rows)  # Page Up/Down goes through the lines in the order shown
    assert steps == [*rows[0][1], *rows[1][1], plain] and [item.line.line.id for item in steps[:4]] == ["l4", "l2",
                                                                                                      "l1", "l3"]


def test_choosing_a_line_announces_its_corpus_item_and_a_page_its_document(qtbot, pages):
    (document,) = list_documents([pages / "alto_scan.xml"]).entries
    panel = FilePanel()
    qtbot.addWidget(panel)
    panel.show_rows(ordered_rows([document], "name", {}), None, {}, {})
    page_row = panel.tree.topLevelItem(0)
    with qtbot.waitSignal(panel.lineChosen) as line_signal:
        panel.tree.setCurrentItem(page_row.child(2))
    assert line_signal.args[0] == document.lines[2]
    assert load_item(line_signal.args[0]).image.ndim in (2, 3)  # the item opens as the canvas opens lines
    with qtbot.waitSignal(panel.pageChosen) as page_signal:
        panel.tree.setCurrentItem(page_row)
    assert page_signal.args[0] is document


def test_a_list_of_plain_images_looks_as_before(qtbot, pages):
    panel = FilePanel()
    qtbot.addWidget(panel)
    paths = [SAMPLES / "hello.png", SAMPLES / "capitals.png"]
    panel.show_paths(paths, paths[1], {}, {})
    assert shown_tree(panel) == [("hello.png", []), ("capitals.png", [])]
    assert not panel.tree.rootIsDecorated()
    assert panel.shown_paths == paths
