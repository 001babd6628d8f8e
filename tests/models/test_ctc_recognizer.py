"""CTCRecognizer on hand-made logits: decoding, scores, attention and preparation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from thulium_desktop.models import CTCRecognizer, Recognizer
from word_images import render_word

ALPHABET = "abc"
# frames:       0  1  2  3  4  5  6  7
FRAME_CLASS = [0, 1, 1, 0, 1, 2, 2, 3]  # blank a a blank a b b c  ->  "aabc"


class FixedLogits(nn.Module):
    """Returns preset logits (one frame per 4 input columns), scaled by the input's mean."""

    def __init__(self, time_major: bool = False) -> None:
        super().__init__()
        logits = torch.full((len(FRAME_CLASS), 4), -3.0)
        logits[torch.arange(len(FRAME_CLASS)), torch.tensor(FRAME_CLASS)] = 3.0
        self.register_buffer("logits", logits)
        self.time_major = time_major

    def forward(self, x):
        out = self.logits[None] * x.mean(dim=(1, 2, 3))[:, None, None] * 2
        return out.transpose(0, 1) if self.time_major else out


@pytest.fixture
def image():
    return np.full((16, 32), 255, np.uint8)


@pytest.mark.parametrize("time_major", [False, True])
def test_greedy_decoding_keeps_frame_runs(image, time_major):
    rec = CTCRecognizer(FixedLogits(time_major), ALPHABET, 16, time_major=time_major)
    assert isinstance(rec, Recognizer)
    reading = rec.read(rec.prepare(image).tensor)
    assert reading.text == "aabc"
    assert reading.spans == ((1, 3), (4, 5), (5, 7), (7, 8))
    assert reading.labels == (1, 1, 2, 3) and reading.n_frames == 8
    p = np.exp(6.0) / (np.exp(6.0) + 3 * np.exp(-6.0))
    np.testing.assert_allclose(reading.confidences, p, rtol=1e-5)


def test_scores_sum_each_run(image):
    rec = CTCRecognizer(FixedLogits(), ALPHABET, 16)
    x = rec.prepare(image).tensor
    reading = rec.read(x)
    logp = torch.log_softmax(FixedLogits().logits * 2, dim=-1)
    expected = [logp[1:3, 1].sum(), logp[4, 1], logp[5:7, 2].sum(), logp[7, 3]]
    scores = rec.token_scores(torch.cat([x, x]), reading)
    assert scores.shape == (2, 4)
    np.testing.assert_allclose(scores[1].numpy(), torch.stack(expected).numpy(), rtol=1e-6)
    logits = rec.token_scores(x, reading, "logit")
    np.testing.assert_allclose(logits[0].numpy(), [12.0, 6.0, 12.0, 6.0])
    probs = rec.token_scores(x, reading, "prob")
    p = logp.exp()
    np.testing.assert_allclose(probs[0].numpy(), [p[1:3, 1].sum(), p[4, 1], p[5:7, 2].sum(), p[7, 3]], rtol=1e-6)
    with pytest.raises(ValueError, match="score must be one of"):
        rec.token_scores(x, reading, "energy")


def test_attention_gives_each_character_its_own_window(image):
    rec = CTCRecognizer(FixedLogits(), ALPHABET, 16)
    x = rec.prepare(image).tensor
    reading = rec.read(x)
    att = rec.attention(x, reading)
    assert att.shape == (4, 1, 8)
    # the first 'a' sees frames before the second a's run only; the second 'a' not the first run
    assert att[0, 0, 4:].sum() == 0 and att[0, 0, 1:3].min() > 0.9
    assert att[1, 0, :3].sum() == 0 and att[1, 0, 4] > 0.9


def test_wrong_class_count_is_explained(image):
    rec = CTCRecognizer(FixedLogits(), "abcdef", 16)
    with pytest.raises(ValueError, match="4 classes but the alphabet needs 7"):
        rec.read(rec.prepare(image).tensor)


def test_preparation_keeps_pixels_when_the_height_matches(word_image, recognizer):
    p = recognizer.prepare(word_image)
    np.testing.assert_array_equal(p.tensor[0, 0].numpy(), word_image.astype(np.float32) / 255)
    assert p.to_image(p.tensor[0]).shape == (1, *word_image.shape)


def test_preparation_scales_to_the_height_keeping_aspect(recognizer):
    tall = np.full((64, 300), 255, np.uint8)
    p = recognizer.prepare(tall)
    assert tuple(p.tensor.shape) == (1, 1, 32, 150)
    maps = torch.rand(3, 32, 150)
    assert tuple(p.to_image(maps).shape) == (3, 64, 300)


def test_constructor_checks():
    with pytest.raises(ValueError, match="repeats"):
        CTCRecognizer(FixedLogits(), "aab", 16)
    with pytest.raises(ValueError, match="blank"):
        CTCRecognizer(FixedLogits(), "abc", 16, blank=9)


def test_width_stride_pads_with_paper_and_maps_come_back_on_the_image():
    """A model pooling 4 columns into a frame would drop the last partial strip: padded
    with paper, every image column is read, and maps crop the padding off again."""
    rec = CTCRecognizer(FixedLogits(), ALPHABET, 16, width_stride=4)
    ink = np.zeros((16, 30), np.uint8)
    p = rec.prepare(ink)
    assert tuple(p.tensor.shape) == (1, 1, 16, 32) and p.content == (0, 0, 16, 30)
    assert torch.all(p.tensor[..., 30:] == 1.0) and torch.all(p.tensor[..., :30] == 0.0)
    assert tuple(p.to_image(torch.rand(2, 16, 32)).shape) == (2, 16, 30)
    as_tensor = rec.prepare(torch.zeros(1, 1, 16, 30))
    assert tuple(as_tensor.tensor.shape) == (1, 1, 16, 32) and as_tensor.content == (0, 0, 16, 30)
    assert tuple(rec.prepare(np.zeros((16, 32), np.uint8)).tensor.shape) == (1, 1, 16, 32)
    assert CTCRecognizer(FixedLogits(), ALPHABET, 16, width_stride=np.int64(4)).width_stride == 4
    for bad in (0, 2.5, "4", True):
        with pytest.raises(ValueError, match="width_stride"):
            CTCRecognizer(FixedLogits(), ALPHABET, 16, width_stride=bad)


def test_flattening_the_paper_is_an_explicit_option_that_reads_slides():
    """A user's CTC model gets its pixels untouched unless its description asks for
    flattening; asked, light ink on dark paper reaches the model as dark on white (the
    bundled ctc reader's network reads it then, and misreads it without), and maps still
    come back on every pixel of the image."""
    from thulium_desktop.models import load_model

    bundled = load_model("ctc-reader")
    slide = 255 - cv2.resize(render_word("minimum"), None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    as_given = CTCRecognizer(bundled.module, bundled.alphabet, 32, width_stride=4)
    flattening = CTCRecognizer(bundled.module, bundled.alphabet, 32, width_stride=4, flatten_paper=True)
    assert not as_given.flatten_paper and flattening.flatten_paper
    untouched = as_given.prepare(slide)
    assert untouched.tensor[0, 0, :, : untouched.content[3]].mean() < 0.5  # still light on dark
    assert as_given.read(untouched.tensor).text.strip() != "minimum"
    flat = flattening.prepare(slide)
    assert flat.tensor[0, 0].mean() > 0.5 and flat.content == untouched.content
    assert flattening.read(flat.tensor).text.strip() == "minimum"
    assert tuple(flat.to_image(flat.tensor[0]).shape) == (1, *slide.shape)
