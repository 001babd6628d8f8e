"""Placing character cells under the image without overlaps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from thulium_desktop.app.timeline import CELL_GAP, ReadingLabel, reading_html, spread


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
