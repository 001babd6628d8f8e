"""Synthetic images and maps for figure tests, and fixtures shaped like the corpora:
a word (about 3:1) and a text line (about 19:1).

A module, not a conftest.py: tests elsewhere import helpers `from conftest`, which a
second conftest.py on the path would shadow.
"""

import numpy as np
import pytest


def ink_image(height: int, width: int) -> np.ndarray:
    """White paper with a dark stroke band in the middle, uint8 grayscale."""
    img = np.full((height, width), 250, np.uint8)
    img[height // 3 : 2 * height // 3, width // 10 : -width // 10] = 20
    return img


def bumps(image: np.ndarray, n: int) -> np.ndarray:
    """`n` maps `[n, H, W]`, map i peaking over the i-th n-th of the width."""
    h, w = image.shape[:2]
    xx = np.arange(w)[None, :].repeat(h, axis=0)
    centres = (np.arange(n) + 0.5) * w / n
    return np.exp(-((xx[None] - centres[:, None, None]) ** 2) / (2 * (w / n / 3) ** 2)).astype(np.float32)


@pytest.fixture
def word() -> np.ndarray:
    return ink_image(48, 150)


@pytest.fixture
def line() -> np.ndarray:
    return ink_image(64, 1200)
