"""Synthetic images and maps for figure tests."""

import numpy as np


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
