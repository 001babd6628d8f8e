"""The Trust panel: can the map of the selected character be trusted?

A dock that follows what the window shows (image, method, character), read from
the view model. The diagnostics (interpretation label and numbers) are cheap and
asked for as soon as a final map is on screen while the panel is open; the
deletion/insertion curves and the model-randomisation sanity check cost seconds to
minutes, so they run only when the user asks (Check trust), with progress and Cancel. All of it is computed by the
worker (`TrustLane.request`); reports come back with the explanation they
check, and the panel draws only those of the maps it shows: a report for an image,
method or model the user has left is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, QSize, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QStyle, QWidget

from thulium_desktop.app.details import shown_what
from thulium_desktop.app.trust_view import TrustView
from thulium_desktop.xai.methods import REGISTRY

if TYPE_CHECKING:
    from thulium_desktop.app.lanes.trust import TrustLane
    from thulium_desktop.app.view_model import ViewModel
    from thulium_desktop.xai.trust import TrustReport

VISIBLE_KEY = "view/trust_panel"
TOGGLE_SHORTCUT = "Ctrl+K"
CHECK_SHORTCUT = "Ctrl+Shift+K"
#: Under the canvas: a plot with its lines of text, and no more, so that the
#: method panel beside the canvas keeps its height in a 1280×760 window.
PREFERRED_HEIGHT = 190
#: Under the canvas in a low window: the title, the verdict and a few rows (the rest
#: scrolls), and the dock's title ("Trust", written upwards) in full.
READABLE_HEIGHT = 130
#: The dock's title bar beside its content, written upwards, and the dock's margins.
TITLE_BAR_ROOM = 30
#: The panel's share of the height under a low window's menu, at most PREFERRED_HEIGHT.
HEIGHT_SHARE = 0.3
#: A floating panel's size: its columns stacked, as in a side dock.
FLOATING_SIZE = QSize(380, 640)
#: Docks where the panel is wide and low, its columns side by side.
WIDE_AREAS = (Qt.DockWidgetArea.BottomDockWidgetArea, Qt.DockWidgetArea.TopDockWidgetArea)
CONTRAST_NOTE = ("The canvas shows a contrast with the truth: the trust measures are of a character's own "
                 "map, so switch Contrast with truth off (Ctrl+T) to check this one.")
HINT = f"Check trust ({CHECK_SHORTCUT}) for the curves and the sanity check."
CHECK_TIP = ("Deletion and insertion curves against a random order, and the model-randomisation sanity "
             "check. Slow: the sanity check recomputes the maps once per layer.")


class TrustPanel(QDockWidget):
    """The dock; `failed` carries messages for the window's message bar."""

    failed = Signal(str)

    def __init__(self, checks: TrustLane, view_model: ViewModel, parent: QWidget | None = None) -> None:
        super().__init__("Trust", parent)
        self.setObjectName("TrustPanel")
        self.checks = checks
        self.view_model = view_model
        self.view = TrustView()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.view)
        self.setWidget(scroll)
        self.report: TrustReport | None = None
        self._complete = False  # the report is the last word on what was asked
        self._drawn: tuple = ()
        self._explanation: object | None = None  # the final map shown, which the report is of
        self._stage = ""
        self.toggle_action = self.toggleViewAction()
        self.toggle_action.setText("&Trust panel")
        self.toggle_action.setShortcut(QKeySequence(TOGGLE_SHORTCUT))
        self.check_action = QAction("Check &trust", self)
        self.check_action.setShortcut(QKeySequence(CHECK_SHORTCUT))
        self.check_action.triggered.connect(self.check)
        self.view.check.clicked.connect(self.check)
        self.view.check.setToolTip(CHECK_TIP)
        self.view.cancel.clicked.connect(checks.cancel)
        self.visibilityChanged.connect(self._on_visibility)
        self.dockLocationChanged.connect(self._arrange)
        self.topLevelChanged.connect(self._arrange)
        checks.progress.connect(self._on_progress)
        checks.ready.connect(self._on_ready)
        checks.finished.connect(self._on_ended)
        checks.cancelled.connect(self._on_cancelled)
        checks.failed.connect(self._on_failed)
        self._draw()

    # -- following the window --------------------------------------------------------
    def follow(self) -> None:
        """Catch up with what the window shows (it asks on every redraw of the map): a
        final map other than the one measured (None while it is computed) drops the
        report, and has its diagnostics asked for."""
        explanation = self.view_model.results.get(self.view_model.view_spec())
        if explanation is not self._explanation:
            self._explanation = explanation
            self.report = None
            self._complete = False
            self._stage = ""
            self._ask(full=False)
        self._draw()

    @Slot()
    def check(self) -> None:
        """Check trust: curves and sanity for the shown maps (opening the panel if shut)."""
        if not self._can_check():
            return
        self.show()
        self._ask(full=True)
        self._draw()

    def _ask(self, full: bool) -> None:
        """Request a check of the shown maps; with nothing to check (or nobody looking,
        for the automatic diagnostics) only stop a check of other maps."""
        if self._explanation is None or self._contrast() or not (full or self.isVisible()):
            self.checks.drop_unless(self._explanation)
            return
        shown = self.view_model
        self.checks.request(shown.image, shown.image_key, shown.view_spec(), self._explanation, full)

    def _can_check(self) -> bool:
        exp = self._explanation
        return exp is not None and not exp.whole_reading and not self._contrast() and not self._checked()

    def _contrast(self) -> bool:
        """Whether the canvas shows a contrast map: the measures are of a character's own
        score, so they would describe a map that is not the one on screen."""
        return self.view_model.view_spec().contrast is not None

    def _checked(self) -> bool:
        """Whether the curves and the sanity check (where it applies) are in."""
        return self.report is not None and self.report.deletion is not None and self._complete

    @Slot()
    def _arrange(self) -> None:
        """Columns side by side where the dock is wide (above or under the canvas),
        stacked where it is narrow (left, right) or floats on its own."""
        window = self.parentWidget()
        wide = (not self.isFloating() and isinstance(window, QMainWindow)
                and window.dockWidgetArea(self) in WIDE_AREAS)
        self.view.set_horizontal(wide)
        if self.isFloating():
            self.resize(FLOATING_SIZE)  # not the wide strip it was under the canvas
        title_aside = QDockWidget.DockWidgetFeature.DockWidgetVerticalTitleBar  # a low dock keeps its height
        self.setFeatures(self.features() | title_aside if wide else self.features() & ~title_aside)

    # -- worker answers --------------------------------------------------------------
    @Slot(bool)
    def _on_visibility(self, visible: bool) -> None:
        if visible and self.report is None:
            self._ask(full=False)
            self._draw()

    @Slot(str)
    def _on_progress(self, stage: str) -> None:
        self._stage = stage
        self._draw()

    @Slot(object, object, bool)
    def _on_ready(self, explanation: object, report: TrustReport, complete: bool) -> None:
        """Take a report of the shown maps, unless it says less than the one shown (a
        cached diagnostics report arriving while the full check's curves are up)."""
        if explanation is not self._explanation:
            return
        if self.report is not None and self.report.deletion is not None and report.deletion is None:
            return
        self.report, self._complete = report, complete
        self._draw()

    @Slot()
    def _on_ended(self) -> None:
        self._stage = ""
        self._draw()

    @Slot()
    def _on_cancelled(self) -> None:
        self._stage = "Check cancelled."
        self._draw()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._on_ended()
        self.failed.emit(f"Checking trust failed: {message}")

    # -- drawing ---------------------------------------------------------------------
    def _draw(self) -> None:
        """Show the state; the window asks on every repaint of the map, so a state
        already on screen is not drawn again."""
        exp, view, shown = self._explanation, self.view, self.view_model
        spec, index = shown.view_spec(), shown.selection
        checking = self.checks.busy
        state = (shown.image is None, spec, id(exp), index, id(self.report), self._complete, self._stage, checking)
        if state == self._drawn:
            return
        self._drawn = state
        self.check_action.setEnabled(self._can_check() and not checking)
        view.check.setEnabled(self.check_action.isEnabled())
        if shown.image is None:
            view.show_message("Open an image to see whether its maps can be trusted.")
        elif self._contrast():
            view.show_message(CONTRAST_NOTE)
        elif exp is None:
            view.show_message("Measuring starts when the map is computed…")
        elif not (exp.whole_reading or 0 <= index < len(exp.tokens)):
            view.show_message("Select a character.")
        else:
            what, k = shown_what(exp, index)
            title = f"<b>{REGISTRY[spec.method].label}</b> of {what}"
            if self.report is None:
                view.show_message(title + "<br>Measuring…")
            else:
                view.show_report(title, self.report, k)
        view.set_status(self._status_text(checking), checking)

    def _status_text(self, checking: bool) -> str:
        exp = self._explanation
        if checking:
            return f"Checking: {self._stage or 'waiting for the worker'}…"
        if self._stage:
            return self._stage
        if exp is None or self.report is None:
            return ""
        if exp.whole_reading:
            return "Pick a character for the curves and the sanity check."
        if self.report.deletion is None:
            return HINT
        if self.report.sanity is None and self._checked():
            return "The sanity check does not apply to attention maps: they use no gradients."
        return ""

    # -- settings --------------------------------------------------------------------
    def save(self, settings: QSettings) -> None:
        settings.setValue(VISIBLE_KEY, not self.isHidden())

    def restore(self, settings: QSettings) -> None:
        self.setVisible(settings.value(VISIBLE_KEY, True, type=bool))

    def first_size(self, window: QMainWindow) -> None:
        """The height the panel starts with under the canvas, in a window without a saved layout."""
        window.resizeDocks([self], [PREFERRED_HEIGHT], Qt.Orientation.Vertical)

    def side_by_side_width(self) -> int:
        """The width the panel needs for its columns side by side (the report, the curves,
        the sanity check), with its title bar and a scroll bar."""
        room = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent) + TITLE_BAR_ROOM
        return self.view.minimumSizeHint().width() + room

    def share_height(self, window: QMainWindow, column_need: int) -> None:
        """Docked under (or above) the canvas, take what the image column cannot use (so
        no empty band opens under the timeline) but never less than a readable share,
        which the column gives up first (the canvas shrinks, the panel stays legible)."""
        if self.isHidden() or self.isFloating() or window.dockWidgetArea(self) not in WIDE_AREAS:
            return
        room = window.centralWidget().height() + self.height()
        floor = max(READABLE_HEIGHT, min(PREFERRED_HEIGHT, int(room * HEIGHT_SHARE)))
        wanted = max(floor, room - column_need)
        if abs(wanted - self.height()) > 2:
            window.resizeDocks([self], [wanted], Qt.Orientation.Vertical)
