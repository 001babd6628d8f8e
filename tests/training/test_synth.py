"""The synthetic handwriting generator: seeded, boxed, and with clean train/eval splits."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="training extras (pip install -e .[train]) are not installed")
pytest.importorskip("fontTools", reason="training extras (pip install -e .[train]) are not installed")

from thulium_desktop.training.data import draw_sample  # noqa: E402
from thulium_desktop.training.digits import digit_string  # noqa: E402
from thulium_desktop.training.fonts import HELD_OUT_PACKAGES, held_out_fonts, training_fonts  # noqa: E402
from thulium_desktop.training.synth import random_sample, render  # noqa: E402
from thulium_desktop.training.text import ALPHABET, words  # noqa: E402

pytestmark = pytest.mark.skipif(
    len(held_out_fonts()) == 0, reason="the Debian handwriting fonts are not installed"
)


def test_a_seed_fixes_the_stream():
    a = [draw_sample(training_fonts(), "train", np.random.default_rng(7)) for _ in range(3)]
    b = [draw_sample(training_fonts(), "train", np.random.default_rng(7)) for _ in range(3)]
    c = draw_sample(training_fonts(), "train", np.random.default_rng(8))
    for x, y in zip(a, b):
        assert x.text == y.text and np.array_equal(x.image, y.image)
        assert np.array_equal(x.boxes, y.boxes)
    assert not (c.text == a[0].text and c.image.shape == a[0].image.shape)


def test_samples_have_one_box_per_character_inside_the_image():
    rng = np.random.default_rng(0)
    for _ in range(40):
        s = random_sample(training_fonts(), "train", rng)
        assert s.image.dtype == np.uint8 and s.image.shape[0] == 32
        assert set(s.text) <= set(ALPHABET)
        assert s.boxes.shape == (len(s.text), 4)
        h, w = s.image.shape
        assert (s.boxes[:, 0] >= 0).all() and (s.boxes[:, 2] <= w).all()
        assert (s.boxes[:, 1] >= 0).all() and (s.boxes[:, 3] <= h).all()
        assert (s.boxes[:, 2] > s.boxes[:, 0]).all()
        # the boxes follow the reading order
        centres = s.boxes[:, [0, 2]].mean(1)
        assert (np.diff(centres) > -4).all()


def test_boxes_cover_ink():
    rng = np.random.default_rng(1)
    s = random_sample(training_fonts(), "train", rng, strength=0.0)
    for x0, y0, x1, y1 in s.boxes.astype(int):
        assert s.image[y0:y1 + 1, x0:x1 + 1].min() < 128


def test_held_out_fonts_and_words_never_reach_training():
    train_packages = {f.package for f in training_fonts()}
    assert not train_packages & set(HELD_OUT_PACKAGES)
    assert {f.package for f in held_out_fonts()} == set(HELD_OUT_PACKAGES)
    assert not set(words("train")) & set(words("eval"))


def test_real_digit_strings_are_labelled_digits():
    rng = np.random.default_rng(2)
    s = digit_string("eval", rng)
    assert s.text.isdigit() and s.boxes.shape == (len(s.text), 4)
    assert s.style == "sklearn-digits"


def test_boxes_follow_the_ink_through_every_distortion():
    """At full strength (wandering baseline, slant, rotation, elastic) the boxes still cover
    the ink: the pointing game scores against them."""
    font = next(f for f in training_fonts() if not f.upper_only)
    for seed in range(12):
        s = render("wandering baseline", font, np.random.default_rng(seed), strength=1.0)
        halfway = (int(np.median(s.image)) + int(s.image.min())) / 2  # between paper and ink
        dark = s.image < halfway
        covered = np.zeros_like(dark)
        for x0, y0, x1, y1 in s.boxes.astype(int):
            covered[y0:y1 + 1, x0:x1 + 1] = True
        assert (dark & covered).sum() >= 0.98 * dark.sum(), seed
