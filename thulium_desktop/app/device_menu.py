"""Where the model runs: Model ▸ Device (Auto, CPU, each CUDA device by name), the rule
Auto follows, moving a model there, the device's words in the status bar (a GPU's name
and free memory), and what a job stopped by the GPU tells the user.

The menu only says what the user chose (`DeviceMenu.chosen`, a key such as "auto",
"cpu" or "cuda:1"); the worker thread, which owns the model and CUDA, lists the
entries (`device_choices`: naming a GPU starts CUDA), turns the key into a device
(`resolve_device`), moves the model there (`move_module`) and describes it
(`device_status`), so the GUI thread never initialises CUDA nor waits on it. Maps
already computed stay valid whichever device computes the next ones: they are the same
maps (`tests/xai/test_cuda.py`), and the app's caches are keyed without the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

from thulium_desktop.models import model_device
from thulium_desktop.models.errors import first_line

__all__ = ["AUTO", "BASIC_CHOICES", "CPU", "DeviceChoice", "DeviceMenu", "UnusableDevice", "device_choices",
           "device_status", "gpu_failure", "gpu_trouble", "move_module", "release_gpu_memory", "resolve_device",
           "where"]

AUTO = "auto"
CPU = "cpu"
_GIB = 1 << 30
#: How the first line of a CUDA, cuBLAS or cuDNN failure begins (torch's wording).
_GPU_ERROR_STARTS = ("CUDA error", "CUDA driver error", "cuDNN error", "CUDNN_STATUS_", "CUBLAS_STATUS_")
#: What torch >= 2.8 raises for a failed CUDA call (before, a RuntimeError told by its words).
_ACCELERATOR_ERROR = getattr(torch, "AcceleratorError", ())


class UnusableDevice(ValueError):
    """A chosen device that cannot run the model now: one line saying why, to which the
    caller adds where the model is instead."""


@dataclass(frozen=True)
class DeviceChoice:
    """One entry of Model ▸ Device: the key the worker resolves, and what the menu says."""

    key: str
    label: str


#: The entries every machine has, offered before the worker has listed the GPUs.
BASIC_CHOICES = (DeviceChoice(AUTO, "&Auto (a GPU when one is usable)"), DeviceChoice(CPU, "&CPU"))
#: The menu's last, disabled entry until the worker has listed the GPUs.
LOOKING_FOR_GPUS = "Looking for GPUs…"


def device_choices() -> list[DeviceChoice]:
    """Auto, CPU, then each CUDA device torch can see, by its name. Call it on the
    worker thread: naming a GPU starts CUDA (seconds, the first time)."""
    choices = list(BASIC_CHOICES)
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            choices.append(DeviceChoice(f"cuda:{index}", f"GPU {index}: {_gpu_name(index)}"))
    return choices


def _gpu_name(index: int) -> str:
    """The GPU's name, or why it cannot be named (a broken driver): still listed, so
    that picking it says so in full (`resolve_device`)."""
    try:
        return torch.cuda.get_device_name(index)
    except (RuntimeError, AssertionError) as exc:
        return f"unusable ({first_line(exc)})"


def resolve_device(key: str) -> torch.device:
    """The device for a menu key. Auto is the current CUDA device when one answers a
    small allocation (a driver that is installed but broken does not), else the CPU;
    an explicit GPU that is absent or does not answer is an `UnusableDevice`."""
    if key == CPU:
        return torch.device(CPU)
    if key == AUTO:
        return _usable_cuda() or torch.device(CPU)
    try:
        device = torch.device(key)
    except RuntimeError:  # a key no device type has (a hand-edited setting)
        device = None
    if device is None or device.type != "cuda":
        raise UnusableDevice(f"unknown device {key!r}: choose Auto, CPU or a listed GPU")
    if not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count():
        raise UnusableDevice(f"{key} is not available on this machine")
    reason = _answers(device)
    if reason is not None:
        raise UnusableDevice(f"{key} cannot be used ({reason})")
    return device


def _usable_cuda() -> torch.device | None:
    """The current CUDA device when torch reports one and it answers, else None."""
    if not torch.cuda.is_available():
        return None
    try:
        device = torch.device("cuda", torch.cuda.current_device())
    except (RuntimeError, AssertionError):  # a driver or build that cannot start CUDA
        return None
    return device if _answers(device) is None else None


def _answers(device: torch.device) -> str | None:
    """None when a tensor can be made on `device`, else the first line of why not."""
    try:
        torch.zeros(1, device=device)
    except (RuntimeError, AssertionError) as exc:  # a CUDA error, or torch built without CUDA
        return first_line(exc)
    return None


def move_module(module: nn.Module, device: torch.device) -> None:
    """Move `module`'s parameters and buffers to `device`, or leave them all where they
    were and raise `UnusableDevice`: a move that runs out of memory (or meets a CUDA
    error) halfway would otherwise leave a model split over two devices, usable on
    neither. Memory a move frees on a GPU is handed back, so the status bar's free
    memory is what other programs can use."""
    before = model_device(module)
    if before == device:
        return
    try:
        module.to(device)
    except (RuntimeError, AssertionError) as exc:  # out of memory, a CUDA error, no CUDA in this torch
        module.to(before)
        release_gpu_memory()
        raise UnusableDevice(f"{device} cannot hold the model ({first_line(exc)})") from exc
    if before.type == "cuda":
        release_gpu_memory()


def release_gpu_memory() -> None:
    """Hand torch's cached GPU blocks back to the driver (nothing when CUDA never started)."""
    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def where(device: torch.device) -> str:
    """The device in a sentence: "the CPU", "cuda:0"."""
    return "the CPU" if device.type == "cpu" else str(device)


