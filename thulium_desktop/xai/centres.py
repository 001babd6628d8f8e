"""Where along the image each read character sits: the x the app's timeline places it at,
and the alignment the Trust panel measures a gradient map's localisation from.

A character of a CTC reading (`Reading.ctc_alignment`) is placed at the middle of its
whole frame extent (`frame_extents`: from its spike to the next character's). Any other
character is placed at the centre of mass of its attention map, where the model looked
for it; one whose map is empty, or of a model without attention, falls back to the
middle of its alignment span (its decoder step). All x are in image pixels, in scene
coordinates: column c spans [c, c + 1).

Frames become image columns through the model input's geometry (`Prepared`): the frames
evenly cover the model input, padding included, and its content box is the image.
Without it the frames are spread evenly over the image's width, which is off by the
padding (a few columns at most, for a model that pads to its width stride).
"""

from __future__ import annotations

import numpy as np

from thulium_desktop.models.protocol import Prepared, Reading
from thulium_desktop.xai.diagnostics import column_centres


def attention_centres(
    maps: np.ndarray, reading: Reading, image_width: int | None = None, prepared: Prepared | None = None
) -> np.ndarray:
    """x in image pixels of each character: for a CTC reading the middle of its frame
    extent (`span_centres`: its frame posterior only spikes at the glyph's left edge);
    otherwise its attention centre of mass, from its map `[T, h, w]` (a column index plus
    half a cell), or its span centre where the map is empty. Maps kept on a grid coarser
    than the image (`Explanation.maps`) give `image_width`: a cell is then
    `image_width / w` pixels wide. `prepared` (the model input the reading was made
    from) places frames exactly (see the module docs)."""
    width = maps.shape[-1] if image_width is None else image_width
    spans = span_centres(reading, width, prepared)
    if reading.ctc_alignment:
        return spans
    centres = (column_centres(maps) + 0.5) * (width / maps.shape[-1])
    empty = ~np.isfinite(centres)
    centres[empty] = spans[empty]
    return centres


def span_centres(reading: Reading, width: int, prepared: Prepared | None = None) -> np.ndarray:
    """x of the middle of each character's alignment on an image `width` pixels wide:
    of its frame extent (`frame_extents`) for a CTC reading, else of its span
    `(start, stop)`; the reading's `n_frames` frames laid over the model input of
    `prepared`, or spread evenly over the image without it."""
    spans = frame_extents(reading) if reading.ctc_alignment else _spans(reading)
    fractions = spans.mean(axis=1) / max(reading.n_frames, 1)  # of the model input's width
    if prepared is None:
        return fractions * width
    _, left, _, content_width = prepared.content
    return (fractions * prepared.model_size[1] - left) / content_width * width


def frame_extents(reading: Reading) -> np.ndarray:
    """`[T, 2]` frames `(start, stop)` each CTC character covers: from its first frame to
    the next character's first frame; the last one as far as the line's mean spacing
    (at least its own run, at most the frames there are); a lone character its run.

    Why not the frame posterior (its spike): the bundled ctc-reader spikes at a glyph's
    left edge and leaves the rest of the glyph to blanks. Measured on 193 glyphs of 16
    words drawn in three Hershey faces that it reads correctly (each glyph's true centre
    from the glyph drawn alone), the mean distance from the glyph's centre in character
    widths (the glyph centres' spacing) is 0.41 for the spike's run, 0.41 for blanks
    shared half and half between neighbours, and 0.18 (90% under 0.33) from one spike to
    the next."""
    in_reading = _spans(reading)
    order = np.argsort(in_reading[:, 0], kind="stable")  # a right-to-left reading runs leftwards
    spans = in_reading[order]
    extents = spans.copy()
    if len(spans) > 1:
        extents[:-1, 1] = spans[1:, 0]
        spacing = (spans[-1, 0] - spans[0, 0]) / (len(spans) - 1)
        extents[-1, 1] = min(float(reading.n_frames), max(spans[-1, 1], spans[-1, 0] + spacing))
    in_reading_order = np.empty_like(extents)
    in_reading_order[order] = extents
    return in_reading_order


def _spans(reading: Reading) -> np.ndarray:
    return np.asarray(reading.spans, np.float64).reshape(-1, 2)
