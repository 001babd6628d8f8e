"""Measured interpretation of a map: where its mass lies relative to the ink and to the
character's place, and the verdict those measures support (or why there is none).

**The ink** (`find_ink`). A photograph has a vignette and uneven light, a slide has
white ink on black, paper has grain and colour; a global threshold on darkness calls a
dark margin "ink" (issue 23: 45% of a photo was "ink", and a map on the margin read
"focused on strokes"). So:

1. *polarity*: strokes are thin, so against a large median filter (the local
   background) ink deviates one way and nothing much deviates the other way; which
   way decides dark-on-light or light-on-dark, and neither clearly means undecided;
2. *background flattening*: the image, turned dark-ink-on-light, is divided by its
   morphological closing (strokes narrower than the kernel vanish from it, a vignette
   and a light gradient stay), so paper is about 1 everywhere;
3. *Sauvola's locally adaptive threshold* on the flattened image, and ink must also be
   darker than its local background by a share of the image's range (no "ink" in a
   corner too dark to hold any);
4. *connected components*: specks are dropped, and so are large, filled blobs that
   touch the border (the remains of a vignette), and blobs too thick to be strokes;
   the text region is the kept components' box grown by half the text's height.

**The measures** of one map (all are computed for every map):

- stroke focus: share of the map's mass on ink; a map blind to the strokes but spread
  over the text scores the ink's share of the text region;
- spread: the smallest share of the pixels holding 80% of the mass;
- background: mass outside the text region;
- localisation: horizontal distance of the map's centre of mass from where the model
  aligned the character (for a CTC model's gradient maps, the middle of the character's
  frame extent, from its spike to the next character's, see `xai/trust.py`; otherwise its
  attention's centre), in pixels and character widths
  (the text's width / the number of characters read);
- column mass: share of the mass in the character's columns (a band one character
  width wide around the alignment).

**Verdicts per method family** (`Method.gradients` in the registry):

- gradient maps (gradient, integrated, SmoothGrad, GradCAM, …) are judged against the
  ink: background >= 0.4 -> "background activation" (noise sensitivity); else stroke
  focus >= `focus_threshold` -> "focused on strokes" (good feature learning); else
  "scattered" (possible confusion). The focus threshold is 1.5 times the ink's share
  of the text region (half again as much mass on ink as chance), never more than
  halfway from that share to 1; an absolute 0.5 called nearly every map of the bundled
  readers scattered on word images whose ink is a fifth of the pixels;
- attention is a column band over the line, so it always covers paper: stroke focus
  says nothing about it. It is judged by where it is: more than half a character
  width from the alignment -> "off its character" (misalignment); else at least half
  its mass in the character's columns -> "on its character"; else "beyond its
  character" (spread over its neighbours: possible confusion).

**Withheld**: a verdict the measures cannot support is not given (`label` None) and
`withheld` says why: ink not understood (blank image, polarity undecided, no strokes,
or ink on more than a third of the image), an empty map, or no alignment for an
attention map.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from thulium_desktop.io.images import to_unit_gray
from thulium_desktop.io.paper import (  # noqa: F401 (DARK_ON_LIGHT, LIGHT_ON_DARK, ink_polarity: this module's API too)
    DARK_ON_LIGHT,
    LIGHT_ON_DARK,
    MIN_RANGE,
    ink_polarity,
    paper_background,
)
from thulium_desktop.render.overlay import fit_map

BACKGROUND_THRESHOLD = 0.4
FOCUS_LIFT = 1.5
SPREAD_MASS = 0.8
#: Attention: at least this share of its mass in the character's columns is "on" it.
COLUMN_MASS_THRESHOLD = 0.5
#: Attention centred farther than this (character widths) from the alignment is off it.
LOCALISATION_LIMIT = 0.5
#: Ink on more of the image than this is not ink that can be told from the background.
MAX_INK_SHARE = 1 / 3

FAMILY_GRADIENT = "gradient"
FAMILY_ATTENTION = "attention"

LABEL_FOCUSED = "focused on strokes"
LABEL_SCATTERED = "scattered"
LABEL_BACKGROUND = "background activation"
LABEL_ON_CHARACTER = "on its character"
LABEL_BEYOND_CHARACTER = "beyond its character"
LABEL_OFF_CHARACTER = "off its character"
#: The verdicts each family can get, good first.
LABELS = {
    FAMILY_GRADIENT: (LABEL_FOCUSED, LABEL_SCATTERED, LABEL_BACKGROUND),
    FAMILY_ATTENTION: (LABEL_ON_CHARACTER, LABEL_BEYOND_CHARACTER, LABEL_OFF_CHARACTER),
}
#: What a withheld verdict is called where verdicts are counted or shown.
NO_VERDICT = "no verdict"
MEANINGS = {
    LABEL_FOCUSED: "good feature learning",
    LABEL_SCATTERED: "possible confusion",
    LABEL_BACKGROUND: "noise sensitivity",
    LABEL_ON_CHARACTER: "it looks where the character is",
    LABEL_BEYOND_CHARACTER: "spread over its neighbours, possible confusion",
    LABEL_OFF_CHARACTER: "centred away from its alignment, misalignment",
}

WITHHELD_BLANK = "the image is blank: there is no ink to judge the map against"
WITHHELD_POLARITY = "ink and paper could not be told apart (neither clearly dark on light nor light on dark)"
WITHHELD_NO_TEXT = "no clear text region: no strokes were found"
WITHHELD_EMPTY_MAP = "the map is zero everywhere"
WITHHELD_NO_ALIGNMENT = "attention is judged against the character's alignment, and this map has none"

#: Sauvola's k and R (for images in [0, 1]). k = 0.4 (0.2 is usual for scans): measured
#: on the labelled trust cases (tests/xai/trust_cases.py) and the bundled samples, 0.2
#: broke strokes of a vignetted photo, higher values fattened faint strokes.
SAUVOLA_K = 0.4
SAUVOLA_R = 0.5
#: Ink is darker than its local background by at least this share of the image's range.
MIN_INK_CONTRAST = 0.2
#: A border blob this filled (area / its box) and this large (share of the image) is
#: a vignette's remains, not a stroke (strokes are thin: they fill little of their box).
BLOB_FILL = 0.5
BLOB_SHARE = 0.05
#: A stroke is at most this share of the image's shorter side thick (a word image's
#: strokes are a tenth of its height or less; a lit oval, a shadow, are not strokes).
MAX_STROKE = 0.25


@dataclass(frozen=True)
class Ink:
    """The strokes of an image, its text region, and whether ink-based verdicts can rest on them."""

    mask: np.ndarray  # bool [H, W]: the kept strokes
    region: np.ndarray  # bool [H, W]: the text region (the whole image when none was found)
    polarity: str | None  # DARK_ON_LIGHT, LIGHT_ON_DARK, or None when undecided
    withheld: str | None  # why no verdict can rest on this ink (None: it can)

    @property
    def share(self) -> float:
        """The ink's share of the text region: what a map blind to the strokes scores."""
        return float(self.mask[self.region].mean())


