"""Colour scales for explanation maps: which colormap, which value range, and the colours.

Unsigned maps (attention, |gradient|, GradCAM) use a perceptually uniform map
(viridis) so that equal steps in value look like equal steps in colour and the
map survives grayscale printing; jet invents edges where there are none.
Signed maps (raw gradients, integrated gradients) use a diverging map centred
on zero, so that "pushes towards the character" and "pushes away" are told apart
and zero is neutral.

The same lookup tables (`lookup_table`) colour the exported figures and the app's
screen, both composited by `render.overlay.composite` with its transparency ramp, and
their colorbars (`colorbar_label` says what the value is); one rule (`shared_scale`
with `OUTLIER_PERC`) sets the value range on screen, in the app's Export and in the
CLI's figures, so what a colorbar says is what the overlay shows, wherever it is seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import matplotlib
import numpy as np
from matplotlib.colors import Colormap, ListedColormap

UNSIGNED_CMAP = "viridis"
SIGNED_CMAP = "RdBu_r"

#: A matplotlib colormap name, or an OpenCV constant such as `cv2.COLORMAP_JET`.
CmapSpec = str | int

#: Explanation maps are shown on a scale that ends at the top 1% of their values (the
#: colorbar shows an arrow, the figure's caption says so): gradient maps have a few
#: extreme pixels that would otherwise wash everything else into the bottom colour.
#: Captum's `visualize_image_attr` clips 2% by default.
OUTLIER_PERC = 1.0


@dataclass(frozen=True)
class Scale:
    """A value range and a colormap: everything needed to colour a map and draw its colorbar."""

    vmin: float
    vmax: float
    cmap: CmapSpec
    #: Which ends of the range some values lie beyond ("neither", "min", "max", "both"):
    #: the colorbar draws an arrow there, so clipping is never silent.
    extend: str = "neither"
    #: Whether values are signed: their zero is the centre of the range (a diverging
    #: map's neutral colour), not its bottom; the overlay is transparent there.
    signed: bool = False

    def unit(self, values: np.ndarray) -> np.ndarray:
        """`values` mapped linearly to [0, 1] (clipped); NaN counts as the bottom of the range."""
        span = self.vmax - self.vmin
        unit = (np.asarray(values, np.float32) - self.vmin) / (span if span > 0 else 1.0)
        return np.clip(np.nan_to_num(unit, nan=0.0), 0.0, 1.0)


def default_cmap(signed: bool) -> str:
    """The colormap for a map that may be negative (`signed`) or not."""
    return SIGNED_CMAP if signed else UNSIGNED_CMAP


def shared_scale(
    maps: np.ndarray | list[np.ndarray],
    signed: bool,
    cmap: CmapSpec | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    outlier_perc: float = 0.0,
) -> Scale:
    """One range for every map given, so panels of a grid can be compared by colour.

    Unsigned maps run from 0 (or their minimum, when it is negative) to their maximum;
    signed maps from -m to +m with m the largest magnitude, which puts zero at the
    diverging colormap's neutral centre. `outlier_perc` (Captum's name) ends the range
    at that top percentage of values instead of the maximum, so that a few hot pixels
    of a gradient map do not wash everything else into the bottom colour. Explicit
    `vmin`/`vmax` win. A map that is all zero (or all NaN) gets the range [0, 1].
    """
    values = np.concatenate([np.asarray(m, np.float32).ravel() for m in maps])
    finite = values[np.isfinite(values)]
    top = 100.0 - float(outlier_perc)
    if signed:
        m = float(np.percentile(np.abs(finite), top)) if finite.size else 0.0
        lo, hi = (-m, m) if m > 0 else (-1.0, 1.0)
    else:
        lo = min(0.0, float(finite.min())) if finite.size else 0.0
        hi = float(np.percentile(finite, top)) if finite.size else 1.0
        if hi <= lo:
            hi = lo + 1.0
    lo = lo if vmin is None else float(vmin)
    hi = hi if vmax is None else float(vmax)
    below = bool(finite.size and finite.min() < lo)
    above = bool(finite.size and finite.max() > hi)
    extend = {(False, False): "neither", (True, False): "min", (False, True): "max"}.get((below, above), "both")
    return Scale(lo, hi, cmap if cmap is not None else default_cmap(signed), extend, signed)


#: What the sign of a signed map means (its colorbar label ends with it).
SIGNED_MEANING = "signed: > 0 raises the score"


def colorbar_label(method: Any, signed: bool, normalised: bool) -> str:
    """What a colorbar's values are, for a map of `method` (an `xai.methods.Method`,
    duck-typed: its `value_label`, or `signed_value_label` for a map kept signed), and
    whether each map was divided by its own maximum (`normalize`)."""
    text = method.signed_value_label if signed else method.value_label
    return f"{text}, normalised per map" if normalised else text


def comparison_colorbar_label(signed: bool, normalised: bool) -> str:
    """What the shared colorbar of several methods' maps shows: each panel its own method's value."""
    text = "each panel's method's value" + (f", {SIGNED_MEANING}" if signed else "")
    return f"{text}, normalised per map" if normalised else text


def matplotlib_cmap(cmap: CmapSpec) -> Colormap:
    """The matplotlib colormap for a spec; OpenCV constants are rebuilt from OpenCV's own LUT,
    so a colorbar next to a `cv2.COLORMAP_JET` overlay shows OpenCV's colours."""
    if isinstance(cmap, str):
        return _named(cmap)
    rgb = lookup_table(cmap).astype(np.float32) / 255.0
    return ListedColormap(rgb, name=f"opencv-{cmap}")


def colorize(values: np.ndarray, scale: Scale) -> np.ndarray:
    """uint8 BGR `[H, W, 3]` colours of a 2-D map under `scale` (OpenCV's channel order)."""
    index = np.round(scale.unit(values) * 255.0).astype(np.uint8)
    return _lut_bgr(scale.cmap)[index]


@lru_cache(maxsize=32)
def lookup_table(cmap: CmapSpec) -> np.ndarray:
    """The 256-entry RGB uint8 lookup table `[256, 3]` of a colormap: the colours every
    overlay and colorbar is drawn with, on screen and in files.

    Cached (and read-only): building it from matplotlib takes milliseconds that a
    click on the app's timeline must not spend."""
    if isinstance(cmap, str):
        rgba = _named(cmap)(np.linspace(0.0, 1.0, 256))
        table = np.round(rgba[:, :3] * 255.0).astype(np.uint8)
    else:
        ramp = np.arange(256, dtype=np.uint8)[:, None]
        try:
            table = cv2.applyColorMap(ramp, int(cmap))[:, 0, ::-1].copy()
        except cv2.error as exc:
            raise ValueError(f"{cmap!r} is not an OpenCV colormap constant") from exc
    table.setflags(write=False)
    return table


def _lut_bgr(cmap: CmapSpec) -> np.ndarray:
    """The lookup table in OpenCV's channel order."""
    return lookup_table(cmap)[:, ::-1]


def _named(name: str) -> Colormap:
    try:
        return matplotlib.colormaps[name]
    except KeyError as exc:
        raise ValueError(f"{name!r} is not a matplotlib colormap name") from exc
