"""Model ▸ Device in the window (issue 25): where the model runs, a switch as a job of the
worker, a move the device refuses, and a job the GPU stops, with CUDA reported absent
(this machine) or present (torch.cuda's answers monkeypatched)."""

from __future__ import annotations

import logging
import threading
from functools import partial

import numpy as np
import pytest
import torch
from gui_helpers import WAIT_MS, GatedEngine, GatedTrust
from PySide6.QtCore import QObject, QSettings, Signal, Slot
from test_device_menu import GIB, WITHOUT_CUDA, no_cuda, two_gpus  # noqa: F401 - fixtures

from thulium_desktop import models
from thulium_desktop.app import worker as worker_module
from thulium_desktop.app.client import EngineClient
from thulium_desktop.app.device_menu import UnusableDevice
from thulium_desktop.app.model_flow import DEVICE_SETTING
from thulium_desktop.app.window import MainWindow
from thulium_desktop.models import model_device
from thulium_desktop.xai.spec import MethodSpec

pytestmark = pytest.mark.timeout(120)

H200 = "NVIDIA H200 · 120.0 of 140.0 GB free"
GRADIENT = MethodSpec.build("gradient", {})


def pick_device(window: MainWindow, key: str) -> None:
    """Model ▸ Device ▸ the entry for `key`, as the user picks it."""
    menu = window.model_flow.device_menu
    next(action for action in menu.actions() if action.data() == key).trigger()


def checked_device(window: MainWindow) -> list[str]:
    menu = window.model_flow.device_menu
    return [action.data() for action in menu.actions() if action.isChecked()]


def moved(qtbot, window: MainWindow, key: str) -> None:
    """Pick `key` and wait until the model has moved and the view is back on screen."""
    with qtbot.waitSignals([window.client.models.moved, window.settled], timeout=WAIT_MS):
        pick_device(window, key)


@pytest.fixture
def open_window(qtbot, settings, request):
    """A shown window over the bundled reader opened as the app opens it (`open_described`,
    so the status bar shows its caption); closed at teardown."""

    def make() -> MainWindow:
        client = EngineClient(partial(models.open_described, "ctc-reader"))
        window = MainWindow(client, settings)
        qtbot.addWidget(window)
        request.addfinalizer(client.shutdown)
        client.start()
        window.show()
        qtbot.waitUntil(lambda: client.models.current is not None, timeout=WAIT_MS)
        return window

    return make


@pytest.mark.usefixtures("no_cuda")
def test_the_model_menu_offers_the_devices_and_the_status_bar_says_where_the_model_runs(qtbot, open_window):
    window = open_window()
    window.model_flow.fill_menu()
    assert window.model_flow.device_menu.menuAction() in window.model_flow.menu.actions()
    assert checked_device(window) == ["auto"]  # the default: a GPU when one is usable, here the CPU
    assert window.status.device.text() == "device: CPU"
    assert window.status.model.text().startswith("model: ctc-reader · bundled · cpu · ")


@pytest.mark.usefixtures("no_cuda")
def test_a_gpu_chosen_in_an_earlier_session_and_gone_now_leaves_the_model_on_the_cpu_with_a_note(
        qtbot, open_window, settings: QSettings):
    settings.setValue(DEVICE_SETTING, "cuda:1")
    window = open_window()
    assert window.status.device.text() == "device: CPU"
    note = "cuda:1 is not available on this machine; the model runs on the CPU."
    assert window.status.currentMessage() == f"\u26a0 {note}"
    assert checked_device(window) == ["cpu"]
    assert settings.value(DEVICE_SETTING) == "cuda:1"  # tried again next session
    assert not window.message.text


@WITHOUT_CUDA
@pytest.mark.usefixtures("two_gpus")  # before `window`: the model is loaded under them
def test_a_move_the_gpu_refuses_leaves_the_model_usable_where_it_was_and_the_check_goes_back(
        qtbot, window, settings: QSettings):
    """Auto took GPU 0 when the model was loaded, which refused it as it refuses now
    (this machine's torch cannot make a CUDA tensor; a GPU out of memory does the same)."""
    refusal = "cuda:0 cannot hold the model (Torch not compiled with CUDA enabled)"
    assert window.status.currentMessage() == f"\u26a0 {refusal}; the model runs on the CPU."
    assert checked_device(window) == ["cpu"]
    with qtbot.waitSignal(window.client.models.moveFailed, timeout=WAIT_MS):
        pick_device(window, "cuda:0")
    assert window.message.text == f"{refusal}; the model stays on the CPU."
    assert checked_device(window) == ["cpu"]
    assert settings.value(DEVICE_SETTING) == "cpu"
    assert window.status.device.text() == "device: CPU"
    assert not window.status.progress.isVisible()

    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):  # the model still explains, on the CPU
        window.panel.set_method("gradient")
    assert window.view_model.maps_for(GRADIENT)[0] is not None


