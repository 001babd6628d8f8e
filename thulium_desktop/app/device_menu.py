"""Where the model runs: Model ▸ Device (Auto, CPU, each CUDA device by name), the rule
Auto follows, and the device's words in the status bar (a GPU's name and free memory).

The menu only says what the user chose (`DeviceMenu.chosen`, a key such as "auto",
"cpu" or "cuda:1"); the worker thread, which owns the model and CUDA, turns the key
into a device (`resolve_device`) and describes it (`device_status`), so the GUI thread
never initialises CUDA nor waits on it. Maps already computed stay valid whichever
device computes the next ones: they are the same maps (`tests/xai/test_cuda.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

__all__ = ["AUTO", "DeviceChoice", "DeviceMenu", "UnusableDevice", "device_choices", "device_status",
           "resolve_device"]

AUTO = "auto"
CPU = "cpu"
_GIB = 1 << 30


class UnusableDevice(ValueError):
    """A chosen device that cannot run the model now (one line for the message bar)."""


@dataclass(frozen=True)
class DeviceChoice:
    """One entry of Model ▸ Device: the key the worker resolves, and what the menu says."""

    key: str
    label: str


def device_choices() -> list[DeviceChoice]:
    """Auto, CPU, then each CUDA device torch can see, by its name."""
    choices = [DeviceChoice(AUTO, "&Auto (a GPU when one is usable)"), DeviceChoice(CPU, "&CPU")]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            choices.append(DeviceChoice(f"cuda:{index}", f"GPU {index}: {torch.cuda.get_device_name(index)}"))
    return choices


def resolve_device(key: str) -> torch.device:
    """The device for a menu key. Auto is the current CUDA device when one answers a
    small allocation (a driver that is installed but broken does not), else the CPU;
    an explicit GPU that does not answer is an `UnusableDevice`."""
    if key == CPU:
        return torch.device(CPU)
    if key == AUTO:
        return _usable_cuda() or torch.device(CPU)
    device = torch.device(key)
    if device.type != "cuda":
        raise UnusableDevice(f"unknown device {key!r}: choose Auto, CPU or a listed GPU")
    if not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count():
        raise UnusableDevice(f"{key} is not available on this machine: the model stays where it is")
    reason = _answers(device)
    if reason is not None:
        raise UnusableDevice(f"{key} cannot be used ({reason}): the model stays where it is")
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
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def device_status(device: torch.device) -> str:
    """The status bar's words for the device: "CPU", or the GPU's name and its free
    memory ("NVIDIA H200 · 131.2 of 139.8 GB free"). Call it on the worker thread."""
    if device.type != "cuda":
        return "CPU"
    free, total = torch.cuda.mem_get_info(device)
    return f"{torch.cuda.get_device_name(device)} · {free / _GIB:.1f} of {total / _GIB:.1f} GB free"


class DeviceMenu(QMenu):
    """Model ▸ Device: one checkable entry per `device_choices()`, the current one
    checked; `chosen(key)` when the user picks another. Its entries are listed the
    first time it opens, so a window starts without asking torch about GPUs."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None, current: str = AUTO) -> None:
        super().__init__("&Device", parent)
        self.setToolTipsVisible(True)
        self.current = current
        self._group = QActionGroup(self)
        self._group.setExclusive(True)
        self.aboutToShow.connect(self.fill)

    @Slot()
    def fill(self) -> None:
        """List the choices (once), checking the current one."""
        if not self.actions():
            for choice in device_choices():
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
