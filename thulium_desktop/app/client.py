"""The GUI-thread side of the worker: job ids, cancellation, stale results, the cache.

The window asks `EngineClient.request(...)` for what it wants to see and listens to
the client's signals; it never sees job ids. Only results of the newest request reach
it: anything from an older job is cached (it is still correct for its own key) but
never shown, so a slow old job cannot paint over a new image.

Trust checks (`request_trust`) run on the same worker but in a lane of their own:
asking for a map does not cancel a running sanity check, and the reverse. Each lane
has its newest job; the worker ends every job by id, and the id says whose it was.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from thulium_desktop.app.jobs import Job, MethodSpec, ResultCache, TrustJob, report_bytes
from thulium_desktop.app.worker import (
    EngineFactory,
    ModelInfo,
    ReadingInfo,
    RecognizerFactory,
    Worker,
    default_engine,
)

#: Readings are tiny; this just stops an endless folder walk from growing forever.
MAX_READINGS = 512


def _file_stamp(path: Path) -> tuple:
    """The path with its size and modification time: the same stamp, the same bytes
    (for a file nobody rewrote within the clock's resolution). None-filled if it is gone."""
    try:
        stat = path.stat()
    except OSError:
        return (str(path), None, None)
    return (str(path), stat.st_size, stat.st_mtime_ns)


def _remember(table: OrderedDict, key, value) -> None:
    """Store `value`, forgetting the oldest entries beyond `MAX_READINGS`."""
    table[key] = value
    while len(table) > MAX_READINGS:
        table.popitem(last=False)


@dataclass
class Survey:
    """Reading every image of a folder in the background: what is left, and the job out."""

    queue: list[Path]
    total: int
    job: Job | None = None
    path: Path | None = None  # the image `job` reads, until it is answered
    done: int = 0


class Lane:
    """The newest job of one kind (maps, or trust checks): only its answers are shown,
    and replacing or dropping it cancels it."""

    def __init__(self) -> None:
        self.job: Job | TrustJob | None = None

    def start(self, job: Job | TrustJob) -> None:
        self.drop()
        self.job = job

    def drop(self) -> bool:
        """Cancel the job; True when there was one."""
        if self.job is None:
            return False
        self.job.cancel.set()
        self.job = None
        return True

    def holds(self, job_id: int) -> bool:
        return self.job is not None and self.job.id == job_id

    def end(self, job_id: int) -> bool:
        """Forget the job that ended; True when it was this lane's newest."""
        if not self.holds(job_id):
            return False
        self.job = None
        return True


class EngineClient(QObject):
    """Owns the worker thread and turns the window's wishes into jobs."""

    modelReady = Signal(object)  # ModelInfo
    modelFailed = Signal(str)
    modelOpenFailed = Signal(str, object)  # path, the exception; the model in use stays
    readingReady = Signal(object)  # ReadingInfo of the current image
    partial = Signal(object, object, int, int)  # spec, maps, done, total
    explained = Signal(object, object)  # spec, Explanation (also for cache hits)
    jobStarted = Signal()
    jobFinished = Signal(float)  # seconds the job took
    jobFailed = Signal(str)
    jobCancelled = Signal()
    surveyRead = Signal(object, object, str)  # path, ReadingInfo (None on failure), problem
    surveyProgress = Signal(int, int)  # done, total
    surveyFinished = Signal(bool)  # True when every image was read, False when cancelled
    trustProgress = Signal(str)  # the stage starting
    trustReady = Signal(object, object, bool)  # the Explanation checked, TrustReport, complete
    trustFinished = Signal()
    trustFailed = Signal(str)
    trustCancelled = Signal()

    _submit = Signal(object)
    _submit_trust = Signal(object)
    _load = Signal(object)
    _open = Signal(str, bool)

    def __init__(
        self,
        recognizer_factory: RecognizerFactory,
        engine_factory: EngineFactory = default_engine,
        cache: ResultCache | None = None,
        torch_threads: int = 1,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.cache = cache if cache is not None else ResultCache()
        self.trust_cache = ResultCache(16 * 2**20, size_of=report_bytes)
        self.model: ModelInfo | None = None
        self.model_error: str | None = None
        self._readings: OrderedDict[tuple[str, str], ReadingInfo] = OrderedDict()
        self._file_keys: OrderedDict[tuple, str] = OrderedDict()  # survey file stamp -> content key
        self._ids = itertools.count(1)
        self._pending: dict[int, Job] = {}
        self._maps = Lane()
        self._checks = Lane()
        self._survey: Survey | None = None
        self._recognizer_factory = recognizer_factory
        self._thread = QThread()
        self._thread.setObjectName("thulium-worker")
        self._worker = Worker(engine_factory, torch_threads)
        self._worker.moveToThread(self._thread)
        self._load.connect(self._worker.load)
        self._open.connect(self._worker.open)
        self._submit.connect(self._worker.run)
        self._submit_trust.connect(self._worker.check_trust)
        self._worker.ready.connect(self._on_ready)
        self._worker.loadFailed.connect(self._on_load_failed)
        self._worker.openFailed.connect(self.modelOpenFailed)
        self._worker.readingReady.connect(self._on_reading)
        self._worker.partial.connect(self._on_partial)
        self._worker.explained.connect(self._on_explained)
        self._worker.trustProgress.connect(self._on_trust_progress)
        self._worker.trustReady.connect(self._on_trust_ready)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread and load the first model there."""
        self._thread.start()
        self._load.emit(self._recognizer_factory)

    def switch_model(self, recognizer_factory: RecognizerFactory) -> None:
        """Load another model; `modelReady` (or `modelFailed`) follows. Until then no job
        runs: results of the old model are still cached under its name."""
        self._maps.drop()
        self._checks.drop()
        self.model = None
        self.model_error = None
        self._load.emit(recognizer_factory)

    def open_model(self, path: str, trust: bool = False) -> None:
        """Open a user's model file in place of the loaded one; `modelReady` follows, or
        `modelOpenFailed` with the model in use unchanged. `trust` is the user's consent,
        given for this one file, to run code it contains.

        Jobs asked for meanwhile queue behind the open and are cached under the name of
        whichever model answers them (names are read when results arrive).
        """
        self._open.emit(str(path), trust)

    def shutdown(self) -> None:
        """Cancel whatever runs, stop the thread and wait for it (closing must not hang
        on a long job: the engine notices the cancel flag within one chunk)."""
        self.cancel()
        self.cancel_survey()
        self._thread.quit()
        self._thread.wait()

    @property
    def busy(self) -> bool:
        return self._maps.job is not None

    @property
    def checking_trust(self) -> bool:
        return self._checks.job is not None

    @property
    def pending_jobs(self) -> int:
        """Jobs sent to the worker and not yet answered (for leak checks)."""
        return len(self._pending)

    # -- requests --------------------------------------------------------------------
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
        if self.model_error is not None:
            return
        model = self._model_name()
        reading = self._readings.get((image_key, model))
        if reading is not None and want_reading:
            self.readingReady.emit(reading)
        missing = []
        for spec in specs:
            cached = self.cache.get((image_key, model, spec))
            if cached is None:
                missing.append(spec)
            else:
                self.explained.emit(spec, cached)
        need_reading = want_reading and reading is None
        if self._covers(image_key, missing, need_reading):
            return
        self._maps.drop()
        if not missing and not need_reading:
            return
        known = reading.reading if reading is not None else None
        job = Job(next(self._ids), image, image_key, tuple(missing), need_reading, known)
        self._pending[job.id] = job
        self._maps.start(job)
        self.jobStarted.emit()
        self._submit.emit(job)

    def survey(self, paths: Sequence[Path]) -> None:
        """Read every image in `paths` in the background (`surveyRead` per image, then
        `surveyFinished`), replacing any survey under way.

        One image is out at a time, and each is an ordinary job outside the view's
        (decoded on the worker): what the user asks for meanwhile is queued behind at
        most one reading, never behind the whole folder, and neither cancels the other.
        """
        self.cancel_survey()
        self._survey = Survey(list(paths), len(paths))
        self.surveyProgress.emit(0, len(paths))
        self._survey_next()

    @Slot()
    def cancel_survey(self) -> None:
        """Stop the survey (the Cancel button, a new folder, another model)."""
        survey, self._survey = self._survey, None
        if survey is None:
            return
        if survey.job is not None:
            survey.job.cancel.set()
        self.surveyFinished.emit(False)

    @property
    def surveying(self) -> bool:
        return self._survey is not None

    def _survey_next(self) -> None:
        """Send the next unread image of the survey, or say it is finished. The worker
        decodes each file: thousands of large scans would stall the window here. A file
        surveyed before and unchanged since (size and time) is known by its content key
        without decoding, so its reading for this model, if any, answers at once."""
        survey = self._survey
        while survey.queue:
            path = survey.queue.pop(0)
            key = self._file_keys.get(_file_stamp(path))
            known = None if key is None else self._readings.get((key, self._model_name()))
            if known is not None:
                self._survey_answer(path, known, "")
                continue
            survey.job, survey.path = Job(next(self._ids), None, "", (), True, path=path), path
            self._pending[survey.job.id] = survey.job
            self._submit.emit(survey.job)
            return
        self._survey = None
        self.surveyFinished.emit(True)

    def _survey_answer(self, path: Path, info: ReadingInfo | None, problem: str) -> None:
        self._survey.done += 1
        self._survey.path = None
        self.surveyRead.emit(path, info, problem)
        self.surveyProgress.emit(self._survey.done, self._survey.total)

    def _survey_job(self, job_id: int) -> bool:
        return self._survey is not None and self._survey.job is not None and self._survey.job.id == job_id

    def request_trust(
        self, image: np.ndarray, image_key: str, spec: MethodSpec, explanation: object, full: bool
    ) -> None:
        """Check `explanation` (the final maps under `spec`): diagnostics, and when `full`
        the curves and the sanity check. Cached reports come at once (a full one serves
        a diagnostics request too); a running check of the same maps that covers the
        request keeps running; any other is cancelled: it is stale. Reports come back
        with the explanation they check, which is how the panel knows they are its own.
        """
        if self.model_error is not None:
            return
        key = (image_key, self._model_name(), spec)
        cached = self.trust_cache.get((*key, True))
        if cached is None and not full:
            cached = self.trust_cache.get((*key, False))
        if cached is not None:
            self.cancel_trust_unless(explanation)
            self.trustReady.emit(explanation, cached, True)
            return
        job = self._checks.job
        if job is not None and job.explanation is explanation and (job.full or not full):
            return
        job = TrustJob(next(self._ids), image, image_key, spec, explanation, full)
        self._pending[job.id] = job
        self._checks.start(job)
        self._submit_trust.emit(job)

    def cancel_trust_unless(self, explanation: object) -> None:
        """Drop a running check that is not of these maps (the user has moved on); as
        for maps, only a cancel the user asked for is announced."""
        job = self._checks.job
        if job is not None and job.explanation is not explanation:
            self._checks.drop()

    @Slot()
    def cancel_trust(self) -> None:
        """Stop the running trust check at the user's request."""
        if self._checks.drop():
            self.trustCancelled.emit()

    @Slot()
    def cancel(self) -> None:
        """Stop the running jobs at the user's request (Esc, Cancel, closing)."""
        if self._maps.drop():
            self.jobCancelled.emit()
        self.cancel_trust()

    def _covers(self, image_key: str, specs: Sequence[MethodSpec], need_reading: bool) -> bool:
        """Whether the running job will deliver everything still missing (and something is)."""
        job = self._maps.job
        if job is None or job.image_key != image_key or not (specs or need_reading):
            return False
        return set(specs) <= set(job.specs) and (job.want_reading or not need_reading)

    def _model_name(self) -> str:
        return self.model.name if self.model else ""

    # -- worker answers ----------------------------------------------------------------
    @Slot(object)
    def _on_ready(self, info: ModelInfo) -> None:
        self.model = info
        self.model_error = None  # an opened model replaces one that failed to load
        self.modelReady.emit(info)

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self.model_error = message
        self._maps.drop()
        self.modelFailed.emit(message)

    @Slot(int, object)
    def _on_reading(self, job_id: int, info: ReadingInfo) -> None:
        job = self._pending.get(job_id)
        if job is None:
            return
        _remember(self._readings, (job.image_key, self._model_name()), info)
        if self._maps.holds(job_id):
            self.readingReady.emit(info)
        if job.path is not None:  # a survey's file: remember its content key by stamp
            _remember(self._file_keys, _file_stamp(job.path), job.image_key)
        if self._survey_job(job_id):
            self._survey_answer(self._survey.path, info, "")

    @Slot(int, object, object, int, int)
    def _on_partial(self, job_id: int, spec: MethodSpec, maps: np.ndarray, done: int, total: int) -> None:
        if self._maps.holds(job_id):
            self.partial.emit(spec, maps, done, total)

    @Slot(int, object, object)
    def _on_explained(self, job_id: int, spec: MethodSpec, explanation: object) -> None:
        job = self._pending.get(job_id)
        if job is None or job.path is not None:
            # A survey only wants the reading: caching its attention maps for a whole
            # folder would evict the maps the user paid for (integrated gradients...),
            # also for a survey replaced while this job ran.
            return
        self.cache.put((job.image_key, self._model_name(), spec), explanation)
        if self._maps.holds(job_id):
            self.explained.emit(spec, explanation)

    @Slot(int, str)
    def _on_trust_progress(self, job_id: int, stage: str) -> None:
        if self._checks.holds(job_id):
            self.trustProgress.emit(stage)

    @Slot(int, object, object, bool)
    def _on_trust_ready(self, job_id: int, spec: MethodSpec, report: object, complete: bool) -> None:
        """Complete reports are cached (for the level asked: a full one also answers
        diagnostics requests); only the current check's reach the window."""
        job = self._pending.get(job_id)
        if job is None:
            return
        if complete:
            self.trust_cache.put((job.image_key, self._model_name(), spec, job.full), report)
        if self._checks.holds(job_id):
            self.trustReady.emit(job.explanation, report, complete)

    @Slot(int, float)
    def _on_finished(self, job_id: int, seconds: float) -> None:
        lane = self._close(job_id)
        if lane == "explain":
            self.jobFinished.emit(seconds)
        elif lane == "trust":
            self.trustFinished.emit()

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        if self._survey_job(job_id) and self._survey.path is not None:
            problem = self._survey.job.load_error or f"the model could not read it: {message}"
            self._survey_answer(self._survey.path, None, problem)
        lane = self._close(job_id)
        if lane == "explain":
            self.jobFailed.emit(message)
        elif lane == "trust":
            self.trustFailed.emit(message)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        self._close(job_id)

    def _close(self, job_id: int) -> str | None:
        """Forget a finished job (a survey's: send its next image); which lane's newest
        job it was ("explain", "trust"), None when it was stale or a survey's."""
        self._pending.pop(job_id, None)
        if self._survey_job(job_id):
            self._survey.job = None
            self._survey_next()
        if self._maps.end(job_id):
            return "explain"
        if self._checks.end(job_id):
            return "trust"
        return None