@pytest.mark.usefixtures("two_gpus")
def test_a_switch_shows_the_gpu_and_the_maps_computed_before_it_stay(qtbot, window, monkeypatch, settings: QSettings):
    """The move itself is stood in for (this machine cannot hold a CUDA tensor): the
    worker is told cuda:0 is the CPU, and the GPU's words are the H200's."""
    monkeypatch.setattr(worker_module, "resolve_device", lambda key: torch.device("cpu"))
    monkeypatch.setattr(worker_module, "device_status", lambda device: H200)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.set_method("gradient")
    before = window.view_model.maps_for(GRADIENT)[0].copy()

    with qtbot.assertNotEmitted(window.client.maps.started):  # nothing to compute again
        moved(qtbot, window, "cuda:0")
    assert window.status.device.text() == f"device: {H200}"
    assert checked_device(window) == ["cuda:0"]
    assert settings.value(DEVICE_SETTING) == "cuda:0"
    assert (window.view_model.maps_for(GRADIENT)[0] == before).all()
    assert not window.status.progress.isVisible()

    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):  # a new map, from the model's new engine
        window.panel.set_method("smoothgrad")
    assert window.view_model.maps_for(window.view_model.view_spec())[0] is not None


@pytest.mark.usefixtures("two_gpus")
def test_a_gpu_that_takes_the_model_but_runs_out_of_memory_on_its_first_pass_gives_it_back(qtbot, window,
                                                                                          monkeypatch):
    """Describing the model on its new device runs it once (`layer_choices`): out of
    memory there, the model goes back and stays usable (the move is stood in for)."""
    monkeypatch.setattr(worker_module, "resolve_device", lambda key: torch.device("cpu"))

    def out_of_memory(recognizer):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB. More")

    monkeypatch.setattr(worker_module, "layer_choices", out_of_memory)
    with qtbot.waitSignal(window.client.models.moveFailed, timeout=WAIT_MS):
        pick_device(window, "cuda:0")
    assert window.message.text == ("cuda:0 cannot run the model (CUDA out of memory. Tried to allocate 1.00 GiB); "
                                   "the model stays on the CPU.")
    assert window.status.device.text() == "device: CPU"
    monkeypatch.undo()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.set_method("gradient")
    assert window.view_model.maps_for(GRADIENT)[0] is not None


def test_a_switch_drops_the_job_in_flight_and_computes_it_again_after_the_move(qtbot, make_window, word_image):
    engines: list[GatedEngine] = []

    def gated(recognizer) -> GatedEngine:
        engines.append(GatedEngine(recognizer))
        engines[-1].gate.set()
        return engines[-1]

    window = make_window(gated)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.show_image(word_image, "minimum")
    reading = window.view_model.reading.reading.text
    engines[0].gate.clear()
    window.panel.set_method("gradient")
    assert engines[0].entered.wait(WAIT_MS / 1000)

    moved(qtbot, window, "cpu")
    assert engines[0].completed == [reading]  # the reading only: the gradient job was cancelled
    assert [engine.completed for engine in engines[1:]] == [[reading]]  # computed again, after the move
    assert window.view_model.maps_for(GRADIENT)[0] is not None
    assert checked_device(window) == ["cpu"]
    assert not window.message.text


