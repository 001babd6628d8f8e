"""Real word images drawn by OpenCV, for tests that need ink on paper."""

from __future__ import annotations

import cv2
import numpy as np


def render_word(text: str = "minimum", height: int = 32, scale: float = 0.9) -> np.ndarray:
    """A real grayscale word image: dark ink on white paper, drawn by OpenCV."""
    width = int(22 * len(text) * scale) + 12
    img = np.full((height, width), 255, np.uint8)
    cv2.putText(img, text, (5, int(height * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, scale * height / 32, 0, 2, cv2.LINE_AA)
    return img
