"""Fixtures that drive the real window offscreen, with the tiny CRNN behind it."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import threading  # noqa: E402
from collections.abc import Callable  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from tiny_models import ALPHABET, tiny_crnn  # noqa: E402

from thulium_desktop.app.client import EngineClient  # noqa: E402
from thulium_desktop.app.window import MainWindow  # noqa: E402
from thulium_desktop.app.worker import default_engine  # noqa: E402
from thulium_desktop.models import CTCRecognizer  # noqa: E402
from thulium_desktop.xai.saliency import Cancelled, SaliencyGenerator  # noqa: E402

#: Generous: the CI machine is shared; a passing run takes a fraction of it.
WAIT_MS = 20_000


class Models:
    """Builds the tiny recognizer on demand and remembers the instances (for hook checks)."""

    def __init__(self) -> None:
        self.built: list[CTCRecognizer] = []

    def __call__(self) -> CTCRecognizer:
        recognizer = CTCRecognizer(tiny_crnn(seed=3), ALPHABET, 32, name="tiny-crnn")
        self.built.append(recognizer)
        return recognizer


class GatedEngine:
    """The real engine, but every `explain` waits for `gate` first (polling cancel, as
    the engine does between chunks), so tests control when a job finishes."""

    def __init__(self, recognizer, honour_cancel: bool = True) -> None:
        self.inner = SaliencyGenerator(recognizer)
        self.config = self.inner.config
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.completed: list[str] = []
        self.honour_cancel = honour_cancel

    def explain(self, image, cancel=None, **kwargs):
        self.entered.set()
        while not self.gate.wait(0.005):
            if self.honour_cancel and cancel is not None and cancel():
                raise Cancelled("cancelled while gated")
        exp = self.inner.explain(image, cancel=cancel if self.honour_cancel else None, **kwargs)
        self.completed.append(exp.reading.text)
        return exp


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def models() -> Models:
    return Models()


@pytest.fixture
def make_window(qtbot, settings, models) -> Callable[..., MainWindow]:
    """A shown window over a started worker; closed (worker stopped) at teardown."""

    def make(engine_factory=default_engine, wait_model: bool = True) -> MainWindow:
        client = EngineClient(models, engine_factory)
        window = MainWindow(client, settings)
        qtbot.addWidget(window)
        client.start()
        window.show()
        if wait_model:
            qtbot.waitUntil(lambda: client.model is not None, timeout=WAIT_MS)
        return window

    return make


@pytest.fixture
def window(qtbot, make_window, word_image) -> MainWindow:
    """The window showing `word_image` with its reading and first map in place."""
    w = make_window()
    with qtbot.waitSignal(w.settled, timeout=WAIT_MS):
        w.show_image(word_image, "minimum")
    return w
