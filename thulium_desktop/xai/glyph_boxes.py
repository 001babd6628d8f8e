"""Where each read character sits on its line, as a box: the `Glyph` coordinates written
back into PAGE-XML and ALTO (issue 22). All boxes are `(x0, y0, x1, y1)`, ends
exclusive, in line-image pixels.

From an explanation's per-character maps (`glyph_boxes`), a character's box is the
box that holds most of its map's mass. The magnitude counts (a signed attribution's
negative evidence marks the character's place as much as its positive evidence):

- columns: the narrowest run of whole columns that contains the map's peak column (the
  column of largest mass, summed over rows) and at least `MASS_SHARE` of the map's mass;
- rows: the ink rows of the line image within those columns (`diagnostics.ink_mask`), or
  the line's full height where those columns hold no ink.

A character whose map is empty gets the columns of its alignment span (its CTC frame
run or decoder step, the frames spread evenly over the width).

A line read but not explained has no such maps. Its boxes (`tiled_boxes`) come from the
recognizer's own attention (a CTC reader's per-frame class posteriors between its
neighbours' runs, an attention reader's attention weights), placed where the app's
timeline places the characters (`centres.attention_centres`: the attention's centre of
mass, the alignment span's middle where a map is empty or the model has no attention):
the columns from halfway to the previous character's centre to halfway to the next's
(the line's first and last ink columns at the ends), the rows as above. Attention is
spread too thin for the mass rule (its peaks are narrow spikes), but its centres are
where the characters are (`benchmarks/glyph_boxes.py` measures both rules).
"""

from __future__ import annotations

import numpy as np
import torch

from thulium_desktop.models.protocol import Reading, Recognizer
from thulium_desktop.xai.centres import attention_centres
from thulium_desktop.xai.diagnostics import ink_mask
from thulium_desktop.xai.saliency import Explanation

#: The share of a character's map mass its box's columns must hold: half, so that a
#: box follows the bulk of the evidence rather than its tails, which for gradient maps
#: spread over the neighbouring letters (0.4 and 0.6 gave a lower mean IoU with the true boxes).
MASS_SHARE = 0.5
#: The method whose maps are the recognizer's own attention: tiled, as for a line read
#: without explaining.
ATTENTION_METHOD = "attention"


def glyph_boxes(maps: np.ndarray, image: np.ndarray, reading: Reading, share: float = MASS_SHARE) -> np.ndarray:
    """`[T, 4]` boxes `(x0, y0, x1, y1)` (ends exclusive, line-image pixels) of the T read
    characters from their maps `[T, h, w]`, which may lie on a grid coarser than
    `image` (`Explanation.maps`): a cell is then `W / w` pixels wide."""
    if len(maps) != len(reading):
        raise ValueError(f"{len(maps)} maps for a reading of {len(reading)} characters")
    height, width = image.shape[:2]
    ink = ink_mask(image)
    spans = span_columns(reading, width)
    boxes = np.empty((len(reading), 4), np.float64)
    for t, character_map in enumerate(np.abs(np.nan_to_num(np.asarray(maps, np.float64)))):
        profile = character_map.sum(axis=0)
        if profile.sum() > 0:
            a, b = mass_interval(profile, share)
            x0, x1 = a * width / profile.size, b * width / profile.size
        else:
            x0, x1 = spans[t]
        y0, y1 = _ink_rows(ink, x0, x1, height)
        boxes[t] = (x0, y0, x1, y1)
    return boxes


def mass_interval(profile: np.ndarray, share: float = MASS_SHARE) -> tuple[int, int]:
    """`(a, b)`: the narrowest run of indices `a..b-1` of a non-negative `profile` that
    contains its peak and at least `share` of its sum (the leftmost of equally narrow ones)."""
    cum = np.concatenate([[0.0], np.cumsum(profile)])
    peak = int(np.argmax(profile))
    need = share * cum[-1]
    starts = np.arange(peak + 1)
    # the first end b with cum[b] - cum[a] >= need, for every start a up to the peak
    ends = np.searchsorted(cum, cum[starts] + need * (1 - 1e-12), side="left")
    ends = np.maximum(ends, peak + 1)
    valid = ends <= profile.size
    best = int(np.argmin(np.where(valid, ends - starts, np.iinfo(np.int64).max)))
    return int(starts[best]), int(ends[best])


