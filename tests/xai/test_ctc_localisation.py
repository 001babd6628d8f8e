"""Localisation measured from a CTC character's whole extent, not its spike (issue 24).

The bundled ctc-reader spikes at a glyph's left edge: measured from the spike, a map
squarely on the 'h' of hello.png was 0.59 characters off its own character. Attention
maps stay measured from the attention's centre."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from thulium_desktop.io import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai.diagnostics import find_ink
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator
from thulium_desktop.xai.trust import trust_report

HELLO = Path(__file__).resolve().parents[2] / "resources" / "samples" / "hello.png"


def _glyph_boxes(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    """`(x, y, w, h)` of each glyph, left to right: the ink's connected components (the
    five letters of hello.png are drawn apart)."""
    ink = find_ink(image).mask.astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    return sorted(tuple(int(v) for v in box) for box in stats[1:, :4])


def test_a_map_on_each_glyph_of_a_ctc_reading_is_localised_on_it():
    """A gradient map that is a box exactly over each glyph (its ink's box) is centred
    on its character: under 0.3 character widths from the alignment (0.59 for the 'h'
    when measured from its spike)."""
    model, image = load_model("ctc-reader"), load_image(HELLO)
    config = SaliencyConfig(method="gradient")
    explanation = SaliencyGenerator(model, config).explain(image)
    boxes = _glyph_boxes(image)
    assert explanation.reading.text == "hello" and len(boxes) == 5
    maps = np.zeros_like(explanation.maps)
    for k, (x, y, w, h) in enumerate(boxes):
        maps[k, y : y + h, x : x + w] = 1.0
    report = trust_report(model, image, replace(explanation, maps=maps), config, curves=False)
    off = [d.localisation_chars for d in report.diagnostics]
    assert max(off) < 0.3, off


def test_an_attention_model_is_localised_against_its_own_attention():
    """An attention model's alignment stays its attention's centre: its own attention
    maps are exactly where it aligned each character."""
    model, image = load_model("attention-reader"), load_image(HELLO)
    config = SaliencyConfig(method="attention")
    explanation = SaliencyGenerator(model, config).explain(image)
    report = trust_report(model, image, explanation, config, curves=False)
    assert [d.localisation_px for d in report.diagnostics] == pytest.approx([0.0] * 5, abs=1e-6)
