"""The main window: wires canvas, timeline, method panel, compare view and worker client.

The view state (which image, which character, which method) and its rules live in
the Qt-free `ViewModel`; the window builds the widgets and menus, hands user input and
worker answers to the model, follows its events, and turns what the model wants into
one `client.maps.request`. It never computes a map itself. Opening models, exporting
and Help are flows of their own (`model_flow`, `export_flow`, `help_menu`); the marks
of unfinished work (a cancelled map, an unreadable file) live in `app/cancelled.py`.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from thulium_desktop.app.cancelled import CANCELLED_DIMMING, CancelledMaps, cancelled_text, show_unreadable
from thulium_desktop.app.canvas import ImageCanvas
from thulium_desktop.app.client import EngineClient
from thulium_desktop.app.compare_view import CompareView, no_contrast_note
from thulium_desktop.app.display_panel import DisplayPanel
from thulium_desktop.app.error_review import ErrorReview
from thulium_desktop.app.export_flow import ExportFlow
from thulium_desktop.app.files import ImageBrowser, file_title
from thulium_desktop.app.help import FirstRunHint
from thulium_desktop.app.help_menu import HelpMenu
from thulium_desktop.app.message_bar import MessageBar
from thulium_desktop.app.method_panel import MethodPanel
from thulium_desktop.app.model_flow import ModelFlow
from thulium_desktop.app.page_segmentation import PageSegmentation
from thulium_desktop.app.screen_colours import map_levels
from thulium_desktop.app.status_bar import JobStatusBar
from thulium_desktop.app.timeline import ReadingLabel, TokenTimeline
from thulium_desktop.app.trust_panel import TrustPanel
from thulium_desktop.app.view_model import ViewModel
from thulium_desktop.app.worker import LoadedModel, ReadingInfo
from thulium_desktop.io.corpus import CorpusItem
from thulium_desktop.io.images import IMAGE_SUFFIXES
from thulium_desktop.render.colormaps import colorbar_label, comparison_colorbar_label
from thulium_desktop.xai.methods import REGISTRY
from thulium_desktop.xai.spec import MethodSpec

#: The method panel's width beside the canvas in a window without a saved layout.
SIDE_WIDTH = 320
#: A view's height when nothing bounds it (Qt's QWIDGETSIZE_MAX): it can use any room.
UNBOUNDED_HEIGHT = 16_777_215
#: How long closing waits for the worker to notice its cancel (one chunk of ordinary
#: work takes well under it; a chunk of a huge input may take minutes).
CLOSE_WAIT_MS = 3000
IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)"


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


class MainWindow(QMainWindow):
    """Thulium Desktop's window. `settled` fires when what was asked for is on screen."""

    settled = Signal()

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
        client.follow(self.view_model)  # a line's selected character is computed first
        self._saved_layer: str | None = None
        self._notes_said: set[str] = set()  # notes put in the status bar for this model
        self.setWindowTitle("Thulium Desktop")
        self.setAcceptDrops(True)
        self._build_widgets()
        self.export_flow = ExportFlow(self)
        self._build_menus()
        self._build_shortcuts()
        self._connect_client()
        self._observe_view_model()
        self._restore_settings()

    # -- construction ----------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.canvas = ImageCanvas()
        self.cancelled = CancelledMaps(self.canvas, self.view_model)
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
        column.addWidget(self.review.page_view, 1)  # under the line: the room a line image leaves
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
        self.page_segmentation = PageSegmentation(self.browser, self.view_model, self.message, self.status, self)
        file_menu.addAction(self.page_segmentation.action)
        file_menu.addSeparator()
        self._action(file_menu, "&Export…", "Ctrl+E", self.export_flow.export_dialog)
        file_menu.addAction(self.export_flow.layout.action)
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
        self.model_flow = ModelFlow(self, self.menuBar())
        self.help_menu = HelpMenu(self, self.menuBar())

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
            (Qt.Key.Key_Escape, self.cancel),
        ):
            QShortcut(QKeySequence(key), self, slot)
        QShortcut(QKeySequence("Ctrl+Shift+P"), self, self._toggle_page_view)

    @Slot()
    def cancel(self) -> None:
        """Esc: give up finding a page's lines or a layout export waiting for them, else
        stop what the worker runs."""
        if not self.page_segmentation.cancel() and not self.export_flow.layout.cancel():
            self.client.cancel()

    @Slot()
    def _toggle_page_view(self) -> None:
        """Ctrl+Shift+P: show or hide the page view (while a page's line is open)."""
        page = self.review.page_view
        page.setVisible(not page.isVisible() and page.document is not None)

    def _connect_client(self) -> None:
        models, maps = self.client.models, self.client.maps
        models.ready.connect(self._on_model_ready)
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
            show_unreadable(self.canvas, self.compare_view, self.view_model)
            return
        self.canvas.set_image(self.view_model.image)
        self.canvas.view.show_note("")
        self.compare_view.set_image(self.view_model.image)
        self._share_height_soon()  # the canvas's height follows the image's shape

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
        self.request()

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
        self.request(want_reading=True)

    def switch_model(self, recognizer_factory) -> None:
        """Load another model and have it read the open image (its jobs queue behind the load)."""
        self.status.model.setText("loading model…")
        self.client.models.load(recognizer_factory)
        if self.view_model.image is not None:
            self._read_again()

    def _read_again(self) -> None:
        """Another model reads the open image: forget its reading and maps, and ask anew."""
        self.view_model.forget_reading()
        self.request(want_reading=True)

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
    def take_choices(self) -> None:
        """Hand the method panel's choices to the view model. Asked at every request, not
        on the panel's `changed`: that waits for a stepped spin box to settle, and what
        is asked for meanwhile (a character, an export) must use the value shown."""
        panel = self.panel
        self.view_model.choose(panel.method, panel.params(), panel.compare.isChecked(), panel.contrast.isChecked())

    def request(self, want_reading: bool = False) -> None:
        """Ask for what the view (and a pending export) needs; settle when all is cached."""
        self.take_choices()
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
            self.export_flow.finish(plan)
        self.settled.emit()

    @Slot()
    def _refresh(self) -> None:
        """Redraw the visible view from results and partials; never requests anything."""
        if self.view_model.compare:
            self._refresh_compare()
        else:
            self._refresh_single()
        self.details.setText(self.cancelled.details_text())
        self.trust.follow()

    def _refresh_single(self) -> None:
        values, signed = self.view_model.maps_for(self.view_model.view_spec())
        progress = self.cancelled.progress() if values is not None else None
        self.cancelled.show_badge(progress)
        if values is None:
            self.canvas.clear_map()
            self.review.page_view.clear_map()
            return
        cmap = self.display.cmap(signed)
        spec = self.view_model.view_spec()
        label = colorbar_label(REGISTRY[spec.method], signed, bool(dict(spec.params).get("normalize", False)))
        self.canvas.set_map(values, map_levels(values, signed), cmap, signed, label)
        self._show_on_page(values, signed, cmap)
        self.canvas.set_opacity(self.display.alpha * (CANCELLED_DIMMING if progress else 1.0))

    def _show_on_page(self, values: np.ndarray, signed: bool, cmap: str) -> None:
        """The selected character's map also on the page view, inside the open line's polygon."""
        page, key = self.review.page_view, self.view_model.path
        if isinstance(key, CorpusItem) and page.document is not None and key in page.document.lines:
            page.show_line_map(key.line.line.id, values, map_levels(values, signed), cmap, signed, self.display.alpha)

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
        self.request()

    @Slot(bool)
    def _on_compare_toggled(self, on: bool) -> None:
        self.canvas.setVisible(not on)
        self.compare_view.setVisible(on)
        self._share_height()  # now: the comparison fills the column at once, not a canvas's height
        self.layout().activate()
        self.request()

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
        self.browser.model_height = info.height  # the next image opened is measured against it
        self.model_flow.show(info)
        self.panel.set_layers(info.layers, info.default_layer)
        if self._saved_layer:
            self.panel.set_params({"layer": self._saved_layer})
            self._saved_layer = None  # the saved choice belongs to the model it was made on
        if self.model_flow.arrived():
            self.message.hide()  # an earlier model error no longer applies
            if self.view_model.image is not None:
                self._read_again()  # only now: had the open failed, the old reading stays

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
        if self.cancelled.forget():  # the maps refine again
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
        progress = self.cancelled.mark()
        self.status.showMessage(cancelled_text(*progress).capitalize() if progress else "Cancelled", 8000)
        self._refresh()

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
        """Save the layout and choices, cancel any job and wait for the worker thread, a
        bounded time (`CLOSE_WAIT_MS`): the window closes even when the worker is deep in
        one chunk of a huge input (`client.running` then says so)."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/docks", self.saveState())
        self._save_choices()
        self.settings.sync()
        self.client.shutdown(CLOSE_WAIT_MS)
        event.accept()
