"""The worker under the window: streaming, cancel, stale results, failures, closing."""

from __future__ import annotations

import numpy as np
from gui_helpers import WAIT_MS, GatedEngine, close_during_a_gated_job, engine_failing_on
from PySide6.QtCore import Qt

from thulium_desktop.xai.saliency import NoAttention
from thulium_desktop.xai.spec import MethodSpec


def test_integrated_gradients_stream_partials_before_the_final_map(qtbot, window, monkeypatch):
    monkeypatch.setattr("thulium_desktop.app.worker.PARTIAL_INTERVAL_S", 0.0)  # every chunk, however fast
    events: list[str] = []
    window.client.maps.partial.connect(lambda spec, maps, done, total: events.append(f"partial {done}/{total}"))
    window.client.maps.explained.connect(lambda spec, exp: events.append("final"))
    shown: list[np.ndarray] = []
    window.client.maps.partial.connect(lambda *_: shown.append(window.canvas.view.map.copy()))
    window.client.follow(window.view_model)  # as the window does: the selected character first
    window.panel.num_steps.setValue(16)
    window.panel.tolerance.setValue(0.0)  # fixed steps: adaptive refinement adds its own partials
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["integrated"].click()
    # 16 steps in 8 chunks for the selected character, its final map, then 8 for the others
    selected = [f"partial {done}/16" for done in range(2, 16, 2)]
    others = [f"partial {16 + done}/32" for done in range(2, 16, 2)]
    assert events == [*selected, "partial 16/32", *others, "final"]
    final = window.canvas.view.map
    assert not np.array_equal(shown[0], final), "the canvas did not show the refining map"


def test_escape_cancels_the_running_job_and_the_app_stays_usable(qtbot, make_window, word_image):
    engines: list[GatedEngine] = []
    window = make_window(lambda r: engines.append(GatedEngine(r)) or engines[-1])
    window.show_image(word_image, "minimum")
    qtbot.waitUntil(engines[0].entered.is_set, timeout=WAIT_MS)
    assert window.status.cancel.isVisible()
    with qtbot.waitSignal(window.client.maps.cancelled, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.status.cancel.isVisible()
    qtbot.waitUntil(lambda: window.client.pending_jobs == 0, timeout=WAIT_MS)
    assert engines[0].completed == []
    engines[0].gate.set()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.show_image(word_image, "again")
    assert window.canvas.view.map is not None


def test_stale_results_are_dropped_when_the_image_changes_mid_job(qtbot, make_window, models, word_image):
    engines: list[GatedEngine] = []
    window = make_window(lambda r: engines.append(GatedEngine(r, honour_cancel=False)) or engines[-1])
    first, second = word_image, word_image[:, ::-1].copy()
    recognizer = models.built[0]
    expected = recognizer.read(recognizer.prepare(second).tensor).text
    assert expected != recognizer.read(recognizer.prepare(first).tensor).text
    window.show_image(first, "first")
    qtbot.waitUntil(engines[0].entered.is_set, timeout=WAIT_MS)
    window.show_image(second, "second")  # the first job ignores the cancel and finishes
    readings: list[str] = []
    window.client.maps.readingReady.connect(lambda info: readings.append(info.reading.text))
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        engines[0].gate.set()
    assert engines[0].completed[0] != expected, "the stale job never delivered: nothing was tested"
    assert readings == [expected]
    assert window.view_model.reading.reading.text == expected
    shown = window.view_model.results[MethodSpec.build("attention", {})]
    assert shown.reading.text == expected
    np.testing.assert_array_equal(window.canvas.view.map, shown.maps[0])


def test_an_engine_exception_becomes_a_message_and_the_app_keeps_working(qtbot, make_window, word_image):
    window = make_window(engine_failing_on("gradient", RuntimeError("boom in the engine")))
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.show_image(word_image, "minimum")
    with qtbot.waitSignal(window.client.maps.failed, timeout=WAIT_MS):
        window.panel._buttons["gradient"].click()
    assert "boom in the engine" in window.message.text
    assert not window.status.cancel.isVisible()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["gradcam"].click()
    assert window.canvas.view.map is not None


def test_closing_during_a_job_cancels_it_and_stops_the_thread(qtbot, make_window, word_image):
    engines: list[GatedEngine] = []
    window = make_window(lambda r: engines.append(GatedEngine(r)) or engines[-1])
    window.show_image(word_image, "minimum")
    qtbot.waitUntil(engines[0].entered.is_set, timeout=WAIT_MS)
    assert close_during_a_gated_job(window.close, engines[0].gate)
    assert not window.client._thread.isRunning()
    assert engines[0].completed == []  # cancelled, not waited for


def test_revisiting_a_method_is_served_from_the_cache(qtbot, window):
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["gradient"].click()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["attention"].click()
    started: list[int] = []
    window.client.maps.started.connect(lambda: started.append(1))
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):  # `started` tells a job from the cache
        window.panel._buttons["gradient"].click()
    assert started == []
    assert not window.client.maps.busy


