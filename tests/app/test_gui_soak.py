"""Long runs: many jobs without leaks, many event-loop turns without a crash."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import PySide6
from gui_helpers import WAIT_MS
from torch.nn.modules import module as torch_module

JOBS = 500
WARMUP = 100
#: Resident memory may wobble with the allocator; a leak of one map per job would
#: add JOBS x T x H x W x 4 bytes (~100 MB here), far above this.
MAX_GROWTH_MB = 25


def resident_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def hooks_left(module) -> int:
    count = sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) + len(m._backward_pre_hooks)
        for m in module.modules()
    )
    return count + len(torch_module._global_forward_hooks) + len(torch_module._global_backward_hooks)


def test_500_jobs_leave_no_memory_growth_and_no_hooks(qtbot, make_window, models, word_image):
    window = make_window()
    image = word_image[:, :64].copy()  # a few characters: cheap jobs, same code paths
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.show_image(image, "soak")
    methods = ("gradient", "gradcam", "attention")  # each differs from the one before
    baseline = 0.0
    for i in range(JOBS):
        if i == WARMUP:
            baseline = resident_mb()
        window.client.maps.cache.clear()
        with qtbot.waitSignal(window.client.maps.finished, timeout=WAIT_MS):
            window.panel.set_method(methods[i % len(methods)])
    growth = resident_mb() - baseline
    assert growth < MAX_GROWTH_MB, f"resident memory grew {growth:.1f} MB over {JOBS - WARMUP} jobs"
    assert hooks_left(models.built[0].module) == 0
    assert window.client.pending_jobs == 0 and not window.client.maps.busy
    assert len(window.view_model.results) <= len(methods) * 2


def test_thousands_of_event_loop_turns_run_clean():
    """PySide6 6.12.0 on Python 3.11 aborts after ~1000 event-loop calls (the refcount of
    None underflows); run the pattern in a child so an abort fails this test, not the run."""
    assert tuple(int(p) for p in PySide6.__version__.split(".")[:2]) < (6, 12)
    script = textwrap.dedent(
        """
        from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        class Echo(QObject):
            ping = Signal(object)
        echo, seen = Echo(), []
        echo.ping.connect(seen.append)
        for i in range(4000):
            loop = QEventLoop()
            QTimer.singleShot(0, loop.quit)
            echo.ping.emit(None)
            loop.exec()
            app.processEvents()
        assert len(seen) == 4000
        print("ok")
        """
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env=env, cwd=Path(__file__).parent)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_garbage_is_collected_on_the_gui_thread_even_when_a_worker_allocates(qtbot):
    """A worker allocating cyclic garbage must not trigger collections on its thread."""
    import gc
    import threading

    from thulium_desktop.app.gui_gc import collect_in_gui_thread

    threads: list[int] = []

    def record(phase, info):
        if phase == "start":
            threads.append(threading.get_ident())

    def allocate_cycles():
        for _ in range(50_000):
            a: list = []
            a.append(a)

    gc.callbacks.append(record)
    try:
        with collect_in_gui_thread(interval_ms=5):
            worker = threading.Thread(target=allocate_cycles)
            worker.start()
            qtbot.waitUntil(lambda: not worker.is_alive(), timeout=WAIT_MS)
            qtbot.wait(50)
    finally:
        gc.callbacks.remove(record)
    assert threads, "nothing was collected: the timer did not run"
    assert set(threads) == {threading.get_ident()}
