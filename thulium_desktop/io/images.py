"""Robust image decoding and conversion to the grayscale [0, 1] form models read.

Images arrive as PNG/JPEG/TIFF/BMP files, 8- or 16-bit, grayscale, colour or with
alpha. Everything that goes wrong while reading one becomes an `ImageLoadError`
that names the file and the reason, so callers can report it and carry on.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

#: Refuse images above this many pixels: a line or word image is never this big,
#: and decoding a decompression bomb would exhaust memory.
MAX_PIXELS = 80_000_000


class ImageLoadError(ValueError):
    """An image file could not be read; `str()` names the file and why."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file as stored: uint8 or uint16, HxW, HxWx3 (BGR) or HxWx4 (BGRA).

    Decoding goes through `cv2.imdecode` on the file's bytes so that non-ASCII paths
    work, and the header size is checked before the pixels are decoded.
    """
    p = Path(path)
    if not p.exists():
        raise ImageLoadError(p, "no such file")
    if p.is_dir():
        raise ImageLoadError(p, "is a folder, not an image")
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except OSError as exc:
        raise ImageLoadError(p, exc.strerror or str(exc)) from exc
    if data.size == 0:
        raise ImageLoadError(p, "the file is empty")
    header = _header_size(data)
    if header is not None and header[0] * header[1] > MAX_PIXELS:
        raise ImageLoadError(
            p, f"{header[1]}x{header[0]} pixels is larger than the limit of {MAX_PIXELS:,}"
        )
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageLoadError(p, f"the decoder failed ({exc.msg.strip() or 'cv2 error'})") from exc
    if image is None:
        raise ImageLoadError(p, "not a supported image, or the file is corrupt or truncated")
    if image.dtype not in (np.uint8, np.uint16):
        image = _to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise ImageLoadError(p, f"unexpected pixel layout {image.shape}")
    return image


def _header_size(data: np.ndarray) -> tuple[int, int] | None:
    """(height, width) from a PNG header without decoding pixels; None for other formats."""
    if data.size >= 24 and bytes(data[:8]) == b"\x89PNG\r\n\x1a\n":
        width = int.from_bytes(bytes(data[16:20]), "big")
        height = int.from_bytes(bytes(data[20:24]), "big")
        return height, width
    return None


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """Float or 32-bit images (some TIFFs) scaled to uint8 by their own range."""
    img = image.astype(np.float64)
    lo, hi = float(np.nanmin(img)), float(np.nanmax(img))
    if hi <= lo:
        return np.zeros(img.shape, np.uint8)
    return np.clip((img - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8)


def to_unit_gray(image: np.ndarray) -> np.ndarray:
    """Any supported image array as float32 grayscale in [0, 1] (1 = white paper).

    uint8 is divided by 255 and uint16 by 65535; float arrays are taken as [0, 1]
    when their maximum is at most 1 and as [0, 255] otherwise. Colour is BGR (as
    OpenCV decodes it) and uses OpenCV's luma weights; alpha is composited over
    white paper, because a transparent pixel of a scanned page is paper, not ink.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("the image is empty")
    unit = _unit_range(arr)
    if unit.ndim == 2:
        return unit
    gray = unit[:, :, 0] * 0.114 + unit[:, :, 1] * 0.587 + unit[:, :, 2] * 0.299
    if unit.shape[2] == 4:
        alpha = unit[:, :, 3]
        gray = gray * alpha + (1.0 - alpha)
    return gray.astype(np.float32)


def _unit_range(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        return np.clip(arr.astype(np.float32), 0, 255) / 255.0
    if np.issubdtype(arr.dtype, np.floating):
        out = np.nan_to_num(arr.astype(np.float32), nan=1.0, posinf=1.0, neginf=0.0)
        if out.max(initial=0.0) > 1.0:
            out = out / 255.0
        return np.clip(out, 0.0, 1.0)
    raise ValueError(f"unsupported image dtype {arr.dtype}")


def unit_gray_at_height(image: np.ndarray, height: int) -> np.ndarray:
    """`to_unit_gray`, scaled to `height` rows keeping the aspect ratio (untouched when it
    already has that height): area averaging when shrinking, so thin strokes survive."""
    gray = to_unit_gray(image)
    h, w = gray.shape
    if h == height:
        return gray
    new_w = max(1, round(w * height / h))
    interp = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    return cv2.resize(gray, (new_w, height), interpolation=interp)
