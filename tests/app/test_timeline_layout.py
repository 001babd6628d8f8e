"""Placing character cells under the image without overlaps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from thulium_desktop.app.timeline import (
    CELL_GAP,
    CELL_MAX_WIDTH,
    CELL_MIN_WIDTH,
    ReadingLabel,
    cell_width,
    reading_html,
    spread,
)


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
