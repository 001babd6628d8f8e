"""A line of random dark strokes on paper: an input where a tiny random CRNN reads several
characters with middling confidence, shared by the tests that need such a line."""

from __future__ import annotations

import numpy as np


def random_stroke_line(seed: int = 5, height: int = 32, width: int = 120) -> np.ndarray:
    """`[height, width]` uint8: white paper, a 6 px margin at each side and top and bottom,
    random grays 0-149 in between (seeded: the same line on every call)."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width), 255, np.uint8)
    img[6 : height - 6, 6 : width - 6] = rng.integers(0, 150, (height - 12, width - 12))
    return img
