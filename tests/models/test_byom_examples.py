"""examples/margins_and_probabilities.py, opened through the plugin door: its `prepare`
override puts the word on paper with margins (upscaling capped) and maps come back
onto the image's own pixels; its probability outputs are taken as they are."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from thulium_desktop.io import load_image
from thulium_desktop.models import open_model
from thulium_desktop.xai.saliency import SaliencyGenerator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "margins_and_probabilities.py"
SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "capitals.png"
MARGIN, HEIGHT = 16, 64


@pytest.fixture(scope="module")
def recognizer():
    return open_model(EXAMPLE, trust=True)


def test_the_word_sits_on_paper_with_margins_and_maps_come_back_to_the_image(recognizer):
    image = load_image(SAMPLE)
    prepared = recognizer.prepare(image)
    x = prepared.tensor[0, 0]
    top, left, height, width = prepared.content
    assert x.shape[0] == HEIGHT and left == MARGIN and height <= HEIGHT - 2 * MARGIN
    paper = torch.ones_like(x, dtype=torch.bool)
    paper[top : top + height, left : left + width] = False
    assert torch.all(x[paper] == 1)  # margins and any stride padding: paper
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    back = prepared.to_image(prepared.tensor[0]).numpy()[0]
    assert back.shape == image.shape[:2]
    assert np.corrcoef(back.ravel(), gray.ravel().astype(np.float32))[0, 1] > 0.9  # the word, not the margin
    maps = SaliencyGenerator(recognizer).explain(image, method="gradient").maps
    assert maps.shape[1:] == image.shape[:2]


def test_upscaling_is_capped_at_twice(recognizer):
    small = np.full((10, 40), 255, np.uint8)
    small[3:7, 5:35] = 0
    _, _, height, width = recognizer.prepare(small).content
    assert (height, width) == (20, 80)


def test_probability_outputs_are_taken_as_they_are():
    """Confident probabilities stay confident: log-softmaxing them again would cap every
    confidence at e / (e + K - 1), under 0.1 for these 27 classes."""
    recognizer = open_model(EXAMPLE, trust=True)
    with torch.no_grad():
        recognizer.module.classify.weight.mul_(40)  # a stand-in for trained, confident weights
    x = recognizer.prepare(load_image(SAMPLE)).tensor
    reading = recognizer.read(x)
    assert recognizer.output_kind == "probabilities" and len(reading) > 0
    with torch.no_grad():
        best = recognizer.module(x)[:, 0].max(-1).values  # [T]: the network's own probabilities
    assert max(reading.confidences) > 0.5
    assert max(reading.confidences) <= float(best.max()) + 1e-6
