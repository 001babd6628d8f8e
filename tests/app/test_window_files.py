"""Opening files: formats, folders, paging, recent files, bad files, drops, persistence."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from gui_helpers import WAIT_MS
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from thulium_desktop.app.client import EngineClient
from thulium_desktop.app.window import MainWindow
from thulium_desktop.xai.spec import MethodSpec


@pytest.fixture
def image_folder(tmp_path, word_image):
    """The word image in several encodings a user meets, plus a file that is not an image."""
    folder = tmp_path / "images"
    folder.mkdir()
    bgr = cv2.cvtColor(word_image, cv2.COLOR_GRAY2BGR)
    bgra = cv2.cvtColor(word_image, cv2.COLOR_GRAY2BGRA)
    cv2.imwrite(str(folder / "a_gray.png"), word_image)
    cv2.imwrite(str(folder / "b_colour.jpg"), bgr)
    cv2.imwrite(str(folder / "c_alpha.png"), bgra)
    cv2.imwrite(str(folder / "d_16bit.tif"), word_image.astype(np.uint16) * 257)
    cv2.imwrite(str(folder / "e_plain.bmp"), word_image)
    (folder / "notes.txt").write_text("not an image")
    return folder


def open_and_settle(qtbot, window, paths) -> bool:
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        ok = window.open_paths(paths)
    return ok


def test_a_folder_opens_every_format_and_pages_through_them(qtbot, make_window, image_folder):
    window = make_window()
    assert open_and_settle(qtbot, window, [image_folder])
    names = [p.name for p in window.browser.files.paths]
    assert names == ["a_gray.png", "b_colour.jpg", "c_alpha.png", "d_16bit.tif", "e_plain.bmp"]
    readings = [window.view_model.reading.reading.text]
    for _ in names[1:]:
        with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
            qtbot.keyClick(window, Qt.Key.Key_PageDown)
        readings.append(window.view_model.reading.reading.text)
        assert window.canvas.view.map is not None
    assert window.browser.files.current.name == "e_plain.bmp"
    assert "(5/5)" in window.windowTitle()
    qtbot.keyClick(window, Qt.Key.Key_PageDown)  # past the end: stays
    assert window.browser.files.current.name == "e_plain.bmp"
    assert len(set(readings[:1] + readings[3:])) == 1  # lossless encodings read the same
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_PageUp)
    assert window.browser.files.current.name == "d_16bit.tif"


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("missing.png", None, "no such file"),
        ("empty.png", b"", "empty"),
        ("corrupt.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt"),
        ("text.jpg", b"hello, not a jpeg", "corrupt"),
    ],
)
def test_a_bad_file_names_itself_and_keeps_the_current_state(qtbot, window, tmp_path, name, content, reason):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    before_key, before_map = window.view_model.image_key, window.canvas.view.map.copy()
    assert not window.open_paths([path])
    assert name in window.message.text and reason in window.message.text
    assert window.view_model.image_key == before_key
    np.testing.assert_array_equal(window.canvas.view.map, before_map)
    assert not window.client.maps.busy


def test_paging_skips_an_unreadable_neighbour_with_a_message(qtbot, make_window, image_folder):
    (image_folder / "b_colour.jpg").write_bytes(b"broken")
    window = make_window()
    open_and_settle(qtbot, window, [image_folder])
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert window.browser.files.current.name == "c_alpha.png"
    assert "b_colour.jpg" in window.message.text


def test_dropping_a_file_opens_it(qtbot, make_window, image_folder):
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(image_folder / "c_alpha.png"))])
    event = QDropEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.dropEvent(event)
    assert window.browser.files.current.name == "c_alpha.png"


def test_recent_files_and_choices_persist_across_windows(qtbot, make_window, settings, models, image_folder):
    window = make_window()
    open_and_settle(qtbot, window, [image_folder / "a_gray.png"])
    open_and_settle(qtbot, window, [image_folder / "e_plain.bmp"])
    window.panel.num_samples.setValue(3)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["smoothgrad"].click()
    window.display.opacity.setValue(40)
    window.display.cmap_unsigned.setCurrentText("magma")
    window.resize(720, 500)
    size = (window.width(), window.height())
    window.close()

    again = MainWindow(EngineClient(models), settings)
    qtbot.addWidget(again)
    assert again.browser.recent.paths()[:2] == [
        str((image_folder / "e_plain.bmp").resolve()),
        str((image_folder / "a_gray.png").resolve()),
    ]
    assert again.panel.method == "smoothgrad"
    assert again.panel.num_samples.value() == 3
    assert again.display.opacity.value() == 40
    assert again.display.cmap_unsigned.currentText() == "magma"
    assert (again.width(), again.height()) == size != (1280, 760)
    again._fill_recent_menu()
    assert [a.data() for a in again.recent_menu.actions()][:1] == [str((image_folder / "e_plain.bmp").resolve())]


def test_a_saved_gradcam_layer_is_restored_and_used(qtbot, make_window, settings, word_image):
    settings.setValue("method", "gradcam")
    settings.setValue("params/layer", "features.4")
    window = make_window(wait_model=False)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.show_image(word_image, "minimum")  # asked before the model (and its layers) is there
    assert window.panel.layer.currentData() == "features.4"
    assert MethodSpec.build("gradcam", {"layer": "features.4"}) in window.view_model.results
    np.testing.assert_array_equal(
        window.canvas.view.map, window.view_model.results[MethodSpec.build("gradcam", {"layer": "features.4"})].maps[0]
    )
