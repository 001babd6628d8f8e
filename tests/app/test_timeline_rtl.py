"""A right-to-left reading on the timeline: tokens in logical order, cells under their
glyphs from right to left, and arrow keys that move the way the cells lie."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from thulium_desktop.app.timeline import ReadingLabel, TokenTimeline, bidi_isolated
from thulium_desktop.app.truth_bar import TruthBar
from thulium_desktop.app.view_model import ALL
from thulium_desktop.xai.ground_truth import compare

#: "shalom", read right to left: the first token is the rightmost glyph.
HEBREW = ["ש", "ל", "ו", "ם"]
RTL_CENTRES = np.array([420.0, 320.0, 220.0, 120.0])


@pytest.fixture
def rtl_timeline(qtbot) -> TokenTimeline:
    """A shown timeline (image x = widget x) holding the Hebrew reading, whose `selected`
    is drawn back as the current cell, as the window's view model does."""
    timeline = TokenTimeline(lambda x: x)
    qtbot.addWidget(timeline)
    timeline.resize(520, 64)
    timeline.selected.connect(lambda index: timeline.show_current(min(max(index, ALL), timeline.count - 1)))
    timeline.set_reading(HEBREW, np.full(len(HEBREW), 0.9), RTL_CENTRES)
    timeline.show()
    qtbot.waitExposed(timeline)
    return timeline


def test_rtl_cells_run_right_to_left_under_their_glyphs(rtl_timeline):
    rects = [rtl_timeline.cell_rect(i) for i in range(len(HEBREW))]
    assert rtl_timeline.right_to_left
    assert all(a.left() > b.right() for a, b in zip(rects, rects[1:]))  # token order runs leftwards
    np.testing.assert_allclose([r.center().x() for r in rects], RTL_CENTRES)
    assert rtl_timeline.screen_order() == [ALL, 3, 2, 1, 0]


def test_rtl_crowded_cells_keep_their_order_without_overlap(qtbot):
    timeline = TokenTimeline(lambda x: x)
    qtbot.addWidget(timeline)
    timeline.resize(300, 64)
    centres = 260.0 - 5.0 * np.arange(12)  # closer than a cell is wide
    timeline.set_reading(list("אבגדהוזחטיכל"), np.full(12, 0.9), centres)
    rects = [timeline.cell_rect(i) for i in range(12)]
    assert all(a.left() >= b.right() for a, b in zip(rects, rects[1:]))
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])


def test_rtl_arrows_move_to_the_neighbour_on_screen(rtl_timeline):
    rtl_timeline.select_first()
    assert rtl_timeline.current == 0  # Home: the first letter read, the rightmost cell
    rtl_timeline.step_forward()
    assert rtl_timeline.current == 0  # nothing right of it
    rtl_timeline.step_back()
    assert rtl_timeline.current == 1  # Left: the cell on its left, the next letter
    rtl_timeline.select_last()
    assert rtl_timeline.current == 3  # End: the last letter read, the leftmost cell
    rtl_timeline.step_back()
    assert rtl_timeline.current == ALL  # the "all" cell sits left of every character
    rtl_timeline.step_forward()
    assert rtl_timeline.current == 3


def test_rtl_arrow_keys_in_the_window_follow_the_screen(qtbot, window):
    """Through the window's shortcuts: with its reading laid out right to left, Right goes
    to the previous character read and Left to the next."""
    timeline, reading = window.timeline, window.view_model.reading
    timeline.set_reading(reading.reading.tokens, reading.reading.confidences, reading.centres[::-1].copy())
    timeline.setFocus()
    qtbot.keyClick(timeline, Qt.Key.Key_End)
    assert timeline.current == timeline.count - 1
    qtbot.keyClick(timeline, Qt.Key.Key_Left)
    assert timeline.current == ALL
    qtbot.keyClick(timeline, Qt.Key.Key_Right)
    qtbot.keyClick(timeline, Qt.Key.Key_Right)
    assert timeline.current == timeline.count - 2


def test_rtl_click_selects_the_cell_under_the_pointer(qtbot, rtl_timeline):
    qtbot.mouseClick(rtl_timeline, Qt.MouseButton.LeftButton, pos=rtl_timeline.cell_rect(2).center().toPoint())
    assert rtl_timeline.current == 2
    assert rtl_timeline.tooltip_at(430.0, 40.0).startswith("'ש'  #1")


def test_rtl_missed_letter_is_tagged_between_its_neighbours_on_screen(rtl_timeline):
    read = ["ש", "ל", "ם"]  # "shalom" without its vav, missed between lamed and final mem
    rtl_timeline.set_reading(read, np.full(3, 0.9), np.array([420.0, 320.0, 120.0]))
    rtl_timeline.set_comparison(compare(read, "שלום"))
    assert set(rtl_timeline.comparison.missed) == {2}
    x = rtl_timeline.gap_x(2)
    assert rtl_timeline.cell_rect(2).right() < x < rtl_timeline.cell_rect(1).left()
    tag = rtl_timeline.deletion_rect(2)
    assert tag.left() <= x <= tag.right()
    rtl_timeline.grab()  # paints the tag and its bar without a warning


def test_rtl_line_ends_are_on_the_reading_direction_sides(rtl_timeline):
    """A letter missed before the first one read is right of it; after the last, left of it."""
    assert rtl_timeline.gap_x(0) > rtl_timeline.cell_rect(0).right()
    assert rtl_timeline.gap_x(len(HEBREW)) < rtl_timeline.cell_rect(len(HEBREW) - 1).left()


def test_rtl_reading_and_truth_keep_logical_order_in_their_own_direction(qtbot):
    """Qt's bidi lays the logical text out right to left; isolated from the words around
    it, so that a trailing "!" ends the reading on its left."""
    label, bar = ReadingLabel(), TruthBar()
    qtbot.addWidget(label)
    qtbot.addWidget(bar)
    label.show_reading([*HEBREW, "!"], np.array([0.9, 0.9, 0.2, 0.9, 0.9]))
    text = label.text()
    assert text.index("\u2068ש") < text.index("ל") < text.index("ו") < text.index("ם") < text.index("!\u2069")
    assert "below 50%" in text
    bar.show_comparison(compare(HEBREW, "שלום!"))
    assert "\u2068שלום" in bar.text() and "\u2069" in bar.text()
    bar.show_pending("שלום!")
    assert bidi_isolated("שלום!") in bar.text()
