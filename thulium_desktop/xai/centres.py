"""Where along the image each read character sits: the x the app's timeline places it at.

A character is placed at the centre of mass of its attention map, where the model
looked for it. A character whose map is empty, or a model without attention, falls
back to the middle of its alignment span (its CTC frame run or decoder step), the
frames spread evenly over the image's width. All x are in image pixels, in scene
coordinates: column c spans [c, c + 1).
"""

from __future__ import annotations

import numpy as np

from thulium_desktop.models.protocol import Reading
from thulium_desktop.xai.diagnostics import column_centres


def attention_centres(maps: np.ndarray, reading: Reading, image_width: int | None = None) -> np.ndarray:
    """x in image pixels of each character's attention centre of mass, from its map
    `[T, h, w]` (a column index plus half a cell); its span centre where the map is
    empty. Maps kept on a grid coarser than the image (`Explanation.maps`) give
    `image_width`: a cell is then `image_width / w` pixels wide."""
    width = maps.shape[-1] if image_width is None else image_width
    centres = (column_centres(maps) + 0.5) * (width / maps.shape[-1])
    empty = ~np.isfinite(centres)
    centres[empty] = span_centres(reading, width)[empty]
    return centres


def span_centres(reading: Reading, width: int) -> np.ndarray:
    """x of the middle of each character's alignment span `(start, stop)`, the reading's
    `n_frames` frames spread evenly over an image `width` pixels wide (for a model
    without attention, or a character whose map is empty)."""
    spans = np.asarray(reading.spans, np.float64).reshape(-1, 2)
    return spans.mean(axis=1) / max(reading.n_frames, 1) * width
