"""Real handwriting: scikit-learn's 1,797 handwritten digits (43 writers) as digit strings.

Samples 0-1399 feed training; 1400-1796 are kept for evaluation, so the real-digit
error rate is measured on digits the reader never saw. The 8x8 scans are upscaled,
placed side by side with random gaps and jitter, and get the same paper/ink
treatment as the font renderings.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from thulium_desktop.training.synth import Sample, ink_to_paper

TRAIN_RANGE = range(0, 1400)
EVAL_RANGE = range(1400, 1797)


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    data = load_digits()
    return data.images.astype(np.float32) / 16.0, data.target.astype(np.int64)


def digit_string(split: str, rng: np.random.Generator, height: int = 32,
                 strength: float = 1.0) -> Sample:
    """A string of 1-8 real handwritten digits from the `train` or `eval` samples."""
    images, labels = _digits()
    pool = TRAIN_RANGE if split == "train" else EVAL_RANGE
    n = int(rng.integers(1, 9))
    picks = rng.integers(pool.start, pool.stop, size=n)
    cell = int(height * rng.uniform(0.7, 0.95))
    top_room = height - cell
    pieces, boxes, x = [], [], int(rng.integers(1, 6))
    canvas = np.zeros((height, x + n * (cell + 8) + 8), np.float32)
    for idx in picks:
        w = max(4, int(cell * rng.uniform(0.75, 1.05)))
        glyph = cv2.resize(images[idx], (w, cell), interpolation=cv2.INTER_CUBIC).clip(0, 1)
        y = int(rng.integers(0, top_room + 1))
        canvas[y : y + cell, x : x + w] = np.maximum(canvas[y : y + cell, x : x + w], glyph)
        ys, xs = np.nonzero(glyph > 0.3)
        boxes.append((x + xs.min(), y + ys.min(), x + xs.max() + 1, y + ys.max() + 1))
        x += w + int(rng.integers(-max(1, w // 6), max(2, w // 3)))
        x = max(x, 0)
        pieces.append(str(labels[idx]))
    canvas = canvas[:, : x + int(rng.integers(2, 8))]
    return Sample(
        ink_to_paper(canvas, rng, strength),
        "".join(pieces),
        np.asarray(boxes, np.float32),
        "sklearn-digits",
    )
