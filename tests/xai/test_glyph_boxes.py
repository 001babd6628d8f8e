"""Glyph boxes (`xai.glyph_boxes`): the box holding most of a character's map mass, or
tiled between attention centres for a line read without explaining (issue 22)."""

from __future__ import annotations

import numpy as np
import pytest
from word_images import render_word

from thulium_desktop.models import load_model
from thulium_desktop.models.protocol import Reading
from thulium_desktop.training.synth import HERSHEY_FONTS, render
from thulium_desktop.xai.diagnostics import ink_mask
from thulium_desktop.xai.glyph_boxes import (
    attention_maps,
    glyph_boxes,
    mass_interval,
    reading_glyph_boxes,
    tiled_boxes,
)
from thulium_desktop.xai.saliency import SaliencyGenerator


def _reading(text: str, n_frames: int | None = None) -> Reading:
    n = n_frames or len(text)
    return Reading(tuple(text), tuple(range(len(text))), np.full(len(text), 0.9, np.float32),
                   tuple((t * n // len(text), (t + 1) * n // len(text)) for t in range(len(text))), n)


def _bumps(centres: list[float], height: int, width: int, sigma: float = 3.0) -> np.ndarray:
    """One map per centre: a Gaussian across the columns, the same on every row."""
    x = np.arange(width) + 0.5
    return np.stack([np.tile(np.exp(-((x - c) / sigma) ** 2 / 2), (height, 1)) for c in centres])


def test_mass_interval_is_the_narrowest_run_around_the_peak_holding_the_share():
    profile = np.array([0, 1, 0, 0, 6, 2, 0, 1], float)
    assert mass_interval(profile, 0.5) == (4, 5)  # the peak alone holds 6 of 10
    assert mass_interval(profile, 0.8) == (4, 6)
    assert mass_interval(profile, 0.95) == (1, 8)
    assert mass_interval(np.array([1, 3, 1], float), 0.9) == (0, 3)


def test_boxes_hold_half_of_each_map_and_span_the_ink_rows_of_their_columns():
    image = render_word("minimum")
    height, width = image.shape
    centres = [20.0, 45.0, 70.0]
    boxes = glyph_boxes(_bumps(centres, height, width), image, _reading("min"))
    ink = ink_mask(image)
    for (x0, y0, x1, y1), centre in zip(boxes, centres):
        assert x0 < centre < x1 and x1 - x0 < 8  # half of a Gaussian of sigma 3: about 4 columns
        rows = np.nonzero(ink[:, int(x0):int(x1)].any(axis=1))[0]
        assert (y0, y1) == (rows[0], rows[-1] + 1)


def test_maps_on_a_coarser_grid_give_boxes_in_image_pixels():
    image = render_word("minimum")
    height, width = image.shape
    fine = _bumps([20.0, 60.0], height, width)
    coarse = fine[:, ::2, ::2] + fine[:, 1::2, 1::2]  # cells of 2x2 pixels (the width is even)
    assert width % 2 == 0
    np.testing.assert_allclose(glyph_boxes(coarse, image, _reading("mi"))[:, [0, 2]],
                               glyph_boxes(fine, image, _reading("mi"))[:, [0, 2]], atol=2)


def test_a_character_with_an_empty_map_gets_its_alignment_span_at_full_height_without_ink():
    image = np.full((32, 100), 255, np.uint8)  # no ink
    maps = np.zeros((2, 32, 100))
    boxes = glyph_boxes(maps, image, _reading("ab", n_frames=10))
    np.testing.assert_allclose(boxes, [[0, 0, 50, 32], [50, 0, 100, 32]])


def test_tiled_boxes_split_the_line_halfway_between_centres_in_either_direction():
    image = render_word("minimum")
    height, width = image.shape
    ink_columns = np.nonzero(ink_mask(image).any(axis=0))[0]
    left_to_right = tiled_boxes(_bumps([30.0, 60.0, 90.0], height, width), image, _reading("abc"))
    np.testing.assert_allclose(left_to_right[:, [0, 2]], [[ink_columns[0], 45], [45, 75], [75, ink_columns[-1] + 1]])
    right_to_left = tiled_boxes(_bumps([90.0, 60.0, 30.0], height, width), image, _reading("abc"))
    np.testing.assert_allclose(right_to_left, left_to_right[::-1])


@pytest.fixture(scope="module", params=["ctc-reader", "attention-reader"])
def reader(request):
    return load_model(request.param)


@pytest.mark.parametrize("explained", [True, False])
def test_glyph_boxes_of_a_bundled_reader_hold_the_true_character_centres(reader, explained):
    """On synthetic words with their true character boxes: the gradient maps' boxes
    (explained) and the attention's (read only) contain most true centres."""
    engine = SaliencyGenerator(reader)
    hits = total = 0
    for text in ("handwriting", "minimum", "recognition"):
        for face in HERSHEY_FONTS:
            sample = render(text, face, np.random.default_rng(3), strength=0.3)
            reading = engine.read(sample.image)
            assert reading.text == text
            explanation = engine.explain(sample.image, method="gradient", reading=reading) if explained else None
            boxes = reading_glyph_boxes(reader, sample.image, reading, explanation)
            cx = (sample.boxes[:, 0] + sample.boxes[:, 2]) / 2
            cy = (sample.boxes[:, 1] + sample.boxes[:, 3]) / 2
            inside = (boxes[:, 0] <= cx) & (cx < boxes[:, 2]) & (boxes[:, 1] <= cy) & (cy < boxes[:, 3])
            hits += int(inside.sum())
            total += len(text)
    assert hits / total >= 0.8


def test_an_explanation_of_some_characters_only_falls_back_to_the_attention(reader):
    image = render_word("minimum")
    engine = SaliencyGenerator(reader)
    reading = engine.read(image)
    one = engine.explain(image, method="gradient", tokens=[0], reading=reading)
    np.testing.assert_array_equal(reading_glyph_boxes(reader, image, reading, one),
                                  tiled_boxes(attention_maps(reader, image, reading), image, reading))


def test_an_attention_explanation_is_tiled_like_a_line_read_without_explaining(reader):
    image = render_word("minimum")
    engine = SaliencyGenerator(reader)
    reading = engine.read(image)
    attention = engine.explain(image, method="attention", reading=reading)
    np.testing.assert_allclose(reading_glyph_boxes(reader, image, reading, attention),
                               reading_glyph_boxes(reader, image, reading), atol=1.0)