class TripOnce:
    """Makes the next forward pass of a model raise `error` (as a GPU out of memory, or a
    CUDA error, stops one), once."""

    def __init__(self, module: torch.nn.Module, error: Exception) -> None:
        self.error = error
        self.handle = module.register_forward_pre_hook(self)

    def __call__(self, module, args) -> None:
        self.handle.remove()
        raise self.error


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB. GPU 0 has 1 GiB free"),
         "the GPU ran out of memory (CUDA out of memory. Tried to allocate 9.00 GiB); "
         "try again, a smaller image, or Model ▸ Device ▸ CPU"),
        (RuntimeError("CUDA error: an illegal memory access was encountered\nCompile with TORCH_USE_CUDA_DSA"),
         "the GPU failed (CUDA error: an illegal memory access was encountered); "
         "if it happens again, restart the app (a CUDA error can leave the GPU unusable until then)"),
    ],
)
def test_a_job_the_gpu_stops_is_one_message_and_the_model_reads_the_next(qtbot, make_window, models, word_image,
                                                                          caplog, error, said):
    caplog.set_level(logging.INFO, logger="thulium_desktop.app.worker")
    window = make_window()
    TripOnce(models.built[-1].module, error)
    with qtbot.waitSignal(window.client.maps.failed, timeout=WAIT_MS):
        window.show_image(word_image, "minimum")
    assert window.message.text == f"Computing the map failed: {said}"
    assert "Traceback" not in caplog.text and said in caplog.text

    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.show_image(word_image, "minimum")
    assert window.view_model.reading is not None
    assert window.view_model.maps_for(window.view_model.view_spec())[0] is not None


def test_any_other_failure_in_a_job_is_still_reported_as_a_bug(qtbot, make_window, models, word_image, caplog):
    window = make_window()
    TripOnce(models.built[-1].module, ValueError("a bug in a layer"))
    with qtbot.waitSignal(window.client.maps.failed, timeout=WAIT_MS):
        window.show_image(word_image, "minimum")
    assert window.message.text == "Computing the map failed: ValueError: a bug in a layer"
    assert "Traceback" in caplog.text


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: torch.cuda.is_available() is False")
def test_on_a_gpu_the_model_moves_there_explains_there_and_comes_back(qtbot, make_window, models, word_image,
                                                                    settings: QSettings):
    settings.setValue(DEVICE_SETTING, "cpu")
    window = make_window()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.show_image(word_image, "minimum")
    module = models.built[-1].module

    moved(qtbot, window, "cuda:0")
    assert model_device(module) == torch.device("cuda", 0)
    assert window.status.device.text().startswith(f"device: {torch.cuda.get_device_name(0)} · ")
    assert window.status.device.text().endswith(" GB free")
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.set_method("integrated")
    maps = window.view_model.maps_for(window.view_model.view_spec())[0]
    assert maps is not None and np.isfinite(maps).all() and np.abs(maps).max() > 0

    moved(qtbot, window, "cpu")
    assert model_device(module) == torch.device("cpu")
    assert window.status.device.text() == "device: CPU"
    assert not window.message.text


def test_a_trust_check_a_switch_drops_waits_for_the_move_and_is_asked_again(qtbot, window, monkeypatch):
    gated = GatedTrust()
    monkeypatch.setattr(worker_module, "trust_report", gated)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.set_method("gradient")
    window.timeline.select(0)
    qtbot.waitUntil(lambda: window.trust.report is not None, timeout=WAIT_MS)
    window.trust.check()
    qtbot.waitUntil(gated.entered.is_set, timeout=WAIT_MS)

    with qtbot.waitSignal(window.client.models.moved, timeout=WAIT_MS):
        pick_device(window, "cpu")
        assert window.trust.view.status.text() == "Checking: paused for the device switch…"
        assert window.trust.view.cancel.isVisible()
    gated.gate.set()
    qtbot.waitUntil(lambda: window.client.pending_jobs == 0, timeout=WAIT_MS)
    assert [sorted(k for k in checks if checks[k] is True) for checks in gated.completed] == [["curves"], ["sanity"]]
    assert window.trust.report.deletion is not None and window.trust.report.sanity is not None
    assert window.trust.view.status.text() == ""


@pytest.mark.usefixtures("two_gpus")
def test_a_move_that_fails_then_one_that_succeeds_saves_the_device_the_model_is_on(qtbot, window, monkeypatch,
                                                                                    settings: QSettings):
    """Two picks in a row, the first refused: the saved choice is where the model went."""
    def only_gpu_1(key: str) -> torch.device:
        if key == "cuda:0":
            raise UnusableDevice("cuda:0 cannot hold the model (CUDA out of memory)")
        return torch.device("cpu")

    monkeypatch.setattr(worker_module, "resolve_device", only_gpu_1)
    monkeypatch.setattr(worker_module, "device_status", lambda device: H200)
    lane = window.client.models
    with qtbot.waitSignals([lane.moveFailed, lane.moved], timeout=WAIT_MS):
        pick_device(window, "cuda:0")
        pick_device(window, "cuda:1")
    assert settings.value(DEVICE_SETTING) == "cuda:1"
    assert checked_device(window) == ["cuda:1"]
    assert window.status.device.text() == f"device: {H200}"
    assert window.message.text == "cuda:0 cannot hold the model (CUDA out of memory); the model stays on the CPU."


