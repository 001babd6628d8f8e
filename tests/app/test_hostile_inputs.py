"""Hostile and odd inputs, through the real window: a named pipe in a folder, a huge truth
line, a decompression bomb, an EXIF-rotated photo, and a file of the Images list that
cannot be read. Each is reported in the window, nothing blocks, and nothing of another
image is shown under its name.

The bundled CTC reader reads the real samples, so "shown upright" is also "read right".
"""

from __future__ import annotations

import os
import resource
import sys
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest
from gui_helpers import SAMPLES, WAIT_MS, open_settled, sample_copy
from PIL import Image
from PySide6.QtCore import Qt

from thulium_desktop.app.cancelled import UNREADABLE_PAGE
from thulium_desktop.app.file_panel import CER, FAILED_COLOUR, FAILED_MARK, NAME
from thulium_desktop.app.jobs import Job
from thulium_desktop.io.images import MAX_PIXELS
from thulium_desktop.io.transcriptions import MAX_TRUTH_CHARS
from thulium_desktop.models import load_model

sys.path.insert(0, str(Path(__file__).parents[1] / "io"))  # the bomb builders live with the io tests
from image_bombs import BOMBS  # noqa: E402

MODEL = "ctc-reader"
#: Opening one image with a truth costs far less than this; the unbounded alignment of a
#: 1 MB truth line took gigabytes.
MEMORY_BOUND_KB = 500 * 1024


@pytest.fixture
def models():
    """The windows here read with the bundled CTC reader (overrides the tiny CRNN)."""
    return partial(load_model, MODEL)


def peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def row(window, path: Path):
    """The Images list's row of `path`."""
    files = window.review.files
    return files.tree.topLevelItem(files.shown_paths.index(path))


@pytest.mark.timeout(30)
def test_a_pipe_in_an_opened_folder_is_reported_and_the_other_images_open(qtbot, make_window, tmp_path):
    folder = tmp_path / "images"
    first = sample_copy(folder, "hello.png")
    second = sample_copy(folder, "thulium.png")
    os.mkfifo(folder / "c_pipe.png")
    window = make_window()
    open_settled(qtbot, window, [folder])
    assert window.browser.files.paths == [first, second]
    assert f"{folder / 'c_pipe.png'}: not a regular file: it is a named pipe (FIFO)" in window.message.text
    assert window.view_model.reading.reading.text == "hello"
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert window.view_model.reading.reading.text == "Thulium"


@pytest.mark.timeout(30)
def test_a_pipe_opened_by_name_is_named_and_the_image_stays(qtbot, make_window, tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    window = make_window()
    open_settled(qtbot, window, [SAMPLES / "hello.png"])
    key = window.view_model.image_key
    assert not window.open_paths([tmp_path / "pipe.png"])
    assert "pipe.png: not a regular file: it is a named pipe (FIFO)" in window.message.text
    assert window.view_model.image_key == key


@pytest.mark.timeout(30)
def test_a_folder_of_only_a_pipe_says_so_rather_than_no_images(qtbot, make_window, tmp_path):
    folder = tmp_path / "pipes"
    folder.mkdir()
    os.mkfifo(folder / "p.png")
    window = make_window()
    assert not window.open_paths([folder])
    assert window.message.text == (f"No images found in {folder}\n"
                                   f"{folder / 'p.png'}: not a regular file: it is a named pipe (FIFO)")


@pytest.mark.timeout(30)
def test_a_huge_truth_line_is_refused_with_a_clear_message(qtbot, make_window, tmp_path):
    path = sample_copy(tmp_path / "images", "hello.png", "x" * 1_000_000)  # 1 MB, one line
    window = make_window()
    before = peak_rss_kb()
    open_settled(qtbot, window, [path])
    assert window.view_model.reading.reading.text == "hello"
    assert window.view_model.comparison is None
    refusal = (f"the truth of hello.png is 1,000,000 characters long; truths over {MAX_TRUTH_CHARS:,} "
               "characters are refused (not one line of text)")
    assert window.review.truth_bar.isVisible() and refusal in window.review.truth_bar.text()
    assert peak_rss_kb() - before < MEMORY_BOUND_KB


def test_a_truth_ten_times_the_reading_is_shown_as_not_compared(qtbot, make_window, tmp_path):
    path = sample_copy(tmp_path / "images", "hello.png", "y" * 500)
    window = make_window()
    open_settled(qtbot, window, [path])
    assert window.view_model.comparison is None
    assert "the truth is 500 characters long, more than 100" in window.review.truth_bar.text()
    assert "not compared" in window.review.truth_bar.text()


@pytest.mark.timeout(30)
def test_a_bomb_is_refused_in_the_message_and_the_previous_image_stays(qtbot, make_window, tmp_path):
    file_name, make, width, height = BOMBS["TIFF named .png"]
    bomb = tmp_path / file_name
    bomb.write_bytes(make())
    window = make_window()
    open_settled(qtbot, window, [SAMPLES / "hello.png"])
    key, shown_map = window.view_model.image_key, window.canvas.view.map.copy()
    assert not window.open_paths([bomb])
    assert (f"{width}x{height} pixels (as its header declares) is more than the limit of {MAX_PIXELS:,} "
            "pixels; set THULIUM_MAX_PIXELS to raise it") in window.message.text
    assert window.view_model.image_key == key and window.view_model.reading.reading.text == "hello"
    np.testing.assert_array_equal(window.canvas.view.map, shown_map)
    assert window.browser.files.current == SAMPLES / "hello.png"


def sideways_jpeg(path: Path) -> np.ndarray:
    """The hello sample stored a quarter turn counter-clockwise with EXIF orientation 6 (as a
    phone held sideways writes it), so that viewers turn it clockwise; the upright pixels."""
    upright = cv2.imread(str(SAMPLES / "hello.png"), cv2.IMREAD_GRAYSCALE)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1))).save(path, "JPEG", quality=95, exif=exif)
    return upright


