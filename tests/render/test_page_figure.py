"""The page figure on a page composed from the bundled samples (tests/page_builder.py):
outlines in the page view's colour rule where the polygons are in the saved PNG, the
map blended inside its line's polygon only, text kept as text, TrueType fonts, and
small files for a 4000 x 6000 scan."""

import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from page_builder import compose_page

from thulium_desktop.io.layout import Line
from thulium_desktop.io.line_images import cut_line, line_to_page
from thulium_desktop.render import (
    LEGEND_TEXT,
    UNREAD_COLOUR,
    line_mark,
    page_caption,
    save_figure,
    step_rgb,
)
from thulium_desktop.render.page_figure import page_figure
from thulium_desktop.render.colormaps import shared_scale
from thulium_desktop.render.overlay import composite, display_gray

DPI = 150
CAPTION = page_caption("demo model", 0.21, 3, 4, "gradient")


@pytest.fixture(scope="module")
def page():
    composed = compose_page()
    lines = [Line(p.id, p.polygon, p.baseline, p.truth, p.region) for p in composed.lines]
    return composed.image, lines


@pytest.fixture(scope="module")
def marks():
    # l1 read perfectly, l2 with a CER of 55%, l3 without a truth, l4 not read
    return {"l1": line_mark(0.0, None), "l2": line_mark(0.55, None), "l3": line_mark(None, 0.3)}


def ramp_on_page(image: np.ndarray, line: Line) -> np.ndarray:
    """A map rising from -0.5 to 1 along `line`, placed on the page (NaN elsewhere): its
    scale starts below zero, so a 0 leaking outside the polygon would be coloured."""
    cut = cut_line(image, line)
    height, width = cut.image.shape[:2]
    ramp = np.tile(np.linspace(-0.5, 1.0, width, dtype=np.float32), (height, 1))
    return line_to_page(ramp, cut, image.shape)


@pytest.fixture(scope="module")
def figure(page, marks):
    image, lines = page
    return page_figure(image, lines, marks, ramp_on_page(image, lines[1]), value_label="|\u2202 score/\u2202 pixel|",
                       caption=CAPTION, dpi=DPI)


def outline_pixels_in_png(fig, png_shape, line: Line) -> tuple[np.ndarray, np.ndarray]:
    """Where points every page pixel along `line`'s polygon land in the PNG
    `save_figure` wrote at `DPI` (its margins trimmed to the drawn content, padded 0.03 inch)."""
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(DPI)
    canvas.draw()
    box = fig.get_tightbbox(canvas.get_renderer()).padded(0.03)
    assert abs(png_shape[0] - box.height * DPI) <= 1 and abs(png_shape[1] - box.width * DPI) <= 1
    shown = fig.axes[0].transData.transform(along(np.asarray(line.polygon, np.float64)))
    return (np.round(shown[:, 0] - box.x0 * DPI).astype(int), np.round(box.y1 * DPI - shown[:, 1]).astype(int))


def along(polygon: np.ndarray) -> np.ndarray:
    """Points every pixel along the closed `polygon`'s edges."""
    ends = np.roll(polygon, -1, axis=0)
    return np.concatenate([np.linspace(a, b, max(2, int(np.hypot(*(b - a)))), endpoint=False)
                           for a, b in zip(polygon, ends)])


def share_in_colour(png: np.ndarray, xs: np.ndarray, ys: np.ndarray, rgb) -> float:
    """The share of the points with a pixel of colour `rgb` (±20 per channel) next to them."""
    want = np.asarray(rgb, int)
    near = [np.abs(png[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).astype(int) - want).max(axis=1).min() <= 20
            for x, y in zip(xs, ys)]
    return float(np.mean(near))


@pytest.fixture(scope="module")
def png(figure, tmp_path_factory):
    path = save_figure(figure, tmp_path_factory.mktemp("page") / "page.page.png", dpi=DPI)
    return cv2.imread(str(path))[:, :, ::-1]


def test_outlines_take_their_lines_cer_colour_in_the_png(figure, png, page):
    _, lines = page
    for line, step, other in ((lines[0], 0, 5), (lines[1], 5, 0)):
        xs, ys = outline_pixels_in_png(figure, png.shape, line)
        assert share_in_colour(png, xs, ys, step_rgb(step)) > 0.95, line.id  # solid: all along
        assert share_in_colour(png, xs, ys, step_rgb(other)) < 0.1, line.id


