"""The trust lane: checks of the maps on screen, on the same worker as the maps.

A lane of its own: asking for a map does not cancel a running sanity check, and the
reverse. Reports come back with the explanation they check, which is how the Trust
panel knows they are its own.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from thulium_desktop.app.jobs import ResultCache, TrustJob, report_bytes
from thulium_desktop.app.lanes.base import ResultLane, Shared
from thulium_desktop.xai.spec import MethodSpec

#: Reports are small next to maps (curves and correlations per character).
CACHE_BYTES = 16 * 2**20
#: The stage a check shows while the model it runs on moves to another device.
MOVING_STAGE = "paused for the device switch"


class TrustLane(ResultLane[TrustJob]):
    """Diagnostics, deletion/insertion curves and the sanity check of shown maps."""

    progress = Signal(str)  # the stage starting
    ready = Signal(object, object, bool)  # the Explanation checked, TrustReport, complete

    def __init__(self, shared: Shared, parent: QObject | None = None) -> None:
        super().__init__(shared, shared.worker.check_trust, ResultCache(CACHE_BYTES, size_of=report_bytes), parent)
        shared.worker.trustProgress.connect(self._on_progress)
        shared.worker.trustReady.connect(self._on_ready)
        #: A check dropped by a device switch, asked again once the model has moved.
        self._after_move: TrustJob | None = None
        shared.model.moved.connect(self._resume)
        shared.model.moveFailed.connect(self._resume)

    def request(self, image: np.ndarray, image_key: str, spec: MethodSpec, explanation: object, full: bool) -> None:
        """Check `explanation` (the final maps under `spec`): diagnostics, and when `full`
        the curves and the sanity check. Cached reports come at once (a full one serves
        a diagnostics request too); a running check of the same maps that covers the
        request keeps running; any other is cancelled: it is stale.
        """
        if self._model.error is not None:
            return
        cached = self._cached((image_key, self._model.name, spec), full)
        if cached is not None:
            self.drop_unless(explanation)
            self.ready.emit(explanation, cached, True)
            return
        if not self._covers(explanation, full):
            self._send(TrustJob(self._next_id(), image, image_key, spec, explanation, full))

    def drop_unless(self, explanation: object) -> None:
        """Drop a running check that is not of these maps (the user has moved on); as
        for maps, only a cancel the user asked for is announced."""
        if self.job is not None and self.job.explanation is not explanation:
            self.drop()

    def _cached(self, key: tuple, full: bool) -> object | None:
        """The cached report for `key`: a full one, or for diagnostics a light one too."""
        report = self.cache.get((*key, True))
        if report is None and not full:
            report = self.cache.get((*key, False))
        return report

    def _covers(self, explanation: object, full: bool) -> bool:
        """Whether the running check is of these maps and asks at least as much."""
        job = self.job
        return job is not None and job.explanation is explanation and (job.full or not full)

    # -- device switches ---------------------------------------------------------------
    @Slot()
    def _on_moving(self) -> None:
        """A device switch drops the running check so that the move does not wait for it
        (a full check can take minutes); unlike a map, nothing on screen asks for it
        again, so the lane does once the model has moved (`_resume`). Meanwhile it stays
        the newest job: the panel shows it waiting, and Esc or a newer request drops it."""
        job = self.job
        if not self.drop():
            return
        again = replace(job, id=self._next_id(), cancel=threading.Event())
        self._pending[again.id] = again
        self.job = self._after_move = again
        self.progress.emit(MOVING_STAGE)

    def drop(self) -> bool:
        """As `Lane.drop`; a check waiting for a move was never sent, so nothing answers it."""
        waiting, self._after_move = self._after_move, None
        if waiting is not None:
            self._pending.pop(waiting.id, None)
        return super().drop()

    @Slot()
    def _resume(self) -> None:
        """Queue the check a device switch dropped, moved or not: the model answers either
        way (a check cancelled meanwhile is answered `cancelled` by the worker)."""
        job, self._after_move = self._after_move, None
        if job is not None:
            self._queue(job)

    # -- worker answers ----------------------------------------------------------------
    @Slot(int, str)
    def _on_progress(self, job_id: int, stage: str) -> None:
        if self._shows(job_id):
            self.progress.emit(stage)

    @Slot(int, object, object, bool)
    def _on_ready(self, job_id: int, spec: MethodSpec, report: object, complete: bool) -> None:
        """Complete reports are cached (for the level asked: a full one also answers
        diagnostics requests); only the newest check's reach the panel."""
        job = self._pending.get(job_id)
        if job is None:
            return
        if complete:
            self.cache.put((job.image_key, self._model.name, spec, job.full), report)
        if self._shows(job_id):
            self.ready.emit(job.explanation, report, complete)