def test_an_exif_rotated_jpeg_is_shown_upright_with_a_note(qtbot, make_window, tmp_path):
    path = tmp_path / "hello.jpg"
    upright = sideways_jpeg(path)
    window = make_window()
    open_settled(qtbot, window, [path])
    assert window.view_model.image.shape[:2] == upright.shape
    assert window.canvas.view.image_size() == upright.shape
    assert window.view_model.reading.reading.text == "hello"
    assert window.message.text == "Note: hello.jpg: EXIF orientation 6 applied: rotated 90° clockwise"
    open_settled(qtbot, window, [SAMPLES / "hello.png"])  # a plain image: the note goes
    assert window.message.text == ""


def test_choosing_an_unreadable_file_shows_the_failure_not_the_previous_image(qtbot, make_window, tmp_path):
    folder = tmp_path / "images"
    good = sample_copy(folder, "hello.png")
    broken = folder / "m_broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    unread = sample_copy(folder, "thulium.png", as_name="z_thulium.png")
    window = make_window()
    open_settled(qtbot, window, [folder])
    assert window.view_model.reading.reading.text == "hello"
    assert row(window, broken).text(CER) == "–" and row(window, broken).icon(NAME).isNull()  # not read yet

    window.review.files.tree.setCurrentItem(row(window, broken))  # the user clicks its row

    assert window.browser.files.current == broken and "m_broken.png (2/3)" in window.windowTitle()
    assert window.view_model.image is None and window.view_model.reading is None
    assert window.canvas.view.image_size() == UNREADABLE_PAGE.shape and window.canvas.view.map is None
    assert window.canvas.view.note.isVisible()
    assert window.canvas.view.note.toPlainText().startswith("Cannot read m_broken.png:\nthe PNG header is corrupt")
    assert "Not read: the file could not be opened" in window.reading_label.text()
    assert "hello" not in window.reading_label.text() and window.timeline.count == 0
    assert window.details.text() == ""  # no numbers of the previous image's map
    assert "m_broken.png" in window.message.text and "corrupt" in window.message.text
    failed = row(window, broken)
    assert not failed.icon(NAME).isNull() and failed.text(CER) == FAILED_MARK
    assert failed.foreground(NAME).color().name() == FAILED_COLOUR
    assert "cannot read this file: the PNG header is corrupt" in failed.toolTip(NAME)
    assert row(window, unread).icon(NAME).isNull() and row(window, unread).text(CER) == "–"
    qtbot.waitUntil(lambda: not window.client.maps.busy, timeout=WAIT_MS)
    assert window.canvas.view.map is None  # no map of the image before arrives late

    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.review.files.tree.setCurrentItem(row(window, good))
    assert window.view_model.reading.reading.text == "hello" and not window.canvas.view.note.isVisible()
    assert window.canvas.view.image_size() == cv2.imread(str(good), cv2.IMREAD_GRAYSCALE).shape
    assert not row(window, broken).icon(NAME).isNull()  # still marked: it still cannot be read


def test_paging_past_an_unreadable_file_marks_it_in_the_list(qtbot, make_window, tmp_path):
    folder = tmp_path / "images"
    sample_copy(folder, "hello.png")
    broken = folder / "m_broken.png"
    broken.write_bytes(b"")
    sample_copy(folder, "thulium.png", as_name="z_thulium.png")
    window = make_window()
    open_settled(qtbot, window, [folder])
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert window.view_model.reading.reading.text == "Thulium"
    assert row(window, broken).text(CER) == FAILED_MARK
    assert "the file is empty" in row(window, broken).toolTip(NAME)


def test_a_job_decoding_a_file_keeps_its_notes(tmp_path):
    path = tmp_path / "hello.jpg"
    upright = sideways_jpeg(path)
    job = Job(1, None, "", (), True, path=path)
    job.load()
    assert job.image.shape[:2] == upright.shape and job.image_key
    assert job.notes == ("EXIF orientation 6 applied: rotated 90° clockwise",)


def test_a_table_naming_an_image_twice_is_noted_in_its_row(qtbot, make_window, tmp_path):
    folder = tmp_path / "images"
    hello = sample_copy(folder, "hello.png")
    sample_copy(folder, "thulium.png")
    (folder / "ground_truth.tsv").write_text("hello.png\thallo\nhello.png\thello\n")
    window = make_window()
    open_settled(qtbot, window, [folder])
    assert "CER 0.0%" in window.review.truth_bar.text()  # the last line is used
    assert row(window, hello).toolTip(NAME) == (f"{hello}\ntruth: hello\n"
                                                 "ground_truth.tsv names hello.png on 2 lines (1, 2); the last one is used")
