"""Colour scales and overlays: shapes, dtypes, channel order, the scale's range, and the
composite that the screen and the figures both show."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from thulium_desktop.render import colorize, fit_map, overlay, shared_scale, to_bgr8
from thulium_desktop.io.images import load_image
from thulium_desktop.render.colormaps import lookup_table, matplotlib_cmap
from thulium_desktop.render.overlay import ALPHA_SATURATION, DEFAULT_OPACITY, colorbar_colours, composite, display_gray


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


# -- composite: the one blend of the screen and the figures ---------------------------------

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "hello.png"


@pytest.fixture(scope="module")
def hello() -> np.ndarray:
    return load_image(SAMPLE)


def test_where_the_map_is_zero_the_image_shows_unchanged(hello):
    """The issue's export turned paper purple: a value at the scale's zero is transparent."""
    gray = display_gray(hello)
    weights = np.zeros(gray.shape, np.float32)
    weights[:, :10] = 1.0
    scale = shared_scale([weights], signed=False)
    out = composite(hello, weights, scale)
    assert out.dtype == np.uint8 and out.shape == (*gray.shape, 3)
    np.testing.assert_array_equal(out[:, 10:], np.repeat(gray[:, 10:, None], 3, axis=2))


def test_a_strong_value_lays_its_colour_over_the_image_at_the_opacity(hello):
    gray = display_gray(hello).astype(np.float64)
    weights = np.ones(gray.shape, np.float32)
    scale = shared_scale([weights], signed=False)
    top = lookup_table(scale.cmap)[-1].astype(np.float64)
    for opacity in (0.0, 0.3, DEFAULT_OPACITY, 1.0):
        expected = gray[:, :, None] * (1 - opacity) + top * opacity
        out = composite(hello, weights, scale, opacity).astype(np.float64)
        assert np.abs(out - expected).max() <= 0.5 + 1e-9
    with pytest.raises(ValueError, match="opacity"):
        composite(hello, weights, scale, 1.5)


def test_weak_values_fade_in_until_the_saturation_point(hello):
    weights = np.tile(np.linspace(0.0, 1.0, hello.shape[1], dtype=np.float32), (hello.shape[0], 1))
    scale = shared_scale([weights], signed=False)
    paper = np.full(hello.shape, 255, np.uint8)
    shift = np.abs(composite(paper, weights, scale).astype(int) - 255).sum(axis=2)[0]
    ramp = shift[weights[0] <= ALPHA_SATURATION]
    assert ramp[0] == 0 and (np.diff(ramp[: len(ramp) // 2]) >= -1).all() and ramp[-1] > ramp[len(ramp) // 4]


def test_a_signed_maps_zero_is_its_centre_and_transparent(hello):
    gray = display_gray(hello)
    weights = np.zeros(gray.shape, np.float32)
    weights[:, :5], weights[:, 5:10] = -1.0, 1.0
    scale = shared_scale([weights], signed=True)
    assert scale.signed and scale.vmin == -scale.vmax
    out = composite(hello, weights, scale)
    np.testing.assert_array_equal(out[:, 10:], np.repeat(gray[:, 10:, None], 3, axis=2))
    blue, red = out[:, :5].reshape(-1, 3).mean(axis=0), out[:, 5:10].reshape(-1, 3).mean(axis=0)
    assert blue[2] > blue[0] and red[0] > red[2]  # RdBu_r: negative blue, positive red


def test_a_colour_image_is_laid_under_the_map_in_grayscale(hello):
    bgr = np.repeat(hello[:, :, None], 3, axis=2)
    bgr[:, :, 0] = 255 - bgr[:, :, 0]  # a colour cast the screen does not show either
    weights = np.random.default_rng(0).random(hello.shape).astype(np.float32)
    scale = shared_scale([weights], signed=False)
    np.testing.assert_array_equal(composite(bgr, weights, scale), composite(display_gray(bgr), weights, scale))


def test_the_colorbar_shows_each_step_as_the_overlay_draws_it_over_paper():
    values = np.linspace(0.0, 2.0, 256, dtype=np.float32)[None, :]
    for signed in (False, True):
        scale = shared_scale([values - signed], signed)
        paper = np.full(values.shape, 255, np.uint8)
        np.testing.assert_array_equal(colorbar_colours(scale, 0.6), composite(paper, values - signed, scale, 0.6)[0])
    assert (colorbar_colours(shared_scale([values], False))[0] == 255).all()  # zero is the paper
