"""Export (Ctrl+E) of the whole page a line is open on: offered only then, written as the
CLI's page figure is, with every line's outline in its CER colour (issue 22)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from gui_helpers import WAIT_MS, open_settled, sample_copy
from test_document_tree import composed, pages  # noqa: F401 (fixtures; `pages` needs `composed`)

from thulium_desktop.app.export_dialog import ExportDialog
from thulium_desktop.app.figure_export import ExportPlan
from thulium_desktop.render.page_figure import step_of, step_rgb


def offered_kinds(window, monkeypatch) -> tuple[str, ...]:
    """The figure kinds the Export dialog offers, as the user sees them (not run)."""
    offered: list[str] = []

    def look(dialog):
        offered.extend(dialog.kinds)
        return ExportDialog.DialogCode.Rejected

    monkeypatch.setattr(ExportDialog, "exec", look)
    window.export_flow.export_dialog()
    return tuple(offered)


@pytest.fixture
def page_window(qtbot, make_window, pages):  # noqa: F811
    """The window with a page's first line open, every line read, its map on screen."""
    window = make_window()
    with qtbot.waitSignal(window.client.survey.finished, timeout=WAIT_MS):
        window.open_paths([pages / "page" / "scan.xml"])
    qtbot.waitUntil(lambda: window.view_model.maps_for(window.view_model.view_spec())[0] is not None,
                    timeout=WAIT_MS)
    return window


def colour_pixels(image_bgr: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    """How many pixels of the image are within `tolerance` of `rgb` in every channel."""
    target = np.array(rgb[::-1], np.int16)
    return int((np.abs(image_bgr.astype(np.int16) - target) <= tolerance).all(axis=2).sum())


def test_the_page_figure_is_offered_with_a_page_line_open_and_shows_the_outlines(qtbot, page_window, tmp_path,
                                                                              monkeypatch):
    window = page_window
    assert "page" in offered_kinds(window, monkeypatch)
    page = window.review.page_view
    marks = {line_id: page.mark_of(line_id) for line_id in ("l1", "l2", "l3", "l4")}
    assert all(mark is not None and mark.is_cer for mark in marks.values())
    path = tmp_path / "scan.page.png"
    with qtbot.waitSignal(window.export_flow.exported, timeout=WAIT_MS) as blocker:
        window.export_flow.export(ExportPlan("page", path, dpi=100))
    assert blocker.args[0] == [path]
    figure = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert figure is not None and figure.std() > 5
    height, width = figure.shape[:2]
    scan = figure[: int(0.8 * height), : int(0.85 * width)]  # the page, without the step bar and colorbar
    for colour in {step_rgb(step_of(mark.value)) for mark in marks.values()}:
        assert colour_pixels(scan, colour) > 1000  # the outlines of the lines marked so, on a grey scan


def test_the_open_lines_map_lies_inside_its_polygon_and_the_caption_counts_the_lines(qtbot, page_window, tmp_path):
    window = page_window
    content = window.export_flow.page_content(window.view_model.export_results("page"))
    assert content is not None and content.page_map is not None
    opened = window.view_model.path.line.line.id
    inside = np.isfinite(content.page_map)
    polygon = np.asarray(next(line for line in content.lines if line.id == opened).polygon)
    ys, xs = np.nonzero(inside)
    assert xs.min() >= polygon[:, 0].min() - 1 and xs.max() <= polygon[:, 0].max() + 1
    assert ys.min() >= polygon[:, 1].min() - 1 and ys.max() <= polygon[:, 1].max() + 1
    assert "4 of 4 lines read" in content.caption and "page CER" in content.caption


def test_a_plain_image_offers_no_page_figure(qtbot, make_window, tmp_path, monkeypatch):
    window = make_window()
    open_settled(qtbot, window, [sample_copy(tmp_path / "scans", "hello.png")])
    assert offered_kinds(window, monkeypatch) == ("view", "grid", "compare")
