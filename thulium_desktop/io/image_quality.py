"""Images a model cannot read well, said before it reads them.

A 3×2 crop, a blank page or a photograph taken in the dark are still read ("read
anyway"): a model always returns some characters, and the user may want to see them.
What this module adds is one plain sentence per reason the reading is likely a guess,
so neither the app nor a record presents it as if the model had seen text.

The measures are on the grey levels in [0, 1] (`to_unit_gray`, 1 = white paper):
their spread between the 0.5th and 99.5th percentiles (robust to a few stray pixels,
yet still counting ink that covers half a percent of the image) and their median.
No Qt, no torch: the app's GUI thread and the CLI call it alike.
"""

from __future__ import annotations

import math

import numpy as np

from thulium_desktop.io.images import to_unit_gray

#: The grey-level spread (0.5th to 99.5th percentile, on [0, 1]) under which an image
#: holds no ink at all: about 13 of 255 levels, which is scanner noise or JPEG
#: artefacts on a blank page; the faintest bundled sample spans 90 levels.
BLANK_SPREAD = 0.05
#: The spread under which ink and paper are too close for the model to tell apart
#: (about 51 of 255 levels): the bundled readers learnt from strokes at least twice as
#: distinct from their paper as this.
LOW_CONTRAST_SPREAD = 0.2
#: The median grey level (60 of 255) under which most of the image is dark: paper is
#: what most of a line image is, so its paper is dark too ...
DARK_MEDIAN = 60 / 255
#: ... and the brightest grey level (99.5th percentile) under which nothing in it is as
#: bright as paper. Both together: light ink on a black ground is bright somewhere,
#: and is not called dark.
DARK_BRIGHTEST = 0.5
#: Upscaling by this factor or more invents most of each stroke's pixels.
GUESS_UPSCALE = 2.0
#: The measures are taken on at most about this many pixels (a regular subsample of a
#: larger image), so a huge scan costs milliseconds, not a copy of its every pixel.
SAMPLED_PIXELS = 1_000_000

_SPREAD_PERCENTILES = (0.5, 50.0, 99.5)


def image_quality_notes(image: np.ndarray, model_height: int | None) -> list[str]:
    """One sentence per reason the model is unlikely to read `image` well: smaller than
    the model's input height `model_height` (None: not known, not checked), blank, too
    dark, or too low in contrast. Empty when none applies. The image is still read."""
    notes = [] if model_height is None else _size_notes(image.shape[1], image.shape[0], model_height)
    return notes + _tone_notes(to_unit_gray(_subsample(image)))


def input_height(model: object) -> int | None:
    """The pixel height a recognizer scales every image to (the bundled and CTC readers'
    `height`); None for one that does not say (a Hugging Face folder, a plugin). Asked by
    attribute, because the Recognizer protocol does not declare it."""
    height = getattr(model, "height", None)
    return height if isinstance(height, int) and height > 0 else None


def _size_notes(width: int, height: int, model_height: int) -> list[str]:
    """The upscaling a model whose input is `model_height` pixels high applies, when it does."""
    if height >= model_height:
        return []
    factor = model_height / height
    effect = "the reading is a guess" if factor >= GUESS_UPSCALE else "fine strokes are blurred"
    return [f"{width}×{height} pixels: upscaled {factor:.3g}× to the model's {model_height}-pixel height; {effect}"]


def _tone_notes(gray: np.ndarray) -> list[str]:
    """Blank, else too dark, else too low in contrast (each implies the next)."""
    darkest, median, brightest = (float(v) for v in np.percentile(gray, _SPREAD_PERCENTILES))
    spread = brightest - darkest
    levels = round(spread * 255)
    if spread < BLANK_SPREAD:
        return [f"blank: no ink (the grey levels span only {levels} of 255); the reading is a guess"]
    if median < DARK_MEDIAN and brightest < DARK_BRIGHTEST:
        return [f"too dark: median grey {round(median * 255)} of 255 and nothing as bright as paper; "
                "the reading is likely wrong"]
    if spread < LOW_CONTRAST_SPREAD:
        return [f"low contrast: ink and paper differ by only {levels} of 255 grey levels; "
                "the reading is likely wrong"]
    return []


def _subsample(image: np.ndarray) -> np.ndarray:
    """Every k-th row and column, so that about `SAMPLED_PIXELS` at most remain."""
    pixels = image.shape[0] * image.shape[1]
    step = math.ceil(math.sqrt(pixels / SAMPLED_PIXELS)) if pixels > SAMPLED_PIXELS else 1
    return image[::step, ::step]
