"""Figure builders: layout for 1, 5 and 40 characters on a page, one shared scale, crisp rasters."""

import base64
import re

import cv2
import numpy as np
import pytest
from figure_samples import bumps, explanation, line, word  # noqa: F401 (fixtures)

from thulium_desktop.render import (
    caption,
    character_labels,
    comparison_figure,
    overlay_figure,
    save_figure,
    shared_scale,
    token_grid_figure,
)
from thulium_desktop.render.figures import MAX_HEIGHT_IN, MIN_PANEL_H_PT, grid_capacity
from thulium_desktop.render.overlay import colorbar_colours, composite


def panels(fig):
    """The image panels (not the colorbar) of a figure."""
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def colorbars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def bar_range(bar_ax):
    box = bar_ax.get_position()
    return bar_ax.get_xlim() if box.width > box.height else bar_ax.get_ylim()


def inches(fig, ax):
    box = ax.get_window_extent()
    return box.width / fig.dpi, box.height / fig.dpi


@pytest.mark.parametrize("n", [1, 5, 40])
@pytest.mark.parametrize("shape", ["word", "line"])
def test_grid_layout_stays_legible_on_a_page(n, shape, request):
    """As many panels as `grid_capacity` allows: every one of a word's, a page's worth
    of a 40-character line's, none of them below the legible size."""
    image = request.getfixturevalue(shape)
    labels = character_labels(["m"] * n, range(n), np.linspace(0, 1, n))
    fits = grid_capacity(image, labels)
    assert fits == n or (shape, n) == ("line", 40)
    fig = token_grid_figure(image, bumps(image, fits), labels[:fits])
    fig.draw_without_rendering()
    drawn = panels(fig)
    assert len(drawn) == fits and len(colorbars(fig)) == 1
    assert [ax.get_title() or ax.get_ylabel() for ax in drawn] == labels[:fits]
    width, height = fig.get_size_inches()
    assert width <= 8.5 and height <= MAX_HEIGHT_IN
    for ax in drawn:
        w_in, h_in = inches(fig, ax)
        assert h_in * 72 >= MIN_PANEL_H_PT and w_in >= 0.6  # large enough to read the handwriting
    if n > 1 and shape == "word":
        assert len({round(ax.get_position().y0, 3) for ax in drawn}) > 1  # wrapped into rows


def test_panels_share_one_scale_up_to_the_largest_value(word):
    maps = bumps(word, 3) * np.array([0.2, 1.0, 3.0], np.float32)[:, None, None]
    fig = token_grid_figure(word, maps, ["a", "b", "c"])
    (bar,) = colorbars(fig)
    assert bar_range(bar) == pytest.approx((0.0, 3.0), abs=1e-3)


def test_signed_maps_get_a_symmetric_diverging_scale(word):
    fig = overlay_figure(word, bumps(word, 1)[0] - 0.5, signed=True)
    (bar,) = colorbars(fig)
    lo, hi = bar_range(bar)
    assert lo == pytest.approx(-hi)


def test_caption_and_special_characters_are_drawn_literally(word):
    text = caption(explanation(word, "ab$"), character_labels(["$"], [3], [0.5])[0])
    assert text == "crnn \u00b7 integrated (num_steps=50) \u00b7 \u2018$\u2019 #4 p=0.50"  # index 3: the 4th
    fig = overlay_figure(word, bumps(word, 1)[0], label="$x_1$", caption=text)
    fig.draw_without_rendering()
    assert fig.get_suptitle() == text
    assert panels(fig)[0].get_title() == "$x_1$"  # not typeset as maths
    assert character_labels([" "]) == ["\u2018\u2423\u2019"]


def test_comparison_grid_rows_and_columns(word):
    methods = ["attention", "gradient", "gradcam"]
    maps = [[bumps(word, 2)[i] * (r + 1) for i in range(2)] for r in range(3)]
    fig = comparison_figure(word, maps, methods, ["a", "b"], caption="compared")
    fig.draw_without_rendering()
    drawn = panels(fig)
    assert len(drawn) == 6 and len(colorbars(fig)) == 1
    assert [ax.get_ylabel() for ax in drawn if ax.get_ylabel()] == methods
    assert [ax.get_title() for ax in drawn if ax.get_title()] == ["a", "b"]
    with pytest.raises(ValueError):
        comparison_figure(word, maps[:2], methods, ["a", "b"])


def test_label_count_must_match(word):
    with pytest.raises(ValueError):
        token_grid_figure(word, bumps(word, 2), ["a"])
    with pytest.raises(ValueError):
        token_grid_figure(word, [], None)


def test_svg_raster_is_upsampled_by_nearest_neighbour_not_blurred(tmp_path):
    image = np.zeros((100, 1000), np.uint8)
    image[:, ::2] = 255  # stripes one pixel wide: any smoothing would invent greys
    fig = overlay_figure(image, np.zeros((100, 1000)), opacity=0.0)
    save_figure(fig, tmp_path / "f.svg")
    svg = (tmp_path / "f.svg").read_text()
    embedded = re.search(r'<image[^>]*xlink:href="data:image/png;base64,([^"]+)"', svg).group(1)
    pixels = cv2.imdecode(np.frombuffer(base64.b64decode(embedded), np.uint8), cv2.IMREAD_UNCHANGED)
    assert pixels.shape[1] > 1000  # enlarged into the file (~2x), not left to the viewer
    assert set(np.unique(pixels[..., :3])) <= {0, 255}


def test_every_panel_is_the_composite_the_screen_shows(word):
    maps = bumps(word, 3)
    fig = token_grid_figure(word, maps, ["a", "b", "c"], opacity=0.6)
    scale = shared_scale(list(maps), False)
    for ax, values in zip(panels(fig), maps):
        np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), composite(word, values, scale, 0.6))


def test_the_colorbar_is_in_the_panels_colours_and_says_what_the_value_is(word):
    label = "|\u2202 score/\u2202 pixel|, normalised per map"
    fig = overlay_figure(word, bumps(word, 1)[0] - 0.5, signed=True, opacity=0.7, value_label=label)
    (bar,) = colorbars(fig)
    assert label in (bar.get_xlabel(), bar.get_ylabel())
    scale = shared_scale([bumps(word, 1)[0] - 0.5], True)
    shown = np.round(bar._colorbar.cmap(np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
    np.testing.assert_array_equal(shown, colorbar_colours(scale, 0.7))
