"""Colour scales and overlays: shapes, dtypes, channel order, and the scale's range."""

import cv2
import numpy as np
import pytest

from thulium_desktop.render import colorize, fit_map, overlay, shared_scale, to_bgr8
from thulium_desktop.render.colormaps import matplotlib_cmap


@pytest.mark.parametrize(
    "image",
    [
        np.full((20, 30), 255, np.uint8),
        np.full((20, 30, 3), 255, np.uint8),
        np.full((20, 30, 4), 255, np.uint8),
        np.full((20, 30), 65535, np.uint16),
        np.full((20, 30, 3), 65535, np.uint16),
        np.ones((20, 30), np.float32),
    ],
    ids=["gray8", "bgr8", "bgra8", "gray16", "bgr16", "float"],
)
def test_every_image_kind_becomes_white_bgr8(image):
    out = to_bgr8(image)
    assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
    assert (out == 255).all()


def test_transparent_pixels_are_paper():
    bgra = np.zeros((2, 2, 4), np.uint8)  # black ink, fully transparent
    assert (to_bgr8(bgra) == 255).all()


def test_colour_is_kept_in_bgr_order():
    bgr = np.zeros((1, 1, 3), np.uint16)
    bgr[..., 2] = 65535  # red in OpenCV's order
    assert to_bgr8(bgr).tolist() == [[[0, 0, 255]]]


@pytest.mark.parametrize("bad", [np.zeros((2, 2, 2)), np.zeros((0, 4)), np.zeros(5)])
def test_odd_layouts_are_refused(bad):
    with pytest.raises(ValueError):
        to_bgr8(bad)


def test_profile_is_spread_over_the_height():
    fitted = fit_map(np.array([0.0, 1.0, 0.0, 0.0]), (10, 40))
    assert fitted.shape == (10, 40)
    assert np.allclose(fitted, fitted[0:1])  # every row the same
    assert 10 <= int(fitted[0].argmax()) < 20  # the peak stays in the second quarter


def test_small_grid_is_enlarged_and_large_map_shrunk_without_losing_a_thin_peak():
    assert fit_map(np.ones((3, 5)), (30, 50)).shape == (30, 50)
    big = np.zeros((40, 400), np.float32)
    big[:, 201] = 1.0  # one column wide
    assert fit_map(big, (10, 100)).max() > 0.2


def test_unsigned_scale_starts_at_zero_and_signed_scale_is_symmetric():
    maps = [np.array([[0.2, 0.5]]), np.array([[0.9, 0.3]])]
    unsigned = shared_scale(maps, signed=False)
    assert unsigned.vmin == 0.0 and unsigned.vmax == pytest.approx(0.9)
    signed = shared_scale([np.array([[-0.25, 1.0]])], signed=True)
    assert (signed.vmin, signed.vmax, signed.cmap) == (-1.0, 1.0, "RdBu_r")
    assert shared_scale([np.zeros((2, 2))], signed=False).vmax == 1.0


def test_default_colormap_is_viridis_and_jet_is_opencv_jet():
    scale = shared_scale([np.array([[0.0, 1.0]])], signed=False)
    assert scale.cmap == "viridis"
    viridis_top = np.round(np.array(matplotlib_cmap("viridis")(1.0)[:3]) * 255)[::-1]
    assert np.abs(colorize(np.array([[1.0]]), scale)[0, 0] - viridis_top).max() <= 1
    jet = shared_scale([np.array([[0.0, 1.0]])], signed=False, cmap=cv2.COLORMAP_JET)
    expected = cv2.applyColorMap(np.array([[0, 255]], np.uint8), cv2.COLORMAP_JET)
    assert (colorize(np.array([[0.0, 1.0]]), jet) == expected).all()


def test_unknown_colormaps_are_value_errors():
    with pytest.raises(ValueError):
        matplotlib_cmap("not-a-map")
    with pytest.raises(ValueError):
        colorize(np.zeros((1, 1)), shared_scale([np.zeros((1, 1))], False, cmap=999))


def test_overlay_blends_by_alpha():
    image = np.zeros((4, 4), np.uint8)
    scale = shared_scale([np.ones((4, 4))], signed=False)
    heat = colorize(np.ones((4, 4)), scale)
    assert (overlay(image, np.ones((4, 4)), scale, alpha=1.0) == heat).all()
    assert (overlay(image, np.ones((4, 4)), scale, alpha=0.0) == 0).all()
    with pytest.raises(ValueError):
        overlay(image, np.ones((4, 4)), scale, alpha=1.5)


def test_outlier_percentage_ends_the_scale_below_hot_pixels_and_says_so():
    values = np.concatenate([np.linspace(0.0, 1.0, 999), [50.0]]).reshape(1, -1)
    plain = shared_scale([values], signed=False)
    clipped = shared_scale([values], signed=False, outlier_perc=1.0)
    assert plain.vmax == 50.0 and plain.extend == "neither"
    assert clipped.vmax == pytest.approx(1.0, abs=0.02) and clipped.extend == "max"
    signed = shared_scale([values - 0.5, -values], signed=True, outlier_perc=1.0)
    assert signed.vmin == -signed.vmax and signed.extend == "both"
    assert shared_scale([values], signed=False, vmin=0.5).extend == "min"
