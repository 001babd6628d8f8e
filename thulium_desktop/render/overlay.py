"""A map laid over the image it explains: any image format in, uint8 BGR out.

Maps arrive in many shapes: a CTC model's per-frame profile is 1-D (one value
per column band), attention over a feature grid is a small 2-D array, the
engine's maps are already in image pixels. `fit_map` brings any of them to the
image's height and width, so everything downstream works in image pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from thulium_desktop.render.colormaps import Scale, colorize


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
