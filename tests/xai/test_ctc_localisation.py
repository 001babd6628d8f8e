"""Localisation measured from a CTC character's whole extent, not its spike (issue 24).

The bundled ctc-reader spikes at a glyph's left edge: measured from the spike, a map
squarely on the 'h' of hello.png was 0.59 characters off its own character. What
decides is the reading (`Reading.ctc_alignment`), not the model's class: a user's own
CTC reader gets the extent rule by marking its readings. Attention maps stay measured
from the attention's centre."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from models.user_readers import UserReader

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


class OwnCTCReader(UserReader):
    """A user's own CTC reader, not a `CTCRecognizer`: it marks its readings as CTC
    alignments itself (or, `marks=False`, leaves them unmarked)."""

    def __init__(self, marks: bool = True) -> None:
        super().__init__(name="own-ctc-reader")
        self.marks = marks

    def read(self, x):
        return replace(super().read(x), ctc_alignment=self.marks)


def _glyph_box_offsets(model) -> list[float]:
    """How far, in characters, the Trust panel finds gradient maps that are boxes exactly
    over each glyph of hello.png (its ink's box) from the character they explain."""
    image = load_image(HELLO)
    config = SaliencyConfig(method="gradient")
    explanation = SaliencyGenerator(model, config).explain(image)
    boxes = _glyph_boxes(image)
    assert explanation.reading.text == "hello" and len(boxes) == 5
    maps = np.zeros_like(explanation.maps)
    for k, (x, y, w, h) in enumerate(boxes):
        maps[k, y : y + h, x : x + w] = 1.0
    report = trust_report(model, image, replace(explanation, maps=maps), config, curves=False)
    return [d.localisation_chars for d in report.diagnostics]


def test_a_map_on_each_glyph_of_a_ctc_reading_is_localised_on_it():
    """Under 0.3 character widths from the alignment (0.59 for the 'h' when measured
    from its spike): `CTCRecognizer`'s readings are marked as CTC alignments."""
    off = _glyph_box_offsets(load_model("ctc-reader"))
    assert max(off) < 0.3, off


def test_a_users_own_ctc_reader_gets_the_extent_rule_by_marking_its_readings():
    """The same maps, read by a reader that is no `CTCRecognizer`: marked, they are
    localised on their glyphs; unmarked, they are measured from the spike (attention),
    where the 'h' is over half a character off."""
    marked = _glyph_box_offsets(OwnCTCReader())
    assert max(marked) < 0.3, marked
    unmarked = _glyph_box_offsets(OwnCTCReader(marks=False))
    assert unmarked[0] > 0.5, unmarked


def test_an_attention_model_is_localised_against_its_own_attention():
    """An attention model's alignment stays its attention's centre: its own attention
    maps are exactly where it aligned each character."""
    model, image = load_model("attention-reader"), load_image(HELLO)
    config = SaliencyConfig(method="attention")
    explanation = SaliencyGenerator(model, config).explain(image)
    report = trust_report(model, image, explanation, config, curves=False)
    assert [d.localisation_px for d in report.diagnostics] == pytest.approx([0.0] * 5, abs=1e-6)
