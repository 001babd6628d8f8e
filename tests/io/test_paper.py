"""Paper flattening on real word images: even white paper, dark ink, nothing moved."""

from __future__ import annotations

import numpy as np
import pytest

from word_images import render_word
from thulium_desktop.io.images import to_unit_gray, unit_gray_at_height
from thulium_desktop.io.paper import DARK_ON_LIGHT, LIGHT_ON_DARK, flatten_paper, ink_polarity
from thulium_desktop.training.degrade import coloured_paper, inverted_ink, uneven_light, vignette


@pytest.fixture(scope="module")
def word() -> np.ndarray:
    return render_word("minimum")


def _ink(gray: np.ndarray) -> np.ndarray:
    """Pixels darker than midway between the image's ink and its paper."""
    ink, paper = np.percentile(gray, [1, 99])
    return gray < (ink + paper) / 2


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_polarity_is_told_from_the_strokes(word):
    gray = to_unit_gray(word)
    assert ink_polarity(gray, 1.0) == DARK_ON_LIGHT
    assert ink_polarity(1.0 - gray, 1.0) == LIGHT_ON_DARK


def _dark_paper(word: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The word on dark coloured paper (luma about 0.45): darker than any paper the readers learned."""
    dark = coloured_paper(word, rng)
    return (dark.astype(np.float32) * 0.45 / to_unit_gray(dark).max()).astype(np.uint8)


@pytest.mark.parametrize("degrade", [vignette, uneven_light, _dark_paper, inverted_ink], ids=lambda f: f.__name__)
def test_flattened_paper_is_even_white_under_the_same_ink(word, degrade):
    """Whatever the light, the paper's colour or the ink's polarity, paper comes back
    near white everywhere and the ink on the same pixels as the clean word's."""
    clean = to_unit_gray(word)
    degraded = to_unit_gray(degrade(word, _rng()))
    flat = flatten_paper(degraded)
    assert flat.shape == clean.shape and flat.dtype == np.float32
    paper = clean >= 0.99  # clear of the strokes' anti-aliased edges
    assert np.percentile(flat[paper], 1) > 0.9, "paper left dark somewhere"
    agree = (_ink(flat) == _ink(clean)).mean()
    assert agree > 0.99, f"the ink moved or grew: {agree:.3f} of pixels agree"
    if degrade is not inverted_ink:  # the shading itself was uneven before
        assert np.percentile(degraded[paper], 5) < 0.75


def test_paper_like_the_readers_training_is_left_as_it_is(word):
    """Even light grey paper lit by a gentle gradient, as the readers learned: flattening
    it changed readings they had right, so it is passed through untouched."""
    gradient = np.linspace(0.95, 0.82, word.shape[1], dtype=np.float32)[None, :]
    grey = to_unit_gray(word) * gradient
    np.testing.assert_array_equal(flatten_paper(grey), grey)
    lighter_than_trained = to_unit_gray(coloured_paper(word, np.random.default_rng(1)))
    assert np.percentile(lighter_than_trained, 50) > 0.7
    np.testing.assert_array_equal(flatten_paper(lighter_than_trained), lighter_than_trained)


def test_a_blank_page_is_left_as_it_is():
    grey = np.full((32, 80), 0.6, np.float32)
    np.testing.assert_array_equal(flatten_paper(grey), grey)


def test_flattening_is_asked_for_and_keeps_the_scaled_geometry(word):
    """`unit_gray_at_height` changes nothing unless asked to flatten, and flattening
    keeps the scaled image's shape: the geometry that maps maps back is unchanged."""
    tall = np.repeat(np.repeat(vignette(word, _rng()), 3, axis=0), 3, axis=1)
    plain = unit_gray_at_height(tall, 32)
    np.testing.assert_array_equal(plain, unit_gray_at_height(tall, 32, flatten=False))
    flat = unit_gray_at_height(tall, 32, flatten=True)
    assert flat.shape == plain.shape == (32, word.shape[1])
    assert flat.min() >= 0.0 and flat.max() <= 1.0
