"""Every image kind a user brings opens the same way; every broken one says why."""

from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from thulium_desktop.io import ImageLoadError, load_image, to_unit_gray
from thulium_desktop.io.images import MAX_PIXELS


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".jpg"])
def test_formats_round_trip(tmp_path: Path, word_image, suffix):
    path = tmp_path / f"word{suffix}"
    assert cv2.imwrite(str(path), word_image)
    loaded = load_image(path)
    assert loaded.shape == word_image.shape and loaded.dtype == np.uint8
    tolerance = 40 if suffix == ".jpg" else 0
    assert np.abs(loaded.astype(int) - word_image).max() <= tolerance


def test_sixteen_bit_colour_and_alpha(tmp_path: Path, word_image):
    wide = word_image.astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / "w16.png"), wide)
    bgra = np.dstack([np.repeat(word_image[:, :, None], 3, 2), np.full_like(word_image, 255)])
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    w16, rgba = load_image(tmp_path / "w16.png"), load_image(tmp_path / "a.png")
    assert w16.dtype == np.uint16 and rgba.shape[2] == 4
    expected = word_image / 255.0
    np.testing.assert_allclose(to_unit_gray(w16), expected, atol=1e-6)
    np.testing.assert_allclose(to_unit_gray(rgba), expected, atol=1e-2)


def test_transparent_pixels_are_paper():
    bgra = np.zeros((4, 4, 4), np.uint8)  # black but fully transparent
    np.testing.assert_allclose(to_unit_gray(bgra), 1.0)


def test_non_ascii_path(tmp_path: Path, word_image):
    path = tmp_path / "écriture_手書き.png"
    cv2.imencode(".png", word_image)[1].tofile(path)
    assert load_image(path).shape == word_image.shape


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"this is not an image at all"), "not a supported image"),
        (lambda p: p.write_bytes(cv2.imencode(".png", np.zeros((50, 50), np.uint8))[1].tobytes()[:60]), "corrupt or truncated"),
    ],
)
def test_broken_files_name_the_file_and_reason(tmp_path: Path, make, reason):
    path = tmp_path / "broken.png"
    make(path)
    with pytest.raises(ImageLoadError, match=reason) as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_missing_file_and_folder(tmp_path: Path):
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageLoadError, match="is a folder"):
        load_image(tmp_path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path):
    """A PNG header claiming 100k x 100k pixels is refused from its header alone."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = (100_000).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    with pytest.raises(ImageLoadError, match=f"limit of {MAX_PIXELS:,}"):
        load_image(path)


def test_to_unit_gray_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="HxW"):
        to_unit_gray(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        to_unit_gray(np.zeros((0, 4), np.uint8))