def answered_off_the_gui_thread(answer):
    """`answer`, failing the test when called on the GUI thread (where CUDA must not start)."""
    def guarded(*args, **kwargs):
        assert threading.current_thread() is not threading.main_thread(), "torch.cuda asked on the GUI thread"
        return answer(*args, **kwargs)

    return guarded


@pytest.mark.usefixtures("two_gpus")
def test_opening_the_device_menu_asks_cuda_nothing_on_the_gui_thread(qtbot, make_window, monkeypatch):
    for name in ("is_available", "device_count", "current_device", "get_device_name", "mem_get_info"):
        monkeypatch.setattr(torch.cuda, name, answered_off_the_gui_thread(getattr(torch.cuda, name)))
    window = make_window()
    flow = window.model_flow
    flow.menu.aboutToShow.emit()  # Model, then Device, opened as Qt opens them
    flow.device_menu.aboutToShow.emit()
    assert [action.text() for action in flow.device_menu.actions() if action.data() in ("cuda:0", "cuda:1")] == [
        "GPU 0: NVIDIA H200", "GPU 1: NVIDIA L4"]


class Heard(QObject):
    """Says `done` on the GUI thread once a worker's `signal` has reached it, so after the
    lanes, connected before, have taken it."""

    done = Signal()

    def __init__(self, signal) -> None:
        super().__init__()
        signal.connect(self._take)

    @Slot(object)
    def _take(self, _) -> None:
        self.done.emit()


@pytest.mark.usefixtures("two_gpus")
def test_a_load_cancelled_after_a_switch_names_the_device_the_model_moved_to(qtbot, make_window, models,
                                                                          monkeypatch, request):
    """The device is picked while another model loads; the worker moves the model in
    use, and Esc returns to it: on the device it moved to."""
    window = make_window()
    monkeypatch.setattr(worker_module, "resolve_device", lambda key: torch.device("cpu"))
    monkeypatch.setattr(worker_module, "device_status", lambda device: H200)
    gate = threading.Event()
    request.addfinalizer(gate.set)  # the loader thread ends; what it builds is dropped
    window.switch_model(lambda: gate.wait() and models())
    heard = Heard(window.client._worker.moved)  # noqa: SLF001 - mid-load, no lane announces the move
    with qtbot.waitSignal(heard.done, timeout=WAIT_MS):
        pick_device(window, "cuda:0")
    window.client.cancel()
    assert window.status.device.text() == f"device: {H200}"
    assert checked_device(window) == ["cuda:0"]


@pytest.mark.usefixtures("two_gpus")
def test_any_failure_starting_the_engine_on_the_new_device_moves_the_model_back(qtbot, window, monkeypatch):
    """The move is recorded, not made (this machine cannot hold a CUDA tensor): a bug in
    describing the model on the new device sends it back where its engine runs."""
    moves: list[torch.device] = []
    monkeypatch.setattr(worker_module, "move_module", lambda module, device: moves.append(device))
    monkeypatch.setattr(worker_module, "resolve_device", lambda key: torch.device("cuda", 0))

    def a_bug(recognizer):
        raise ValueError("a bug in describing the layers")

    monkeypatch.setattr(worker_module, "layer_choices", a_bug)
    with qtbot.waitSignal(window.client.models.moveFailed, timeout=WAIT_MS):
        pick_device(window, "cuda:0")
    assert moves == [torch.device("cuda", 0), torch.device("cpu")]
    assert checked_device(window) == ["cpu"]


@pytest.mark.usefixtures("two_gpus")
def test_the_gpus_free_memory_is_said_again_after_each_job(qtbot, window, monkeypatch):
    """The model is reported on GPU 0 (it runs on the CPU here); the GPU's free memory
    as the worker finds it after the job."""
    monkeypatch.setattr(worker_module, "model_device", lambda module: torch.device("cuda", 0))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (100 * GIB, 140 * GIB))
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.set_method("gradient")
    assert window.status.device.text() == "device: NVIDIA H200 · 100.0 of 140.0 GB free"
