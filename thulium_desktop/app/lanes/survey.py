"""The survey lane: reading every image of a folder in the background, for the
Images list sorted by error or confidence, and every line of a page (a `CorpusItem`
cut out of its scan on the worker) for the page view's colours.

One image is out at a time, each an ordinary job outside the view's (decoded on the
worker): what the user asks for meanwhile is queued behind at most one reading,
never behind the whole folder, and neither cancels the other. A survey only wants
readings: it never caches maps, which would evict the ones the user paid for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from thulium_desktop.app.jobs import Job
from thulium_desktop.app.lanes.base import Lane, Shared
from thulium_desktop.app.lanes.recent import Recent
from thulium_desktop.app.worker import ReadingInfo
from thulium_desktop.io.corpus import CorpusItem

#: What a survey reads: an image file, or a line of a page.
Readable = Path | CorpusItem


def file_stamp(path: Readable) -> tuple:
    """The path with its size and modification time: the same stamp, the same bytes
    (for a file nobody rewrote within the clock's resolution). None-filled if it is gone.
    A page's line: its id with the stamps of its scan and of its layout."""
    if isinstance(path, CorpusItem):
        layout = None if path.line is None else file_stamp(path.line.layout.path)
        return (file_stamp(path.path), path.label, layout)
    try:
        stat = path.stat()
    except OSError:
        return (str(path), None, None)
    return (str(path), stat.st_size, stat.st_mtime_ns)


@dataclass
class Survey:
    """A folder being read: what is left, how far it got, the image out on the worker."""

    queue: list[Readable]
    total: int
    path: Readable | None = None  # the image (or line) the lane's job reads, until it is answered
    done: int = 0


class SurveyLane(Lane[Job]):
    """Reads a list of images, one job at a time, answering per image."""

    read = Signal(object, object, str)  # path (or CorpusItem), ReadingInfo (None on failure), problem
    progress = Signal(int, int)  # done, total
    finished = Signal(bool)  # True when every image was read, False when cancelled

    def __init__(self, shared: Shared, readings: Recent[tuple[str, str], ReadingInfo],
                 parent: QObject | None = None) -> None:
        super().__init__(shared, shared.worker.run, parent)
        self._readings = readings  # (image key, model name) -> ReadingInfo, shared with the maps
        self._file_keys: Recent[tuple, str] = Recent()  # file stamp -> content key
        self._survey: Survey | None = None
        shared.worker.readingReady.connect(self._on_reading)

    @property
    def running(self) -> bool:
        return self._survey is not None

    def start(self, paths: Sequence[Readable]) -> None:
        """Read every image (or page line) in `paths` (`read` per one, then `finished`),
        replacing any survey under way."""
        self.cancel()
        self._survey = Survey(list(paths), len(paths))
        self.progress.emit(0, len(paths))
        self._next()

    @Slot()
    def cancel(self) -> None:
        """Stop the survey (the Cancel button, a new folder, another model, closing)."""
        if self._survey is None:
            return
        self._survey = None
        self.drop()
        self.finished.emit(False)

    def _next(self) -> None:
        """Send the next unread image, or say the survey is finished. The worker decodes
        each file: thousands of large scans would stall the window here. A file surveyed
        before and unchanged since is answered at once from its known reading."""
        survey = self._survey
        while survey.queue:
            path = survey.queue.pop(0)
            known = self._known_reading(path)
            if known is not None:
                self._answer(path, known, "")
                continue
            survey.path = path
            item = path if isinstance(path, CorpusItem) else None
            self._send(Job(self._next_id(), None, "", (), True, path=path.path if item else path, item=item))
            return
        self._survey = None
        self.finished.emit(True)

    def _known_reading(self, path: Readable) -> ReadingInfo | None:
        """This model's reading of the file, when it was surveyed before and is unchanged
        (size and time): known by its content key without decoding it."""
        key = self._file_keys.get(file_stamp(path))
        return None if key is None else self._readings.get((key, self._model.name))

    def _answer(self, path: Readable, info: ReadingInfo | None, problem: str) -> None:
        self._survey.done += 1
        self._survey.path = None
        self.read.emit(path, info, problem)
        self.progress.emit(self._survey.done, self._survey.total)

    # -- worker answers ----------------------------------------------------------------
    @Slot(int, object)
    def _on_reading(self, job_id: int, info: ReadingInfo) -> None:
        """Remember the reading and the file's content key (also for a survey replaced
        meanwhile: the work is done); answer when the job is the current survey's."""
        job = self._pending.get(job_id)
        if job is None:
            return
        self._readings.put((job.image_key, self._model.name), info)
        self._file_keys.put(file_stamp(job.item or job.path), job.image_key)
        if self._shows(job_id):
            self._answer(self._survey.path, info, "")

    def _finished(self, job: Job, seconds: float) -> None:
        self._next()

    def _failed(self, job: Job, message: str) -> None:
        """Name the file's problem (unless its reading came first), then go on."""
        if self._survey.path is not None:
            self._answer(self._survey.path, None, job.load_error or f"the model could not read it: {message}")
        self._next()
