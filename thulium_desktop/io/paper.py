"""Paper flattening: dark ink on even white paper, whatever the light and the paper were.

A photographed word has a vignette and uneven light, a slide has light ink on dark, a
page may be coloured or grey; a reader trained on scans reads the paper's shading as
strokes (issue 23). `flatten_paper` undoes that before a reader sees the image. Images
like the readers' training images (dark ink, paper of an even light shade) are left as
they are (`needs_flattening`); the others are flattened:

1. *polarity* (`ink_polarity`): strokes are thin, so against a large median filter (the
   local background) ink deviates one way and nothing much deviates the other way; which
   way decides dark-on-light or light-on-dark, and neither clearly means the border
   decides (a photo has paper round its text) or, failing that, undecided;
2. *background* (`paper_background`): the image, turned dark-ink-on-light, has its
   strokes removed by a morphological closing wider than a stroke; a vignette and a light
   gradient vary slowly and stay;
3. *flattening*: the image divided by that background, so paper is about 1 everywhere,
   and ink fainter than the readers learned (its darkest percent) stretched darker,
   paper kept at 1 (`stretch_ink`).

Maps stay on the original image's pixels. The engine takes gradients (and perturbs)
with respect to the prepared tensor and maps them back by geometry only
(`Prepared.to_image`). The flattening is pixelwise: each pixel becomes `a + b * x` of
its own value `x` (clipped to [0, 1]), with `a` and `b` (inversion, the background's gain, the stretch)
computed from the image without gradients, so it moves nothing, and a map of the
reader's input is a map of the same pixels of the image (a gradient with respect to the
original pixels would be the same map times the local gain `b`). The polarity and the
background are the ones `xai.diagnostics` finds the ink with.
"""

from __future__ import annotations

import cv2
import numpy as np

DARK_ON_LIGHT = "dark on light"
LIGHT_ON_DARK = "light on dark"

#: Polarity: ink deviates from the local background by at least this share of the
#: image's range, and one way at least `POLARITY_RATIO` times as often as the other.
POLARITY_DEVIATION = 0.25
POLARITY_RATIO = 2.0
#: Else a border median within this share of the range from one end is the paper.
BORDER_SIDE = 0.35
#: The local background and the polarity are found on a copy this small (shorter side).
WORK_SIDE = 256
#: A range below this (of [0, 1]) is a blank image.
MIN_RANGE = 16 / 255
#: The stretch takes the flattened image's darkest `INK_PERCENTILE` percent as its ink.
INK_PERCENTILE = 1.0
#: Paper darker than this (somewhere), or shaded by more than this across the image, is
#: unlike the paper the readers learned (`needs_flattening`); both with a margin over
#: training's 0.7 and 0.15, for the closing's bias towards the paper's lightest grain.
DARKEST_PAPER = 0.65
MAX_SHADING = 0.2
#: The faintest ink the readers learned, as a share of the paper's brightness (training
#: draws ink of tone 0-0.35 on paper of 0.7-1: `training/synth.py`, `ink_to_paper`).
FAINTEST_INK = 0.5


def flatten_paper(gray: np.ndarray) -> np.ndarray:
    """`gray` (float [0, 1], 1 = white) as dark ink on even white paper (see module docs).

    Only paper the readers never saw is flattened (`needs_flattening`): light on dark, a
    shade darker than `DARKEST_PAPER`, or light varying by more than `MAX_SHADING`; an
    image like their training images is returned as it is, because flattening those
    changed readings the readers had right (flattening every image, the ctc reader's
    held-out CER rose from 2.59% to 2.86% on the set's first 300 images). A blank image (range under `MIN_RANGE`) is
    returned as it is, as is one whose polarity cannot be decided: nothing is inverted on
    a guess."""
    gray = np.asarray(gray, np.float32)
    lo, hi = np.percentile(gray, [1, 99])
    if hi - lo < MIN_RANGE:
        return gray
    polarity = ink_polarity(gray, float(hi - lo))
    paper = 1.0 - gray if polarity == LIGHT_ON_DARK else gray
    background = paper_background(paper)
    if not needs_flattening(polarity, background):
        return gray
    return stretch_ink(np.clip(paper / np.maximum(background, 1e-3), 0.0, 1.0))


