"""Synthetic images and maps for figure tests, and fixtures shaped like the corpora:
a word (about 3:1) and a text line (about 19:1).

A module, not a conftest.py: tests elsewhere import helpers `from conftest`, which a
second conftest.py on the path would shadow.
"""

from pathlib import Path

import cv2
import numpy as np
import pytest

from thulium_desktop.models.protocol import Reading
from thulium_desktop.xai.saliency import Explanation, Timings


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


def explanation(image: np.ndarray, text: str, method: str = "integrated", **fields) -> Explanation:
    """An engine `Explanation` of every character of `text` over `image` (map i peaking
    over the i-th character), with the provenance a real one carries."""
    n = len(text)
    reading = Reading(tuple(text), tuple(range(n)), np.linspace(0.5, 0.9, n).astype(np.float32),
                      tuple((t, t + 1) for t in range(n)), n)
    values = dict(
        maps=bumps(image, n), tokens=tuple(text), token_indices=tuple(range(n)),
        confidences=reading.confidences, scores=np.ones(n, np.float32), deltas=None, reading=reading,
        signed=False, method=method, params={"method": method, "num_steps": 50, "layer": None},
        model="crnn", device="cpu", seed=None, batch_size=1, folded_batchnorms=0,
        timings=Timings(0.1, 0.2, 0.3),
    )
    return Explanation(**(values | fields))


SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
LINE_WORDS = ("recognition", "short-line", "capitals", "date", "price")


def bundled_line(height: int = 112, width: int = 2000) -> np.ndarray:
    """A `width` x `height` handwritten text line (the issue's 1998x112 is one), made of
    bundled sample words side by side, uint8 grayscale."""
    words = [cv2.imread(str(SAMPLES / f"{name}.png"), cv2.IMREAD_GRAYSCALE) for name in LINE_WORDS]
    gap = np.full((words[0].shape[0], 12), 255, np.uint8)
    joined = np.hstack([part for word in words for part in (word, gap)])
    scaled = cv2.resize(joined, (round(joined.shape[1] * height / joined.shape[0]), height),
                        interpolation=cv2.INTER_AREA)
    return scaled[:, :width]