@dataclass(frozen=True)
class MapDiagnostics:
    """The measured interpretation of one character's map, and its verdict or why none."""

    family: str  # FAMILY_GRADIENT or FAMILY_ATTENTION: which measures decide the verdict
    stroke_focus: float
    ink_share: float  # the ink's share of the text region: what a map blind to strokes scores
    spread: float
    background: float
    localisation_px: float | None
    localisation_chars: float | None
    column_mass: float | None  # share of the mass in the character's columns (needs an alignment)
    label: str | None  # the verdict; None when withheld
    withheld: str | None  # why there is no verdict (None when there is one)

    @property
    def meaning(self) -> str:
        return MEANINGS[self.label] if self.label is not None else ""

    def as_dict(self) -> dict:
        return {**asdict(self), "meaning": self.meaning}


def find_ink(image: np.ndarray) -> Ink:
    """The strokes and text region of `image` (see module docs)."""
    gray = to_unit_gray(image).astype(np.float32)
    lo, hi = np.percentile(gray, [1, 99])
    if hi - lo < MIN_RANGE:
        return _no_ink(gray.shape, None, WITHHELD_BLANK)
    polarity = ink_polarity(gray, float(hi - lo))
    if polarity is None:
        return _no_ink(gray.shape, None, WITHHELD_POLARITY)
    paper = gray if polarity == DARK_ON_LIGHT else 1.0 - gray
    background = paper_background(paper)
    flat = _stretch(np.clip(paper / np.maximum(background, 1e-3), 0.0, 1.0))
    dark = (flat < _sauvola_threshold(flat, _window(gray.shape))) & (background - paper >= MIN_INK_CONTRAST * (hi - lo))
    mask = text_components(dark)
    if not mask.any():
        return _no_ink(gray.shape, polarity, WITHHELD_NO_TEXT)
    share = float(mask.mean())
    withheld = None
    if share > MAX_INK_SHARE:
        withheld = (f"the ink mask covers {share:.0%} of the image (more than a third): "
                    "ink cannot be told from background")
    return Ink(mask, text_region(mask), polarity, withheld)


