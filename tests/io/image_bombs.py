"""Small image files whose headers declare huge sizes (decompression bombs), for tests
and `benchmarks/bounds.py`.

Each is a real 60x40 image written by Pillow with its width and height fields patched,
so it is a few kilobytes but would cost gigabytes to decode. Never decode one.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
from PIL import Image


def small_image(fmt: str, **options) -> bytearray:
    """A 60x40 grayscale image of random pixels, encoded by Pillow as `fmt`."""
    pixels = np.random.default_rng(0).integers(0, 256, (40, 60), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt, **options)
    return bytearray(out.getvalue())


def tiff_bomb(width: int, height: int) -> bytes:
    """The ImageWidth (256) and ImageLength (257) tags of the first IFD patched."""
    data = small_image("TIFF")
    for tag, value in ((256, width), (257, height)):
        at = data.index(struct.pack("<HHI", tag, 4, 1))  # tag, LONG, one value
        data[at + 8 : at + 12] = struct.pack("<I", value)
    return bytes(data)


def jpeg_bomb(width: int, height: int) -> bytes:
    """The baseline start-of-frame (SOF0) height and width patched."""
    data = small_image("JPEG")
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_bomb(width: int, height: int) -> bytes:
    """A lossy WebP whose VP8 frame header's 14-bit width and height are patched."""
    data = small_image("WEBP")
    at = data.index(b"\x9d\x01\x2a") + 3
    data[at : at + 4] = struct.pack("<HH", width, height)
    return bytes(data)


def bmp_bomb(width: int, height: int) -> bytes:
    data = small_image("BMP")
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def png_bomb(width: int, height: int) -> bytes:
    """The IHDR chunk patched, its CRC recomputed (PNG readers check it)."""
    data = small_image("PNG")
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


#: name → (file name, bytes, declared width, declared height): the issue's reproductions.
BOMBS: dict[str, tuple[str, Callable[[], bytes], int, int]] = {
    "WebP 16383x16383": ("bomb.webp", lambda: webp_bomb(16383, 16383), 16383, 16383),
    "TIFF 30000x30000": ("bomb.tif", lambda: tiff_bomb(30000, 30000), 30000, 30000),
    "TIFF named .png": ("bomb.png", lambda: tiff_bomb(30000, 30000), 30000, 30000),
    "JPEG 30000x30000": ("bomb.jpg", lambda: jpeg_bomb(30000, 30000), 30000, 30000),
    "BMP 30000x30000": ("bomb.bmp", lambda: bmp_bomb(30000, 30000), 30000, 30000),
    "PNG 100000x100000": ("bomb.png", lambda: png_bomb(100_000, 100_000), 100_000, 100_000),
}
