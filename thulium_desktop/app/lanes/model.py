"""The model lane: which model the worker has, and loading or opening another."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from thulium_desktop.app.worker import LoadedModel, RecognizerFactory, Worker


class ModelLane(QObject):
    """Loads models on the worker and says which one answers.

    The job lanes read `name` when results arrive (their caches are keyed by it) and
    `error` before they ask anything (without a model nothing is asked); they drop
    their newest job on `switching` and `failed`, since the model it was for is gone.
    """

    ready = Signal(object)  # LoadedModel
    failed = Signal(str)  # loading failed: no model now
    openFailed = Signal(str, object)  # path, the exception; the model in use stays
    switching = Signal()  # another model is on its way in, the current one is going

    _load = Signal(object)
    _open = Signal(str, bool)

    def __init__(self, worker: Worker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.current: LoadedModel | None = None
        self.error: str | None = None
        self._load.connect(worker.load)
        self._open.connect(worker.open)
        worker.ready.connect(self._on_ready)
        worker.loadFailed.connect(self._on_load_failed)
        worker.openFailed.connect(self.openFailed)

    @property
    def name(self) -> str:
        """The loaded model's name, "" while none is (what caches are keyed by)."""
        return self.current.name if self.current else ""

    def load(self, recognizer_factory: RecognizerFactory) -> None:
        """Load a model in place of the current one; `ready` (or `failed`) follows. Until
        then no job of the old model runs: its results stay cached under its name."""
        self.switching.emit()
        self.current = None
        self.error = None
        self._load.emit(recognizer_factory)

    def open(self, path: str, trust: bool = False) -> None:
        """Open a user's model file in place of the loaded one; `ready` follows, or
        `openFailed` with the model in use unchanged. `trust` is the user's consent,
        given for this one file, to run code it contains.

        Jobs asked for meanwhile queue behind the open and are cached under the name of
        whichever model answers them (names are read when results arrive).
        """
        self._open.emit(str(path), trust)

    @Slot(object)
    def _on_ready(self, info: LoadedModel) -> None:
        self.current = info
        self.error = None  # an opened model replaces one that failed to load
        self.ready.emit(info)

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self.error = message
        self.failed.emit(message)
