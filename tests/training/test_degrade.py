"""Each degradation of the degraded evaluation set, on a real sample word: what it changes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from thulium_desktop.io.images import load_image, to_unit_gray
from thulium_desktop.training.degrade import (
    DEGRADATIONS,
    coloured_paper,
    degraded_set,
    inverted_ink,
    jpeg_artefacts,
    mild_blur,
    textured_paper,
    uneven_light,
    vignette,
)
from thulium_desktop.training.synth import Sample

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


@pytest.fixture(scope="module")
def word() -> np.ndarray:
    """The sample "recognition" as the held-out images are: uint8 grey, 255 = paper."""
    return (to_unit_gray(load_image(SAMPLES / "recognition.png")) * 255).round().astype(np.uint8)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _paper(word: np.ndarray) -> np.ndarray:
    return word >= np.percentile(word, 60)


def _ink(word: np.ndarray) -> np.ndarray:
    return word <= np.percentile(word, 3)


def test_vignette_darkens_the_corners_not_the_middle(word):
    out = vignette(word, _rng())
    assert out.shape == word.shape and out.dtype == np.uint8
    h, w = word.shape
    fall = word.astype(float) - out
    corners = [fall[:3, :3], fall[:3, -3:], fall[-3:, :3], fall[-3:, -3:]]
    assert min(float(c.mean()) for c in corners) > 2 * float(fall[h // 2 - 1 : h // 2 + 2, w // 2 - 3 : w // 2 + 3].mean())
    assert (out <= word).all()


def test_uneven_light_spreads_the_papers_brightness(word):
    out = uneven_light(word, _rng())
    paper = _paper(word)
    spread = np.percentile(out[paper], 95) - np.percentile(out[paper], 5)
    assert spread > 80 > np.percentile(word[paper], 95) - np.percentile(word[paper], 5)
    assert (out <= word).all()


def test_coloured_paper_is_colour_with_ink_darker_than_paper(word):
    out = coloured_paper(word, _rng())
    assert out.shape == (*word.shape, 3) and out.dtype == np.uint8
    paper_colour = out[_paper(word)].mean(axis=0)
    assert np.ptp(paper_colour) > 10, "paper should not be grey"
    luma = to_unit_gray(out)
    assert luma[_ink(word)].mean() < luma[_paper(word)].mean() - 0.3


def test_textured_paper_adds_grain_and_keeps_the_ink(word):
    out = textured_paper(word, _rng())
    paper = _paper(word)
    assert out[paper].std() > word[paper].std() + 5
    assert out[_ink(word)].mean() < out[paper].mean() - 100


def test_jpeg_artefacts_change_pixels_round_the_strokes(word):
    out = jpeg_artefacts(word, _rng())
    assert out.shape == word.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - word)
    assert diff.mean() > 2 and np.corrcoef(out.ravel(), word.ravel())[0, 1] > 0.9


def test_inverted_ink_is_the_negative(word):
    np.testing.assert_array_equal(inverted_ink(word, _rng()), 255 - word)


def test_mild_blur_softens_edges_keeping_the_brightness(word):
    out = mild_blur(word, _rng())

    def edges(a: np.ndarray) -> float:
        return float(np.abs(cv2.Laplacian(a.astype(np.float32), cv2.CV_32F)).sum())

    assert edges(out) < 0.8 * edges(word)
    assert abs(float(out.mean()) - float(word.mean())) < 2


def test_the_set_deals_every_degradation_in_turn_the_same_on_every_run(word):
    samples = [Sample(word, "recognition", np.zeros((11, 4)), "sample") for _ in range(2 * len(DEGRADATIONS))]
    first, again, other = degraded_set(samples, 1), degraded_set(samples, 1), degraded_set(samples, 2)
    assert [d.degradation for d in first] == 2 * list(DEGRADATIONS)
    assert all(d.sample.text == "recognition" and d.sample.style == "sample" for d in first)
    assert all(np.array_equal(a.sample.image, b.sample.image) for a, b in zip(first, again))
    random_kinds = [i for i, d in enumerate(first) if d.degradation != "inverted ink"]
    assert any(not np.array_equal(first[i].sample.image, other[i].sample.image) for i in random_kinds)
    # the same degradation on two images draws from two streams
    assert not np.array_equal(first[0].sample.image, first[len(DEGRADATIONS)].sample.image)
