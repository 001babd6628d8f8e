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
    gpu_failure,
    move_module,
    resolve_device,
)
from thulium_desktop.models import load_model, model_device

GIB = 1 << 30
#: For tests whose GPUs are stood in for and cannot hold a tensor: a real one would.
WITHOUT_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="stands in for GPUs that cannot hold a tensor")
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
    """The Device menu as a window holds it, listed as the worker lists its entries."""
    menu = DeviceMenu(bar, current)
    bar.addMenu("&Model").addMenu(menu)
    menu.set_choices(device_choices())
    return menu


def entries(menu: DeviceMenu) -> list[tuple[str, str, bool]]:
    return [(a.data(), a.text(), a.isChecked()) for a in menu.actions() if not a.isSeparator()]


def test_without_cuda_the_menu_offers_auto_and_cpu_and_auto_is_the_cpu(bar, no_cuda):
    menu = menu_in(bar)
    assert entries(menu) == [("auto", "&Auto (a GPU when one is usable)", True), ("cpu", "&CPU", False)]
    assert resolve_device(AUTO) == torch.device("cpu")
    assert device_status(resolve_device(AUTO)) == "CPU"
    with pytest.raises(UnusableDevice, match="^cuda:0 is not available on this machine$"):
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


def test_before_the_worker_has_listed_the_gpus_the_menu_offers_auto_and_cpu_and_says_so(bar, no_cuda):
    menu = DeviceMenu(bar, "cpu")
    bar.addMenu("&Model").addMenu(menu)
    assert entries(menu) == [("auto", "&Auto (a GPU when one is usable)", False), ("cpu", "&CPU", True),
                             (None, "Looking for GPUs…", False)]
    assert not menu.actions()[-1].isEnabled()


def test_a_gpu_the_driver_cannot_name_is_listed_with_the_reason(two_gpus, monkeypatch):
    def broken(device=None):
        raise RuntimeError("CUDA error: unknown error\nCUDA kernel errors might be asynchronously reported")

    monkeypatch.setattr(torch.cuda, "get_device_name", broken)
    assert [c.label for c in device_choices()][2:] == ["GPU 0: unusable (CUDA error: unknown error)",
                                                       "GPU 1: unusable (CUDA error: unknown error)"]


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


@WITHOUT_CUDA
def test_a_gpu_that_is_listed_but_cannot_make_a_tensor_is_refused_and_auto_takes_the_cpu(monkeypatch):
    """This machine's torch has no CUDA: a real allocation fails, as a broken driver's would."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device(AUTO) == torch.device("cpu")
    with pytest.raises(UnusableDevice, match=r"^cuda:0 cannot be used \(.+\)$"):
        resolve_device("cuda:0")


@pytest.mark.parametrize("key", ["mps", "gpu0"])  # another kind of device; no device at all (a hand-edited setting)
def test_a_key_that_names_no_device_is_one_clear_error(two_gpus, key):
    with pytest.raises(UnusableDevice, match=f"^unknown device '{key}': choose Auto, CPU or a listed GPU$"):
        resolve_device(key)


def test_the_device_list_matches_what_torch_reports(no_cuda):
    assert [c.key for c in device_choices()] == ["auto", "cpu"]


@WITHOUT_CUDA
def test_a_move_the_device_refuses_leaves_every_tensor_where_it_was(two_gpus):
    """This machine's torch cannot make a CUDA tensor, as a GPU out of memory cannot:
    the bundled reader stays whole on the CPU and reads as before."""
    recognizer = load_model("ctc-reader")
    before = {name: t.clone() for name, t in recognizer.module.state_dict().items()}
    with pytest.raises(UnusableDevice, match=r"^cuda:0 cannot hold the model \(.+\)$"):
        move_module(recognizer.module, resolve_device("cuda:0"))
    assert {t.device.type for t in recognizer.module.state_dict().values()} == {"cpu"}
    assert all(torch.equal(before[name], t) for name, t in recognizer.module.state_dict().items())
    move_module(recognizer.module, resolve_device("cpu"))  # where it is: nothing to do
    assert model_device(recognizer.module) == torch.device("cpu")


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity "
                                     "of 139.8 GiB. Of the allocated memory 1 GiB is reserved. See documentation"),
         "the GPU ran out of memory (CUDA out of memory. Tried to allocate 2.00 GiB); "
         "try again, a smaller image, or Model ▸ Device ▸ CPU"),
        (RuntimeError("CUDA error: an illegal memory access was encountered\nCUDA kernel errors might be "
                      "asynchronously reported"),
         "the GPU failed (CUDA error: an illegal memory access was encountered); "
         "if it happens again, restart the app (a CUDA error can leave the GPU unusable until then)"),
        (RuntimeError("cuDNN error: CUDNN_STATUS_EXECUTION_FAILED"),
         "the GPU failed (cuDNN error: CUDNN_STATUS_EXECUTION_FAILED); "
         "if it happens again, restart the app (a CUDA error can leave the GPU unusable until then)"),
    ],
)
def test_what_the_gpu_stopped_is_one_line_for_the_user(error, said):
    assert gpu_failure(error) == said


@pytest.mark.parametrize("error", [RuntimeError("shape mismatch: [2, 3] vs [3, 2]"), ValueError("CUDA error: no"),
                                   AssertionError()])
def test_any_other_failure_is_a_bug_not_the_gpu(error):
    assert gpu_failure(error) is None
