"""The window's layout as a user resizes it: the canvas gets a fair share, the Trust panel
stays readable, the method panel keeps its texts, and no empty band opens under the timeline."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from gui_helpers import SAMPLES, WAIT_MS, open_settled, sample_copy

from thulium_desktop.app.trust_panel import PREFERRED_HEIGHT, READABLE_HEIGHT


def long_line(folder) -> str:
    """A long line (about 2000×64 px) made of the bundled samples side by side."""
    height = 64
    words = [cv2.imread(str(SAMPLES / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
             for name in ("hello", "recognition", "thulium", "attention", "capitals")]
    words = [cv2.resize(w, (w.shape[1] * height // w.shape[0], height)) for w in words]
    folder.mkdir(exist_ok=True)
    path = folder / "line.png"
    cv2.imwrite(str(path), np.hstack(words))
    return str(path)


def readable_trust(window) -> bool:
    """The Trust panel under the canvas, tall enough for its title and first lines."""
    trust = window.trust
    title = trust.fontMetrics().horizontalAdvance(trust.windowTitle()) + 20
    return trust.height() >= max(READABLE_HEIGHT - 4, title)


def empty_band(window) -> int:
    """Pixels of nothing between the details line and the bottom of the canvas column."""
    return window.view_column.height() - window.details.geometry().bottom()


@pytest.mark.parametrize("size", [(800, 600), (1280, 760), (1920, 1080)])
def test_after_a_resize_the_image_and_the_trust_panel_share_the_height(qtbot, make_window, tmp_path, size):
    window = make_window()
    open_settled(qtbot, window, [sample_copy(tmp_path / "images", "hello.png")])
    window.resize(*size)
    about = window.panel._about

    def laid_out():
        room = window.view_column.height() + window.trust.height()
        assert readable_trust(window)
        assert window.canvas.height() >= 0.35 * room, "the image's share"
        assert about.height() >= about.heightForWidth(about.width()), "the method description is cut off"

    qtbot.waitUntil(laid_out, timeout=WAIT_MS)


def test_a_long_line_leaves_no_empty_band_under_the_timeline(qtbot, make_window, tmp_path):
    window = make_window()
    open_settled(qtbot, window, [long_line(tmp_path / "lines")])
    window.resize(1920, 1080)

    def wide():
        assert empty_band(window) < 30
        assert window.trust.height() > PREFERRED_HEIGHT  # it takes what the line leaves

    qtbot.waitUntil(wide, timeout=WAIT_MS)
    window.resize(800, 600)

    def narrow():
        assert readable_trust(window)
        assert empty_band(window) < 30

    qtbot.waitUntil(narrow, timeout=WAIT_MS)
