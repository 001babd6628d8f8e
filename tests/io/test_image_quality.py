"""Images a model cannot read well are said (and still read): too small, blank, too
dark, too low in contrast; the bundled samples, which it reads, get no note."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from thulium_desktop.io.image_quality import image_quality_notes, input_height
from thulium_desktop.io.images import read_image

SAMPLES = sorted((Path(__file__).parents[2] / "resources" / "samples").glob("*.png"))
MODEL_HEIGHT = 32  # the bundled readers' input height


def sample(name: str = "hello.png") -> np.ndarray:
    return read_image(Path(SAMPLES[0]).parent / name).image


def test_there_are_samples_to_check():
    assert len(SAMPLES) >= 10


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_no_bundled_sample_gets_a_note(path):
    assert image_quality_notes(read_image(path).image, MODEL_HEIGHT) == []


def test_a_crop_lower_than_the_model_says_how_much_it_is_upscaled():
    crop = sample()[20:22, 40:43]
    notes = image_quality_notes(crop, MODEL_HEIGHT)
    assert notes[0] == "3×2 pixels: upscaled 16× to the model's 32-pixel height; the reading is a guess"


def test_a_slightly_low_image_is_said_to_blur_not_to_be_a_guess():
    image = sample()
    low = image[: MODEL_HEIGHT - 4]
    (note,) = image_quality_notes(low, MODEL_HEIGHT)
    assert note.startswith(f"{low.shape[1]}×28 pixels: upscaled 1.14×") and "blurred" in note


def test_without_a_known_model_height_the_size_is_not_judged():
    ink = sample()[20:22, 40:43].copy()
    ink[0, 0], ink[1, 2] = 0, 255  # a crop with ink and paper: nothing but its size to say
    assert len(image_quality_notes(ink, MODEL_HEIGHT)) == 1
    assert image_quality_notes(ink, None) == []


def test_a_blank_page_has_no_ink():
    page = np.full((64, 300), 247, np.uint8)
    page += np.random.default_rng(0).integers(0, 6, page.shape, dtype=np.uint8)  # scanner noise
    (note,) = image_quality_notes(page, MODEL_HEIGHT)
    assert note.startswith("blank: no ink")


def test_a_darkened_sample_is_too_dark():
    dark = (sample().astype(np.float32) * 0.2).astype(np.uint8)
    (note,) = image_quality_notes(dark, MODEL_HEIGHT)
    assert note.startswith("too dark: median grey")


def test_light_ink_on_black_is_not_called_dark():
    assert image_quality_notes(255 - sample(), MODEL_HEIGHT) == []


def test_a_washed_out_sample_is_low_in_contrast():
    washed = (200 + (sample().astype(np.float32) - 128) * 0.15).astype(np.uint8)
    (note,) = image_quality_notes(washed, MODEL_HEIGHT)
    assert note.startswith("low contrast: ink and paper differ by only")


def test_colour_and_16_bit_images_are_judged_by_their_grey_levels():
    dark = (sample().astype(np.float32) * 0.2).astype(np.uint8)
    as_colour = np.repeat(dark[:, :, None], 3, axis=2)
    as_16_bit = dark.astype(np.uint16) * 257
    assert image_quality_notes(as_colour, MODEL_HEIGHT) == image_quality_notes(dark, MODEL_HEIGHT)
    assert image_quality_notes(as_16_bit, MODEL_HEIGHT) == image_quality_notes(dark, MODEL_HEIGHT)


def test_a_huge_blank_scan_is_judged_on_a_subsample():
    assert image_quality_notes(np.full((3000, 4000), 250, np.uint8), MODEL_HEIGHT)[0].startswith("blank")


class _Reader:
    def __init__(self, height):
        self.height = height


@pytest.mark.parametrize(("model", "expected"), [(_Reader(32), 32), (_Reader(None), None), (object(), None),
                                                 (_Reader(0), None)])
def test_the_model_height_is_its_height_attribute_when_it_has_one(model, expected):
    assert input_height(model) == expected
