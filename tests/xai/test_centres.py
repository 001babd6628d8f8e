"""Where the timeline places each character: a CTC character at the middle of its frame
extent, any other at its attention centre, else its span's middle."""

from __future__ import annotations

import numpy as np
import pytest

import cv2
import torch

from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.io.images import load_image
from thulium_desktop.models import load_model
from thulium_desktop.models.protocol import Prepared, Reading
from thulium_desktop.xai.centres import attention_centres, frame_extents, span_centres
from thulium_desktop.xai.diagnostics import find_ink
from thulium_desktop.xai.saliency import SaliencyGenerator


def reading_of(spans: list[tuple[int, int]], n_frames: int, ctc: bool = False) -> Reading:
    n = len(spans)
    return Reading(tuple("abc"[:n]), tuple(range(1, n + 1)), np.ones(n, np.float32), tuple(spans), n_frames,
                   ctc_alignment=ctc)


def test_a_map_centred_on_known_columns_gives_that_centre():
    maps = np.zeros((2, 4, 10))
    maps[0, :, 2] = 1.0  # all of character 0's mass on column 2
    maps[1, 1, 6] = 1.0  # character 1's split evenly over columns 6 and 8, one sign each
    maps[1, 2, 8] = -1.0
    centres = attention_centres(maps, reading_of([(0, 1), (3, 5)], 5))
    np.testing.assert_allclose(centres, [2.5, 7.5])  # column c spans [c, c + 1)


def test_a_character_without_attention_sits_at_its_span_centre():
    maps = np.zeros((2, 4, 10))
    maps[0, :, 2] = 1.0
    centres = attention_centres(maps, reading_of([(0, 1), (3, 5)], 5))
    assert centres[0] == pytest.approx(2.5)
    assert centres[1] == pytest.approx((3 + 5) / 2 / 5 * 10)  # frames 3..5 of 5 over 10 px


def test_span_centres_spread_the_frames_over_the_image_width():
    np.testing.assert_allclose(span_centres(reading_of([(0, 2), (2, 4)], 4), 100), [25.0, 75.0])
    assert span_centres(reading_of([], 0), 100).shape == (0,)


@pytest.mark.parametrize("name", ["ctc-reader", "attention-reader"])
def test_the_characters_of_a_bundled_reading_are_placed_left_to_right_on_the_image(name):
    image = load_image(bundled_path("samples", "hello.png"))
    exp = SaliencyGenerator(load_model(name)).explain(image, method="attention")
    centres = attention_centres(exp.maps, exp.reading)
    assert len(centres) == len(exp.reading) > 1
    assert np.all((0 <= centres) & (centres <= image.shape[1]))
    assert np.all(np.diff(centres) > 0)


def test_a_ctc_character_extends_from_its_spike_to_the_next_ones():
    """Frames 0, 3 and 5 open the three characters of 10: each extends to the next
    one's first frame, the last as far as the mean spacing (2.5 frames)."""
    reading = reading_of([(0, 1), (3, 4), (5, 6)], 10, ctc=True)
    np.testing.assert_allclose(frame_extents(reading), [[0, 3], [3, 5], [5, 7.5]])
    np.testing.assert_allclose(span_centres(reading, 100), [15.0, 40.0, 62.5])


def test_a_right_to_left_reading_extends_each_character_leftwards_in_reading_order():
    """A right-to-left line (kraken's bidi order): its characters' frames run leftwards,
    so each extends to the next one to its right in the image, listed in reading order."""
    reading = reading_of([(5, 6), (3, 4), (0, 1)], 10, ctc=True)
    np.testing.assert_allclose(frame_extents(reading), [[5, 7.5], [3, 5], [0, 3]])


def test_a_ctc_character_is_placed_at_its_extent_not_at_its_spike():
    """Its map (the frame posterior) peaks on its spike; the timeline takes its extent."""
    maps = np.zeros((2, 1, 10))
    maps[0, 0, 0] = maps[1, 0, 5] = 1.0  # the spikes
    reading = reading_of([(0, 1), (5, 6)], 10, ctc=True)
    np.testing.assert_allclose(attention_centres(maps, reading), [2.5, 7.5])  # frames 0-5 and 5-10
    np.testing.assert_allclose(attention_centres(maps, reading_of([(0, 1), (5, 6)], 10)), [0.5, 5.5])


def test_frames_cover_the_model_input_padding_included():
    """40 model columns of which the image is the first 30 (10 of padding): the middles of
    frames 1 and 2 of 4 sit at model columns 15 and 25, at 30 and 50 px of a 60 px image
    (22.5 and 37.5 were the frames spread over the image alone)."""
    prepared = Prepared(torch.zeros(1, 1, 8, 40), (16, 60), (0, 0, 8, 30))
    reading = reading_of([(1, 2), (2, 3)], 4)
    np.testing.assert_allclose(span_centres(reading, 60, prepared), [30.0, 50.0])
    np.testing.assert_allclose(span_centres(reading, 60), [22.5, 37.5])


def _glyph_spans(image: np.ndarray) -> list[tuple[int, int]]:
    """`(left, right)` x of each glyph, left to right: the ink's connected components of
    more than 5 pixels (the glyphs of hello.png and price.png are drawn apart)."""
    ink = find_ink(image).mask.astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    return sorted((int(x), int(x + w)) for x, _, w, _, area in stats[1:] if area > 5)


@pytest.mark.parametrize("sample, text", [("hello.png", "hello"), ("price.png", "$42.50")])
def test_the_bundled_ctc_readers_characters_sit_in_the_middle_of_their_glyphs(sample, text):
    """Each character of a real reading is placed inside its glyph, in the glyph's middle
    half (its spike sits at the glyph's left edge: the 'h' of hello 11 px from its
    middle, 24 px wide)."""
    model, image = load_model("ctc-reader"), load_image(bundled_path("samples", sample))
    exp = SaliencyGenerator(model).explain(image, method="attention")
    glyphs = _glyph_spans(image)
    assert exp.reading.text == text and len(glyphs) == len(text)
    centres = attention_centres(exp.maps, exp.reading, image.shape[1], model.prepare(image))
    for centre, (left, right) in zip(centres, glyphs, strict=True):
        assert abs(centre - (left + right) / 2) <= (right - left) / 4, (centres, glyphs)