def test_an_exception_in_a_gui_slot_becomes_a_message(window, capsys):
    try:
        raise KeyError("lost in a slot")
    except KeyError as exc:
        window.report_unexpected(type(exc), exc, exc.__traceback__)
    assert "KeyError" in window.message.text and "lost in a slot" in window.message.text
    assert "Traceback" in capsys.readouterr().err


def test_a_model_that_fails_to_load_is_reported_and_images_still_open(qtbot, settings, word_image):
    from thulium_desktop.app.client import EngineClient
    from thulium_desktop.app.window import MainWindow

    def broken():
        raise OSError("weights file truncated")

    window = MainWindow(EngineClient(broken), settings)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.client.models.failed, timeout=WAIT_MS):
        window.client.start()
    window.show_image(word_image, "minimum")
    assert "weights file truncated" in window.message.text
    assert window.status.model.text() == "no model"
    assert window.canvas.view.image_size() == word_image.shape[:2] and not window.client.maps.busy


def test_a_model_without_attention_still_reads_and_explains(qtbot, make_window, word_image):
    window = make_window(engine_failing_on("attention", NoAttention("this model has no attention to show")))
    window.panel.set_method("gradient")
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.show_image(word_image, "minimum")
    centres = window.view_model.reading.centres
    assert len(centres) == window.timeline.count > 0 and np.all(np.diff(centres) > 0)
    assert window.canvas.view.map is not None and window.message.text == ""


def test_another_failure_of_attention_is_reported_not_taken_for_no_attention(qtbot, make_window, word_image):
    """Only NoAttention means "place characters by their alignment"; any other error of
    the attention pass is a real failure, and the window says so."""
    window = make_window(engine_failing_on("attention", ValueError("attention shape mismatch")))
    window.panel.set_method("gradient")  # only the reading's attention pass meets the error
    window.show_image(word_image, "minimum")
    qtbot.waitUntil(lambda: "attention shape mismatch" in window.message.text, timeout=WAIT_MS)


def test_switching_the_model_reads_the_open_image_again(qtbot, window):
    from tiny_models import ALPHABET, tiny_crnn

    from thulium_desktop.models import CTCRecognizer

    before = window.view_model.reading.reading.text
    other = CTCRecognizer(tiny_crnn(seed=11), ALPHABET, 32, name="other-crnn")
    expected = other.read(other.prepare(window.view_model.image).tensor).text
    assert expected != before
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.switch_model(lambda: other)
    assert window.status.model.text() == "model: other-crnn"
    assert window.view_model.reading.reading.text == expected
    assert window.view_model.results[MethodSpec.build("attention", {})].model == "other-crnn"


def test_the_model_menu_lists_bundled_models_and_switches(qtbot, window, monkeypatch):
    from types import SimpleNamespace

    from tiny_models import ALPHABET, tiny_crnn

    from thulium_desktop import models as registry
    from thulium_desktop.models import CTCRecognizer, user_models

    loaded: list[str] = []

    def load_model(name=None):
        loaded.append(name)
        return CTCRecognizer(tiny_crnn(seed=11), ALPHABET, 32, name=name)

    bundled = [SimpleNamespace(name="tiny-crnn", description="the test model"),
               SimpleNamespace(name="other-reader", description="another one")]
    monkeypatch.setattr(registry, "list_models", lambda unreadable=None: bundled)
    monkeypatch.setattr(user_models, "load_model", load_model)  # what open_described calls
    window.model_flow.fill_menu()
    actions = window.model_flow.menu.actions()[:2]  # then Open model file/folder (test_model_open.py)
    assert [a.text() for a in actions] == ["tiny-crnn", "other-reader"]
    assert [a.isChecked() for a in actions] == [True, False]
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        actions[1].trigger()
    assert loaded == ["other-reader"]
    assert window.status.model.text().startswith("model: other-reader · bundled · cpu · ")


def test_an_unreadable_bundled_model_is_named_in_the_menu_beside_the_readable_ones(window, monkeypatch, tmp_path):
    import shutil

    from thulium_desktop.models import registry

    for suffix in (".json", ".safetensors"):
        shutil.copy(registry.MODELS_DIR / f"ctc-reader{suffix}", tmp_path / f"ctc-reader{suffix}")
    (tmp_path / "broken.json").write_text("{ not json")
    (tmp_path / "broken.safetensors").write_bytes(b"")
    monkeypatch.setattr(registry, "MODELS_DIR", tmp_path)
    window.model_flow.fill_menu()
    texts = [a.text() for a in window.model_flow.menu.actions()]
    assert texts[0] == "ctc-reader" and window.model_flow.menu.actions()[0].isEnabled()
    assert texts[1] == "broken.json: unreadable"
    assert "not a readable json" in window.model_flow.menu.actions()[1].toolTip()
    assert not window.model_flow.menu.actions()[1].isEnabled()
    assert window.model_flow.open_action in window.model_flow.menu.actions()
