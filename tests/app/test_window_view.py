"""The window's view state: startup, characters, arrows, methods, clicks on the image."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import WAIT_MS, open_settled, sample_copy
from PySide6.QtCore import QPoint, Qt

from thulium_desktop.app.timeline import ALL
from thulium_desktop.xai.spec import MethodSpec


def shown_map(window) -> np.ndarray:
    values = window.canvas.view.map
    assert values is not None, "no map is shown"
    return values.copy()


def click_cell(qtbot, window, index: int) -> None:
    centre = window.timeline.cell_rect(index).center().toPoint()
    qtbot.mouseClick(window.timeline, Qt.MouseButton.LeftButton, pos=centre)


def test_startup_shows_reading_and_first_attention_map(window, models):
    reading = models.built[0].read(models.built[0].prepare(window.view_model.image).tensor)
    assert len(reading) > 2
    assert window.timeline.count == len(reading)
    assert window.timeline.current == 0
    assert window.panel.method == "attention"
    expected = window.view_model.results[MethodSpec.build("attention", {})].maps[0]
    np.testing.assert_array_equal(shown_map(window), expected)
    assert "Reads:" in window.reading_label.text()
    assert window.status.model.text() == "model: tiny-crnn"
    assert window.status.device.text() == "device: CPU"
    assert window.canvas.colorbar_shown


def test_clicking_characters_changes_the_map(qtbot, window):
    first = shown_map(window)
    click_cell(qtbot, window, 2)
    assert window.timeline.current == 2
    third = shown_map(window)
    assert not np.array_equal(first, third)
    click_cell(qtbot, window, ALL)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        pass
    assert window.timeline.current == ALL
    whole = window.view_model.results[MethodSpec.build("attention", {}, whole_reading=True)].maps[0]
    np.testing.assert_array_equal(shown_map(window), whole)


def test_arrow_keys_step_through_characters_and_stop_at_the_ends(qtbot, window):
    window.timeline.setFocus()
    qtbot.keyClick(window.timeline, Qt.Key.Key_Right)
    assert window.timeline.current == 1
    qtbot.keyClick(window.timeline, Qt.Key.Key_Left)
    qtbot.keyClick(window.timeline, Qt.Key.Key_Left)
    assert window.timeline.current == ALL
    qtbot.keyClick(window.timeline, Qt.Key.Key_Left)
    assert window.timeline.current == ALL
    for _ in range(window.timeline.count + 3):
        qtbot.keyClick(window.timeline, Qt.Key.Key_Right)
    assert window.timeline.current == window.timeline.count - 1
    qtbot.keyClick(window.timeline, Qt.Key.Key_Home)
    assert window.timeline.current == 0
    qtbot.keyClick(window.timeline, Qt.Key.Key_End)
    assert window.timeline.current == window.timeline.count - 1


def test_method_switch_recomputes_and_shows_that_method(qtbot, window):
    attention = shown_map(window)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["gradient"].click()
    spec = MethodSpec.build("gradient", window.panel.params())
    assert spec in window.view_model.results
    np.testing.assert_array_equal(shown_map(window), window.view_model.results[spec].maps[0])
    assert not np.array_equal(attention, shown_map(window))


def test_unticking_absolute_gives_a_signed_map_on_a_diverging_scale(qtbot, window):
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["gradient"].click()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.absolute.setChecked(False)
    values = shown_map(window)
    assert values.min() < 0 < values.max()
    lo, hi = window.canvas.colorbar.levels()
    assert lo == -hi
    assert window.canvas.colorbar.colorMap().name == window.display.cmap_signed.currentText()


def test_clicking_the_image_selects_the_character_strongest_there(qtbot, window):
    maps = window.view_model.results[MethodSpec.build("attention", {})].maps
    target = len(maps) - 1
    y, x = np.unravel_index(np.argmax(maps[target] - maps[:target].max(axis=0)), maps[target].shape)
    assert np.argmax(maps[:, y, x]) == target
    pos = window.canvas.widget_pos_of_pixel(x + 0.5, y + 0.5).toPoint()
    qtbot.mouseClick(window.canvas.graphics.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert window.timeline.current == target


def test_hover_reads_out_pixel_and_map_value(qtbot, window):
    pos = window.canvas.widget_pos_of_pixel(10.5, 5.5).toPoint()
    qtbot.mouseMove(window.canvas.graphics.viewport(), pos=pos)
    # WAIT_MS, as every wait here: a bound on "never happens", not a speed to meet under load
    qtbot.waitUntil(lambda: "x 10  y 5" in window.status.hover.text(), timeout=WAIT_MS)
    assert "map" in window.status.hover.text()


@pytest.mark.parametrize("compare", [False, True], ids=["single view", "comparison panels"])
def test_fit_shows_the_whole_image_after_zooming(qtbot, window, compare):
    window.panel.compare.setChecked(compare)
    view = window.compare_view.views["gradient"] if compare else window.canvas.view
    view.scaleBy((0.2, 0.2))
    (x0, x1), _ = view.viewRange()
    assert x1 - x0 < window.view_model.image.shape[1]
    qtbot.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    (x0, x1), (y0, y1) = view.viewRange()
    assert x0 <= 0 and x1 >= window.view_model.image.shape[1] and y0 <= 0 and y1 >= window.view_model.image.shape[0]


def test_opacity_slider_sets_the_map_opacity(window):
    window.display.opacity.setValue(30)
    assert abs(window.canvas.view.heat.opacity() - 0.3) < 1e-6


def test_compare_view_shows_every_method_on_one_scale(qtbot, window):
    window.panel.num_steps.setValue(8)
    window.panel.num_samples.setValue(4)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.compare.setChecked(True)
    assert window.compare_view.isVisible() and not window.canvas.isVisible()
    scales = {v.scale for v in window.compare_view.views.values()}
    assert all(v.map is not None for v in window.compare_view.views.values())
    assert len(scales) == 1  # one colour scale for every method
    assert window.timeline.cell_rect(0).right() <= window.timeline.width()
    pos = QPoint(int(window.timeline.cell_rect(1).center().x()), int(window.timeline.cell_rect(1).center().y()))
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        qtbot.mouseClick(window.timeline, Qt.MouseButton.LeftButton, pos=pos)
    assert window.timeline.current == 1


def fitted_and_centred(view) -> bool:
    """The panel shows its whole image as large as it fits (within the 2% padding and a
    pixel of rounding), centred: not a dot in a stale range, not pushed to one side."""
    h, w = view.image_size()
    (x0, x1), (y0, y1) = view.viewRange()
    covers = x0 <= 0 and y0 <= 0 and x1 >= w and y1 >= h
    fills = min((x1 - x0) / w, (y1 - y0) / h) <= 1.06
    centred = abs((x0 + x1) - w) <= 2 and abs((y0 + y1) - h) <= 2
    return covers and fills and centred


def test_compare_panels_are_fitted_equal_and_centred_as_soon_as_they_show(qtbot, make_window, tmp_path):
    window = make_window()
    open_settled(qtbot, window, [sample_copy(tmp_path, "hello.png")])
    window.panel.num_steps.setValue(4)
    window.panel.num_samples.setValue(2)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.compare.setChecked(True)
    views = list(window.compare_view.views.values())
    qtbot.waitUntil(lambda: all(fitted_and_centred(v) for v in views), timeout=WAIT_MS)
    assert len({(round(v.width()), round(v.height())) for v in views}) == 1
    window.resize(window.width() + 200, window.height() + 120)
    qtbot.waitUntil(lambda: all(fitted_and_centred(v) for v in views), timeout=WAIT_MS)


def test_changing_a_parameter_recomputes_with_it(qtbot, window, models):
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["gradcam"].click()
    default = shown_map(window)
    layers = [window.panel.layer.itemData(i) for i in range(window.panel.layer.count())]
    assert layers[0] is None and "features.4" in layers
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.layer.setCurrentIndex(layers.index("features.4"))
    spec = MethodSpec.build("gradcam", {"layer": "features.4"})
    assert window.view_model.results[spec].params["layer"] == "features.4"
    assert not np.array_equal(shown_map(window), default)


def test_clicking_the_image_on_the_whole_reading_picks_a_character_by_attention(qtbot, window):
    click_cell(qtbot, window, ALL)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["gradient"].click()
    assert MethodSpec.build("gradient", window.panel.params()) not in window.view_model.results
    maps = window.view_model.results[MethodSpec.build("attention", {})].maps
    y, x = np.unravel_index(np.argmax(maps[1] - np.delete(maps, 1, axis=0).max(axis=0)), maps[1].shape)
    pos = window.canvas.widget_pos_of_pixel(x + 0.5, y + 0.5).toPoint()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        qtbot.mouseClick(window.canvas.graphics.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert window.timeline.current == 1


def test_integrated_gradients_start_from_blank_paper(window):
    """On dark ink over white paper, the white baseline is the 'absent' image by default."""
    assert window.panel.baseline.currentText() == "white"
    assert window.panel.params()["baseline"] == "white"
