"""A job lane: one kind of work on the shared worker, told apart by the ids it sent.

The one worker thread runs every job in turn and ends each with `finished`, `failed`
or `cancelled`, naming only the job's id. Each lane keeps the ids it sent, so it hears
its own answers and lets the others' pass: no job is tagged by kind and no lane waits
for another. Only the lane's newest job is shown; an older one still answering was
dropped (the user moved on) and may still fill the lane's cache, never the screen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from PySide6.QtCore import QObject, Signal, Slot

from thulium_desktop.app.jobs import ResultCache
from thulium_desktop.app.lanes.model import ModelLane
from thulium_desktop.app.worker import Worker


class LaneJob(Protocol):
    """What a lane needs of its jobs: the id the worker answers with, the flag it polls."""

    id: int
    cancel: threading.Event


J = TypeVar("J", bound=LaneJob)


@dataclass(frozen=True)
class Shared:
    """What every job lane shares: the one worker, the one id sequence (an id names one
    job of one lane, so no lane mistakes another's answer for its own), and the model
    lane (results are keyed by its model's name)."""

    worker: Worker
    ids: Iterator[int]
    model: ModelLane


class Lane(QObject, Generic[J]):
    """A kind of job on the worker: sends them, knows its own answers, cancels its newest.

    Subclasses say what the end of their newest job means (`_finished`, `_failed`) and
    listen to the worker's other signals for what they produce, filtering by `_pending`.
    """

    _submit = Signal(object)

    def __init__(self, shared: Shared, run: Callable[[J], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job: J | None = None  # the newest: the one whose answers are shown
        self._pending: dict[int, J] = {}  # sent and not yet answered, the newest included
        self._ids = shared.ids
        self._model = shared.model
        self._held: list[J] = []  # asked for while a model switch was on its way
        self._submit.connect(run)  # the worker's slot for this kind of job
        shared.model.ready.connect(self._release)
        shared.model.failed.connect(self._release)
        shared.worker.finished.connect(self._on_finished)
        shared.worker.failed.connect(self._on_failed)
        shared.worker.cancelled.connect(self._on_cancelled)

    @property
    def busy(self) -> bool:
        """Whether the newest job is still out."""
        return self.job is not None

    @property
    def pending(self) -> int:
        """Jobs sent to the worker and not yet answered, stale ones too (for leak checks)."""
        return len(self._pending)

    def drop(self) -> bool:
        """Cancel the newest job without a word (the user has moved on, or its model is
        going); True when there was one."""
        if self.job is None:
            return False
        self.job.cancel.set()
        self.job = None
        return True

    def _next_id(self) -> int:
        return next(self._ids)

    def _send(self, job: J) -> None:
        """Make `job` the newest, cancelling the one before, and queue it on the worker.
        While another model is being built for a switch, the worker still holds the old
        one: the job waits here for the model it is meant for (`_release`)."""
        self.drop()
        self._pending[job.id] = job
        self.job = job
        self._queue(job)

    def _queue(self, job: J) -> None:
        """Queue `job` on the worker, or hold it while a switch builds the model it is for."""
        if self._model.switching_in:
            self._held.append(job)
        else:
            self._submit.emit(job)

    @Slot()
    def _release(self) -> None:
        """Queue the jobs held during a switch, now that it has ended (installed, failed or
        cancelled); the worker answers those cancelled meanwhile with `cancelled`."""
        held, self._held = self._held, []
        for job in held:
            self._submit.emit(job)

    def _shows(self, job_id: int) -> bool:
        """Whether answers of `job_id` are to be shown: it is the newest job."""
        return self.job is not None and self.job.id == job_id

    def _close(self, job_id: int) -> J | None:
        """Forget an answered job; the job when it was the newest (its end is news)."""
        job = self._pending.pop(job_id, None)
        if job is None or job is not self.job:
            return None
        self.job = None
        return job

    @Slot(int, float)
    def _on_finished(self, job_id: int, seconds: float) -> None:
        job = self._close(job_id)
        if job is not None:
            self._finished(job, seconds)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        job = self._close(job_id)
        if job is not None:
            self._failed(job, message)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        """Only `drop` cancels a job, and it lets go of it first: a cancelled job is
        never the newest, so its end is no news."""
        self._close(job_id)

    def _finished(self, job: J, seconds: float) -> None:
        raise NotImplementedError

    def _failed(self, job: J, message: str) -> None:
        raise NotImplementedError


class ResultLane(Lane[J]):
    """A lane the user waits on: its results are cached (bounded in bytes), the end of
    its newest job is announced, and the user can cancel it. A model switch or a failed
    load drops its newest job: the model it asked is gone, and without a model nothing
    is asked again (the window already says why). A device switch drops it too, so the
    move does not wait for it (`_on_moving`): the window asks for maps again once the
    model has moved, the trust lane for its check."""

    finished = Signal(float)  # seconds the newest job took
    failed = Signal(str)
    cancelled = Signal()  # at the user's request

    def __init__(self, shared: Shared, run: Callable[[J], None], cache: ResultCache,
                 parent: QObject | None = None) -> None:
        super().__init__(shared, run, parent)
        self.cache = cache
        shared.model.switching.connect(self.drop)
        shared.model.failed.connect(self.drop)
        shared.model.moving.connect(self._on_moving)

    @Slot()
    def _on_moving(self) -> None:
        """The model is about to move to another device: the newest job is dropped, so the
        move does not wait for it (the window asks for its maps again afterwards)."""
        self.drop()

    @Slot()
    def cancel(self) -> None:
        """Stop the newest job at the user's request (Esc, Cancel, closing), and say so."""
        if self.drop():
            self.cancelled.emit()

    def _finished(self, job: J, seconds: float) -> None:
        self.finished.emit(seconds)

    def _failed(self, job: J, message: str) -> None:
        self.failed.emit(message)
