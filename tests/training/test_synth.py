"""The synthetic handwriting generator: seeded, boxed, and with clean train/eval splits."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch


from thulium_desktop.training import synth
from thulium_desktop.training.data import EMPHASIS, collate, draw_sample
from thulium_desktop.training.digits import digit_string
from thulium_desktop.training.evaluate import evaluation_sets, held_out_samples
from thulium_desktop.training import fonts as fonts_module
from thulium_desktop.training.fonts import (
    HELD_OUT_PACKAGES,
    available_fonts,
    evaluation_training_fonts,
    held_out_fonts,
    missing_evaluation_fonts,
    training_fonts,
)
from thulium_desktop.training.synth import (
    _draw_letters,
    _draw_truetype,
    _pen_skips,
    random_sample,
    render,
)
from thulium_desktop.training.text import ALPHABET, words

pytestmark = pytest.mark.usefixtures("handwriting_fonts")


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


def test_training_only_fonts_are_drawn_for_training_and_never_for_evaluation():
    """The fonts added after the sixth run teach the readers but stay out of the held-out
    set, which must remain the images earlier runs were measured on."""
    only = {f.name for f in training_fonts() if f.training_only}
    if not only:
        pytest.skip("no training-only font package is installed")
    rng = np.random.default_rng(5)
    trained_on = {draw_sample(training_fonts(), "train", rng).style for _ in range(300)}
    assert trained_on & only
    assert {f.name for f in evaluation_training_fonts()} == {f.name for f in training_fonts()} - only
    evaluated_on = {s.style for s in held_out_samples(300)}
    assert len(evaluated_on) > 10 and not evaluated_on & only


def test_emphasised_packages_are_drawn_more_often_in_training_only():
    """`package_weights` tilts the training draw toward hard writers; without it the draw
    is uniform per package, as the evaluation sets need."""
    fonts = training_fonts()
    by_name = {f.name: f.package for f in fonts}
    heavy = next(f.package for f in fonts if not f.upper_only)

    def share(weights) -> float:
        rng = np.random.default_rng(3)
        styles = [random_sample(fonts, "train", rng, strength=0.0, package_weights=weights).style
                  for _ in range(400)]
        return sum(by_name.get(s) == heavy for s in styles) / len(styles)

    packages = len({f.package for f in fonts}) + 1  # + the Hershey faces
    assert share(None) < 2.5 / packages
    assert share({heavy: 6.0}) > 4.0 / packages
    assert EMPHASIS and set(EMPHASIS) <= {f.package for f in fonts}


def test_real_digit_strings_are_labelled_digits():
    rng = np.random.default_rng(2)
    s = digit_string("eval", rng)
    assert s.text.isdigit() and s.boxes.shape == (len(s.text), 4)
    assert s.style == "sklearn-digits"


@pytest.mark.parametrize("vary_letters,pen_skips",
                         [(False, False), (True, False), (False, True), (True, True)])
def test_boxes_follow_the_ink_through_every_distortion(vary_letters, pen_skips):
    """At full strength (letters of their own size, rise and spacing, pen gaps, wandering
    baseline, slant, rotation, elastic) the boxes still cover the ink: the pointing game
    scores against them."""
    font = next(f for f in training_fonts() if not f.upper_only)
    for seed in range(12):
        s = render("wandering baseline", font, np.random.default_rng(seed), strength=1.0,
                   vary_letters=vary_letters, pen_skips=pen_skips)
        halfway = (int(np.median(s.image)) + int(s.image.min())) / 2  # between paper and ink
        dark = s.image < halfway
        covered = np.zeros_like(dark)
        for x0, y0, x1, y1 in s.boxes.astype(int):
            covered[y0:y1 + 1, x0:x1 + 1] = True
        assert (dark & covered).sum() >= 0.98 * dark.sum(), seed


def test_training_letters_vary_in_size_and_spacing():
    """A font draws eight o's alike; the training split's hand does not. Affine stretch and
    scaling move all letters together, so the spread of widths and steps within one word
    comes from the letter-by-letter drawing."""
    font = next(f for f in training_fonts() if not f.upper_only)

    def spread(vary_letters: bool) -> tuple[float, float]:
        widths, steps = [], []
        for seed in range(20):
            s = render("oooooooo", font, np.random.default_rng(seed), strength=1.0,
                       vary_letters=vary_letters)
            w, step = s.boxes[:, 2] - s.boxes[:, 0], np.diff(s.boxes[:, 0])
            widths.append(w.std() / w.mean())
            steps.append(step.std() / step.mean())
        return float(np.mean(widths)), float(np.mean(steps))

    (fixed_w, fixed_s), (varied_w, varied_s) = spread(False), spread(True)
    assert varied_w > 2 * fixed_w and varied_s > 2 * fixed_s


def test_letter_boxes_move_with_each_letters_size_rise_and_spacing():
    """Exaggerated layout (sizes 0.7-1.3, rises of a third of the font size): every letter's
    own ink lies in its own box, so none of the boxes can be placed by the font's metrics."""
    font = next(f for f in training_fonts() if not f.upper_only)
    layout = np.array([[0.7, 0.3, 0.2], [1.3, -0.3, -0.05], [1.0, 0.3, 0.3], [0.8, -0.3, 0.0]])
    ink, boxes = _draw_letters("oxoH", font, 0, layout)
    covered = np.zeros(ink.shape, bool)
    for x0, y0, x1, y1 in boxes.astype(int):
        patch = ink[max(0, y0):y1 + 1, max(0, x0):x1 + 1]
        assert patch.max() > 0.5 and (patch > 0.3).mean() > 0.1
        covered[max(0, y0):y1 + 1, max(0, x0):x1 + 1] = True
    assert ((ink > 0.3) & covered).sum() >= 0.99 * (ink > 0.3).sum()
    heights = boxes[:, 3] - boxes[:, 1]
    assert heights[1] > 1.5 * heights[0]  # the big o is drawn big


