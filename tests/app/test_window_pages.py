"""The window with pages: the document tree, the page view, a line opened from either,
its map drawn back on the page, and every line read in the background (issue 22)."""

from __future__ import annotations

import numpy as np
from gui_helpers import WAIT_MS
from PySide6.QtCore import QPointF, Qt
from test_document_tree import composed, pages  # noqa: F401 (fixtures)

from thulium_desktop.app.document_tree import Document
from thulium_desktop.app.file_panel import CER, NAME
from thulium_desktop.io.corpus import CorpusItem


def test_a_folder_of_pages_opens_as_documents_read_in_the_background(qtbot, make_window, pages):  # noqa: F811
    window = make_window()
    with qtbot.waitSignal(window.client.survey.finished, timeout=WAIT_MS) as finished:
        assert window.open_paths([pages])
    assert finished.args == [True]
    tree = window.review.files.tree
    names = [tree.topLevelItem(i).text(NAME) for i in range(tree.topLevelItemCount())]
    assert names == ["alto_scan.png (ALTO ns-v4)", "plain.png", "scan.png (PAGE-XML 2019-07-15)"]
    lines = [tree.topLevelItem(0).child(j) for j in range(tree.topLevelItem(0).childCount())]
    assert len(lines) == 4 and all(row.text(CER).endswith("%") for row in lines)  # every line read
    shown = window.view_model.path
    assert isinstance(shown, CorpusItem) and shown.line.line.id == "l1"
    page = window.review.page_view
    assert page.isVisible() and page.document.image == shown.path
    assert {line_id: page.mark_of(line_id).is_cer for line_id in ("l1", "l2", "l3", "l4")} == dict.fromkeys(
        ("l1", "l2", "l3", "l4"), True)
    assert page.selected_id == "l1"


def test_a_line_clicked_on_the_page_opens_in_the_canvas_with_its_map_on_the_page(qtbot, make_window, pages,
                                                                               composed):  # noqa: F811
    window = make_window()
    with qtbot.waitSignal(window.client.survey.finished, timeout=WAIT_MS):
        window.open_paths([pages / "page" / "scan.xml"])
    page = window.review.page_view
    ys, xs = np.nonzero(composed.line("l3").ink)
    point = page.view.mapViewToScene(QPointF(xs[len(xs) // 2] + 0.5, ys[len(ys) // 2] + 0.5))
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        qtbot.mouseClick(page.graphics.viewport(), Qt.MouseButton.LeftButton,
                         pos=page.graphics.mapFromScene(point))
    assert window.view_model.path == page.document.line("l3")
    assert window.canvas.view.map is not None and page.heat.isVisible()
    rect = page.heat.mapRectToParent(page.heat.boundingRect())
    polygon = np.asarray(composed.line("l3").polygon)
    assert rect.left() >= polygon[:, 0].min() - 1 and rect.right() <= polygon[:, 0].max() + 2
    assert rect.top() >= polygon[:, 1].min() - 1 and rect.bottom() <= polygon[:, 1].max() + 2
    assert isinstance(page.document, Document)
