"""Placing character cells under the image without overlaps, and in step with its zoom."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from gui_helpers import WAIT_MS
from hypothesis import strategies as st
from PySide6.QtCore import Qt

from thulium_desktop.app.timeline import (
    ALL_WIDTH,
    CELL_GAP,
    CELL_MAX_WIDTH,
    CELL_MIN_WIDTH,
    TAG_MIN_WIDTH,
    ReadingLabel,
    TokenTimeline,
    cell_width,
    fitted_widths,
    reading_html,
    spread,
)
from thulium_desktop.xai.ground_truth import compare


@given(
    st.lists(st.floats(-200, 1200, allow_nan=False), min_size=1, max_size=40).map(sorted),
    st.floats(8, 40),
)
def test_cells_never_overlap_and_stay_inside_when_they_fit(centres, width):
    lo, hi = 50.0, 1000.0
    left = spread(centres, width, lo, hi)
    assert np.all(np.diff(left) >= width + CELL_GAP - 1e-9)
    if len(centres) * (width + CELL_GAP) <= hi - lo:
        assert left[0] >= lo - 1e-9 and left[-1] + width <= hi + 1e-9


def test_cells_with_room_sit_centred_under_their_character():
    left = spread([100.0, 300.0, 500.0], 20.0, 0.0, 1000.0)
    np.testing.assert_allclose(left + 10.0, [100.0, 300.0, 500.0])


@pytest.mark.parametrize("conf, marked", [(0.2, True), (0.9, False)])
def test_doubtful_characters_are_marked_in_the_reading(qtbot, conf, marked):
    html = reading_html(["a", "<"], np.array([0.9, conf]))
    assert "&lt;" in html
    assert ("underline" in html) is marked
    label = ReadingLabel()
    qtbot.addWidget(label)
    label.show_reading(["a", "<"], np.array([0.9, conf]))
    assert ("below 50%" in label.text()) is marked


def test_cells_are_as_wide_as_the_characters_are_apart_within_limits():
    assert cell_width([100.0, 130.0, 160.0], 1000.0) == 30.0 - CELL_GAP
    assert cell_width([100.0, 105.0, 110.0], 1000.0) == CELL_MIN_WIDTH  # legible when zoomed out
    assert cell_width([0.0, 500.0], 1000.0) == CELL_MAX_WIDTH
    assert cell_width(list(range(0, 400, 20)), 200.0) == 200.0 / 20 - CELL_GAP  # never more than fits


def test_spread_gives_boxes_of_their_own_widths_room_without_overlap():
    widths = np.array([10.0, 40.0, 20.0])
    left = spread([100.0, 105.0, 110.0], widths, 0.0, 1000.0)
    assert np.all(left[1:] >= left[:-1] + widths[:-1] + CELL_GAP - 1e-9)
    assert fitted_widths(widths, 1000.0).tolist() == widths.tolist()
    assert fitted_widths(widths, 30.0).tolist() == [10.0, TAG_MIN_WIDTH, TAG_MIN_WIDTH]  # elided, still legible


def overlapping(rects) -> bool:
    return any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])


@pytest.mark.parametrize("width", [900, 300])
def test_missed_truth_tags_on_a_long_line_never_overlap(qtbot, width):
    read = "abcdefghijklmnopqrst"
    truth = "".join(f"{c}xyz" for c in read)  # three characters missed after every one read
    timeline = TokenTimeline(lambda x: x)
    qtbot.addWidget(timeline)
    timeline.resize(width, 64)
    timeline.set_reading(list(read), np.full(len(read), 0.9), 60.0 + 12.0 * np.arange(len(read)))
    timeline.set_comparison(compare(list(read), truth))
    timeline.show()
    tags = [timeline.deletion_rect(gap) for gap in sorted(timeline.comparison.missed)]
    assert len(tags) == len(read)
    assert not overlapping(tags)
    assert all(0 <= tag.left() and tag.right() <= width for tag in tags)
    assert timeline.tooltip_at(tags[4].center().x(), tags[4].center().y()) == "Deletion: truth 'xyz' missed here"
    qtbot.waitExposed(timeline)
    timeline.grab()  # paints the tags, elided where narrowed, without a warning


def test_zoomed_the_cells_stay_under_their_characters(qtbot, window):
    canvas, timeline = window.canvas, window.timeline
    centres = window.view_model.reading.centres
    (x0, x1), _ = canvas.view.viewRange()
    middle = float(np.median(centres))
    canvas.view.setXRange(middle - (x1 - x0) / 8, middle + (x1 - x0) / 8, padding=0)
    lo, hi = ALL_WIDTH + 8, timeline.width() - 2

    def aligned():
        in_view = [i for i, c in enumerate(centres) if 0 <= canvas.image_x_to_widget(c) <= timeline.width()]
        assert 0 < len(in_view) < len(centres)
        for i in in_view:  # under its character, or just right of the "all" cell above which it lies
            rect = timeline.cell_rect(i)
            assert abs(rect.center().x() - max(canvas.image_x_to_widget(centres[i]), lo)) <= rect.width()
        off = [i for i in range(len(centres)) if i not in in_view]
        assert all(not timeline.rect().intersects(timeline.cell_rect(i).toRect()) for i in off)

    qtbot.waitUntil(aligned, timeout=WAIT_MS)
    index = next(i for i, c in enumerate(centres) if lo <= canvas.image_x_to_widget(c) <= hi)
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=timeline.cell_rect(index).center().toPoint())
    assert timeline.current == index


def test_a_character_under_the_all_cell_keeps_a_cell_of_its_own(qtbot):
    """A line drawn from the view's left edge puts its first character's x under the
    "all" cell: its cell goes just right of it, shown and clickable, not off the widget
    (a kraken-segmented line of a page lost its first letter so)."""
    timeline = TokenTimeline(lambda x: x)
    qtbot.addWidget(timeline)
    timeline.resize(600, 64)
    timeline.set_reading(list("The"), np.full(3, 0.9), np.array([6.0, 60.0, 90.0]))
    timeline.show()
    qtbot.waitExposed(timeline)
    first = timeline.cell_rect(0)
    assert first.left() >= ALL_WIDTH + 8 - 1e-6
    assert first.right() < timeline.cell_rect(1).left()
    assert timeline.rect().contains(first.toRect())
    with qtbot.waitSignal(timeline.selected) as picked:
        qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=first.center().toPoint())
    assert picked.args == [0]
