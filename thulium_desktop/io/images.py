"""Robust image decoding and conversion to the grayscale [0, 1] form models read.

Images arrive as PNG/JPEG/TIFF/WebP/BMP (or PNM) files, 8- or 16-bit (or float),
grayscale, colour or with alpha. Everything that goes wrong while reading one becomes an
`ImageLoadError` that names the file and the reason, so callers can report it and
carry on; what loaded but deserves a word (an EXIF rotation applied, pixels that are not
numbers) comes back as notes beside the pixels (`read_image`).

Every input is bounded before it costs anything: only regular files are opened (a
named pipe would block forever), and the size an image's header declares is checked
before a pixel is decoded, whatever the format and whatever the file's suffix (a
decompression bomb is a few kilobytes declaring billions of pixels). The limit is
`MAX_PIXELS` unless the environment variable `THULIUM_MAX_PIXELS` sets another; the
app and the CLI both load through here, so the variable raises it for both.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import (  # noqa: F401 (importing a plugin registers its format's reader)
    BmpImagePlugin,
    ExifTags,
    Image,
    JpegImagePlugin,
    PngImagePlugin,
    PpmImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)

from thulium_desktop.io.paper import flatten_paper
from thulium_desktop.io.regular import NotRegularFile, open_regular

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

#: Refuse images above this many pixels: a line or word image is never this big,
#: and decoding a decompression bomb would exhaust memory.
MAX_PIXELS = 80_000_000
#: The environment variable that replaces `MAX_PIXELS` (a whole number of pixels).
PIXEL_LIMIT_VARIABLE = "THULIUM_MAX_PIXELS"
#: Formats whose declared size Pillow reads from the header (by content, never by
#: suffix) and OpenCV then decodes; a file of any other format is refused rather than
#: decoded blind.
SIZED_FORMATS = ("PNG", "JPEG", "TIFF", "WEBP", "BMP", "PPM")
#: The most bytes a pixel takes in an uncompressed file (16-bit RGBA): a file larger
#: than the largest image allowed would need is not one, and is not read into memory.
MAX_BYTES_PER_PIXEL = 8
_HEADER_SLACK_BYTES = 2**20


class ImageLoadError(ValueError):
    """An image file could not be read; `str()` names the file and why."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


class ImageNote(UserWarning):
    """`load_image` warns with each note of `read_image` (an EXIF rotation applied,
    pixels that are not numbers), so callers that only take the pixels still hear them."""


@dataclass(frozen=True)
class LoadedImage:
    """The decoded pixels (as `load_image` returns them) and what the user should know
    about how they were loaded, one sentence each (empty when nothing was changed)."""

    image: np.ndarray
    notes: tuple[str, ...] = ()


