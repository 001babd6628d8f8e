"""Every image input is bounded: bombs are refused from their headers, pipes are not
opened, and no header, however broken, gets past the loader's one-line refusal."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from image_bombs import BOMBS, small_image

from thulium_desktop.io.images import (
    MAX_PIXELS,
    PIXEL_LIMIT_VARIABLE,
    ImageLoadError,
    LoadedImage,
    load_image,
    read_image,
)


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", list(BOMBS))
def test_a_bomb_is_refused_from_its_header_naming_its_size_and_the_limit(tmp_path: Path, name):
    file_name, make, width, height = BOMBS[name]
    path = tmp_path / file_name
    path.write_bytes(make())
    before = peak_rss_bytes()
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    message = str(info.value)
    assert f"{width}x{height} pixels" in message and f"limit of {MAX_PIXELS:,} pixels" in message
    assert PIXEL_LIMIT_VARIABLE in message and "\n" not in message
    # Decoding even one of them would raise the peak by hundreds of megabytes.
    assert peak_rss_bytes() - before < 100 * 2**20


def test_the_limit_is_raised_and_lowered_by_the_environment(tmp_path: Path, monkeypatch, word_image):
    path = tmp_path / "word.png"
    cv2.imwrite(str(path), word_image)
    pixels = word_image.size
    monkeypatch.setenv(PIXEL_LIMIT_VARIABLE, str(pixels - 1))
    with pytest.raises(ImageLoadError, match=f"limit of {pixels - 1:,} pixels"):
        load_image(path)
    monkeypatch.setenv(PIXEL_LIMIT_VARIABLE, str(pixels))
    assert load_image(path).shape == word_image.shape


@pytest.mark.parametrize("value", ["many", "0", "-5", "1e9"])
def test_a_bad_limit_in_the_environment_is_named(tmp_path: Path, monkeypatch, word_image, value):
    path = tmp_path / "word.png"
    cv2.imwrite(str(path), word_image)
    monkeypatch.setenv(PIXEL_LIMIT_VARIABLE, value)
    with pytest.raises(ImageLoadError, match=f"{PIXEL_LIMIT_VARIABLE}='{value}' is not a positive whole number"):
        load_image(path)


@pytest.mark.timeout(20)
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path):
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageLoadError, match="not a regular file: it is a named pipe") as info:
        load_image(fifo)
    assert str(fifo) in str(info.value)


def test_a_file_far_larger_than_any_allowed_image_is_not_read(tmp_path: Path, monkeypatch, word_image):
    """The pixel limit bounds the bytes read too (8 per pixel, plus headers)."""
    path = tmp_path / "word.png"
    data = cv2.imencode(".png", word_image)[1].tobytes()
    path.write_bytes(data + b"\0" * (3 * 2**20))  # trailing junk after IEND
    monkeypatch.setenv(PIXEL_LIMIT_VARIABLE, "1000")
    with pytest.raises(ImageLoadError, match="more than any image within the limit"):
        load_image(path)
    monkeypatch.delenv(PIXEL_LIMIT_VARIABLE)
    assert load_image(path).shape == word_image.shape


#: Small valid files of each format the loader sizes, to break in every way.
SEEDS = {
    "png": bytes(small_image("PNG")),
    "jpeg": bytes(small_image("JPEG")),
    "tiff": bytes(small_image("TIFF")),
    "webp": bytes(small_image("WEBP")),
    "bmp": bytes(small_image("BMP")),
}


@st.composite
def broken_files(draw) -> bytes:
    """A seed truncated, with header bytes overwritten, or nothing but random bytes."""
    how = draw(st.sampled_from(["truncate", "patch", "random"]))
    if how == "random":
        return draw(st.binary(min_size=1, max_size=200))
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    if how == "truncate":
        return bytes(data[: draw(st.integers(1, len(data) - 1))])
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, min(len(data), 96) - 1))
        patch = draw(st.binary(min_size=1, max_size=4))
        data[at : at + len(patch)] = patch
    return bytes(data)


@pytest.mark.timeout(60)
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=broken_files())
def test_any_header_gives_an_image_or_a_one_line_refusal(tmp_path: Path, monkeypatch, data):
    # A patched header may declare up to the limit; a small one keeps each example cheap.
    monkeypatch.setenv(PIXEL_LIMIT_VARIABLE, "4000000")
    path = tmp_path / "fuzzed.img"
    path.write_bytes(data)
    try:
        loaded = read_image(path)
    except ImageLoadError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
    else:
        assert isinstance(loaded, LoadedImage) and loaded.image.ndim in (2, 3)
        assert loaded.image.dtype in (np.uint8, np.uint16) and min(loaded.image.shape[:2]) >= 1
        assert loaded.image.shape[0] * loaded.image.shape[1] <= 4_000_000  # what was decoded was sized
