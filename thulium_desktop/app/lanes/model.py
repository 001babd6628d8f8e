"""The model lane: which model the worker has, and loading or opening another.

Building a model (reading a large file, unpacking a checkpoint) happens on a loader
thread of its own, not on the worker: the worker keeps serving the model in use, the
user can cancel a load that takes too long (Esc), and closing the window never waits
for one (the loader is a daemon thread; what it builds after a cancel is dropped).
The built model is then handed to the worker, which owns it from there on, and moves
it to the device chosen in Model ▸ Device (`set_device`).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import replace

from PySide6.QtCore import QObject, Signal, Slot

from thulium_desktop.app.device_menu import DeviceChoice
from thulium_desktop.app.worker import LoadedModel, RecognizerFactory, Worker, log_unexpected
from thulium_desktop.models import open_described


class ModelLane(QObject):
    """Loads models on a loader thread, installs them on the worker, says which one answers.

    The job lanes read `name` when results arrive (their caches are keyed by it) and
    `error` before they ask anything (without a model nothing is asked); they drop
    their newest job on `switching` and `failed`, since the model it was for is gone,
    and on `moving`, so that a device switch does not wait for it.
    """

    ready = Signal(object)  # LoadedModel
    failed = Signal(str)  # loading failed: no model now
    openFailed = Signal(str, object)  # path, the exception; the model in use stays
    switching = Signal()  # another model is on its way in, the current one is going
    cancelled = Signal(str)  # a load or open was cancelled; what the user is told
    moving = Signal()  # the model in use is about to move to another device
    moved = Signal(object)  # LoadedModel: the model in use, now on the device chosen
    moveFailed = Signal(str, str)  # the device key the model stays under, why it could not move
    devicesListed = Signal(object)  # tuple[DeviceChoice, ...]: Model ▸ Device's entries, listed by the worker
    deviceStatus = Signal(object)  # LoadedModel: the model in use, its device's words refreshed after a job

    _load = Signal(object)
    _open = Signal(str, object)
    _warm = Signal()
    _device = Signal(str)
    _list_devices = Signal()
    _built = Signal(int, object, object)  # generation, the built model or None, the exception

    def __init__(self, worker: Worker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.current: LoadedModel | None = None
        self.error: str | None = None
        #: What is being built and for what: ("load", factory) or ("open", path); None when idle.
        self.loading: tuple[str, object] | None = None
        self._before: LoadedModel | None = None  # the model a cancelled switch returns to
        self._generation = 0  # a build whose generation is older was cancelled or superseded
        self._load.connect(worker.load)
        self._open.connect(worker.open)
        worker.openFailed.connect(self.openFailed)
        self._built.connect(self._on_built)
        worker.ready.connect(self._on_installed)
        self._warm.connect(worker.warm_up)
        worker.loadFailed.connect(self._on_load_failed)
        self._device.connect(worker.set_device)
        worker.moved.connect(self._on_moved)
        worker.moveFailed.connect(self.moveFailed)
        #: The devices the worker found (None until it answers: it asks CUDA, the GUI thread never does).
        self.devices: tuple[DeviceChoice, ...] | None = None
        worker.devicesListed.connect(self._on_devices_listed)
        worker.deviceStatus.connect(self._on_device_status)
        self._list_devices.connect(worker.list_devices)
        self._list_devices.emit()  # answered as soon as the worker thread starts

    @property
    def name(self) -> str:
        """The loaded model's name, "" while none is (what caches are keyed by)."""
        return self.current.name if self.current else ""

    @property
    def switching_in(self) -> bool:
        """Whether a model is being built to replace the current one (`load`): jobs asked
        for meanwhile are for it, not for the model the worker still holds."""
        return self.loading is not None and self.loading[0] == "load"

    def load(self, recognizer_factory: RecognizerFactory) -> None:
        """Load a model in place of the current one; `ready` (or `failed`) follows. Until
        then no job of the old model runs: its results stay cached under its name."""
        if self.current is not None:
            self._before = self.current
        self.switching.emit()
        self.current = None
        self.error = None
        self._build(("load", recognizer_factory), recognizer_factory)

    def open(self, path: str, trust: bool = False) -> None:
        """Open a user's model file in place of the loaded one; `ready` follows, or
        `openFailed` with the model in use unchanged. `trust` is the user's consent,
        given for this one file, to run code it contains.

        The model in use keeps answering while the file is read; jobs asked for
        meanwhile are cached under the name of whichever model answers them.
        """
        self._build(("open", str(path)), functools.partial(open_described, str(path), trust))

    def set_device(self, key: str) -> None:
        """Run the model in use, and each one loaded after it, on the Model ▸ Device entry
        `key`; `moved` (or `moveFailed`, the model where it was) follows. The job lanes
        drop their newest job (`moving`), which stops at its next chunk instead of
        keeping the move waiting; the worker runs jobs sent from now on after the move,
        in the order they were sent, so none has to be held. Before the first model is
        loaded, this only says where it goes."""
        self.moving.emit()
        self._device.emit(key)

    def cancel(self) -> bool:
        """Give up the load or open in progress (its loader finishes unseen); whether one
        was. A cancelled switch returns to the model used before it, when there was one."""
        if self.loading is None:
            return False
        kind, what = self.loading
        self.loading = None
        self._generation += 1
        if kind == "open":
            self.cancelled.emit(f"Opening {what} cancelled")
        elif self._before is not None:
            self.cancelled.emit(f"Loading cancelled; {self._before.name} is still in use")
            self._on_ready(self._before)
        else:
            self.error = "loading was cancelled"
            self.cancelled.emit("Loading cancelled: no model is loaded")
            self.failed.emit(self.error)
        return True

    def _build(self, loading: tuple[str, object], factory: RecognizerFactory) -> None:
        """Run `factory` on a daemon loader thread; `_on_built` gets what it made."""
        self._generation += 1
        self.loading = loading
        generation = self._generation

        def build() -> None:
            try:
                made, error = factory(), None
            except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised
                made, error = None, exc
            try:
                self._built.emit(generation, made, error)
            except RuntimeError:  # the lane is gone: the window closed while this was built
                pass

        threading.Thread(target=build, name="thulium-model-loader", daemon=True).start()

    @Slot(int, object, object)
    def _on_built(self, generation: int, made: object, error: Exception | None) -> None:
        """A loader's result, in the GUI thread: dropped when cancelled or superseded,
        else installed on the worker (or its failure reported as the kind of load says)."""
        if generation != self._generation or self.loading is None:
            return
        kind, what = self.loading
        self.loading = None
        if error is None:
            if kind == "open":
                self._open.emit(str(what), lambda: made)
            else:
                self._load.emit(lambda: made)
            return
        log_unexpected(error, f"opening the model {what} failed" if kind == "open" else "loading the model failed")
        if kind == "open":
            self.openFailed.emit(str(what), error.with_traceback(None))  # no loader frames kept alive
        else:
            self._on_load_failed(f"{type(error).__name__}: {error}")

    @Slot(object)
    def _on_installed(self, info: LoadedModel) -> None:
        """A model the worker has just installed: announced (the lanes send the jobs held
        for it), then warmed up behind those jobs (`Worker.warm_up`)."""
        self._on_ready(info)
        self._warm.emit()

    @Slot(object)
    def _on_moved(self, info: LoadedModel) -> None:
        """The model in use on its new device, warmed up there (what it learnt belongs to
        a device). A model already on its way out (a load under way) is not announced:
        the next one comes on the new device; but a cancelled load returns to it, so it
        is remembered where it now is."""
        if self.current is None:
            if self._before is not None:
                self._before = info
            return
        self.current = info
        self.moved.emit(info)
        self._warm.emit()

    @Slot(object)
    def _on_devices_listed(self, choices: tuple[DeviceChoice, ...]) -> None:
        self.devices = choices
        self.devicesListed.emit(choices)

    @Slot(str)
    def _on_device_status(self, words: str) -> None:
        """The GPU's free memory after a job, for the model in use (none while one loads)."""
        if self.current is not None:
            self.current = replace(self.current, device=words)
            self.deviceStatus.emit(self.current)

    def _on_ready(self, info: LoadedModel) -> None:
        self.current = info
        self.error = None  # an opened model replaces one that failed to load
        self.ready.emit(info)

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self.error = message
        self.failed.emit(message)