def needs_flattening(polarity: str | None, background: np.ndarray) -> bool:
    """Whether paper of this `background` (`paper_background`) and ink of this polarity
    are unlike the readers' training images (`training/synth.py`, `ink_to_paper`: dark
    ink on paper of 0.7-1 lit by a gradient of at most 0.15 across the image)."""
    darkest, lightest = np.percentile(background, [2, 98])
    return polarity == LIGHT_ON_DARK or darkest < DARKEST_PAPER or lightest - darkest > MAX_SHADING


def ink_polarity(gray: np.ndarray, value_range: float) -> str | None:
    """DARK_ON_LIGHT, LIGHT_ON_DARK, or None when neither is clear (see module docs).

    Strokes are a minority in a window a few strokes wide, so the window's median is
    the local background (vignette and uneven light included), and the ink is what
    strays far from it, mostly in one direction. Where the strokes are too dense for
    that to be clear (bold writing), the border decides: a photo or scan has paper
    around its text, so a border clearly on one side of the range is the paper."""
    small = working_copy(gray)
    as_bytes = (small * 255).round().astype(np.uint8)
    local = cv2.medianBlur(as_bytes, stroke_free_kernel(small.shape)).astype(np.float32) / 255
    deviation = small - local
    darker = float((deviation < -POLARITY_DEVIATION * value_range).mean())
    lighter = float((deviation > POLARITY_DEVIATION * value_range).mean())
    if darker > POLARITY_RATIO * lighter:
        return DARK_ON_LIGHT
    if lighter > POLARITY_RATIO * darker:
        return LIGHT_ON_DARK
    lo = float(np.percentile(gray, 1))
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    side = (float(np.median(border)) - lo) / value_range
    if side >= 1 - BORDER_SIDE:
        return DARK_ON_LIGHT
    if side <= BORDER_SIDE:
        return LIGHT_ON_DARK
    return None


def paper_background(paper: np.ndarray) -> np.ndarray:
    """The paper's brightness under the strokes of a dark-on-light image: a closing wider
    than a stroke. The image is first extended by repeating its edges, so that light
    falling off towards a border (a vignette) is followed to the border instead of
    levelled off a kernel from it."""
    small = working_copy(paper)
    k = stroke_free_kernel(small.shape)
    padded = cv2.copyMakeBorder(small, k, k, k, k, cv2.BORDER_REPLICATE)
    closed = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))[k:-k, k:-k]
    if closed.shape == paper.shape:
        return closed
    return cv2.resize(closed, paper.shape[::-1], interpolation=cv2.INTER_LINEAR)


def stretch_ink(flat: np.ndarray) -> np.ndarray:
    """A flattened image (paper about 1) whose ink is fainter than `FAINTEST_INK` (its
    darkest percent) stretched until it is that dark; darker ink left as it is.

    The readers learned ink from black to `FAINTEST_INK` of the paper's brightness, so
    ink in that range is what they read best as it comes: stretching every flattened
    image to black ink raised the held-out CER on the set's first 300 images from 2.86%
    to 3.09% (ctc) and from 3.02% to 3.39% (attention). Faint ink on coloured paper, or pencil, is brought within it."""
    lo = float(np.percentile(flat, INK_PERCENTILE))
    if lo <= FAINTEST_INK:
        return flat.astype(np.float32)
    gain = (1.0 - FAINTEST_INK) / max(1.0 - lo, MIN_RANGE)
    return np.clip(1.0 - (1.0 - flat) * gain, 0.0, 1.0).astype(np.float32)


def working_copy(image: np.ndarray) -> np.ndarray:
    """Every n-th pixel of a large image (nearest, not averaged: thin strokes keep their
    darkness and their share of the pixels), so that its shorter side is at most
    `WORK_SIDE`: the background and the polarity vary slowly, and their filters, a third
    of the image wide, cost tens of seconds on a photograph at full size."""
    scale = WORK_SIDE / min(image.shape)
    if scale >= 1:
        return image
    h, w = image.shape
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_NEAREST)


def stroke_free_kernel(shape: tuple[int, ...]) -> int:
    """A square kernel wider than any stroke: a third of the shorter side, odd, at least 15."""
    return max(15, min(shape) // 3) | 1