def test_pen_skips_cut_short_gaps_into_the_strokes():
    """Gaps only take ink away, a little of it, and split strokes into more pieces: a
    closed loop drawn with a gap is an open one, which is what the unseen hands do.
    Ecolier's hairlines lose the largest share of their ink to a gap, so it bounds the
    loss."""
    font = next(f for f in training_fonts() if f.package == "fonts-ecolier-court")
    ink, _ = _draw_truetype("banana around", font, 0)
    kept = ink.copy()
    pieces = cv2.connectedComponents((ink > 0.5).astype(np.uint8))[0]
    more_pieces = 0
    for seed in range(10):
        gapped = _pen_skips(ink, "banana around", np.random.default_rng(seed))
        assert np.array_equal(ink, kept)  # the input is not drawn on
        assert gapped.shape == ink.shape and (gapped <= ink).all()
        lost = 1 - gapped.sum() / ink.sum()
        assert 0.002 < lost < 0.2, (seed, lost)
        more_pieces += cv2.connectedComponents((gapped > 0.5).astype(np.uint8))[0] > pieces
    assert more_pieces >= 5


def test_pen_skips_reach_a_share_of_training_texts_and_no_evaluation_text(monkeypatch):
    """About 40% of training texts get gaps; no evaluation image is drawn with them (nor
    draws a number for them), so the evaluation sets stay the images every earlier run
    was measured on."""
    calls = []

    def counting(ink, text, rng):
        calls.append(text)
        return ink

    monkeypatch.setattr(synth, "_pen_skips", counting)
    font = next(f for f in training_fonts() if not f.upper_only)
    for seed in range(100):
        render("banana around", font, np.random.default_rng(seed), pen_skips=True)
    assert 25 <= len(calls) <= 55
    calls.clear()
    evaluation_sets(40, seed=3)
    for seed in range(20):
        render("banana around", font, np.random.default_rng(seed))
    assert calls == []
    # training draws take them: 40% of the font texts of a training batch
    rng = np.random.default_rng(5)
    samples = [draw_sample(training_fonts(), "train", rng) for _ in range(100)]
    assert 0 < len(calls) < len(samples)



def test_a_batch_reads_each_image_up_to_its_last_partial_strip():
    """Positions cover the last partial 4-column strip (the app pads it with paper and
    reads it, `models.protocol.pad_width`); the narrower image is padded with paper."""
    sample = held_out_samples(1)[0]
    ink = [replace(sample, image=np.zeros((32, width), np.uint8)) for width in (30, 33)]
    batch = collate(ink)
    assert batch.positions.tolist() == [8, 9] and batch.widths.tolist() == [30, 33]
    assert tuple(batch.images.shape) == (2, 1, 32, 36)
    assert torch.all(batch.images[0, 0, :, 30:] == 1.0) and torch.all(batch.images[1, 0, :, 33:] == 1.0)
    assert torch.all(batch.images[0, 0, :, :30] == 0.0)


def test_a_damaged_font_is_skipped_and_evaluation_refuses_without_its_package(monkeypatch, tmp_path, caplog):
    """One corrupt font file must not stop the generator, and the evaluation sets must not
    quietly become other images without it."""
    ecolier = next(f.path for f in available_fonts() if f.package == "fonts-ecolier-court")
    shutil.copy(ecolier, tmp_path / ecolier.name)
    (tmp_path / "Breip.ttf").write_bytes(b"\x00\x01\x00\x00 not a font")
    monkeypatch.setattr(fonts_module, "FONT_ROOT", tmp_path)
    available_fonts.cache_clear()
    try:
        with caplog.at_level(logging.WARNING):
            found = available_fonts()
        assert [f.package for f in found] == ["fonts-ecolier-court"]
        assert "skipping unreadable font" in caplog.text and "Breip.ttf" in caplog.text
        assert "fonts-breip: Breip.ttf" in missing_evaluation_fonts()
        assert "fonts-ecolier-court: Ecolier-court.ttf" not in missing_evaluation_fonts()
        with pytest.raises(RuntimeError, match="fonts-breip: Breip.ttf.*not installed"):
            held_out_samples(1)
    finally:
        monkeypatch.undo()
        available_fonts.cache_clear()