def test_unread_lines_are_grey_and_unsure_ones_coloured_by_confidence(figure, png, page):
    _, lines = page
    grey = tuple(int(UNREAD_COLOUR[i:i + 2], 16) for i in (1, 3, 5))
    xs, ys = outline_pixels_in_png(figure, png.shape, lines[3])
    assert 0.4 < share_in_colour(png, xs, ys, grey) < 0.9  # dotted: broken by gaps
    xs, ys = outline_pixels_in_png(figure, png.shape, lines[2])
    assert 0.4 < share_in_colour(png, xs, ys, step_rgb(7)) < 0.9  # 1 - 0.3 confidence, dashed


def test_the_line_colour_rule():
    assert line_mark(1.7, 0.99).value == 1.0 and line_mark(1.7, 0.99).is_cer
    assert line_mark(None, 0.95).value == pytest.approx(0.05) and not line_mark(None, 0.95).is_cer
    assert line_mark(None, None) is None
    assert step_rgb(0) != step_rgb(9)


def test_the_map_is_blended_inside_its_polygon_and_not_outside(figure, page):
    image, lines = page
    page_map = ramp_on_page(image, lines[1])
    drawn = figure.axes[0].images[0].get_array()
    gray = display_gray(image)
    assert drawn.shape[:2] == gray.shape  # a small scan is drawn at its own pixels
    inside = np.isfinite(page_map)
    expected = composite(gray, np.nan_to_num(page_map), shared_scale([page_map], False))
    np.testing.assert_array_equal(drawn[inside], expected[inside])
    strong = inside & (np.nan_to_num(page_map) > 0.8)
    assert (drawn[strong] != gray[strong][:, None]).any(axis=1).mean() > 0.9
    np.testing.assert_array_equal(drawn[~inside], np.repeat(gray[~inside][:, None], 3, axis=1))


def test_svg_keeps_caption_and_legend_as_text(figure, tmp_path):
    save_figure(figure, tmp_path / "page.page.svg")
    root = ET.parse(tmp_path / "page.page.svg").getroot()
    texts = " ".join("".join(node.itertext()) for node in root.iter("{http://www.w3.org/2000/svg}text"))
    assert CAPTION in texts
    assert all(phrase in texts for phrase in LEGEND_TEXT.split(" \u00b7 "))
    assert "\u2265100%" in texts


def test_pdf_embeds_truetype_fonts(figure, tmp_path):
    data = save_figure(figure, tmp_path / "page.page.pdf").read_bytes()
    assert b"/FontFile2" in data
    assert b"/Type3" not in data


def test_a_large_scan_is_drawn_at_the_figures_resolution_and_files_stay_small(page, marks, tmp_path):
    image, lines = page
    sx, sy = 4000 / image.shape[1], 6000 / image.shape[0]
    big = cv2.resize(image, (4000, 6000), interpolation=cv2.INTER_LINEAR)
    noise = np.random.default_rng(0).integers(-12, 13, big.shape[:2], dtype=np.int16)
    big = np.clip(big.astype(np.int16) + noise[:, :, None], 0, 255).astype(np.uint8)  # a scan's grain
    big_lines = [line.scaled(sx, sy) for line in lines]
    fig = page_figure(big, big_lines, marks, ramp_on_page(big, big_lines[1]), caption=CAPTION, dpi=DPI)
    rows, cols = fig.axes[0].images[0].get_array().shape[:2]
    width_in, height_in = fig.get_size_inches()
    assert cols <= width_in * DPI and rows <= height_in * DPI
    assert rows / cols == pytest.approx(6000 / 4000, rel=0.01)
    for ext in ("png", "svg", "pdf"):
        assert save_figure(fig, tmp_path / f"big.page.{ext}", dpi=DPI).stat().st_size < 4_000_000, ext


def test_without_a_map_the_scan_is_drawn_grey_with_only_the_line_scale(page, marks):
    image, lines = page
    fig = page_figure(image, lines, marks, caption=CAPTION, dpi=DPI)
    drawn = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(drawn, np.repeat(display_gray(image)[:, :, None], 3, axis=2))
    assert len(fig.axes) == 2  # the page and the line scale under it, no map colorbar


def test_a_map_of_another_size_than_the_page_is_refused(page, marks):
    image, lines = page
    with pytest.raises(ValueError, match="the map is 10x5 pixels, the page 492x277"):
        page_figure(image, lines, marks, np.zeros((5, 10), np.float32))
