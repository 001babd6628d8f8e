"""The interpretation labels on synthetic maps whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from thulium_desktop.xai.diagnostics import (
    LABEL_BACKGROUND,
    LABEL_FOCUSED,
    LABEL_SCATTERED,
    column_centres,
    explanation_diagnostics,
    focus_threshold,
    ink_mask,
    map_diagnostics,
    text_region,
)
from word_images import render_word


def _padded_word():
    word = render_word("minimum")
    page = np.full((96, word.shape[1] + 200), 255, np.uint8)
    page[32:64, 100:100 + word.shape[1]] = word
    return page


def test_ink_is_found_and_the_region_surrounds_it():
    page = _padded_word()
    ink = ink_mask(page)
    assert 0.02 < ink.mean() < 0.2
    assert not ink[:20].any() and not ink[:, :90].any()
    region = text_region(ink)
    assert region[ink].all() and not region[0, 0]
    assert not ink_mask(np.full((10, 10), 200, np.uint8)).any()


def test_three_labels_on_synthetic_maps():
    page = _padded_word()
    ink = ink_mask(page)
    on_ink = ink.astype(np.float32)
    uniform = text_region(ink).astype(np.float32)  # spread evenly over the text
    background = np.zeros(page.shape, np.float32)
    background[:16, :60] = 1.0
    focused = map_diagnostics(on_ink, ink)
    scattered = map_diagnostics(uniform, ink)
    noisy = map_diagnostics(background, ink)
    assert focused.label == LABEL_FOCUSED and focused.stroke_focus > 0.99
    assert scattered.label == LABEL_SCATTERED
    share_of_region = ink.sum() / text_region(ink).sum()
    assert abs(scattered.stroke_focus - share_of_region) < 1e-6 and scattered.background == 0
    assert abs(scattered.spread - 0.8 * text_region(ink).mean()) < 0.01
    assert noisy.label == LABEL_BACKGROUND and noisy.background > 0.99
    assert focused.spread < scattered.spread
    assert focused.meaning == "good feature learning" and noisy.meaning == "noise sensitivity"


def test_localisation_measures_distance_from_the_alignment():
    page = _padded_word()
    ink = ink_mask(page)
    blob = np.zeros(page.shape, np.float32)
    blob[40:50, 150:160] = 1.0  # centre x = 154.5
    near = map_diagnostics(blob, ink, expected_x=154.5, char_width=20.0)
    far = map_diagnostics(blob, ink, expected_x=214.5, char_width=20.0)
    assert near.localisation_px < 1e-6
    assert abs(far.localisation_px - 60) < 1e-6 and abs(far.localisation_chars - 3.0) < 1e-6


def test_explanation_diagnostics_and_centres():
    page = _padded_word()
    maps = np.zeros((2, *page.shape), np.float32)
    maps[0, :, 120] = 1
    maps[1, :, 300] = 1
    centres = column_centres(maps)
    np.testing.assert_allclose(centres, [120, 300])
    result = explanation_diagnostics(page, maps, centres)
    assert [round(d.localisation_px, 6) for d in result] == [0.0, 0.0]
    assert np.isnan(column_centres(np.zeros((1, 4, 4)))[0])
    assert map_diagnostics(np.zeros(page.shape), ink_mask(page)).label == LABEL_SCATTERED


def test_focus_is_judged_against_the_inks_share_of_the_text_region():
    """A map on a random half of the text region scores the ink's share (chance): not
    focused; one with twice that share on ink is, though far below an absolute 50%."""
    page = _padded_word()
    ink = ink_mask(page)
    region = text_region(ink)
    share = ink[region].mean()
    assert share < 0.3  # the case an absolute threshold got wrong
    chance = map_diagnostics(region.astype(np.float32), ink)
    assert abs(chance.ink_share - share) < 1e-9 and chance.label == LABEL_SCATTERED
    twice = region.astype(np.float32)
    twice[ink] *= 2 * (1 - share) / (1 - 2 * share)  # mass on ink = 2 x the ink's share
    lifted = map_diagnostics(twice, ink)
    assert abs(lifted.stroke_focus - 2 * share) < 1e-6 and lifted.stroke_focus < 0.5
    assert lifted.label == LABEL_FOCUSED
    assert focus_threshold(0.2) == pytest.approx(0.3) and focus_threshold(0.9) == pytest.approx(0.95)
