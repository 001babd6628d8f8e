"""Opening an image the model cannot read well (too small for its input height, blank,
too dark) says so in the message bar, and the image is read all the same."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from gui_helpers import WAIT_MS

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def open_and_settle(qtbot, window, paths) -> None:
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        assert window.open_paths(paths)


def loaded_window(qtbot, make_window):
    """A window whose model (the tiny CRNN, 32 pixels high) has been announced."""
    window = make_window()
    qtbot.waitUntil(lambda: window.browser.model_height == 32, timeout=WAIT_MS)
    return window


def test_a_crop_lower_than_the_model_is_noted_and_read_anyway(qtbot, make_window, tmp_path):
    hello = cv2.imread(str(SAMPLES / "hello.png"), cv2.IMREAD_UNCHANGED)
    crop = tmp_path / "crop.png"
    cv2.imwrite(str(crop), hello[20:22, 40:43])
    window = loaded_window(qtbot, make_window)
    open_and_settle(qtbot, window, [crop])
    assert ("Note: crop.png: 3×2 pixels: upscaled 16× to the model's 32-pixel height; "
            "the reading is a guess") in window.message.text.splitlines()
    assert window.view_model.reading is not None  # read anyway


def test_paging_to_a_dark_image_notes_it_and_back_to_a_good_one_clears_it(qtbot, make_window, tmp_path):
    hello = cv2.imread(str(SAMPLES / "hello.png"), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(tmp_path / "a_good.png"), hello)
    cv2.imwrite(str(tmp_path / "b_dark.png"), (hello * 0.2).astype(np.uint8))
    window = loaded_window(qtbot, make_window)
    open_and_settle(qtbot, window, [tmp_path])
    assert window.message.text == ""
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.browser.step(1)
    assert window.message.text.startswith("Note: b_dark.png: too dark: median grey")
    assert window.view_model.reading is not None
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.browser.step(-1)
    assert window.message.text == ""
