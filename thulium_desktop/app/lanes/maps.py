"""The maps lane: explanations of the shown image, streamed, cached, never stale.

The window asks `request(...)` for what it wants to see and listens to the lane's
signals; it never sees job ids. Only the newest request's answers reach it: an older
job's maps are cached (still correct for their own key) but never shown, so a slow
old job cannot paint over a new image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from thulium_desktop.app.jobs import Job, ResultCache
from thulium_desktop.app.lanes.base import ResultLane, Shared
from thulium_desktop.app.lanes.recent import Recent
from thulium_desktop.app.worker import ReadingInfo
from thulium_desktop.xai.spec import MethodSpec


class MapsLane(ResultLane[Job]):
    """Reads the shown image and explains it under the specs the view wants."""

    readingReady = Signal(object)  # ReadingInfo of the current image
    partial = Signal(object, object, int, int)  # spec, maps, done, total
    explained = Signal(object, object)  # spec, Explanation (also for cache hits)
    started = Signal()  # a job went out: the answers come later

    def __init__(self, shared: Shared, readings: Recent[tuple[str, str], ReadingInfo],
                 parent: QObject | None = None) -> None:
        super().__init__(shared, shared.worker.run, ResultCache(), parent)
        self._readings = readings  # (image key, model name) -> ReadingInfo, shared with the survey
        shared.worker.readingReady.connect(self._on_reading)
        shared.worker.partial.connect(self._on_partial)
        shared.worker.explained.connect(self._on_explained)

    def request(
        self,
        image: np.ndarray,
        image_key: str,
        specs: Sequence[MethodSpec],
        want_reading: bool = False,
    ) -> None:
        """Show `specs` for this image: cached ones at once, the rest from a new job.

        A running job that already covers what is missing keeps running (clicking
        through characters while integrated gradients refine must not restart it);
        any other running job is cancelled: the user has moved on. Without a model
        nothing is asked (the window already says why).
        """
        if self._model.error is not None:
            return
        reading = self._readings.get((image_key, self._model.name))
        if reading is not None and want_reading:
            self.readingReady.emit(reading)
        missing = self._from_cache(image_key, specs)
        need_reading = want_reading and reading is None
        if self._covers(image_key, missing, need_reading):
            return
        self.drop()
        if missing or need_reading:
            known = reading.reading if reading is not None else None
            self._send(Job(self._next_id(), image, image_key, tuple(missing), need_reading, known))
            self.started.emit()

    def _from_cache(self, image_key: str, specs: Sequence[MethodSpec]) -> list[MethodSpec]:
        """Show the cached explanations among `specs`; the others, still to compute."""
        missing = []
        for spec in specs:
            cached = self.cache.get((image_key, self._model.name, spec))
            if cached is None:
                missing.append(spec)
            else:
                self.explained.emit(spec, cached)
        return missing

    def _covers(self, image_key: str, specs: Sequence[MethodSpec], need_reading: bool) -> bool:
        """Whether the running job will deliver everything still missing (and something is)."""
        job = self.job
        if job is None or job.image_key != image_key or not (specs or need_reading):
            return False
        return set(specs) <= set(job.specs) and (job.want_reading or not need_reading)

    # -- worker answers ----------------------------------------------------------------
    @Slot(int, object)
    def _on_reading(self, job_id: int, info: ReadingInfo) -> None:
        job = self._pending.get(job_id)
        if job is None:
            return
        self._readings.put((job.image_key, self._model.name), info)
        if self._shows(job_id):
            self.readingReady.emit(info)

    @Slot(int, object, object, int, int)
    def _on_partial(self, job_id: int, spec: MethodSpec, maps: np.ndarray, done: int, total: int) -> None:
        if self._shows(job_id):
            self.partial.emit(spec, maps, done, total)

    @Slot(int, object, object)
    def _on_explained(self, job_id: int, spec: MethodSpec, explanation: object) -> None:
        job = self._pending.get(job_id)
        if job is None:
            return
        self.cache.put((job.image_key, self._model.name, spec), explanation)
        if self._shows(job_id):
            self.explained.emit(spec, explanation)
