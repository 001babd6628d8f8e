"""Starting the app: command line, QApplication, worker, window, screenshot mode."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import NoReturn

from PySide6.QtCore import QCoreApplication, QEvent, QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from thulium_desktop import models
from thulium_desktop.io.bundled import APP_ID, bundled_path
from thulium_desktop.app.client import EngineClient
from thulium_desktop.app.gui_gc import collect_in_gui_thread
from thulium_desktop.app.window import MainWindow
from thulium_desktop.app.worker import RecognizerFactory
from thulium_desktop.xai.fastest import remembered_verdicts
from thulium_desktop.xai.methods import REGISTRY
from thulium_desktop.xai.saliency import MapNote

ORGANIZATION = "Thulium"
APPLICATION = "Thulium Desktop"
#: Screenshot mode gives up (exit 1) when the job has not finished by then.
SCREENSHOT_TIMEOUT_S = 300
#: How often screenshot mode looks whether the Trust panel's measures are in.
SCREENSHOT_POLL_MS = 50
#: Opened at start when no path is given, so the first launch shows a real explanation.
SAMPLES_DIR = bundled_path("samples")


def main(argv: Sequence[str] | None = None) -> int:
    """`thulium-desktop [PATH...] [--model NAME|FILE] [--trust] [--method M] [--token N]
    [--screenshot PNG]`; the exit status (0 unless a scripted screenshot could not be made).

    The model goes through the library's safe door: a file that runs code without
    `--trust` is refused there (nothing from it runs) and the window says why.
    """
    args = build_parser().parse_args(argv)
    defaults = [SAMPLES_DIR] if SAMPLES_DIR.is_dir() else []
    return run_app(args, partial(models.open_described, args.model, args.trust), defaults)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thulium-desktop",
        description="See where a handwriting recognizer looked for each character it read.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="images or folders to open")
    parser.add_argument("--model", metavar="NAME|FILE",
                        help="bundled model name, or a model file or Hugging Face folder (default: the default model)")
    parser.add_argument("--trust", action="store_true",
                        help="allow a --model file that runs code when loaded (adapter plugin, TorchScript, "
                        "full pickle); only for files you trust")
    parser.add_argument("--method", choices=list(REGISTRY), help="explanation method to show first")
    parser.add_argument("--token", type=int, metavar="N", help="character to select first (0-based; -1 = all)")
    parser.add_argument("--screenshot", metavar="PNG", type=Path,
                        help="wait for the map and the Trust panel's measures, save a screenshot of the "
                        "window there and exit; saved settings are neither read nor written")
    parser.add_argument("--with-settings", action="store_true",
                        help="with --screenshot: start from the saved settings (last method, layout) and keep them")
    return parser


def run_app(args: argparse.Namespace, recognizer_factory: RecognizerFactory, default_paths: Sequence[Path] = ()) -> int:
    """Run the window until it closes (or, with --screenshot, until the map is shown).

    `recognizer_factory` runs on the worker thread, so the window appears before the
    model has finished loading. The engine keeps its strategy verdicts on disk here
    (`xai.fastest.remembered_verdicts`), so a model of an architecture met before
    explains at its steady pace from the first click.
    """
    if args.screenshot and sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # scripted runs on headless hosts
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    # Wayland and KDE match a window to its launcher entry by this name (else "python3").
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(QIcon(str(bundled_path("desktop", f"{APP_ID}.svg"))))
    with collect_in_gui_thread(), remembered_verdicts(), _settings(args) as settings, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=MapNote)  # the window shows each map's notes
        return _run_window(app, args, recognizer_factory, default_paths, settings)


@contextmanager
def _settings(args: argparse.Namespace) -> Iterator[QSettings]:
    """The user's saved settings; for a screenshot, unless `--with-settings`, fresh ones
    in a folder removed afterwards: a documentation script gets the same window
    whatever the user did last, and leaves their settings as they were."""
    if not args.screenshot or args.with_settings:
        yield QSettings()
        return
    with tempfile.TemporaryDirectory(prefix="thulium-screenshot-") as folder:
        yield QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat)


def _run_window(
    app: QApplication,
    args: argparse.Namespace,
    recognizer_factory: RecognizerFactory,
    default_paths: Sequence[Path],
    settings: QSettings,
) -> int:
    client = EngineClient(recognizer_factory, warm=True)  # a new model's first click at the steady pace
    window = MainWindow(client, settings)
    if args.method:
        window.panel.set_method(args.method)
    if args.token is not None:
        window.view_model.select(args.token)
    client.start()
    window.show()
    previous_hook, sys.excepthook = sys.excepthook, window.report_unexpected
    try:
        paths = args.paths or [str(p) for p in default_paths]
        opened = bool(paths) and window.open_paths(paths)
        if args.screenshot and not opened:
            print(f"no image to show: {window.message.label.text() or 'give an image path'}", file=sys.stderr)
            return 1
        if args.screenshot:
            return _screenshot(app, window, args.screenshot)
        app.exec()
        return 0
    finally:
        sys.excepthook = previous_hook
        window.close()  # idempotent; it stops the worker thread before anything is freed
        if client.running:
            _exit_without_worker()
        window.deleteLater()  # freed here, in the GUI thread, not by a later garbage collection
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _exit_without_worker() -> NoReturn:
    """End the process now: the worker is still inside one long computation after the
    close's bounded wait. The settings are saved and the worker writes no file (its
    results only ever go to the window); only the strategy verdicts learnt in this
    session are not kept (`remembered_verdicts`). Freeing a running thread would abort, and
    waiting for it would keep a closed window's process alive for minutes."""
    print("Thulium Desktop: closed while the worker was busy; it was stopped.", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _screenshot(app: QApplication, window: MainWindow, path: Path) -> int:
    """Save the whole window once the requested map is final and the Trust panel's
    measures of it are in (its diagnostics run after the map: a shot taken at once said
    "Measuring…"); 1 on failure or timeout."""
    outcome = {"code": 1}
    # polled: the panel asks for its measures while the window settles, in either order
    waiting = QTimer(window)
    waiting.setInterval(SCREENSHOT_POLL_MS)

    def save_when_final() -> None:
        app.processEvents()
        if not window.isVisible() or window.client.maps.busy or window.client.trust.busy:
            return
        waiting.stop()
        outcome["code"] = 0 if window.grab().save(str(path)) else 1
        if outcome["code"]:
            print(f"could not write the screenshot {path}", file=sys.stderr)
        window.close()

    def fail(message: str) -> None:
        print(message, file=sys.stderr)
        window.close()

    waiting.timeout.connect(save_when_final)
    window.settled.connect(waiting.start)
    window.client.maps.failed.connect(fail)
    window.client.models.failed.connect(fail)
    # a child of the window, so it dies with it: a static single shot outlived the window
    # and called into the deleted one later, in whatever ran next in this process
    timeout = QTimer(window)
    timeout.setSingleShot(True)
    timeout.timeout.connect(lambda: fail("timed out waiting for the map"))
    timeout.start(int(SCREENSHOT_TIMEOUT_S * 1000))
    if window.isVisible():
        app.exec()
    return outcome["code"]
