"""Where the timeline places each character: its attention centre, else its span's middle."""

from __future__ import annotations

import numpy as np
import pytest

from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.io.images import load_image
from thulium_desktop.models import load_model
from thulium_desktop.models.protocol import Reading
from thulium_desktop.xai.centres import attention_centres, span_centres
from thulium_desktop.xai.saliency import SaliencyGenerator


def reading_of(spans: list[tuple[int, int]], n_frames: int) -> Reading:
    n = len(spans)
    return Reading(tuple("ab"[: n]), tuple(range(1, n + 1)), np.ones(n, np.float32), tuple(spans), n_frames)


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