def gpu_trouble(exc: BaseException) -> str | None:
    """What went wrong on the GPU, in a few words ("CUDA out of memory. Tried to allocate
    2.00 GiB", "CUDA error: ..."), when the GPU ran out of memory or a CUDA, cuBLAS or
    cuDNN call failed; None for any other exception, which is a bug."""
    first = first_line(exc)
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return ". ".join(first.split(". ")[:2])  # torch goes on about allocator settings
    if isinstance(exc, _ACCELERATOR_ERROR) or (isinstance(exc, RuntimeError) and first.startswith(_GPU_ERROR_STARTS)):
        return first
    return None


def gpu_failure(exc: BaseException) -> str | None:
    """What to tell the user when the GPU stopped a job, in one line; None for any other
    exception, which is a bug and keeps its logged traceback. The model stays loaded."""
    trouble = gpu_trouble(exc)
    if trouble is None:
        return None
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return f"the GPU ran out of memory ({trouble}); try again, a smaller image, or Model ▸ Device ▸ CPU"
    return (f"the GPU failed ({trouble}); if it happens again, restart the app "
            "(a CUDA error can leave the GPU unusable until then)")


def device_status(device: torch.device) -> str:
    """The status bar's words for the device: "CPU", or the GPU's name and its free
    memory ("NVIDIA H200 · 131.2 of 139.8 GB free"). Call it on the worker thread."""
    if device.type != "cuda":
        return "CPU"
    free, total = torch.cuda.mem_get_info(device)
    return f"{torch.cuda.get_device_name(device)} · {free / _GIB:.1f} of {total / _GIB:.1f} GB free"


class DeviceMenu(QMenu):
    """Model ▸ Device: one checkable entry per choice, the current one checked;
    `chosen(key)` when the user picks another. The worker lists the choices
    (`device_choices`, `set_choices`): until it has, Auto and CPU are offered and the
    GPUs said to be looked for, so opening the menu never starts CUDA here."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None, current: str = AUTO) -> None:
        super().__init__("&Device", parent)
        self.setToolTipsVisible(True)
        self.current = current
        self._group = QActionGroup(self)
        self._group.setExclusive(True)
        self._list(BASIC_CHOICES)
        self.addAction(LOOKING_FOR_GPUS).setEnabled(False)

    def set_choices(self, choices: Sequence[DeviceChoice]) -> None:
        """The entries the worker found, the current one checked."""
        for action in self._group.actions():
            self._group.removeAction(action)
        self.clear()
        self._list(choices)

    def _list(self, choices: Sequence[DeviceChoice]) -> None:
        for choice in choices:
            action = QAction(choice.label, self, checkable=True)
            action.setData(choice.key)
            action.triggered.connect(self._picked)
            self._group.addAction(action)
            self.addAction(action)
            if choice.key == AUTO:
                self.addSeparator()
        self._check(self.current)

    def set_current(self, key: str) -> None:
        """The device the model is on now (after a switch, or back after a failed one)."""
        self.current = key
        self._check(key)

    def _check(self, key: str) -> None:
        for action in self._group.actions():
            action.setChecked(action.data() == key)

    @Slot()
    def _picked(self) -> None:
        key = self.sender().data()
        if key != self.current:
            self.current = key
            self.chosen.emit(key)
