"""A map laid over the image it explains: `composite`, the one blend the app's screen
and every exported figure draw, and `overlay`, a full-strength blend for library users.

`composite` lays the map over the image in grayscale (as the model sees it, and so that
the map's colours are not confused with the image's), fading weak values to transparent:
a value covers the image (at the chosen opacity) only from `ALPHA_SATURATION` of the
way from the scale's zero (its bottom, or a signed scale's centre) to its end, so the
paper and the ink stay visible where the map is ~0. `colorbar_colours` are the same
blend over blank paper, so a colorbar shows each value in the colour it takes there.

Maps arrive in many shapes: a CTC model's per-frame profile is 1-D (one value
per column band), attention over a feature grid is a small 2-D array, the
engine's maps are already in image pixels. `fit_map` brings any of them to the
image's height and width, so everything downstream works in image pixels.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from thulium_desktop.io.images import to_unit_gray
from thulium_desktop.render.colormaps import CmapSpec, Scale, colorize, lookup_table

#: The map's weight where it is strong: the app's Display default and the figures'.
DEFAULT_OPACITY = 0.8
#: The share of the way from the scale's zero to its end from which a value is fully opaque.
ALPHA_SATURATION = 0.6


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any supported image as uint8 BGR `[H, W, 3]`, keeping its colour.

    Grayscale is repeated over the channels; 16-bit is scaled by 65535/255; float
    images are taken as [0, 1] when their maximum is at most 1, else as [0, 255];
    alpha is composited over white, because a transparent pixel of a scan is paper.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)) or arr.size == 0:
        raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {arr.shape}")
    unit = _unit(arr)
    if unit.ndim == 2:
        unit = np.repeat(unit[:, :, None], 3, axis=2)
    elif unit.shape[2] == 4:
        alpha = unit[:, :, 3:]
        unit = unit[:, :, :3] * alpha + (1.0 - alpha)
    return np.round(unit * 255.0).astype(np.uint8)


def _unit(arr: np.ndarray) -> np.ndarray:
    """Pixel values as float32 in [0, 1] by the conventions of `to_bgr8`."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.number):
        out = np.nan_to_num(arr.astype(np.float32), nan=1.0, posinf=1.0, neginf=0.0)
        if out.max(initial=0.0) > 1.0:
            out = out / 255.0
        return np.clip(out, 0.0, 1.0)
    raise ValueError(f"unsupported image dtype {arr.dtype}")


def fit_map(weights: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A map as float32 `[H, W]` for an image of `size = (H, W)`.

    A 1-D profile runs along the width (a sequence model's frames are column bands)
    and is spread over the full height. A 2-D map of another size is resized:
    each axis bilinearly when enlarged (attention grids are coarse samples of a smooth
    field) and area-averaged when shrunk (so a thin peak is not skipped).
    """
    arr = np.asarray(weights, np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"a map must be 1-D or 2-D, got shape {arr.shape}")
    height, width = size
    if arr.shape[1] != width:
        arr = cv2.resize(arr, (width, arr.shape[0]), interpolation=_interpolation(arr.shape[1], width))
    if arr.shape[0] != height:
        arr = cv2.resize(arr, (width, height), interpolation=_interpolation(arr.shape[0], height))
    return arr


def _interpolation(source: int, target: int) -> int:
    return cv2.INTER_AREA if source > target else cv2.INTER_LINEAR


def overlay(image: np.ndarray, weights: np.ndarray, scale: Scale, alpha: float = 0.5) -> np.ndarray:
    """uint8 BGR image of `image`'s size: the coloured map blended over the image.

    `alpha` is the weight of the map's colour (0 shows only the image, 1 only the map).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    base = to_bgr8(image)
    heat = colorize(fit_map(weights, base.shape[:2]), scale)
    return cv2.addWeighted(heat, alpha, base, 1.0 - alpha, 0.0)


def display_gray(image: np.ndarray) -> np.ndarray:
    """The image under a composite: uint8 grayscale `[H, W]` as the model sees it (alpha
    over white paper). Grayscale keeps the map's colours unambiguous."""
    return np.round(to_unit_gray(image) * 255.0).astype(np.uint8)


def composite(image: np.ndarray, weights: np.ndarray, scale: Scale, opacity: float = DEFAULT_OPACITY) -> np.ndarray:
    """uint8 RGB `[H, W, 3]`: `weights` coloured under `scale` and laid over `image` in
    grayscale, weak values fading to transparent; what the screen and the figures show.

    `image` may be any supported image (the screen passes its `display_gray`, which
    is taken as it is). `opacity` is the map's weight where it is strongest (0 shows
    only the image).
    """
    base = image if _is_gray8(image) else display_gray(image)
    index = np.round(scale.unit(fit_map(weights, base.shape)) * 255.0).astype(np.uint8)
    flat = (base.astype(np.intp) << 8) | index
    return np.take(_blend_table(scale.cmap, scale.signed, opacity).reshape(-1, 3), flat, axis=0)


def colorbar_colours(scale: Scale, opacity: float = DEFAULT_OPACITY) -> np.ndarray:
    """uint8 RGB `[256, 3]`: the colours of the scale's 256 steps, bottom to top, as
    `composite` draws them over blank paper (the colorbar on screen and in figures)."""
    return _blend_table(scale.cmap, scale.signed, opacity)[255]


def _is_gray8(image: np.ndarray) -> bool:
    return isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 2


@lru_cache(maxsize=16)
def _blend_table(cmap: CmapSpec, signed: bool, opacity: float) -> np.ndarray:
    """uint8 RGB `[256, 256, 3]`: the blend of every gray level (first axis) with every
    step of a scale (second axis), so compositing a map is one table lookup: a
    2000 x 100 line in about 3 ms, fast enough for every redraw of the canvas. It does
    not depend on the scale's range, so a new map reuses it.

    A step's alpha grows with its distance from the scale's zero: the bottom of an
    unsigned scale, the centre of a signed one.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    step = np.linspace(0.0, 1.0, 256)
    # 256 steps have no middle one: both steps beside a signed scale's zero are transparent
    strength = np.clip(np.abs(2.0 * step - 1.0) - 1.0 / 255.0, 0.0, None) if signed else step
    alpha = opacity * np.clip(strength / ALPHA_SATURATION, 0.0, 1.0)
    colour = lookup_table(cmap).astype(np.float64)
    gray = np.arange(256, dtype=np.float64)
    blend = gray[:, None, None] * (1.0 - alpha)[None, :, None] + (colour * alpha[:, None])[None]
    table = np.round(blend).astype(np.uint8)
    table.setflags(write=False)
    return table
