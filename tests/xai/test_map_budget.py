"""Issue 26: maps whose stack (characters x pixels) exceeds `MAP_BUDGET_ELEMENTS` are
kept on a coarser grid over the image, and every consumer still reads them right.

The budget is patched low so that a bundled sample stands in for a page-sized image."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from thulium_desktop.app.canvas import ImageCanvas
from thulium_desktop.io import load_image
from thulium_desktop.models import load_model
from thulium_desktop.render import explanation_arrays, explanation_figure
from thulium_desktop.xai import saliency
from thulium_desktop.xai.centres import attention_centres
from thulium_desktop.xai.diagnostics import FAMILY_ATTENTION, column_centres, explanation_diagnostics
from thulium_desktop.xai.faithfulness import perturbation_curves
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator, map_grid

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
#: A sixteenth of the stack: each side of the grid about a quarter of the image's.
SHRINK = 16


@pytest.fixture(scope="module")
def reader():
    return load_model("attention-reader")


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return load_image(SAMPLES / "hello.png")


def explain(reader, image, method: str, budget: int | None = None):
    """`method`'s explanation of `image`, under `budget` map elements (None: the default)."""
    patch = pytest.MonkeyPatch()
    if budget is not None:
        patch.setattr(saliency, "MAP_BUDGET_ELEMENTS", budget)
    try:
        return SaliencyGenerator(reader, SaliencyConfig(method=method)).explain(image)
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def full(reader, image):
    return explain(reader, image, "attention")


@pytest.fixture(scope="module")
def coarse(reader, image, full):
    return explain(reader, image, "attention", full.maps.size // SHRINK)


def test_ordinary_maps_stay_on_the_image_pixels(full, image):
    assert full.maps.shape[1:] == image.shape[:2] == full.image_size == full.map_size


def test_maps_over_the_budget_are_kept_on_a_proportionally_coarser_grid(coarse, full, image):
    k, h, w = coarse.maps.shape
    height, width = image.shape[:2]
    assert k == len(full.maps) and coarse.image_size == (height, width)
    assert k * h * w <= full.maps.size // SHRINK
    assert (h, w) == map_grid(k, (height, width), full.maps.size // SHRINK)
    assert abs(h / height - w / width) < 2 / min(h, w)  # the same factor on both sides
    assert h < height // 3 and w < width // 3
    np.testing.assert_allclose(np.abs(coarse.maps).reshape(k, -1).max(axis=1), 1.0, rtol=1e-6)


def test_finishing_in_blocks_of_one_character_changes_no_value(reader, image, full, monkeypatch):
    monkeypatch.setattr(saliency, "FINISH_BLOCK_ELEMENTS", 1)
    np.testing.assert_array_equal(explain(reader, image, "attention").maps, full.maps)


def test_centres_of_coarse_maps_come_back_in_image_pixels(coarse, full, image):
    width = image.shape[1]
    cell = width / coarse.maps.shape[2]
    exact = attention_centres(full.maps, full.reading)
    scaled = attention_centres(coarse.maps, coarse.reading, width)
    assert scaled.max() > width / 2  # not left in grid columns
    np.testing.assert_allclose(scaled, exact, atol=cell)


def test_a_figure_and_the_canvas_draw_a_coarse_map(coarse, image, qtbot):
    fig = explanation_figure("view", image, {"attention": coarse}, 1)
    try:
        assert fig.axes
    finally:
        plt.close(fig)
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.set_image(image)
    canvas.set_map(coarse.maps[1], (0.0, 1.0), "inferno", False)
    assert canvas.view.heat.image.shape[:2] == image.shape[:2]
    row, col = np.unravel_index(np.argmax(coarse.maps[1]), coarse.maps.shape[1:])
    x = int((col + 0.5) * image.shape[1] / coarse.maps.shape[2])
    y = int((row + 0.5) * image.shape[0] / coarse.maps.shape[1])
    assert canvas.view.value_at(x, y) == pytest.approx(1.0)


def test_the_npz_records_the_grid_beside_the_image_size(coarse, image):
    arrays = explanation_arrays({"attention": coarse})
    assert tuple(arrays["image_size"]) == image.shape[:2]
    assert tuple(arrays["attention_map_size"]) == coarse.maps.shape[1:]
    assert arrays["attention"].shape == coarse.maps.shape


def test_diagnostics_and_curves_read_coarse_gradient_maps(reader, image):
    exact = explain(reader, image, "gradient")
    small = explain(reader, image, "gradient", exact.maps.size // SHRINK)
    assert small.maps.shape[1:] != image.shape[:2]
    focus = [[d.stroke_focus for d in explanation_diagnostics(image, e.maps)] for e in (exact, small)]
    np.testing.assert_allclose(focus[1], focus[0], atol=0.15)
    curves = perturbation_curves(reader, image, small.maps, small.token_indices, small.reading, steps=4)
    assert curves.scores.shape == (len(small.maps), 5)


def test_diagnostics_localise_coarse_maps_against_their_own_columns(coarse, image):
    """The trust report passes centres as columns of the maps it judges: on a coarse grid
    they are cells, measured in image pixels like the resampled maps."""
    centres = column_centres(coarse.maps)
    found = explanation_diagnostics(image, coarse.maps, centres, family=FAMILY_ATTENTION)
    cell = image.shape[1] / coarse.maps.shape[2]
    assert max(d.localisation_px for d in found) < cell
