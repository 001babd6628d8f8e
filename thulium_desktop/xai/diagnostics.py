"""Measured interpretation of a map: where its mass lies relative to the ink.

The seed documentation's interpretation table, turned into numbers:

- **stroke focus**: share of the map's mass on ink pixels (ink found by Otsu's
  threshold on the grayscale image). A map that ignored the image would score the
  ink's share of the image; a map on the strokes scores near 1.
- **spread**: the smallest share of the image's pixels that holds 80% of the mass
  (0 = one pixel, 0.8 = perfectly uniform).
- **background activation**: mass outside the text region (the ink's bounding box,
  grown by a quarter of the image height on each side).
- **localisation**: horizontal distance of the map's centre of mass from where the
  model aligned the character (the centre of its attention or CTC posterior), in
  pixels and in character widths (image width / number of characters).

Labels (thresholds are module constants, documented and tested):
  background activation >= 0.4           -> "background activation" (noise sensitivity)
  else stroke focus >= focus_threshold() -> "focused on strokes" (good feature learning)
  else                                   -> "scattered" (possible confusion)

The focus threshold is relative to the ink's share of the text region, because that
is what a map spread over the text but blind to its strokes scores: 1.5 times it (half again as much mass on ink as
chance), and never more than halfway from that share to 1 (for ink-heavy images).
An absolute threshold (0.5 was tried) called nearly every map of the bundled readers
"scattered" on word images whose ink covers about a fifth of the pixels, which told
the user nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from thulium_desktop.io.images import to_unit_gray

BACKGROUND_THRESHOLD = 0.4
FOCUS_LIFT = 1.5
SPREAD_MASS = 0.8

LABEL_FOCUSED = "focused on strokes"
LABEL_SCATTERED = "scattered"
LABEL_BACKGROUND = "background activation"
MEANINGS = {
    LABEL_FOCUSED: "good feature learning",
    LABEL_SCATTERED: "possible confusion",
    LABEL_BACKGROUND: "noise sensitivity",
}


@dataclass(frozen=True)
class MapDiagnostics:
    """The measured interpretation of one character's map."""

    stroke_focus: float
    ink_share: float  # the ink's share of the text region: what a map blind to strokes scores
    spread: float
    background: float
    localisation_px: float | None
    localisation_chars: float | None
    label: str

    @property
    def meaning(self) -> str:
        return MEANINGS[self.label]

    def as_dict(self) -> dict:
        return {**asdict(self), "meaning": self.meaning}


def ink_mask(image: np.ndarray) -> np.ndarray:
    """Boolean ink pixels by Otsu's threshold (dark ink on light paper); none on a blank page."""
    gray = (to_unit_gray(image) * 255).round().astype(np.uint8)
    if int(gray.max()) - int(gray.min()) < 16:
        return np.zeros(gray.shape, bool)
    threshold, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return gray <= threshold


def text_region(ink: np.ndarray) -> np.ndarray:
    """The ink's bounding box grown by a quarter of the height; the whole image if no ink."""
    if not ink.any():
        return np.ones(ink.shape, bool)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    margin = max(1, ink.shape[0] // 4)
    region = np.zeros(ink.shape, bool)
    region[max(0, rows[0] - margin) : rows[-1] + margin + 1, max(0, cols[0] - margin) : cols[-1] + margin + 1] = True
    return region


def map_diagnostics(
    saliency: np.ndarray,
    ink: np.ndarray,
    expected_x: float | None = None,
    char_width: float | None = None,
    region: np.ndarray | None = None,
) -> MapDiagnostics:
    """Diagnostics of one `[H, W]` map against the image's ink mask (see module docs);
    `region`, the ink's `text_region`, when the caller has it for many maps."""
    region = text_region(ink) if region is None else region
    mass = np.abs(np.asarray(saliency, np.float64))
    total = mass.sum()
    if total <= 0 or not np.isfinite(total):
        return MapDiagnostics(0.0, float(ink[region].mean()), 0.0, 0.0, None, None, LABEL_SCATTERED)
    mass = mass / total
    focus = float(mass[ink].sum())
    background = float(mass[~region].sum())
    ordered = np.sort(mass.ravel())[::-1]
    spread = float((np.searchsorted(np.cumsum(ordered), SPREAD_MASS) + 1) / ordered.size)
    loc_px = loc_chars = None
    if expected_x is not None:
        centre = float((mass.sum(axis=0) * np.arange(mass.shape[1])).sum())
        loc_px = abs(centre - expected_x)
        loc_chars = loc_px / char_width if char_width else None
    share = float(ink[region].mean())
    return MapDiagnostics(focus, share, spread, background, loc_px, loc_chars, _label(focus, share, background))


def focus_threshold(ink_share: float) -> float:
    """The stroke focus from which a map counts as focused on strokes (see module docs)."""
    return min(FOCUS_LIFT * ink_share, 0.5 * (1.0 + ink_share))


def _label(focus: float, ink_share: float, background: float) -> str:
    if background >= BACKGROUND_THRESHOLD:
        return LABEL_BACKGROUND
    if ink_share > 0 and focus >= focus_threshold(ink_share):
        return LABEL_FOCUSED
    return LABEL_SCATTERED


def column_centres(attention_maps: np.ndarray) -> np.ndarray:
    """Centre of mass along x of each `[T, H, W]` map: where each character was aligned."""
    profile = np.abs(np.asarray(attention_maps, np.float64)).sum(axis=1)  # [T, W]
    weight = profile.sum(axis=1)
    cols = np.arange(profile.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        centres = (profile * cols).sum(axis=1) / weight
    return np.where(weight > 0, centres, np.nan)


def explanation_diagnostics(
    image: np.ndarray, maps: np.ndarray, centres: np.ndarray | None = None
) -> list[MapDiagnostics]:
    """Diagnostics for each of `maps` `[T, H, W]`, localised against `centres` (pixels)."""
    ink = ink_mask(image)
    region = text_region(ink)  # the same for every character's map
    width = image.shape[1] / max(1, len(maps))
    out = []
    for t, m in enumerate(maps):
        expected = None if centres is None or not np.isfinite(centres[t]) else float(centres[t])
        out.append(map_diagnostics(m, ink, expected, width, region))
    return out
