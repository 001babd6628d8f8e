"""Image files and a stand-in model for CLI tests.

A module, not a conftest.py: tests elsewhere import helpers `from conftest`, which a
second conftest.py on the path would shadow.
"""

import cv2
import numpy as np
import pytest
from tiny_models import ALPHABET, tiny_crnn

from thulium_desktop.cli import recognizers
from thulium_desktop.models import CTCRecognizer
from thulium_desktop.models.user_models import ModelFormat, OpenedModel, summarize


def write_line(path, seed: int, width: int = 96) -> None:
    """A 32-pixel-high grayscale 'line' of random dark strokes on white."""
    rng = np.random.default_rng(seed)
    img = np.full((32, width), 255, np.uint8)
    img[8:24, 4 : width - 4] = rng.integers(0, 160, (16, width - 8))
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


@pytest.fixture
def tiny_model(monkeypatch):
    """`--model` resolves to a tiny random CRNN (named after the spec, to check it arrives)."""
    seen = []

    def load(spec, trust=False):
        seen.append(spec)
        recognizer = CTCRecognizer(tiny_crnn(), ALPHABET, height=32, name=f"tiny-{spec}")
        return OpenedModel(recognizer, summarize(recognizer, ModelFormat.STATE_DICT))

    monkeypatch.setattr(recognizers, "load_recognizer", load)
    return seen


@pytest.fixture
def corpus(tmp_path):
    """Two good images (one in a subfolder), a corrupt one, an empty one and a non-image."""
    root = tmp_path / "corpus"
    write_line(root / "a.png", 0)
    write_line(root / "sub" / "b.png", 1, width=128)
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not the rest of a png")
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("not an image, not even tried")
    return root
