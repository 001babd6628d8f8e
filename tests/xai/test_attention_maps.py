"""The seed documentation's AttentionVisualizer calls, as written there."""

import cv2
import numpy as np
import pytest
import torch

from tiny_models import ALPHABET, tiny_crnn
from thulium_desktop.models import CTCRecognizer
from thulium_desktop.xai.attention_maps import AttentionVisualizer


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    img = np.full((32, 96), 255, np.uint8)
    img[8:24, 8:88] = rng.integers(0, 120, (16, 80))
    return img


@pytest.mark.parametrize(
    "weights",
    [np.linspace(0, 1, 24), np.random.default_rng(1).random((4, 6)), np.random.default_rng(2).random((64, 200))],
    ids=["column-profile", "small-grid", "large-map"],
)
def test_overlay_attention_returns_bgr_of_the_image_size(image, weights):
    out = AttentionVisualizer().overlay_attention(image, weights, alpha=0.6)
    assert out.dtype == np.uint8 and out.shape == (32, 96, 3)
    assert cv2.imencode(".png", out)[0]  # ready for cv2.imwrite


def test_column_profile_colours_columns_not_rows(image):
    profile = np.zeros(24)
    profile[18] = 1.0
    out = AttentionVisualizer().overlay_attention(np.full((32, 96), 255, np.uint8), profile, alpha=1.0)
    assert (out == out[0:1]).all()  # the same colour all the way down each column
    assert not (out[:, 72] == out[:, 10]).all()  # and the peak's columns differ from the rest


@pytest.mark.parametrize(
    "img",
    [np.zeros((10, 20, 3), np.uint8), np.zeros((10, 20, 4), np.uint8), np.zeros((10, 20), np.uint16)],
    ids=["bgr", "bgra", "gray16"],
)
def test_overlay_accepts_colour_alpha_and_16_bit(img):
    assert AttentionVisualizer().overlay_attention(img, np.ones((2, 2))).shape == (10, 20, 3)


def test_default_colormap_is_viridis_and_jet_when_asked(image):
    viz = AttentionVisualizer()
    weights = np.linspace(0, 1, 96)[None, :].repeat(32, axis=0)
    default = viz.overlay_attention(image, weights, alpha=1.0)
    jet = viz.overlay_attention(image, weights, alpha=1.0, colormap=cv2.COLORMAP_JET)
    ramp = np.round(np.linspace(0, 255, 96)).astype(np.uint8)[None, :]
    assert np.abs(default[0].astype(int) - cv2.applyColorMap(ramp, cv2.COLORMAP_VIRIDIS)[0]).max() <= 2
    assert np.abs(jet[0].astype(int) - cv2.applyColorMap(ramp, cv2.COLORMAP_JET)[0]).max() <= 2


def test_token_picks_one_character_of_a_stack(image):
    stack = np.zeros((3, 8, 24), np.float32)
    stack[1, :, 20:] = 1.0
    viz = AttentionVisualizer()
    picked = viz.overlay_attention(image, torch.from_numpy(stack), token=1, alpha=1.0)
    assert (picked == viz.overlay_attention(image, stack[1], alpha=1.0)).all()
    with pytest.raises(ValueError, match="token="):
        viz.overlay_attention(image, stack)
    with pytest.raises(ValueError):
        viz.overlay_attention(image, stack, token=3)


def test_plot_attention_grid_labels_panels_and_saves_by_extension(image, tmp_path):
    maps = np.random.default_rng(3).random((5, 32, 96))
    fig = AttentionVisualizer().plot_attention_grid(image, maps, "hello", save_path=tmp_path / "grid.pdf")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["\u2018h\u2019 #1", "\u2018e\u2019 #2", "\u2018l\u2019 #3", "\u2018l\u2019 #4", "\u2018o\u2019 #5"]
    assert (tmp_path / "grid.pdf").read_bytes().startswith(b"%PDF")
    with pytest.raises(ValueError):
        AttentionVisualizer().plot_attention_grid(image, maps, "hell")


def test_get_attention_asks_the_recognizer(image):
    recognizer = CTCRecognizer(tiny_crnn(), ALPHABET, height=32)
    viz = AttentionVisualizer(recognizer)
    maps = viz.get_attention(image)
    reading = recognizer.read(recognizer.prepare(image).tensor)
    assert maps.shape == (len(reading), 32, 96)
    assert len(reading) > 0 and (maps >= 0).all()
    with pytest.raises(ValueError):
        AttentionVisualizer().get_attention(image)
