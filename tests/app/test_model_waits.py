"""A model that takes long to build never holds the user hostage (issue 26): the model in
use keeps answering while a file opens, Esc gives up an open or a switch, and closing
the window mid-load returns without waiting for the loader."""

from __future__ import annotations

import threading

import pytest
from gui_helpers import WAIT_MS, close_during_a_gated_job
from PySide6.QtCore import Qt
from tiny_models import ALPHABET, tiny_crnn

from thulium_desktop.app.lanes import model as model_lane
from thulium_desktop.models import CTCRecognizer
from thulium_desktop.xai.spec import MethodSpec

pytestmark = pytest.mark.timeout(120)


class GatedBuild:
    """A model factory that waits for `gate` before building (a slow disk, a huge file)."""

    def __init__(self, name: str = "slow-crnn") -> None:
        self.name = name
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.built: list[CTCRecognizer] = []

    def __call__(self, *_args, **_kwargs) -> CTCRecognizer:
        self.entered.set()
        self.gate.wait(WAIT_MS / 1000)
        recognizer = CTCRecognizer(tiny_crnn(seed=11), ALPHABET, 32, name=self.name)
        self.built.append(recognizer)
        return recognizer


def test_the_model_in_use_answers_while_a_file_opens_and_esc_gives_the_open_up(qtbot, window, monkeypatch, tmp_path):
    slow = GatedBuild()
    monkeypatch.setattr(model_lane, "open_described", slow)
    before = window.client.models.name
    window.model_flow.open(tmp_path / "huge.safetensors")
    assert slow.entered.wait(WAIT_MS / 1000)
    assert "Esc cancels" in window.status.model.text()

    # the worker is free: another method is computed by the model in use meanwhile
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.set_method("gradient")
    assert window.view_model.results[MethodSpec.build("gradient", {})].model == before

    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.client.models.loading is None
    assert "huge.safetensors cancelled" in window.status.currentMessage()
    assert window.status.model.text() == f"model: {before}"

    slow.gate.set()  # the loader finishes after all: what it built is dropped
    qtbot.waitUntil(lambda: len(slow.built) == 1, timeout=WAIT_MS)
    qtbot.wait(200)  # time for a wrongly delivered model to arrive
    assert window.client.models.name == before


def test_a_cancelled_switch_returns_to_the_model_before_and_reads_with_it(qtbot, window):
    slow = GatedBuild()
    before = window.client.models.name
    reading = window.view_model.reading.reading.text
    window.switch_model(slow)
    assert slow.entered.wait(WAIT_MS / 1000)
    assert window.client.models.current is None  # the switch is on its way

    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.client.models.name == before
    assert "still in use" in window.status.currentMessage()
    assert window.view_model.reading.reading.text == reading
    slow.gate.set()


def test_a_switch_reads_with_the_new_model_once_it_is_built(qtbot, window):
    slow = GatedBuild("other-crnn")
    window.switch_model(slow)
    assert slow.entered.wait(WAIT_MS / 1000)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        slow.gate.set()
    expected = slow.built[0].read(slow.built[0].prepare(window.view_model.image).tensor).text
    assert window.client.models.name == "other-crnn"
    assert window.view_model.reading.reading.text == expected


def test_closing_the_window_while_a_model_builds_does_not_wait_for_it(qtbot, window):
    slow = GatedBuild()
    window.switch_model(slow)
    assert slow.entered.wait(WAIT_MS / 1000)
    assert close_during_a_gated_job(window.close, slow.gate)
    assert not slow.built  # the close came back before the gate opened


def test_an_open_that_fails_on_its_loader_leaves_the_model_in_use(qtbot, window, tmp_path):
    before = window.client.models.name
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with qtbot.waitSignal(window.client.models.openFailed, timeout=WAIT_MS):
        window.model_flow.open(bad)
    assert window.client.models.name == before
    assert "Could not open the model" in window.message.text


def test_closing_the_window_does_not_wait_for_a_chunk_that_ignores_cancel(qtbot, make_window, word_image):
    """One chunk of a huge input can run for minutes without looking at its cancel flag:
    the close waits a bounded time, then comes back with the worker still running."""
    from gui_helpers import GatedEngine

    engines: list[GatedEngine] = []
    window = make_window(lambda r: engines.append(GatedEngine(r, honour_cancel=False)) or engines[-1])
    window.show_image(word_image, "minimum")
    assert engines[-1].entered.wait(WAIT_MS / 1000)
    window.close()
    assert window.client.running
    assert not engines[-1].completed
    engines[-1].gate.set()  # the fixture's shutdown then waits for the thread to end


STUCK_APP = """
import sys, threading, time
sys.path.insert(0, sys.argv[1])
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from tiny_models import ALPHABET, tiny_crnn
from thulium_desktop.app.launch import build_parser, run_app
from thulium_desktop.app.window import MainWindow
from thulium_desktop.models import CTCRecognizer

entered = threading.Event()

class Stuck(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = tiny_crnn(seed=3)
    def forward(self, x):
        entered.set()
        time.sleep(600)  # a computation that never looks at its cancel flag
        return self.inner(x)

def close_when_stuck():
    if entered.is_set():
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, MainWindow):
                widget.close()
    else:
        QTimer.singleShot(50, close_when_stuck)

app = QApplication([])
QTimer.singleShot(50, close_when_stuck)
args = build_parser().parse_args([sys.argv[2]])
sys.exit(run_app(args, lambda: CTCRecognizer(Stuck(), ALPHABET, 32, name="stuck")))
"""


def test_the_app_process_ends_when_closed_during_a_computation_that_ignores_cancel(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from gui_helpers import SAMPLES

    tests = Path(__file__).resolve().parents[1]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", STUCK_APP, str(tests), str(SAMPLES / "hello.png")],
                          env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    assert "closed while the worker was busy" in done.stderr


def test_a_new_model_is_warmed_up_behind_the_jobs_that_waited_for_it(qtbot, settings, models, monkeypatch, word_image):
    """The app warms each installed model (`xai/warm.py`) so the first click runs at the
    steady pace, but only after the reading the window asked for while it loaded."""
    from thulium_desktop.app import worker as worker_module
    from thulium_desktop.app.client import EngineClient
    from thulium_desktop.app.window import MainWindow
    from thulium_desktop.xai.saliency import SaliencyGenerator

    done: list[str] = []  # in the worker thread's order

    class Recording(SaliencyGenerator):
        def explain(self, image, *args, **kwargs):
            exp = super().explain(image, *args, **kwargs)
            done.append("explain")
            return exp

    monkeypatch.setattr(worker_module, "warm_up", lambda engine, cancel=None: done.append("warm"))
    client = EngineClient(models, Recording, warm=True)
    window = MainWindow(client, settings)
    qtbot.addWidget(window)
    try:
        client.start()
        window.show()
        with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
            window.show_image(word_image, "minimum")  # asked for while the model loads
        qtbot.waitUntil(lambda: "warm" in done, timeout=WAIT_MS)
        assert done[0] == "explain" and done.count("warm") == 1
    finally:
        window.close()
        client.shutdown()