def span_columns(reading: Reading, width: int) -> np.ndarray:
    """`[T, 2]` columns `(x0, x1)` of each character's alignment span, the reading's
    `n_frames` spread evenly over `width` pixels."""
    spans = np.asarray(reading.spans, np.float64).reshape(-1, 2)
    return spans * width / max(reading.n_frames, 1)


def _ink_rows(ink: np.ndarray, x0: float, x1: float, height: int) -> tuple[float, float]:
    """`(y0, y1)`: the first and past-the-last ink rows between columns x0 and x1, or the
    full height where they hold no ink."""
    columns = ink[:, int(np.floor(x0)):max(int(np.ceil(x1)), int(np.floor(x0)) + 1)]
    rows = np.nonzero(columns.any(axis=1))[0]
    return (0.0, float(height)) if rows.size == 0 else (float(rows[0]), float(rows[-1] + 1))


def tiled_boxes(maps: np.ndarray, image: np.ndarray, reading: Reading) -> np.ndarray:
    """`[T, 4]` boxes of the T read characters that tile the line between their maps'
    centres of mass (see the module's docs); `maps` `[T, h, w]` as for `glyph_boxes`."""
    centres = attention_centres(np.abs(np.nan_to_num(np.asarray(maps, np.float64))), reading, image.shape[1])
    return boxes_between_centres(centres, image)


def boxes_between_centres(centres: np.ndarray, image: np.ndarray) -> np.ndarray:
    """`[T, 4]` boxes of T characters placed at `centres` (x in image pixels, as the app's
    timeline places them): each from halfway to its left neighbour's centre to halfway
    to its right neighbour's (the line's first and last ink columns at the ends), its
    rows the ink between those columns. Left to right whatever the reading direction."""
    height, width = image.shape[:2]
    centres = np.asarray(centres, np.float64)
    boxes = np.empty((len(centres), 4), np.float64)
    if len(centres) == 0:
        return boxes
    ink = ink_mask(image)
    columns = np.nonzero(ink.any(axis=0))[0]
    left, right = (float(columns[0]), float(columns[-1] + 1)) if columns.size else (0.0, float(width))
    order = np.argsort(centres, kind="stable")
    ranked = centres[order]
    edges = np.concatenate([[min(left, ranked[0])], (ranked[1:] + ranked[:-1]) / 2, [max(right, ranked[-1])]])
    for k, t in enumerate(order):
        x0, x1 = edges[k], max(edges[k + 1], edges[k] + 1.0)
        y0, y1 = _ink_rows(ink, x0, x1, height)
        boxes[t] = (x0, y0, x1, y1)
    return boxes


def reading_glyph_boxes(recognizer: Recognizer, image: np.ndarray, reading: Reading,
                        explanation: Explanation | None = None) -> np.ndarray:
    """`[T, 4]` glyph boxes of `reading` on `image` (see the module's docs): from
    `explanation`'s maps when it explains every character one by one (tiled when they
    are the attention method's), else tiled between the recognizer's attention centres."""
    if len(reading) == 0:
        return np.zeros((0, 4))
    if explanation is None or not _explains_each(explanation, reading):
        return tiled_boxes(attention_maps(recognizer, image, reading), image, reading)
    if explanation.method == ATTENTION_METHOD:
        return tiled_boxes(explanation.maps, image, reading)
    return glyph_boxes(explanation.maps, image, reading)


def _explains_each(explanation: Explanation, reading: Reading) -> bool:
    return not explanation.whole_reading and tuple(explanation.token_indices) == tuple(range(len(reading)))


def attention_maps(recognizer: Recognizer, image: np.ndarray, reading: Reading) -> np.ndarray:
    """`[T, H, W]` the recognizer's attention for each character of `reading` on the
    image's pixels; all zeros (so the spans are used) for a model without attention."""
    prepared = recognizer.prepare(image)
    with torch.no_grad():
        attention = recognizer.attention(prepared.tensor, reading)
    if attention is None:
        return np.zeros((len(reading), 1, 1))
    return prepared.to_image(attention.float()).cpu().numpy()
