"""The GUI thread's end of the worker: the one worker thread, and a lane per kind of work.

One long-lived worker thread owns the model and the engine (docs/ARCHITECTURE.md,
Threads). Everything the GUI asks of it goes through a lane (`app/lanes/`), each with
its own signals, job ids, cache and cancel: the models, the shown maps, the trust
checks and the folder survey. The client only builds them over the one worker and
stops them together, so the window, the Trust panel and the Images list each talk to
the lane they need and none of them sees a job id.
"""

from __future__ import annotations

import itertools
from typing import Protocol

from PySide6.QtCore import QObject, QThread, Slot

from thulium_desktop.app.jobs import Focus
from thulium_desktop.app.lanes.base import Shared
from thulium_desktop.app.lanes.maps import MapsLane
from thulium_desktop.app.lanes.model import ModelLane
from thulium_desktop.app.lanes.recent import Recent
from thulium_desktop.app.lanes.survey import SurveyLane
from thulium_desktop.app.lanes.trust import TrustLane
from thulium_desktop.app.worker import EngineFactory, ReadingInfo, RecognizerFactory, Worker, default_engine


class SelectionSource(Protocol):
    """What `EngineClient.follow` needs of the view model: the selected character (< 0:
    the whole reading)."""

    selection: int


class EngineClient(QObject):
    """Owns the worker thread and the lanes over it; starts and stops them together."""

    def __init__(
        self,
        recognizer_factory: RecognizerFactory,
        engine_factory: EngineFactory = default_engine,
        torch_threads: int = 1,
        parent: QObject | None = None,
        warm: bool = False,
    ) -> None:
        super().__init__(parent)
        self._recognizer_factory = recognizer_factory
        self._thread = QThread()
        self._thread.setObjectName("thulium-worker")
        #: The selected character, computed first in a job's per-character maps (`follow`).
        self.focus = Focus()
        self._worker = Worker(engine_factory, torch_threads, self.focus, warm)
        self._worker.moveToThread(self._thread)
        self.models = ModelLane(self._worker, self)
        shared = Shared(self._worker, itertools.count(1), self.models)
        readings: Recent[tuple[str, str], ReadingInfo] = Recent()  # the maps' and the survey's
        self.maps = MapsLane(shared, readings, self)
        self.trust = TrustLane(shared, self)
        self.survey = SurveyLane(shared, readings, self)

    def follow(self, view_model: SelectionSource) -> None:
        """Compute the character `view_model` selects before the rest of the line, from
        now on: the worker reads its selection as each method's maps start (`Focus`)."""
        self.focus.follow(lambda: view_model.selection)

    def start(self) -> None:
        """Start the worker thread and load the first model there."""
        self._thread.start()
        self.models.load(self._recognizer_factory)

    @Slot()
    def cancel(self) -> None:
        """Stop what the user is waiting for (Esc, Cancel): a model on its way in first
        (the jobs held for it then go to the model in use), else the maps and the trust
        check, each lane announcing its own cancel."""
        if self.models.cancel():
            return
        self.maps.cancel()
        self.trust.cancel()

    def shutdown(self, wait_ms: int | None = None) -> bool:
        """Cancel every lane's job, stop the thread and wait for it, at most `wait_ms`
        (None: until it stops); whether it stopped. The engine notices the cancel flag
        within one chunk, and a model still being built is left to its daemon loader
        thread; but one chunk of a huge input can take minutes, so the app closes with
        a bounded wait (`launch.py` then ends the process without the worker)."""
        self._worker.stop()
        self.models.cancel()
        for lane in (self.maps, self.trust, self.survey):
            lane.cancel()
        self._thread.quit()
        return self._thread.wait() if wait_ms is None else self._thread.wait(wait_ms)

    @property
    def running(self) -> bool:
        """Whether the worker thread is still running (a shutdown's wait ran out)."""
        return self._thread.isRunning()

    @property
    def pending_jobs(self) -> int:
        """Jobs sent to the worker and not yet answered, over all lanes (for leak checks)."""
        return self.maps.pending + self.trust.pending + self.survey.pending
