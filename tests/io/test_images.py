"""Every image kind a user brings opens the same way; every broken one says why."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from thulium_desktop.io import ImageLoadError, load_image, to_unit_gray
from thulium_desktop.io.images import ImageNote, read_image


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


def test_to_unit_gray_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="HxW"):
        to_unit_gray(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        to_unit_gray(np.zeros((0, 4), np.uint8))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_viewers_do_and_noted(tmp_path: Path, orientation):
    stored = (np.arange(6 * 10, dtype=np.uint8).reshape(6, 10) * 4)
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    path = tmp_path / "turned.png"
    Image.fromarray(stored).save(path, exif=exif)
    loaded = read_image(path)
    np.testing.assert_array_equal(loaded.image, np.asarray(ImageOps.exif_transpose(Image.open(path))))
    if orientation == 1:
        assert loaded.notes == ()
    else:
        assert loaded.notes == (loaded.notes[0],) and f"EXIF orientation {orientation} applied" in loaded.notes[0]


def test_a_sideways_jpeg_loads_upright_and_load_image_warns(tmp_path: Path, word_image):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned 90° counter-clockwise: shown turned back clockwise
    path = tmp_path / "sideways.jpg"
    Image.fromarray(np.rot90(word_image)).save(path, exif=exif, quality=95)
    with pytest.warns(ImageNote, match="rotated 90° clockwise"):
        upright = load_image(path)
    assert upright.shape == word_image.shape
    assert np.abs(upright.astype(int) - word_image).mean() < 3


def test_a_float_tiff_with_an_inf_keeps_its_range_and_says_so(tmp_path: Path, word_image):
    values = word_image.astype(np.float32) / 255.0
    values[0, 0], values[0, 1], values[0, 2] = np.inf, -np.inf, np.nan
    path = tmp_path / "float.tif"
    assert cv2.imwrite(str(path), values)
    loaded = read_image(path)
    assert loaded.image.dtype == np.uint8
    ink = word_image < 128
    assert loaded.image[ink].mean() < 80 and loaded.image[~ink].mean() > 170  # not all black
    assert loaded.image[0, :3].tolist() == [255, 0, 255]
    assert len(loaded.notes) == 1 and f"3 of {values.size:,} pixel values are not finite" in loaded.notes[0]


def test_a_plain_image_loads_without_notes(tmp_path: Path, word_image):
    path = tmp_path / "plain.png"
    assert cv2.imwrite(str(path), word_image)
    assert read_image(path).notes == ()
