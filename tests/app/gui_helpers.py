"""Test doubles and constants shared by the app tests."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from tiny_models import ALPHABET, tiny_crnn

from thulium_desktop.models import CTCRecognizer
from thulium_desktop.xai.saliency import Cancelled, SaliencyGenerator
from thulium_desktop.xai.trust import trust_report

#: Generous: the CI machine is shared; a passing run takes a fraction of it.
WAIT_MS = 20_000
SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def sample_copy(folder: Path, name: str, truth: str | bytes | None = None, as_name: str | None = None) -> Path:
    """A sample image copied into `folder`, with `truth` in its `.gt.txt` when given."""
    folder.mkdir(exist_ok=True)
    path = folder / (as_name or name)
    shutil.copy(SAMPLES / name, path)
    if truth is not None:
        gt = path.with_name(path.name + ".gt.txt")
        gt.write_bytes(truth if isinstance(truth, bytes) else truth.encode())
    return path


def open_settled(qtbot, window, paths) -> None:
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        assert window.open_paths(paths)


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
        self.model = recognizer  # trust checks run on the model itself
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


class GatedTrust:
    """The real `trust_report` for the worker, except that curves and sanity checks wait
    for `gate` first (polling cancel unless told not to); diagnostics pass straight on."""

    def __init__(self, honour_cancel: bool = True) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.completed: list[dict] = []  # the keyword arguments of each gated check that finished
        self.honour_cancel = honour_cancel

    def __call__(self, *args, cancel=None, **kwargs):
        gated = kwargs.get("curves") or kwargs.get("sanity")
        if gated:
            self.entered.set()
            while not self.gate.wait(0.005):
                if self.honour_cancel and cancel is not None and cancel():
                    raise Cancelled("cancelled while gated")
        report = trust_report(*args, cancel=cancel if self.honour_cancel else None, **kwargs)
        if gated:
            self.completed.append(kwargs)
        return report


def close_during_a_gated_job(close: Callable[[], object], gate: threading.Event) -> object:
    """Call `close` (a window's, or a client's shutdown) while a job waits on `gate`, with
    no clock on the close (under load it is slower, not wrong); what `close` returns. A
    close that waited for the job instead of cancelling it would hang on the shut gate;
    so the gate opens after WAIT_MS, that job runs to its end and the caller's
    `completed` list shows it. A cancelled job never completes, however late its gate
    opens."""
    opener = threading.Timer(WAIT_MS / 1000, gate.set)
    opener.start()
    try:
        return close()
    finally:
        opener.cancel()


def engine_failing_on(method: str, error: Exception):
    """An engine factory: the real engine, except that explaining with `method` raises `error`."""

    class Failing(SaliencyGenerator):
        def explain(self, image, *args, config=None, **kwargs):
            if config is not None and config.method == method:
                raise error
            return super().explain(image, *args, config=config, **kwargs)

    return Failing
