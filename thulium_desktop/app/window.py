"""The main window: wires canvas, timeline, method panel, compare view and worker client.

The view state (which image, which character, which method) and its rules live in
the Qt-free `ViewModel`; the window builds the widgets, menus and dialogs, hands user
input and worker answers to the model, follows its events, and turns what the model
wants into one `client.maps.request`. It never computes a map itself.
"""

from __future__ import annotations

import html
import os
import traceback
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QMenu,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from thulium_desktop import models
from thulium_desktop.app.canvas import ImageCanvas
from thulium_desktop.app.client import EngineClient
from thulium_desktop.app.compare_view import CompareView, no_contrast_note
from thulium_desktop.app.display_panel import DisplayPanel
from thulium_desktop.app.details import view_details
from thulium_desktop.app.error_review import ErrorReview
from thulium_desktop.app.files import ImageBrowser, file_title
from thulium_desktop.app.help import FirstRunHint, HelpDialog, about_html, guide_html
from thulium_desktop.app.message_bar import MessageBar
from thulium_desktop.app.method_panel import MethodPanel
from thulium_desktop.app.screen_colours import map_levels
from thulium_desktop.app.status_bar import JobStatusBar
from thulium_desktop.app.timeline import ReadingLabel, TokenTimeline
from thulium_desktop.app.trust_panel import CHECK_SHORTCUT, TOGGLE_SHORTCUT, TrustPanel
from thulium_desktop.app.view_model import ViewModel
from thulium_desktop.app.worker import LoadedModel, ReadingInfo
from thulium_desktop.io.images import IMAGE_SUFFIXES
from thulium_desktop.models import MODEL_SUFFIXES, ModelLoadError, UntrustedModelError
from thulium_desktop.render.colormaps import colorbar_label, comparison_colorbar_label
from thulium_desktop.xai.methods import REGISTRY
from thulium_desktop.xai.spec import MethodSpec

if TYPE_CHECKING:
    from thulium_desktop.app.figure_export import ExportPlan

SHORTCUTS = (
    ("Left / Right", "previous / next character (“all” is left of the first)"),
    ("Home / End", "first / last character"),
    ("Page Up / Page Down", "previous / next image"),
    ("Ctrl+O, Ctrl+Shift+O", "open images, open a folder"),
    ("Ctrl+E", "export a figure"),
    ("Ctrl+M", "compare all methods"),
    ("Ctrl+T", "contrast a substituted character with its truth"),
    (TOGGLE_SHORTCUT, "show / hide the Trust panel"),
    (CHECK_SHORTCUT, "check trust: deletion/insertion curves and the sanity check"),
    ("Ctrl+0", "fit the image to the window"),
    ("Esc", "cancel the running job"),
    ("F1", "the guide: each method and each trust measure"),
    ("Wheel / drag", "zoom / pan; click the image to pick the character strongest there"),
)
#: The method panel's width beside the canvas in a window without a saved layout.
SIDE_WIDTH = 320
#: A view's height when nothing bounds it (Qt's QWIDGETSIZE_MAX): it can use any room.
UNBOUNDED_HEIGHT = 16_777_215
#: How much a cancelled partial map is faded, beside its badge, to look unfinished.
CANCELLED_DIMMING = 0.45
IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)"
#: Shown in place of an image file that could not be read (a blank page, the reason over it).
UNREADABLE_PAGE = np.full((64, 512), 236, np.uint8)
MODEL_FILTER = "Models (" + " ".join(f"*{s}" for s in MODEL_SUFFIXES) + ");;All files (*)"


def markdown_code_html(text: str) -> str:
    """Plain text with Markdown `code` spans as rich text: the library's messages mark code
    that way for the terminal, where backticks read fine; a dialog shows them as code."""
    parts = html.escape(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick is not code
        parts[-2:] = [parts[-2] + "`" + parts[-1]]
    spans = (f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))
    return "<p>" + "".join(spans).replace("\n", "<br>") + "</p>"


def side_dock(side: QWidget, window: QMainWindow) -> QDockWidget:
    """The method and display panels, fixed beside the canvas, in a vertical scroll area:
    in a low window they scroll instead of squeezing their texts."""
    scroller = QScrollArea()
    scroller.setWidget(side)
    scroller.setWidgetResizable(True)
    scroller.setFrameShape(QFrame.Shape.NoFrame)
    scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroller.setMinimumWidth(side.minimumSizeHint().width() + scroller.verticalScrollBar().sizeHint().width())
    dock = QDockWidget("Method", window)
    dock.setObjectName("MethodDock")
    dock.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
    dock.setTitleBarWidget(QWidget())  # no title bar: the panel names its parts
    dock.setWidget(scroller)
    return dock


