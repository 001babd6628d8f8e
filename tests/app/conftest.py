"""Fixtures that drive the real window offscreen, with the tiny CRNN behind it."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from gui_helpers import WAIT_MS, Models  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEvent, QSettings  # noqa: E402

from thulium_desktop.app.client import EngineClient  # noqa: E402
from thulium_desktop.app.gui_gc import collect_in_gui_thread  # noqa: E402
from thulium_desktop.app.window import MainWindow  # noqa: E402
from thulium_desktop.app.worker import default_engine  # noqa: E402

def pytest_collection_modifyitems(config, items):
    """Any Qt warning fails an app test (as in pyqtgraph's suite), except the offscreen
    platform's note that it cannot resize native windows."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore("propagateSizeHints"))


@pytest.fixture(autouse=True)
def gui_thread_garbage_collection(qapp):
    """As in the app (see `app/gui_gc.py`): garbage is collected on the GUI thread only,
    and each test's closed windows are freed before the next test starts."""
    with collect_in_gui_thread():
        yield
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def models() -> Models:
    return Models()


@pytest.fixture
def make_window(qtbot, settings, models, request) -> Callable[..., MainWindow]:
    """A shown window over a started worker; closed (worker stopped) at teardown."""

    def make(engine_factory=default_engine, wait_model: bool = True) -> MainWindow:
        client = EngineClient(models, engine_factory)
        window = MainWindow(client, settings)
        qtbot.addWidget(window)
        request.addfinalizer(client.shutdown)  # the thread stops even if a test skips closing
        client.start()
        window.show()
        if wait_model:
            qtbot.waitUntil(lambda: client.models.current is not None, timeout=WAIT_MS)
        return window

    return make


@pytest.fixture
def window(qtbot, make_window, word_image) -> MainWindow:
    """The window showing `word_image` with its reading and first map in place."""
    w = make_window()
    with qtbot.waitSignal(w.settled, timeout=WAIT_MS):
        w.show_image(word_image, "minimum")
    return w
