"""Errors first, in the window: truths, CER, error marks, errors-first order, contrast.

The bundled attention reader reads the real sample images; truths are written in
tmp_path so that the errors (and hence the expected marks and orders) are known.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import WAIT_MS, open_settled, sample_copy
from PySide6.QtGui import QColor

from thulium_desktop.app.jobs import image_key
from thulium_desktop.app.timeline import EDIT_COLOURS
from thulium_desktop.io.images import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai.ground_truth import DELETION, MATCH, SUBSTITUTION, align, character_error_rate
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator

MODEL = "attention-reader"


@pytest.fixture
def models():
    """The windows here read with the bundled attention reader (overrides the tiny CRNN)."""
    return partial(load_model, MODEL)


@pytest.fixture(scope="module")
def engine() -> SaliencyGenerator:
    return SaliencyGenerator(load_model(MODEL))


def expected_marks(read: str, truth: str) -> tuple[dict[int, str], dict[int, str]]:
    """From the alignment alone: the kind of each wrongly read character, and the truth
    characters missed before each read index (len(read) = after the last)."""
    kinds, missed, gap = {}, {}, 0
    for op in align(read, truth):
        if op.kind == DELETION:
            missed[gap] = missed.get(gap, "") + op.truth
        else:
            if op.kind != MATCH:
                kinds[op.read_index] = op.kind
            gap = op.read_index + 1
    return kinds, missed


def test_a_truth_beside_the_image_shows_its_cer_and_marks_every_edit(qtbot, make_window, tmp_path):
    truth = "shelp"  # against the reading "hello": a deletion (s), an insertion (l), a substitution (o/p)
    path = sample_copy(tmp_path / "images", "hello.png", truth + "\nignored second line\n")
    window = make_window()
    open_settled(qtbot, window, [path])
    read = window.view_model.reading.reading.text
    assert read == "hello"
    cer = character_error_rate(read, truth)
    assert f"CER {cer:.1%}" in window.review.truth_bar.text()
    assert window.review.files.tree.topLevelItem(0).text(1) == f"{cer:.0%}"
    kinds, missed = expected_marks(read, truth)
    assert set(kinds.values()) == {SUBSTITUTION, "insertion"} and missed  # all three kinds occur
    timeline = window.timeline
    shown = {i: k for i, k in enumerate(timeline.comparison.kinds) if k != MATCH}
    assert shown == kinds
    assert timeline.comparison.missed == missed
    sub = next(i for i, k in kinds.items() if k == SUBSTITUTION)
    centre = timeline.cell_rect(sub).center()
    assert f"read '{read[sub]}', truth '{timeline.comparison.truth_chars[sub]}'" in timeline.tooltip_at(centre.x(), centre.y())
    gap, chars = next(iter(missed.items()))
    tag = timeline.deletion_rect(gap).center()
    assert f"truth '{chars}' missed" in timeline.tooltip_at(tag.x(), tag.y())
    picture = timeline.grab().toImage()
    rect = timeline.cell_rect(sub).toRect()
    colours = {picture.pixelColor(x, y).name() for x in range(rect.left(), rect.right()) for y in range(rect.top(), rect.bottom())}
    assert QColor(EDIT_COLOURS[SUBSTITUTION]).name() in colours


def test_a_chosen_transcription_table_gives_the_truths(qtbot, make_window, tmp_path):
    path = sample_copy(tmp_path / "images", "thulium.png", "ignored: the table comes first")
    table = tmp_path / "truths.tsv"
    table.write_text("file\ttext\tnote\nthulium.png\tThulivm\tone wrong\n", encoding="utf-8")
    window = make_window()
    open_settled(qtbot, window, [path])
    window.open_transcriptions(table)
    cer = character_error_rate(window.view_model.reading.reading.text, "Thulivm")
    assert cer > 0 and f"CER {cer:.1%}" in window.review.truth_bar.text()
    assert window.review.files.tree.topLevelItem(0).text(1) == f"{cer:.0%}"


@pytest.mark.parametrize(
    "content, reason",
    [(b"\x89PNG\r\n\x1a\n\x00\x00", "binary"), ("na\u00efve".encode("latin-1"), "not UTF-8"), (b"\n", "empty")],
)
def test_an_unusable_truth_file_is_named_and_the_image_still_reads(qtbot, make_window, tmp_path, content, reason):
    path = sample_copy(tmp_path / "images", "hello.png", content)
    window = make_window()
    open_settled(qtbot, window, [path])
    bar = window.review.truth_bar
    assert bar.isVisible() and "No usable truth" in bar.text() and reason in bar.text() and "hello.png.gt.txt" in bar.text()
    assert window.view_model.reading.reading.text == "hello" and window.timeline.comparison is None


def test_no_truth_no_marks_and_a_bad_table_is_a_message(qtbot, make_window, tmp_path):
    path = sample_copy(tmp_path / "images", "hello.png")
    window = make_window()
    open_settled(qtbot, window, [path])
    assert not window.review.truth_bar.isVisible() and window.timeline.comparison is None
    bad = tmp_path / "truths.tsv"
    bad.write_bytes(b"\x00\x01binary")
    window.open_transcriptions(bad)
    assert "truths.tsv" in window.message.text and "binary" in window.message.text
    window.open_transcriptions(tmp_path / "gone.tsv")
    assert "no such file" in window.message.text


@pytest.fixture
def ranked_folder(tmp_path) -> Path:
    """Three images whose truths make the error order known: c worst, a middle, b right."""
    folder = tmp_path / "ranked"
    sample_copy(folder, "thulium.png", "Thulivm", as_name="a.png")  # 1 of 7 wrong
    sample_copy(folder, "hello.png", "hello", as_name="b.png")  # right
    sample_copy(folder, "recognition.png", "xyz", as_name="c.png")  # nearly all wrong
    return folder


def sort_by(window, key: str) -> None:
    panel = window.review.files
    panel.order.setCurrentIndex(panel.order.findData(key))


def test_a_folder_sorts_by_error_and_by_confidence_keeping_the_open_image(qtbot, make_window, ranked_folder, engine):
    window = make_window()
    open_settled(qtbot, window, [ranked_folder])
    assert window.browser.files.current.name == "a.png"
    with qtbot.waitSignals([window.client.survey.progress, window.client.survey.finished], timeout=WAIT_MS):
        sort_by(window, "error")
    names = [p.name for p in window.review.files.shown_paths]
    assert names == ["c.png", "a.png", "b.png"]
    assert [p.name for p in window.browser.files.paths] == names
    assert window.browser.files.current.name == "a.png"
    assert window.review.files.tree.currentItem().text(0) == "a.png"
    cached_images = {key[0] for key in window.client.maps.cache.keys()}
    for name in ("b.png", "c.png"):  # read by the survey only: no maps kept to evict the user's
        assert image_key(load_image(ranked_folder / name)) not in cached_images
    min_conf = {p.name: float(engine.read(load_image(p)).confidences.min()) for p in ranked_folder.glob("*.png")}
    sort_by(window, "confidence")  # every image is read already: no second survey
    assert not window.client.survey.running
    assert [p.name for p in window.review.files.shown_paths] == sorted(min_conf, key=min_conf.get)
    shown = {window.review.files.tree.topLevelItem(i).text(0): window.review.files.tree.topLevelItem(i).text(2)
             for i in range(3)}
    assert shown == {name: f"{conf:.0%}" for name, conf in min_conf.items()}
    assert window.browser.files.current.name == "a.png"
    index = window.browser.files.index
    delta = 1 if index < 2 else -1
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.browser.step(delta)  # paging follows the shown order
    assert window.browser.files.current == window.review.files.shown_paths[index + delta]


def test_a_folder_is_decoded_on_the_worker_and_a_bad_file_is_named(qtbot, make_window, ranked_folder, monkeypatch,
                                                                   caplog):
    """Reading a folder must not stall the window on decoding: only the worker decodes
    the surveyed files, and one that cannot be decoded is listed with its reason."""
    import threading

    import cv2

    (ranked_folder / "d.png").write_bytes(b"this is not an image at all")
    window = make_window()
    open_settled(qtbot, window, [ranked_folder])
    decoded_on: list[str] = []
    real = cv2.imdecode

    def recording(*args, **kwargs):
        decoded_on.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(cv2, "imdecode", recording)
    answers = []
    window.client.survey.read.connect(lambda path, info, problem: answers.append((path.name, info, problem)))
    with qtbot.waitSignal(window.client.survey.finished, timeout=WAIT_MS):
        sort_by(window, "error")
    main = threading.main_thread().name
    assert decoded_on and main not in decoded_on
    bad = [(info, problem) for name, info, problem in answers if name == "d.png"]
    assert len(bad) == 1 and bad[0][0] is None
    assert bad[0][1].startswith("cannot read image") and "d.png" in bad[0][1] and "corrupt" in bad[0][1]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # a bad file is no crash
    assert {name for name, info, _ in answers if info is not None} == {"b.png", "c.png"}
    answers.clear()
    decoded_on.clear()
    window.client.survey.start([ranked_folder / "b.png", ranked_folder / "c.png"])  # e.g. after a model switch
    assert not window.client.survey.running and not decoded_on  # known and unchanged: answered at once
    assert [(name, info is not None) for name, info, _ in answers] == [("b.png", True), ("c.png", True)]


def test_reading_a_folder_can_be_cancelled(qtbot, make_window, ranked_folder):
    window = make_window()
    open_settled(qtbot, window, [ranked_folder])
    panel = window.review.files
    with qtbot.waitSignal(window.client.survey.finished, timeout=WAIT_MS) as finished:
        sort_by(window, "error")
        assert window.client.survey.running and panel.progress.isVisible()
        panel.cancel.click()
    assert finished.args == [False] and not window.client.survey.running
    assert not panel.progress.isVisible()
    qtbot.waitUntil(lambda: window.client.pending_jobs == 0, timeout=WAIT_MS)


def test_contrast_with_truth_shows_the_signed_difference_map(qtbot, make_window, tmp_path, engine):
    path = sample_copy(tmp_path / "images", "hello.png", "hallo")
    window = make_window()
    open_settled(qtbot, window, [path])
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.timeline.select(1)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.contrast.setChecked(True)
    spec = window.view_model.view_spec()
    assert spec.contrast == (1, "a") and spec.method == "gradient" and spec.signed
    shown = window.canvas.view.map
    image = load_image(path)
    assert shown.shape == image.shape[:2]
    assert shown.min() < 0 < shown.max()
    expected = engine.explain_contrast(image, 1, "a", config=SaliencyConfig(**spec.config_kwargs()))
    np.testing.assert_allclose(shown, expected.maps[0], atol=1e-5)
    assert "rather than the true ‘a’" in window.details.text()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.timeline.select(0)  # a correct character: its own map again
    assert window.view_model.view_spec().contrast is None