def max_pixels() -> int:
    """The largest image accepted, in pixels: `THULIUM_MAX_PIXELS` when set, else
    `MAX_PIXELS`. Read at every load, so a changed variable applies at once. Raises
    ValueError with a one-line message when the variable is not a positive number."""
    raw = os.environ.get(PIXEL_LIMIT_VARIABLE, "").strip()
    if not raw:
        return MAX_PIXELS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{PIXEL_LIMIT_VARIABLE}={raw!r} is not a positive whole number of pixels")
    return value


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file: uint8 or uint16, HxW, HxWx3 (BGR) or HxWx4 (BGRA), upright.

    `read_image` without the notes, which are issued as `ImageNote` warnings instead.
    """
    loaded = read_image(path)
    for note in loaded.notes:
        warnings.warn(f"{path}: {note}", ImageNote, stacklevel=2)
    return loaded.image


def read_image(path: str | os.PathLike) -> LoadedImage:
    """Decode an image file as `load_image` does, with the notes on how it was loaded.

    The file must be a regular file; its header's declared size must be within
    `max_pixels()` (checked before decoding, so a bomb is refused in milliseconds).
    Decoding goes through `cv2.imdecode` on the file's bytes so that non-ASCII paths
    work; an EXIF orientation is then applied, as image viewers do.
    """
    p = Path(path)
    try:
        limit = max_pixels()
    except ValueError as exc:
        raise ImageLoadError(p, str(exc)) from exc
    try:
        with open_regular(p) as file:
            data, orientation = _read_checked(p, file, limit)
    except FileNotFoundError as exc:
        raise ImageLoadError(p, "no such file") from exc
    except NotRegularFile as exc:
        raise ImageLoadError(p, "is a folder, not an image" if exc.is_folder else str(exc)) from exc
    except OSError as exc:
        raise ImageLoadError(p, exc.strerror or str(exc)) from exc
    image, notes = _decode(p, data)
    if orientation in _ORIENTATIONS:
        meaning, turn = _ORIENTATIONS[orientation]
        image = np.ascontiguousarray(turn(image))
        notes += (f"EXIF orientation {orientation} applied: {meaning}",)
    return LoadedImage(image, notes)


def _read_checked(p: Path, file: BinaryIO, limit: int) -> tuple[bytes, int]:
    """The file's bytes and EXIF orientation, once its header's size is within `limit`."""
    length = os.fstat(file.fileno()).st_size
    if length == 0:
        raise ImageLoadError(p, "the file is empty")
    max_bytes = limit * MAX_BYTES_PER_PIXEL + _HEADER_SLACK_BYTES
    if length > max_bytes:
        raise ImageLoadError(p, f"{length:,} bytes is more than any image within the limit of "
                                f"{limit:,} pixels needs ({max_bytes:,}); set {PIXEL_LIMIT_VARIABLE} to raise it")
    declared, orientation = _header(p, file, limit)
    _check_size(p, declared, limit)
    file.seek(0)
    return file.read(length), orientation  # as measured: a tail written since is not read


def _header(p: Path, file: BinaryIO, limit: int) -> tuple[tuple[int, int], int]:
    """(width, height) the header declares, and its EXIF orientation (1: as stored),
    read by Pillow without decoding pixels. The format is told by content, so a TIFF
    named `.png` is sized as the TIFF it is.

    The format plugins are called directly rather than through `Image.open`, whose own
    decompression-bomb check would warn or fail with another limit and message. A WebP
    is sized from its first bytes before Pillow sees it, because Pillow's WebP reader
    allocates the whole canvas as it opens the file.
    """
    prefix = file.read(_WEBP_HEADER_BYTES)
    for name in SIZED_FORMATS:
        factory, accept = Image.OPEN[name]
        verdict = accept(prefix) if accept is not None else False
        if not verdict or isinstance(verdict, str):  # a str: "this format, but unsupported"
            continue
        if name == "WEBP":
            _check_size(p, _webp_canvas(p, prefix), limit)
        file.seek(0)
        try:
            header = factory(file, "")
            width, height = (int(n) for n in header.size)
        except Image.DecompressionBombError as exc:  # only when the limit was raised above Pillow's
            raise ImageLoadError(p, f"larger than Pillow's limit of {2 * (Image.MAX_IMAGE_PIXELS or 0):,} "
                                    "pixels for this format") from exc
        except Exception as exc:  # any of Pillow's parser errors on a corrupt header
            raise ImageLoadError(p, f"the {name} header is corrupt or truncated") from exc
        return (width, height), _orientation(header)
    raise ImageLoadError(p, "not a supported image, or the file is corrupt or truncated")


def _check_size(p: Path, size: tuple[int, int], limit: int) -> None:
    width, height = size
    if width * height > limit:
        raise ImageLoadError(p, f"{width}x{height} pixels (as its header declares) is more than the limit of "
                                f"{limit:,} pixels; set {PIXEL_LIMIT_VARIABLE} to raise it")


_WEBP_HEADER_BYTES = 30


def _webp_canvas(p: Path, head: bytes) -> tuple[int, int]:
    """A WebP's canvas (width, height) from its first 30 bytes (RFC 9649: the first
    chunk is a lossy `VP8 ` frame, a lossless `VP8L` one, or the extended `VP8X`)."""
    kind = head[12:16]
    if kind == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(head[26:28], "little") & 0x3FFF, int.from_bytes(head[28:30], "little") & 0x3FFF
    if kind == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X" and len(head) >= 30:
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    raise ImageLoadError(p, "the WEBP header is corrupt or truncated")


def _orientation(header: Image.Image) -> int:
    """The EXIF orientation tag, 1 (as stored) when absent, unknown or unreadable (as
    viewers treat a broken EXIF block). A PNG's eXIf chunk is only looked for before
    its pixels: finding a later one would mean decoding them."""
    if header.format == "PNG" and "exif" not in header.info:
        return 1
    try:
        value = header.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a corrupt EXIF block is ignored, not a reason to refuse the image
        return 1
    return value if isinstance(value, int) and value in _ORIENTATIONS else 1


#: EXIF orientation → (what was done, how), turning stored pixels upright as viewers do.
_ORIENTATIONS: dict[int, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    2: ("mirrored left to right", lambda a: a[:, ::-1]),
    3: ("rotated 180°", lambda a: a[::-1, ::-1]),
    4: ("mirrored top to bottom", lambda a: a[::-1]),
    5: ("mirrored about the main diagonal", lambda a: a.swapaxes(0, 1)),
    6: ("rotated 90° clockwise", lambda a: np.rot90(a, -1)),
    7: ("mirrored about the anti-diagonal", lambda a: np.rot90(a, 2).swapaxes(0, 1)),
    8: ("rotated 90° counter-clockwise", lambda a: np.rot90(a, 1)),
}


def _decode(p: Path, data: bytes) -> tuple[np.ndarray, tuple[str, ...]]:
    """The pixels as stored (uint8/uint16; other depths scaled to uint8), and notes."""
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageLoadError(p, f"the decoder failed ({exc.msg.strip() or 'cv2 error'})") from exc
    if image is None:
        raise ImageLoadError(p, "not a supported image, or the file is corrupt or truncated")
    notes: tuple[str, ...] = ()
    if image.dtype not in (np.uint8, np.uint16):
        image, notes = _to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise ImageLoadError(p, f"unexpected pixel layout {image.shape}")
    return image, notes


def _to_uint8(image: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Float or 32-bit images (some TIFFs) scaled to uint8 by the range of their finite
    values, and a note when some are not finite.

    NaN and ±Inf are left out of the range, because one Inf in it would squash every
    other pixel to black; they become paper (NaN, +Inf: white) or ink (-Inf: black).
    """
    img = image.astype(np.float64)
    finite = np.isfinite(img)
    lo = float(np.min(img, where=finite, initial=np.inf))
    hi = float(np.max(img, where=finite, initial=-np.inf))
    scaled = (img - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(img)
    notes: tuple[str, ...] = ()
    if not finite.all():
        scaled = np.where(finite, scaled, np.where(img < 0, 0.0, 255.0))
        bad = img.size - int(np.count_nonzero(finite))
        notes = (f"{bad:,} of {img.size:,} pixel values are not finite (NaN or ±Inf): left out of the "
                 "brightness range and shown as paper (NaN, +Inf) or ink (-Inf)",)
    return np.clip(scaled, 0, 255).astype(np.uint8), notes


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


def unit_gray_at_height(image: np.ndarray, height: int, flatten: bool = False) -> np.ndarray:
    """`to_unit_gray`, scaled to `height` rows keeping the aspect ratio (untouched when it
    already has that height): area averaging when shrinking, so thin strokes survive.

    With `flatten`, the scaled image is then turned into dark ink on even white paper
    (`io.paper.flatten_paper`: vignette, uneven light, coloured paper and light-on-dark
    ink undone), after the scaling so that a photograph costs no more than a line."""
    gray = to_unit_gray(image)
    h, w = gray.shape
    if h != height:
        new_w = max(1, round(w * height / h))
        interp = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
        gray = cv2.resize(gray, (new_w, height), interpolation=interp)
    return flatten_paper(gray) if flatten else gray
