"""Model ▸ Device and the device's status words, with CUDA reported absent (this
machine) and present (torch.cuda's answers monkeypatched: two GPUs)."""

from __future__ import annotations

import pytest
import torch
from PySide6.QtWidgets import QMenuBar

from thulium_desktop.app import device_menu
from thulium_desktop.app.device_menu import (
    AUTO,
    DeviceMenu,
    UnusableDevice,
    device_choices,
    device_status,
    resolve_device,
)

GIB = 1 << 30
NAMES = ("NVIDIA H200", "NVIDIA L4")


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.fixture
def two_gpus(monkeypatch):
    """torch.cuda reports two devices; a tensor is not actually made on them unless a
    test says the driver is broken (`answers`)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: NAMES[_index(d)])
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda d=None: ((120 - 100 * _index(d)) * GIB, 140 * GIB))
    monkeypatch.setattr(device_menu, "_answers", lambda device: None)


def _index(device) -> int:
    return device if isinstance(device, int) else (torch.device(device).index or 0)


@pytest.fixture
def bar(qtbot) -> QMenuBar:
    bar = QMenuBar()
    qtbot.addWidget(bar)
    return bar


def menu_in(bar: QMenuBar, current: str = AUTO) -> DeviceMenu:
    """The Device menu as a window holds it, listed as on its first opening."""
    menu = DeviceMenu(bar, current)
    bar.addMenu("&Model").addMenu(menu)
    menu.fill()
    return menu


def entries(menu: DeviceMenu) -> list[tuple[str, str, bool]]:
    return [(a.data(), a.text(), a.isChecked()) for a in menu.actions() if not a.isSeparator()]


def test_without_cuda_the_menu_offers_auto_and_cpu_and_auto_is_the_cpu(bar, no_cuda):
    menu = menu_in(bar)
    assert entries(menu) == [("auto", "&Auto (a GPU when one is usable)", True), ("cpu", "&CPU", False)]
    assert resolve_device(AUTO) == torch.device("cpu")
    assert device_status(resolve_device(AUTO)) == "CPU"
    with pytest.raises(UnusableDevice, match="^cuda:0 is not available on this machine"):
        resolve_device("cuda:0")


def test_with_two_gpus_the_menu_names_each_and_auto_is_the_current_one(bar, two_gpus):
    menu = menu_in(bar)
    assert [(key, text) for key, text, _ in entries(menu)] == [
        ("auto", "&Auto (a GPU when one is usable)"),
        ("cpu", "&CPU"),
        ("cuda:0", "GPU 0: NVIDIA H200"),
        ("cuda:1", "GPU 1: NVIDIA L4"),
    ]
    assert resolve_device(AUTO) == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert device_status(torch.device("cuda", 0)) == "NVIDIA H200 · 120.0 of 140.0 GB free"
    assert device_status(torch.device("cuda", 1)) == "NVIDIA L4 · 20.0 of 140.0 GB free"
    menu.adjustSize()
    menu.grab().save("/tmp/h25-device-menu.png")


def test_choosing_another_device_says_which_once_and_checks_it(qtbot, bar, two_gpus):
    menu = menu_in(bar)
    gpu1 = next(a for a in menu.actions() if a.data() == "cuda:1")
    with qtbot.waitSignal(menu.chosen) as chosen:
        gpu1.trigger()
    assert chosen.args == ["cuda:1"]
    assert [key for key, _, checked in entries(menu) if checked] == ["cuda:1"]
    with qtbot.assertNotEmitted(menu.chosen):
        gpu1.trigger()  # already there: nothing to move


def test_a_failed_switch_puts_the_check_back_on_the_device_in_use(bar, two_gpus):
    menu = menu_in(bar, current="cpu")
    next(a for a in menu.actions() if a.data() == "cuda:0").trigger()
    menu.set_current("cpu")  # the worker said the move failed
    assert [key for key, _, checked in entries(menu) if checked] == ["cpu"]


def test_a_gpu_that_is_listed_but_cannot_make_a_tensor_is_refused_and_auto_takes_the_cpu(monkeypatch):
    """This machine's torch has no CUDA: a real allocation fails, as a broken driver's would."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device(AUTO) == torch.device("cpu")
    with pytest.raises(UnusableDevice, match=r"^cuda:0 cannot be used \(.+\): the model stays where it is$"):
        resolve_device("cuda:0")


def test_a_key_that_names_no_device_is_one_clear_error(two_gpus):
    with pytest.raises(UnusableDevice, match="^unknown device 'mps'"):
        resolve_device("mps")


def test_the_device_list_matches_what_torch_reports(no_cuda):
    assert [c.key for c in device_choices()] == ["auto", "cpu"]