def ink_mask(image: np.ndarray) -> np.ndarray:
    """Boolean stroke pixels of `image` (`find_ink`); none on a blank page."""
    return find_ink(image).mask


def _no_ink(shape: tuple[int, ...], polarity: str | None, why: str) -> Ink:
    return Ink(np.zeros(shape, bool), np.ones(shape, bool), polarity, why)


def _window(shape: tuple[int, ...]) -> int:
    """Sauvola's window: a few stroke widths, a quarter of the shorter side, odd."""
    return max(11, min(shape) // 4) | 1


def _stretch(flat: np.ndarray) -> np.ndarray:
    """The flattened image spread over [0, 1] from its darkest percent up: Sauvola's R
    assumes ink near 0, and faint ink on grey paper is far from it."""
    lo = float(np.percentile(flat, 1))
    return np.clip((flat - lo) / max(1.0 - lo, MIN_RANGE), 0.0, 1.0)


def _sauvola_threshold(image: np.ndarray, window: int) -> np.ndarray:
    """Sauvola's threshold m·(1 + k·(s/R − 1)) from each pixel's window mean m and
    deviation s (box filters: integral images)."""
    x = image.astype(np.float64)
    mean = cv2.boxFilter(x, -1, (window, window), borderType=cv2.BORDER_REFLECT)
    sq = cv2.boxFilter(x * x, -1, (window, window), borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.clip(sq - mean * mean, 0.0, None))
    return mean * (1.0 + SAUVOLA_K * (std / SAUVOLA_R - 1.0))


def text_components(dark: np.ndarray) -> np.ndarray:
    """The strokes among `dark` pixels: connected components less specks, less blobs too
    thick to be a stroke, and less large filled blobs touching the border (see module docs)."""
    h, w = dark.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(dark.astype(np.uint8), connectivity=8)
    depth = cv2.distanceTransform(dark.astype(np.uint8), cv2.DIST_L2, 3)
    thickness = np.zeros(count, np.float32)
    np.maximum.at(thickness, labels.ravel(), 2 * depth.ravel())
    x, y, bw, bh, area = stats.T
    touches = (x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)
    blob = touches & (area >= BLOB_SHARE * h * w) & (area >= BLOB_FILL * bw * bh)
    keep = (area >= max(4.0, (min(h, w) / 25) ** 2)) & (thickness <= MAX_STROKE * min(h, w)) & ~blob
    keep[0] = False  # the background label
    return keep[labels]


def text_region(ink: np.ndarray) -> np.ndarray:
    """The strokes' box grown by half the text's height (room for the ascenders and
    descenders a word without them lacks); the whole image if no ink."""
    if not ink.any():
        return np.ones(ink.shape, bool)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    margin = max(1, (rows[-1] - rows[0] + 1) // 2)
    region = np.zeros(ink.shape, bool)
    region[max(0, rows[0] - margin) : rows[-1] + margin + 1, max(0, cols[0] - margin) : cols[-1] + margin + 1] = True
    return region


def map_diagnostics(
    saliency: np.ndarray,
    ink: Ink,
    expected_x: float | None = None,
    char_width: float | None = None,
    family: str = FAMILY_GRADIENT,
) -> MapDiagnostics:
    """Diagnostics of one `[H, W]` map against the image's `ink`, and the verdict of its
    `family` (see module docs); `expected_x` is where the model aligned the character.
    A map on a coarser grid than the image (`Explanation.maps`) is resampled onto it."""
    if np.shape(saliency) != ink.mask.shape:
        saliency = fit_map(saliency, ink.mask.shape)
    mass = np.abs(np.asarray(saliency, np.float64))
    total = mass.sum()
    if total <= 0 or not np.isfinite(total):
        return MapDiagnostics(family, 0.0, ink.share, 0.0, 0.0, None, None, None, None, WITHHELD_EMPTY_MAP)
    mass = mass / total
    focus = float(mass[ink.mask].sum())
    background = float(mass[~ink.region].sum())
    ordered = np.sort(mass.ravel())[::-1]
    spread = float((np.searchsorted(np.cumsum(ordered), SPREAD_MASS) + 1) / ordered.size)
    loc_px = loc_chars = columns = None
    if expected_x is not None:
        profile = mass.sum(axis=0)
        cols = np.arange(mass.shape[1])
        loc_px = abs(float((profile * cols).sum()) - expected_x)
        if char_width:
            loc_chars = loc_px / char_width
            columns = float(profile[np.abs(cols - expected_x) <= char_width / 2].sum())
    measures = (focus, ink.share, spread, background, loc_px, loc_chars, columns)
    if family == FAMILY_ATTENTION:
        label, withheld = _attention_verdict(loc_chars, columns)
    else:
        label, withheld = _gradient_verdict(focus, ink, background)
    return MapDiagnostics(family, *measures, label, withheld)


def focus_threshold(ink_share: float) -> float:
    """The stroke focus from which a map counts as focused on strokes (see module docs)."""
    return min(FOCUS_LIFT * ink_share, 0.5 * (1.0 + ink_share))


def _gradient_verdict(focus: float, ink: Ink, background: float) -> tuple[str | None, str | None]:
    if ink.withheld is not None:
        return None, ink.withheld
    if background >= BACKGROUND_THRESHOLD:
        return LABEL_BACKGROUND, None
    if focus >= focus_threshold(ink.share):
        return LABEL_FOCUSED, None
    return LABEL_SCATTERED, None


def _attention_verdict(loc_chars: float | None, columns: float | None) -> tuple[str | None, str | None]:
    if loc_chars is None or columns is None:
        return None, WITHHELD_NO_ALIGNMENT
    if loc_chars > LOCALISATION_LIMIT:
        return LABEL_OFF_CHARACTER, None
    if columns >= COLUMN_MASS_THRESHOLD:
        return LABEL_ON_CHARACTER, None
    return LABEL_BEYOND_CHARACTER, None


def column_centres(attention_maps: np.ndarray) -> np.ndarray:
    """Centre of mass along x, in columns, of each `[T, H, W]` map: where each character
    was aligned (summed a map at a time: no float64 copy of the whole stack)."""
    profile = np.stack([np.abs(m).sum(axis=0, dtype=np.float64) for m in attention_maps])  # [T, W]
    weight = profile.sum(axis=1)
    cols = np.arange(profile.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        centres = (profile * cols).sum(axis=1) / weight
    return np.where(weight > 0, centres, np.nan)


def explanation_diagnostics(
    image: np.ndarray,
    maps: np.ndarray,
    centres: np.ndarray | None = None,
    characters: int | None = None,
    family: str = FAMILY_GRADIENT,
) -> list[MapDiagnostics]:
    """Diagnostics for each of `maps` `[T, h, w]`, localised against `centres` (columns
    of the maps: image pixels unless the maps lie on a coarser grid, `Explanation.maps`,
    whose cells are then measured in image pixels as the maps are resampled onto the
    image); a character width is the text region's width over the `characters` read
    (default: one per map)."""
    ink = find_ink(image)  # the same for every character's map
    text_width = int(ink.region.any(axis=0).sum())
    width = text_width / max(1, characters if characters is not None else len(maps))
    cell = ink.mask.shape[1] / np.shape(maps)[-1]
    out = []
    for t, m in enumerate(maps):
        expected = None if centres is None or not np.isfinite(centres[t]) else float(centres[t])
        if expected is not None and cell != 1:
            expected = (expected + 0.5) * cell - 0.5  # the cell's column -> the image's
        out.append(map_diagnostics(m, ink, expected, width, family))
    return out