def cancelled_text(done: int, total: int) -> str:
    return f"cancelled at {done} of {total}"


def cancelled_badge(canvas: QWidget) -> QLabel:
    """The hidden badge that marks a cancelled partial map on `canvas`."""
    badge = QLabel(canvas)
    badge.setStyleSheet("QLabel { background: rgba(20, 20, 20, 210); color: #ffd27a; border: 1px solid #d9a441;"
                        " border-radius: 4px; padding: 3px 8px; font-weight: bold; }")
    badge.hide()
    return badge


class MainWindow(QMainWindow):
    """Thulium Desktop's window. `settled` fires when what was asked for is on screen."""

    settled = Signal()
    exported = Signal(list)  # the paths written

    def __init__(self, client: EngineClient, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.settings = settings
        self.browser = ImageBrowser(settings, self)
        self.browser.opened.connect(self._on_file_opened)
        self.browser.problems.connect(self._on_file_problems)
        self.browser.failed.connect(self._on_file_failed)
        self.browser.moved.connect(self._on_file_moved)
        self.view_model = ViewModel()
        self.opening_model: str | None = None  # a user's model file on its way in
        #: Progress (done, total) at which each still-partial map's job was cancelled.
        self._cancelled: dict[MethodSpec, tuple[int, int]] = {}
        self._saved_layer: str | None = None
        self._notes_said: set[str] = set()  # notes put in the status bar for this model
        self.setWindowTitle("Thulium Desktop")
        self.setAcceptDrops(True)
        self._build_widgets()
        self._build_menus()
        self._build_shortcuts()
        self._connect_client()
        self._observe_view_model()
        self._restore_settings()

    # -- construction ----------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.canvas = ImageCanvas()
        self.cancelled_badge = cancelled_badge(self.canvas)
        self.compare_view = CompareView()
        self.compare_view.hide()
        self.timeline = TokenTimeline(self._image_x_to_widget)
        self.reading_label = ReadingLabel()
        self.details = QLabel()
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setWordWrap(True)
        self.message = MessageBar()
        self.review = ErrorReview(self.client.survey, self.client.models, self.browser, self.timeline,
                                   self.view_model, self)
        self.review.problem.connect(self.message.show_error)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.review.dock)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(6, 6, 0, 6)
        column.setSpacing(4)
        column.addWidget(self.message)
        column.addWidget(self.reading_label)
        column.addWidget(self.review.truth_bar)
        column.addWidget(self.canvas, 1)
        column.addWidget(self.compare_view, 1)
        self.hint = FirstRunHint(self.settings)
        column.addWidget(self.hint)
        column.addWidget(self.timeline)
        column.addWidget(self.details)
        column.addStretch(0)
        self.view_column = left
        self.panel = MethodPanel()
        side = QWidget()
        side_column = QVBoxLayout(side)
        side_column.setContentsMargins(4, 6, 6, 6)
        side_column.addWidget(self.panel)
        self.display = DisplayPanel()
        self.display.changed.connect(self._refresh)
        side_column.addWidget(self.display)
        side_column.addStretch(1)
        self.side_dock = side_dock(side, self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.side_dock)
        self.setCentralWidget(left)
        self.trust = TrustPanel(self.client.trust, self.view_model, self)
        self.trust.failed.connect(self.message.show_error)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.trust)  # under the canvas
        self._share_timer = QTimer(self, singleShot=True, interval=0)
        self._share_timer.timeout.connect(self._share_height)
        self.trust.dockLocationChanged.connect(self._share_height_soon)
        self.trust.topLevelChanged.connect(self._share_height_soon)
        self.status = JobStatusBar()
        self.setStatusBar(self.status)
        self.canvas.hovered.connect(self.status.hover.setText)
        self.canvas.clicked.connect(self._on_image_clicked)
        self.canvas.viewChanged.connect(self.timeline.update)
        self.canvas.viewChanged.connect(self._share_height_soon)  # resized: its height bound moved
        self.compare_view.viewChanged.connect(self.timeline.update)
        self.timeline.selected.connect(self._on_token_selected)
        self.timeline.selected.connect(self.hint.done)
        self.panel.changed.connect(self._on_method_changed)
        self.panel.compareToggled.connect(self._on_compare_toggled)
        self.status.cancelRequested.connect(self.client.cancel)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._share_height_soon()

    @Slot()
    def _share_height_soon(self) -> None:
        """Once the layout has settled (a resize, a new image, a dock moved)."""
        self._share_timer.start()

    @Slot()
    def _share_height(self) -> None:
        self._give_corner()
        self.trust.share_height(self, self._column_need())

    def _give_corner(self) -> None:
        """The method panel runs from top to bottom beside the canvas, the Trust panel
        under the canvas column only, where that column is wide enough for the Trust
        panel's columns side by side; in a narrow window the Trust panel spans it."""
        fits = self.width() - self.side_dock.width() >= self.trust.side_by_side_width()
        area = Qt.DockWidgetArea.RightDockWidgetArea if fits else Qt.DockWidgetArea.BottomDockWidgetArea
        if self.corner(Qt.Corner.BottomRightCorner) != area:
            self.setCorner(Qt.Corner.BottomRightCorner, area)

    def _column_need(self) -> int:
        """The height the image column can use: its lines at their natural height and the
        shown view as tall as it grows (the canvas stops at its image's height at full
        width, so more would be empty space under the timeline)."""
        layout = self.view_column.layout()
        view = self.compare_view if self.view_model.compare else self.canvas
        items = (layout.itemAt(i).widget() for i in range(layout.count()))
        shown = [w for w in items if w is not None and w.isVisibleTo(self.view_column)]
        lines = sum(w.heightForWidth(w.width()) if w.hasHeightForWidth() else w.sizeHint().height()
                    for w in shown if w is not view)
        margins = layout.contentsMargins()
        chrome = layout.spacing() * (len(shown) - 1) + margins.top() + margins.bottom()
        return lines + chrome + min(view.maximumHeight(), UNBOUNDED_HEIGHT)

    def _image_x_to_widget(self, x: float) -> float:
        """The timeline follows whichever view is showing (both span its width)."""
        view = self.compare_view if self.view_model.compare else self.canvas
        return view.image_x_to_widget(x)

    def fit_view(self) -> None:
        """Ctrl+0: fit the image in whichever view is showing (the comparison's linked
        panels too, which otherwise stay zoomed until another image opens)."""
        (self.compare_view if self.view_model.compare else self.canvas).fit()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open images…", QKeySequence.StandardKey.Open, self.open_dialog)
        self._action(file_menu, "Open &folder…", "Ctrl+Shift+O", self.open_folder_dialog)
        self._action(file_menu, "Open &transcriptions…", "Ctrl+Shift+T", self.open_transcriptions_dialog)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        self._action(file_menu, "&Previous image", "PgUp", self.previous_image)
        self._action(file_menu, "&Next image", "PgDown", self.next_image)
        file_menu.addSeparator()
        self._action(file_menu, "&Export…", "Ctrl+E", self.export_dialog)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        view_menu = self.menuBar().addMenu("&View")
        self._action(view_menu, "&Fit image", "Ctrl+0", self.fit_view)
        compare = view_menu.addAction("&Compare methods")
        compare.setCheckable(True)
        compare.setShortcut("Ctrl+M")
        compare.toggled.connect(self.panel.compare.setChecked)
        self.panel.compare.toggled.connect(compare.setChecked)
        contrast = view_menu.addAction("Contrast with &truth")
        contrast.setCheckable(True)
        contrast.setShortcut("Ctrl+T")
        contrast.toggled.connect(self.panel.contrast.setChecked)
        self.panel.contrast.toggled.connect(contrast.setChecked)
        view_menu.addAction(self.review.dock.toggleViewAction())
        view_menu.addSeparator()
        view_menu.addAction(self.trust.toggle_action)
        view_menu.addAction(self.trust.check_action)
        self.model_menu = self.menuBar().addMenu("&Model")
        self.model_menu.setToolTipsVisible(True)
        self.model_menu.aboutToShow.connect(self._fill_model_menu)
        # Owned by the window, so the menu's clear() on every show keeps them.
        self.open_model_action = QAction("&Open…", self)
        self.open_model_action.triggered.connect(self.open_model_dialog)
        self.open_model_folder_action = QAction("Open Hugging Face &folder…", self)
        self.open_model_folder_action.triggered.connect(self.open_model_folder_dialog)
        help_menu = self.menuBar().addMenu("&Help")
        self.guide_action = self._action(help_menu, "&Guide", QKeySequence.StandardKey.HelpContents, self.show_guide)
        help_menu.addAction("&Keyboard shortcuts", self.show_shortcuts)
        help_menu.addSeparator()
        self.about_action = help_menu.addAction("&About Thulium Desktop", self.show_about)
        self.help_dialogs: dict[str, HelpDialog] = {}

    @Slot()
    def show_guide(self) -> None:
        """Help ▸ Guide (F1): each method and each trust measure in a few lines."""
        self._show_help("Thulium Desktop guide", guide_html(), (680, 640))

    @Slot()
    def show_about(self) -> None:
        """Help ▸ About: the versions and the device, for a bug report."""
        current = self.client.models.current
        self._show_help("About Thulium Desktop", about_html(current.device if current else ""), (520, 360))

    def _show_help(self, title: str, text: str, size: tuple[int, int]) -> None:
        """Non-modal, one of each: the guide stays open beside the window while one works."""
        dialog = self.help_dialogs.get(title)
        if dialog is None:
            dialog = self.help_dialogs[title] = HelpDialog(title, text, self)
            dialog.resize(*size)
        dialog.text.setHtml(text)
        if dialog.isVisible():
            dialog.raise_()  # behind the main window: bring it forward
        dialog.show()

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;{v}</td></tr>" for k, v in SHORTCUTS)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{rows}</table>")

    def report_unexpected(self, exc_type: type[BaseException], exc: BaseException, tb) -> None:
        """sys.excepthook while the window runs: an error in a slot becomes a message
        (and a traceback on stderr) instead of passing unseen."""
        traceback.print_exception(exc_type, exc, tb)
        self.message.show_error(f"Unexpected error: {exc_type.__name__}: {exc}")

    def _action(self, menu: QMenu, text: str, shortcut, slot) -> QAction:
        action = menu.addAction(text)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        return action

    def _build_shortcuts(self) -> None:
        for key, slot in (
            (Qt.Key.Key_Left, self.timeline.step_back),
            (Qt.Key.Key_Right, self.timeline.step_forward),
            (Qt.Key.Key_Home, self.timeline.select_first),
            (Qt.Key.Key_End, self.timeline.select_last),
            (Qt.Key.Key_Escape, self.client.cancel),
        ):
            QShortcut(QKeySequence(key), self, slot)

    def _connect_client(self) -> None:
        models, maps = self.client.models, self.client.maps
        models.ready.connect(self._on_model_ready)
        models.failed.connect(self._on_model_failed)
        models.openFailed.connect(self._on_model_open_failed)
        maps.readingReady.connect(self._on_reading)
        maps.partial.connect(self._on_partial)
        maps.explained.connect(self._on_explained)
        maps.started.connect(self._on_job_started)
        maps.finished.connect(self._on_job_finished)
        maps.failed.connect(self._on_job_failed)
        maps.cancelled.connect(self._on_job_cancelled)

    # -- following the view model ------------------------------------------------------
    def _observe_view_model(self) -> None:
        events = self.view_model.events
        events.connect("image", self._show_image)
        events.connect("title", self._show_title)
        events.connect("reading", self._show_reading)
        events.connect("selection", self._on_selection)
        events.connect("results", self._refresh)

    def _show_image(self) -> None:
        self._show_title()
        if self.view_model.image is None:
            self._show_unreadable()
            return
        self.canvas.set_image(self.view_model.image)
        self.canvas.view.show_note("")
        self.compare_view.set_image(self.view_model.image)
        self._share_height_soon()  # the canvas's height follows the image's shape

    def _show_unreadable(self) -> None:
        """A blank page in place of the file that could not be read, saying why over it."""
        self.canvas.set_image(UNREADABLE_PAGE)
        self.canvas.view.show_note(f"Cannot read {self.view_model.path.name}:\n{self.view_model.failure}")
        self.compare_view.set_image(UNREADABLE_PAGE)

    def _show_title(self) -> None:
        title = self.view_model.title
        self.setWindowTitle(f"Thulium Desktop — {title}" if title else "Thulium Desktop")

    def _show_reading(self) -> None:
        """The reading's characters under the image, or "Reading…" (and no map) until it comes."""
        info = self.view_model.reading
        if info is None:
            failure = self.view_model.failure
            status = "Reading…" if failure is None else f"Not read: the file could not be opened ({failure})."
            self.canvas.clear_map()
            self.timeline.clear("" if failure else status)
            self.reading_label.show_status(status)
            return
        tokens, confidences = info.reading.tokens, info.reading.confidences
        self.timeline.set_reading(tokens, confidences, info.centres)
        self.timeline.show_current(self.view_model.selection)
        self.reading_label.show_reading(tokens, confidences)

    def _on_selection(self) -> None:
        self.timeline.show_current(self.view_model.selection)
        self._request()

    # -- files -----------------------------------------------------------------------
    def open_paths(self, paths: Sequence[str | os.PathLike]) -> bool:
        """Open files and folders; False (and a message) when none could be read."""
        return self.browser.open_paths(paths)

    @Slot()
    def previous_image(self) -> None:
        self.browser.step(-1)

    @Slot()
    def next_image(self) -> None:
        self.browser.step(1)

    @Slot(object, object, str)
    def _on_file_opened(self, path: Path, image: np.ndarray, position: str) -> None:
        self.show_image(image, title=file_title(path, position), path=path)

    @Slot(object, str, str)
    def _on_file_failed(self, path: Path, reason: str, position: str) -> None:
        """The file chosen in the list cannot be read: nothing of the previous image or
        its maps stays on screen under its name."""
        self.client.cancel()
        self.view_model.set_unreadable(path, file_title(path, position), reason)
        self._refresh()  # the details line and the Trust panel drop the previous image's map

    @Slot(object, str)
    def _on_file_moved(self, path: Path, position: str) -> None:
        self.view_model.set_title(file_title(path, position))

    @Slot(str)
    def _on_file_problems(self, text: str) -> None:
        if text:
            self.message.show_error(text)
        else:
            self.message.hide()

    def show_image(self, image: np.ndarray, title: str = "", path: Path | None = None) -> None:
        """Display an image array (read from `path`, whose truth is looked up) and ask for
        its reading and current map."""
        self.view_model.set_image(image, path, title, self.review.truth_for(path))
        self._request(want_reading=True)

    def switch_model(self, recognizer_factory) -> None:
        """Load another model and have it read the open image (its jobs queue behind the load)."""
        self.status.model.setText("loading model…")
        self.client.models.load(recognizer_factory)
        if self.view_model.image is not None:
            self._read_again()

    def _read_again(self) -> None:
        """Another model reads the open image: forget its reading and maps, and ask anew."""
        self.view_model.forget_reading()
        self._request(want_reading=True)

    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open images", self.browser.last_dir(), IMAGE_FILTER)
        if paths:
            self.open_paths(paths)

    def open_transcriptions_dialog(self) -> None:
        """File ▸ Open transcriptions…: a table of image file → truth (as ground_truth.tsv)."""
        path, _ = QFileDialog.getOpenFileName(self, "Open transcriptions", self.browser.last_dir(),
                                              "Transcriptions (*.tsv *.txt);;All files (*)")
        if path:
            self.open_transcriptions(path)

    def open_transcriptions(self, path: str | os.PathLike) -> None:
        count = self.review.choose_transcriptions(path)
        if count is not None:
            self.message.hide()
            self.status.showMessage(f"{count} transcriptions from {Path(path).name}", 5000)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder", self.browser.last_dir())
        if folder:
            self.open_paths([folder])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self.browser.recent.paths()
        for path in paths:
            action = self.recent_menu.addAction(path)
            action.setData(path)
            action.triggered.connect(self._open_recent)
        self.recent_menu.setEnabled(bool(paths))

    def _fill_model_menu(self) -> None:
        """The bundled models, the loaded one checked; choosing one switches to it."""
        self.model_menu.clear()
        current = self.client.models.name
        unreadable: list[ModelLoadError] = []
        for info in models.list_models(unreadable=unreadable):
            action = self.model_menu.addAction(info.name)
            action.setToolTip(info.description)
            action.setCheckable(True)
            action.setChecked(info.name == current)
            action.setData(info.name)
            action.triggered.connect(self._choose_model)
        for exc in unreadable:  # a damaged installation: named, the other models still offered
            action = self.model_menu.addAction(f"{Path(exc.path).name}: unreadable")
            action.setToolTip(str(exc))  # the whole path and reason
            action.setEnabled(False)
        if self.model_menu.isEmpty():
            self.model_menu.addAction("No bundled models installed").setEnabled(False)
        self.model_menu.addSeparator()
        self.model_menu.addAction(self.open_model_action)
        self.model_menu.addAction(self.open_model_folder_action)

    @Slot()
    def open_model_dialog(self) -> None:
        """Model ▸ Open…: a user's weights, checkpoint or plugin."""
        path, _ = QFileDialog.getOpenFileName(self, "Open model", self._model_dir(), MODEL_FILTER)
        if path:
            self.open_model(path)

    @Slot()
    def open_model_folder_dialog(self) -> None:
        """Model ▸ Open Hugging Face folder…: a checkpoint is a folder, not a file."""
        folder = QFileDialog.getExistingDirectory(self, "Open Hugging Face model folder", self._model_dir())
        if folder:
            self.open_model(folder)

    def _model_dir(self) -> str:
        """Models live apart from images: the dialogs remember their own folder."""
        return str(self.settings.value("model/dir", self.browser.last_dir()))

    def open_model(self, path: str | os.PathLike, trust: bool = False) -> None:
        """Open a user's model file; the model in use stays until it has loaded.

        Files that would run code are refused by the library unless `trust`; the
        refusal comes back to `_on_model_open_failed`, which asks the user.
        """
        self.opening_model = str(path)
        self.settings.setValue("model/dir", str(Path(path).parent))
        self.status.model.setText(f"opening {Path(path).name}…")
        self.client.models.open(str(path), trust)

    @Slot()
    def _choose_model(self) -> None:
        name = self.sender().data()
        if name != self.client.models.name:
            self.switch_model(partial(models.open_described, name))

    @Slot()
    def _open_recent(self) -> None:
        self.open_paths([self.sender().data()])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # -- what to show ------------------------------------------------------------------
    def _take_choices(self) -> None:
        """Hand the method panel's choices to the view model. Asked at every request, not
        on the panel's `changed`: that waits for a stepped spin box to settle, and what
        is asked for meanwhile (a character, an export) must use the value shown."""
        panel = self.panel
        self.view_model.choose(panel.method, panel.params(), panel.compare.isChecked(), panel.contrast.isChecked())

    def _request(self, want_reading: bool = False) -> None:
        """Ask for what the view (and a pending export) needs; settle when all is cached."""
        self._take_choices()
        shown = self.view_model
        if shown.image is None:
            return
        self.client.maps.request(shown.image, shown.image_key, shown.requested_specs(), want_reading)
        self._refresh()
        if not self.client.maps.busy:
            self._settle()

    def _settle(self) -> None:
        """Everything asked for is here: finish a pending export, then say so."""
        plan = self.view_model.take_export()
        if plan is not None:
            self._finish_export(plan)
        self.settled.emit()

    @Slot()
    def _refresh(self) -> None:
        """Redraw the visible view from results and partials; never requests anything."""
        if self.view_model.compare:
            self._refresh_compare()
        else:
            self._refresh_single()
        self.details.setText(self._details_text())
        self.trust.follow()

    def _cancelled_progress(self) -> tuple[int, int] | None:
        """(done, total) when the single view shows a partial map whose job was cancelled."""
        spec = self.view_model.view_spec()
        if self.view_model.compare or spec not in self.view_model.progress:
            return None
        return self._cancelled.get(spec)

    def _details_text(self) -> str:
        """The details line; a cancelled partial map says so instead of "refining…"."""
        progress = self._cancelled_progress()
        if progress is None:
            return view_details(self.view_model)
        label = REGISTRY[self.view_model.view_spec().method].label
        return (f"<b>{label}</b>: {cancelled_text(*progress)}, the map shown is partial "
                "(select the character again to finish it)")

    def _refresh_single(self) -> None:
        values, signed = self.view_model.maps_for(self.view_model.view_spec())
        progress = self._cancelled_progress() if values is not None else None
        self._show_cancelled_badge(progress)
        if values is None:
            self.canvas.clear_map()
            return
        cmap = self.display.cmap(signed)
        spec = self.view_model.view_spec()
        label = colorbar_label(REGISTRY[spec.method], signed, bool(dict(spec.params).get("normalize", False)))
        self.canvas.set_map(values, map_levels(values, signed), cmap, signed, label)
        self.canvas.set_opacity(self.display.alpha * (CANCELLED_DIMMING if progress else 1.0))

    def _show_cancelled_badge(self, progress: tuple[int, int] | None) -> None:
        """A badge on the canvas, so that a dimmed partial map is never taken for a final one."""
        if progress is None:
            self.cancelled_badge.hide()
            return
        self.cancelled_badge.setText(f"Cancelled — partial map ({progress[0]} of {progress[1]})")
        self.cancelled_badge.adjustSize()
        self.cancelled_badge.move(12, 10)
        self.cancelled_badge.show()
        self.cancelled_badge.raise_()

    def _refresh_compare(self) -> None:
        maps, signed = self.view_model.compare_maps()
        notes = {m: no_contrast_note(m) for m, spec in self.view_model.compare_specs().items() if spec is None}
        normalised = all(bool(dict(spec.params).get("normalize", False))
                         for spec in self.view_model.compare_specs().values() if spec is not None)
        self.compare_view.show_maps(maps, signed, self.display.cmap(signed), self.display.alpha, notes,
                                    value_label=comparison_colorbar_label(signed, normalised))

    # -- user actions ----------------------------------------------------------------
    @Slot(int)
    def _on_token_selected(self, index: int) -> None:
        self.view_model.select(index)

    @Slot()
    def _on_method_changed(self) -> None:
        self._save_choices()
        self._request()

    @Slot(bool)
    def _on_compare_toggled(self, on: bool) -> None:
        self.canvas.setVisible(not on)
        self.compare_view.setVisible(on)
        self._share_height()  # now: the comparison fills the column at once, not a canvas's height
        self.layout().activate()
        self._request()

    @Slot(int, int)
    def _on_image_clicked(self, x: int, y: int) -> None:
        index = self.view_model.strongest_token(x, y)
        if index is not None:
            self.hint.done()
            self.view_model.select(index)

    # -- worker answers --------------------------------------------------------------
    @Slot(object)
    def _on_model_ready(self, info: LoadedModel) -> None:
        self._notes_said.clear()  # a new model has said nothing yet
        self.view_model.scorable = info.scorable
        self._show_model(info)
        self.panel.set_layers(info.layers, info.default_layer)
        if self._saved_layer:
            self.panel.set_params({"layer": self._saved_layer})
            self._saved_layer = None  # the saved choice belongs to the model it was made on
        if self.opening_model is not None:
            self.opening_model = None
            self.message.hide()  # an earlier model error no longer applies
            if self.view_model.image is not None:
                self._read_again()  # only now: had the open failed, the old reading stays

    def _show_model(self, info: LoadedModel | None) -> None:
        if info is None:
            self.status.model.setText("no model")
        elif info.caption:
            self.status.set_caption(info.caption)
        else:
            self.status.set_model(info.name, info.device)

    @Slot(str, object)
    def _on_model_open_failed(self, path: str, error: Exception) -> None:
        """A refusal asks for consent (never remembered: the next open asks again); any
        other failure is named in the message bar, and the model in use stays."""
        self.opening_model = None
        self._show_model(self.client.models.current)
        if isinstance(error, UntrustedModelError):
            if self._consents_to_run(error):
                self.open_model(path, trust=True)
            else:
                self.status.showMessage(f"{Path(path).name} was not opened", 5000)
            return
        reason = error.reason if isinstance(error, ModelLoadError) else f"{type(error).__name__}: {error}"
        still = f" {self.client.models.name} is still in use." if self.client.models.current else ""
        self.message.show_error(f"Could not open the model {path}: {reason.rstrip('.')}.{still}")

    def _consents_to_run(self, error: UntrustedModelError) -> bool:
        answer = QMessageBox.warning(
            self,
            "Run code from this model file?",
            markdown_code_html(str(error)),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    @Slot(str)
    def _on_model_failed(self, message: str) -> None:
        self.status.model.setText("no model")
        self.message.show_error(f"The model could not be loaded: {message}")

    @Slot(object)
    def _on_reading(self, info: ReadingInfo) -> None:
        self.view_model.set_reading(info)
        self._refresh()

    @Slot(object, object, int, int)
    def _on_partial(self, spec: MethodSpec, maps: np.ndarray, done: int, total: int) -> None:
        self.status.set_busy(done, total)
        self.view_model.add_partial(spec, maps, done, total)

    @Slot(object, object)
    def _on_explained(self, spec: MethodSpec, explanation: object) -> None:
        self.view_model.add_result(spec, explanation)
        self._say_new_notes(getattr(explanation, "notes", ()))

    def _say_new_notes(self, notes: Sequence[str]) -> None:
        """A note not yet said for this model goes to the status bar once (the details
        under the map show the selected map's notes every time): a model-wide one, such
        as "the model outputs probabilities", is not repeated on every click."""
        new = [note for note in notes if note not in self._notes_said]
        self._notes_said.update(new)
        if new:  # the short forms: the status bar shares its line with the job's time
            self.status.showMessage("\u26a0 " + "; ".join(getattr(n, "short", n) for n in new), 15000)

    @Slot()
    def _on_job_started(self) -> None:
        self.status.set_busy()
        if self._cancelled:  # the maps refine again
            self._cancelled.clear()
            self._refresh()

    @Slot(float)
    def _on_job_finished(self, seconds: float) -> None:
        self.status.set_idle()
        self.status.set_last_time(seconds)
        self._settle()

    @Slot(str)
    def _on_job_failed(self, message: str) -> None:
        self.status.set_idle()
        self.view_model.take_export()  # dropped: its maps will not come
        self.message.show_error(f"Computing the map failed: {message}")
        if self.view_model.reading is None:
            self.reading_label.show_status("The image could not be read by the model.")

    @Slot()
    def _on_job_cancelled(self) -> None:
        """The partial maps stay, marked as cancelled at the progress they reached."""
        self.status.set_idle()
        self.view_model.take_export()  # dropped: its maps will not come
        self._cancelled = dict(self.view_model.progress)
        progress = self._cancelled.get(self.view_model.view_spec())
        self.status.showMessage(cancelled_text(*progress).capitalize() if progress else "Cancelled", 8000)
        self._refresh()

    # -- export ----------------------------------------------------------------------
    def export_dialog(self) -> None:
        """Ctrl+E: ask what to export, then export it (computing missing maps first)."""
        self._take_choices()
        if self.view_model.image is None or self.view_model.reading is None:
            self.message.show_error("Open an image and wait for its reading before exporting.")
            return
        kind = "compare" if self.view_model.compare else str(self.settings.value("export/kind", "view"))
        from thulium_desktop.app.export_dialog import ExportDialog  # matplotlib: ~0.5 s, not at launch

        dialog = ExportDialog(self.export_names(), str(self.settings.value("export/format", "png")), kind, self)
        if dialog.exec() == ExportDialog.DialogCode.Accepted:
            plan = dialog.plan()
            self.settings.setValue("export/dir", str(plan.path.parent))
            self.settings.setValue("export/format", plan.path.suffix.lstrip("."))
            self.settings.setValue("export/kind", plan.kind)
            self.export(plan)

    def export_names(self) -> dict[str, Path]:
        """The file Export suggests for each figure kind (without extension), named after
        what that figure draws (the view's also after its character, so that it never
        takes the grid's name), in `export_folder`."""
        from thulium_desktop.app.export_dialog import export_folder, view_suffix  # matplotlib, as above
        from thulium_desktop.app.figure_export import FIGURE_KINDS, suggested_name

        folder = export_folder(self.settings.value("export/dir"), self.browser.files.current)
        stem = self.browser.files.current.stem if self.browser.files.current else "explanation"
        names = {kind: suggested_name(stem, kind, self.view_model.export_specs(kind)) for kind in FIGURE_KINDS}
        names["view"] += view_suffix(self.view_model.export_index("view"))
        return {kind: folder / name for kind, name in names.items()}

    def export(self, plan: ExportPlan) -> None:
        """Export now if every map the figure needs is computed, else once it is."""
        self._take_choices()
        self.view_model.pending_export = plan
        if self.view_model.export_results(plan.kind) is None:
            self.status.showMessage("Computing the maps to export…")
        self._request()

    def _finish_export(self, plan: ExportPlan) -> None:
        explanations = self.view_model.export_results(plan.kind)
        if explanations is None:
            self.message.show_error(f"Export to {plan.path} stopped: its maps were not computed.")
            return
        from thulium_desktop.app.figure_export import ExportContent, write_export  # matplotlib, as above

        content = ExportContent(
            self.view_model.image,
            explanations,
            self.view_model.export_index(plan.kind),
            (self.display.cmap(False), self.display.cmap(True)),
            str(self.browser.files.current or ""),
            self.display.alpha,
        )
        try:
            written = write_export(plan, content)
        except (OSError, ValueError) as exc:
            self.message.show_error(f"Export to {plan.path} failed: {exc}")
            return
        self.status.showMessage("Exported " + ", ".join(p.name for p in written), 8000)
        self.exported.emit(written)

    # -- settings --------------------------------------------------------------------
    def _save_choices(self) -> None:
        s = self.settings
        s.setValue("method", self.panel.method)
        for name, value in self.panel.params().items():
            s.setValue(f"params/{name}", "" if value is None else value)
        self.display.save(s)
        self.trust.save(s)

    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 760)
        docks = s.value("window/docks")
        if docks is None or not self.restoreState(docks):
            self.resizeDocks([self.side_dock], [SIDE_WIDTH], Qt.Orientation.Horizontal)
            self.trust.first_size(self)
        saved = {k.split("/", 1)[1]: s.value(k) for k in s.allKeys() if k.startswith("params/")}
        self._saved_layer = saved.pop("layer", None) or None
        method = str(s.value("method", "attention"))
        self.panel.blockSignals(True)
        try:
            self.panel.set_params(saved)
            if method in REGISTRY:
                self.panel.set_method(method)
        finally:
            self.panel.blockSignals(False)
        self.display.restore(s)
        self.trust.restore(s)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Save the layout and choices, cancel any job and wait for the worker thread."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/docks", self.saveState())
        self._save_choices()
        self.settings.sync()
        self.client.shutdown()
        event.accept()
