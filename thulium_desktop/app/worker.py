"""The worker: a QObject living in one long-lived QThread that owns model and engine.

Everything torch-related happens here, off the GUI thread. The GUI talks to it only
through queued signals (see `client.py`), and receives numpy arrays back.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal, Slot

from thulium_desktop.app.device_menu import (
    AUTO,
    CPU,
    DeviceChoice,
    UnusableDevice,
    device_choices,
    device_status,
    gpu_failure,
    gpu_trouble,
    move_module,
    release_gpu_memory,
    resolve_device,
    where,
)
from thulium_desktop.app.jobs import Focus, Job, TrustJob
from thulium_desktop.app.layer_choices import LayerChoice, layer_choices
from thulium_desktop.io.image_quality import input_height
from thulium_desktop.io.images import ImageLoadError
from thulium_desktop.models import (
    ModelLoadError,
    ModelSummary,
    OpenedModel,
    Reading,
    Recognizer,
    model_device,
)
from thulium_desktop.models.protocol import Contrastable
from thulium_desktop.models.trocr import DECODINGS, TrOCRRecognizer
from thulium_desktop.xai.centres import attention_centres, span_centres
from thulium_desktop.xai.saliency import Cancelled, NoAttention, SaliencyConfig, SaliencyGenerator
from thulium_desktop.xai.spec import MethodSpec
from thulium_desktop.xai.trust import trust_report
from thulium_desktop.xai.warm import warm_up

log = logging.getLogger(__name__)

#: Partial maps closer together than this are coalesced: the canvas cannot show more
#: than a few updates per second anyway, and each one costs a GUI-thread repaint.
PARTIAL_INTERVAL_S = 0.05

#: Builds the model on the worker thread; an `OpenedModel` also says what to caption it.
RecognizerFactory = Callable[[], Recognizer | OpenedModel]
EngineFactory = Callable[[Recognizer], Any]


@dataclass(frozen=True)
class LoadedModel:
    """What the GUI shows about the loaded model."""

    name: str
    #: Where it runs, for the status bar (`device_status`: "CPU", a GPU's name and free memory).
    device: str
    #: the GradCAM layer chooser's entries (`layer_choices`: shaped candidates, then names)
    layers: tuple[LayerChoice, ...]
    default_layer: str | None
    caption: str = ""  # "name · format · device · N parameters" when opened with a summary
    #: Characters the model can score without having read them (contrast with truth):
    #: its alphabet, or "" when it cannot score another character at all.
    scorable: str = ""
    #: The pixel height the model scales every image to (None: it does not say): an
    #: image much lower than this is read from invented pixels (`image_quality_notes`).
    height: int | None = None
    #: The ways the model can read (`models.trocr.DECODINGS` for a TrOCR folder, () for a
    #: model with one way), and the one it reads with now ("" for a model with one way):
    #: the Model menu offers the folder's generation settings only where there are two.
    decodings: tuple[str, ...] = ()
    decoding: str = ""
    #: The Model ▸ Device entry it runs under ("auto", "cpu", "cuda:1").
    device_key: str = AUTO
    #: Why it does not run on the device chosen before it was installed ("" when it does).
    device_note: str = ""


@dataclass(frozen=True)
class ReadingInfo:
    """A reading plus where along the image (x, in image pixels) each character was read."""

    reading: Reading
    centres: np.ndarray


def default_engine(recognizer: Recognizer) -> SaliencyGenerator:
    return SaliencyGenerator(recognizer, SaliencyConfig())


class Worker(QObject):
    """Runs jobs one at a time; every signal carries the job id it belongs to."""

    ready = Signal(object)  # LoadedModel
    loadFailed = Signal(str)
    openFailed = Signal(str, object)  # path, the exception (the model in use stays)
    readingReady = Signal(int, object)  # job id, ReadingInfo
    partial = Signal(int, object, object, int, int)  # job id, spec, maps, done, total
    explained = Signal(int, object, object)  # job id, spec, Explanation
    trustProgress = Signal(int, str)  # job id, the stage starting
    trustReady = Signal(int, object, object, bool)  # job id, spec, TrustReport, complete
    finished = Signal(int, float)  # job id, seconds
    failed = Signal(int, str)
    cancelled = Signal(int)
    moved = Signal(object)  # LoadedModel: the model in use, now on the device asked for
    moveFailed = Signal(str, str)  # the device key the model stays under, why it could not move
    devicesListed = Signal(object)  # tuple[DeviceChoice, ...]: Model ▸ Device's entries
    deviceStatus = Signal(str)  # the device's words after a job on a GPU (its free memory changes)

    def __init__(self, engine_factory: EngineFactory = default_engine, torch_threads: int = 1,
                 focus: Focus | None = None, warm: bool = False) -> None:
        super().__init__()
        self._engine_factory = engine_factory
        self._torch_threads = torch_threads
        #: The character whose map is computed and posted first (`jobs.Focus`).
        self.focus = focus or Focus()
        self._engine: Any = None
        #: Whether each installed model is warmed up once the jobs held for it are done
        #: (`warm_up`); set by the app, not by tests that count passes.
        self._warm = warm
        self._stopping = threading.Event()  # set from the GUI thread when the app closes
        #: The Model ▸ Device entry models run under (`set_device`); each new model goes there.
        self._device_key = AUTO
        self._summary: ModelSummary | None = None  # what a user's model file was opened as

    @Slot()
    def warm_up(self) -> None:
        """Do a new model's one-off work (`xai/warm.py`) on the bundled probe line, so
        the user's first click runs at the steady pace. Queued behind the jobs that
        waited for the model (its first reading is not delayed); closing stops it."""
        if not self._warm or self._engine is None:
            return
        try:
            warm_up(self._engine, cancel=self._stopping.is_set)
        except Cancelled:
            pass
        except Exception as exc:  # the GPU may refuse it; the user's own jobs will say so
            message = gpu_failure(exc)
            if message is None:
                raise
            log.warning("warming the model up stopped: %s", message)

    def stop(self) -> None:
        """Called from the GUI thread on close: a warm-up in progress stops at its next chunk."""
        self._stopping.set()

    @Slot(object)
    def load(self, recognizer_factory: RecognizerFactory) -> None:
        """Install a model and its engine (`recognizer_factory` hands over what the model
        lane's loader built, or builds it here); the previous model is dropped first,
        even when the new one fails to install."""
        self._engine = None
        try:
            torch.set_num_threads(self._torch_threads)
            info = self._install(recognizer_factory)
        except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised
            log_unexpected(exc, "loading the model failed")
            self.loadFailed.emit(f"{type(exc).__name__}: {exc}")
            return
        self.ready.emit(info)

    @Slot(str, object)
    def open(self, path: str, recognizer_factory: RecognizerFactory) -> None:
        """Install a user's model file, built by `recognizer_factory` (on the model lane's
        loader thread, through the library's one safe door).

        Unlike `load`, the model in use stays until the new one is installed: a broken
        or mismatched file must not leave the user with nothing to read with. The
        exception goes back whole, so the GUI can tell a refusal that needs consent
        (`UntrustedModelError`) from a file that is simply bad.
        """
        try:
            info = self._install(recognizer_factory)
        except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised
            log_unexpected(exc, f"opening the model {path} failed")
            self.openFailed.emit(path, exc.with_traceback(None))  # no worker frames kept alive
            return
        self.ready.emit(info)

    @Slot()
    def list_devices(self) -> None:
        """Model ▸ Device's entries (`device_choices`), found here: naming a GPU starts
        CUDA, which can take seconds, and the GUI thread must not wait for it."""
        choices: tuple[DeviceChoice, ...] = tuple(device_choices())
        self.devicesListed.emit(choices)

    @Slot(str)
    def set_device(self, key: str) -> None:
        """Model ▸ Device: run the model in use, and each model installed later, on the
        device `key` names; `moved` follows with the model as it now is, or `moveFailed`
        with the model where it was, still usable. Queued on this thread like any job,
        so a job sent after it runs on the new device."""
        if self._engine is None:  # no model yet (the app is starting): the next one goes there
            self._device_key = key
            return
        recognizer = self._engine.model
        try:
            info = self._move(recognizer, self._summary, key)
        except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised
            if isinstance(exc, UnusableDevice):
                log.info("the model was not moved to %s: %s", key, exc)
            else:
                log.error("moving the model to %s failed:\n%s", key, traceback.format_exc())
            here = where(model_device(recognizer.module))
            self.moveFailed.emit(self._device_key, f"{exc}; the model stays on {here}.")
            return
        self.moved.emit(info)

    def _move(self, recognizer: Recognizer, summary: ModelSummary | None, key: str) -> LoadedModel:
        """Move a model to `key`'s device and start its engine there. When the device
        refuses it (the move, or the model's first pass there: `layer_choices` runs
        one), it goes back where it was and `UnusableDevice` says why."""
        before = model_device(recognizer.module)
        move_module(recognizer.module, resolve_device(key))
        try:
            info = self._start_engine(recognizer, summary, key)
        except Exception as exc:  # the engine in use is still the one for `before`: the model goes back
            move_module(recognizer.module, before)
            trouble = gpu_trouble(exc)
            if trouble is None:
                raise
            raise UnusableDevice(f"{key} cannot run the model ({trouble})") from exc
        self._device_key = key
        release_gpu_memory()  # the old engine's copies are gone: their memory back to the driver
        return info

    def _install(self, recognizer_factory: RecognizerFactory) -> LoadedModel:
        """Build the model, move it to the chosen device, and make it and its engine the
        ones jobs run on. Where the device refuses it, it runs where it was built (the
        CPU), as do the models after it, as the menu then shows; its `device_note`
        says why."""
        made = recognizer_factory()
        recognizer, summary = (made.recognizer, made.summary) if isinstance(made, OpenedModel) else (made, None)
        try:
            info = self._move(recognizer, summary, self._device_key)
        except UnusableDevice as exc:
            self._device_key = CPU
            note = f"{exc}; the model runs on {where(model_device(recognizer.module))}."
            info = replace(self._start_engine(recognizer, summary, CPU), device_note=note)
        self._summary = summary
        return info

    def _start_engine(self, recognizer: Recognizer, summary: ModelSummary | None, device_key: str) -> LoadedModel:
        """A fresh engine for the model where it now is (what an engine learns, its chunk
        sizes and folded copy, belongs to one device), and what the GUI shows of it."""
        caption = replace(summary, device=str(model_device(recognizer.module))).caption() if summary else ""
        engine = self._engine_factory(recognizer)
        if caption:
            engine.model_label = caption  # exported captions name format, device, size
        info = _model_info(recognizer, caption, device_key)
        self._engine = engine
        return info

    @Slot(object)
    def run(self, job: Job) -> None:
        """Read and explain, reporting through signals."""
        self._guarded(job, self._run)

    @Slot(object)
    def check_trust(self, job: TrustJob) -> None:
        """Check a shown explanation, reporting through signals."""
        self._guarded(job, self._check_trust)

    def _guarded(self, job: Job | TrustJob, work: Callable[[Any], None]) -> None:
        """Do one job of either kind, ending it with exactly one of finished, failed or
        cancelled; a job cancelled while queued is skipped."""
        if job.cancel.is_set():
            self.cancelled.emit(job.id)
            return
        if self._engine is None:
            self.failed.emit(job.id, "no model is loaded")
            return
        started = time.perf_counter()
        try:
            work(job)
        except Cancelled:
            self.cancelled.emit(job.id)
            return
        except ImageLoadError as exc:  # a survey's file: its message says what and why
            self.failed.emit(job.id, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - the app must survive any engine error
            self.failed.emit(job.id, _failure(job.id, exc))
            return
        seconds = time.perf_counter() - started
        self._report_gpu_memory()
        self.finished.emit(job.id, seconds)

    def _report_gpu_memory(self) -> None:
        """After a job on a GPU, its free memory as it now is (one `mem_get_info`): what
        the job and other programs took or gave back, for the status bar."""
        device = model_device(self._engine.model.module)
        if device.type != "cuda":
            return
        try:
            words = device_status(device)
        except Exception as exc:  # the GPU failed after the job: its end is still told, the next job says why
            trouble = gpu_trouble(exc)
            if trouble is None:
                raise
            log.warning("the GPU's free memory could not be read: %s", trouble)
            return
        self.deviceStatus.emit(words)

    def _run(self, job: Job) -> None:
        job.load()
        reading, skip = self._read(job) if job.want_reading else (job.reading, None)
        for spec in job.specs:
            if spec != skip:
                self._explain(job, spec, reading)

    def _check_trust(self, job: TrustJob) -> None:
        """Diagnostics (and with `full` the curves) first, then the sanity check: it
        costs one explanation per layer, so the curves are shown while it runs."""
        args = (self._engine.model, job.image, job.explanation, self._config(job.spec))
        stage = functools.partial(self.trustProgress.emit, job.id)
        report = trust_report(*args, curves=job.full, progress=stage, cancel=job.cancel.is_set)
        if job.full:
            self.trustReady.emit(job.id, job.spec, report, False)
            sanity = trust_report(*args, curves=False, sanity=True, progress=stage, cancel=job.cancel.is_set).sanity
            report = replace(report, sanity=sanity)
        self.trustReady.emit(job.id, job.spec, report, True)

    def _read(self, job: Job) -> tuple[Reading, MethodSpec | None]:
        """Read the image and locate each character by its attention centre.

        The attention maps are a by-product worth keeping: they are also the default
        view, so they are handed to the GUI as an ordinary explanation.
        """
        spec = MethodSpec.build("attention", {})
        prepared = self._engine.model.prepare(job.image)  # frames placed exactly on the image
        try:
            exp = self._engine.explain(job.image, config=self._config(spec), cancel=job.cancel.is_set)
        except NoAttention:  # place characters by their alignment instead
            reading = self._engine.read(job.image)
            self.readingReady.emit(job.id, ReadingInfo(reading, span_centres(reading, job.image.shape[1], prepared)))
            return reading, None
        centres = attention_centres(exp.maps, exp.reading, job.image.shape[1], prepared)  # image pixels, any map grid
        self.readingReady.emit(job.id, ReadingInfo(exp.reading, centres))
        self.explained.emit(job.id, spec, exp)
        return exp.reading, spec

    def _explain(self, job: Job, spec: MethodSpec, reading: Reading | None) -> None:
        last = [0.0]

        def post(maps: np.ndarray, done: int, total: int) -> None:
            self.partial.emit(job.id, spec, np.array(maps, dtype=np.float32), done, total)

        def on_partial(maps: np.ndarray, done: int, total: int) -> None:
            now = time.perf_counter()
            if done < total and now - last[0] < PARTIAL_INTERVAL_S:
                return
            last[0] = now
            post(maps, done, total)

        common = {"config": self._config(spec), "on_partial": on_partial, "cancel": job.cancel.is_set,
                  "reading": reading}
        first = self._first(spec, reading)
        if spec.contrast is not None:
            exp = self._engine.explain_contrast(job.image, *spec.contrast, **common)
        elif first is not None:
            exp = self._engine.explain_selected_first(job.image, first, on_first=post, **common)
        else:
            exp = self._engine.explain(job.image, tokens=None if spec.whole_reading else "all", **common)
        self.explained.emit(job.id, spec, exp)

    def _first(self, spec: MethodSpec, reading: Reading | None) -> int | None:
        """The character of `spec`'s per-character maps to compute first: the focused
        one, when there are others to follow and the engine can order them (a stand-in
        engine without `explain_selected_first` computes all at once)."""
        if spec.whole_reading or spec.contrast is not None or reading is None or len(reading) < 2:
            return None
        if not hasattr(self._engine, "explain_selected_first"):
            return None
        return self.focus.within(len(reading))

    def _config(self, spec: MethodSpec) -> SaliencyConfig:
        return job_config(self._engine.config, spec)


def _failure(job_id: int, exc: Exception) -> str:
    """A failed job's one line for the window. The GPU stopping it (out of memory, a CUDA
    error) is said plainly and logged in one line: the model stays usable for the next
    job. Anything else is a bug: its type and message, and its traceback in the log."""
    message = gpu_failure(exc)
    if message is None:
        log.error("job %d failed:\n%s", job_id, traceback.format_exc())
        return f"{type(exc).__name__}: {exc}"
    log.warning("job %d stopped: %s", job_id, message)
    return message


def log_unexpected(exc: Exception, what: str) -> None:
    """Log a traceback for a bug; a refusal (`ModelLoadError`: a bad, hostile or untrusted
    file) is expected and the window shows its one clear line, so it gets one line here too."""
    if isinstance(exc, ModelLoadError):
        log.info("%s: %s", what, exc)
    else:
        log.error("%s:\n%s", what, traceback.format_exc())


def job_config(engine_config: SaliencyConfig, spec: MethodSpec) -> SaliencyConfig:
    """The spec over the engine's own config (which may fix batch size etc.), streamed
    in chunks so that a streaming method's map refines on screen."""
    return replace(engine_config, **spec.config_kwargs()).streamed()


def _model_info(recognizer: Recognizer, caption: str, device_key: str) -> LoadedModel:
    """What the GUI shows of a model (on this thread: the device's words ask CUDA)."""
    layers, default = layer_choices(recognizer)
    scorable = recognizer.alphabet if isinstance(recognizer, Contrastable) else ""
    decodings, decoding = (DECODINGS, recognizer.decoding) if isinstance(recognizer, TrOCRRecognizer) else ((), "")
    return LoadedModel(recognizer.name, device_status(model_device(recognizer.module)), layers, default, caption,
                       scorable, input_height(recognizer), decodings, decoding, device_key)
