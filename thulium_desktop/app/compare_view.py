"""The Compare view: one character under every method, on one shared colour scale."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSizeF, Qt, Signal, Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

from thulium_desktop.app.canvas import BACKGROUND
from thulium_desktop.app.overlay_view import OverlayView, make_colorbar, show_scale
from thulium_desktop.app.screen_colours import map_levels
from thulium_desktop.render.colormaps import Scale
from thulium_desktop.render.overlay import display_gray
from thulium_desktop.xai.methods import REGISTRY, compare_methods

#: Images wider than this (width / height) are stacked in one column, others in a grid.
WIDE = 2.5
TITLE_HEIGHT = 18


def no_contrast_note(method: str) -> str:
    """A panel's note when Contrast with truth is on and its method has no gradients."""
    return f"No contrast map:\n{REGISTRY[method].label} has\nno gradients"


class PanelTitle(pg.LabelItem):
    """A panel's title that never widens its column.

    A LabelItem asks for its text's width, so "Integrated gradients — computing…" made
    that column wider than the others; linked panels of unequal widths show the same
    range differently, which put the image off-centre there. Columns share the width
    equally instead and a long title is clipped.
    """

    def updateMin(self) -> None:
        super().updateMin()
        self.setMinimumWidth(0)

    def sizeHint(self, hint: Qt.SizeHint, constraint: QSizeF) -> QSizeF:
        size = super().sizeHint(hint, constraint)
        return size if hint == Qt.SizeHint.MaximumSize else QSizeF(0, size.height())


class CompareView(QWidget):
    """Panels linked in zoom and pan, titled by method, with one colorbar."""

    viewChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(BACKGROUND)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        #: The methods compared, in the registry's order (the first one leads the links).
        self.methods = compare_methods()
        self.views = {method: self._panel() for method in self.methods}
        self.views[self.methods[0]].sigRangeChanged.connect(self.viewChanged)
        self.titles: dict[str, pg.LabelItem] = {}
        self.colorbar = make_colorbar()
        self._columns = 0
        #: Refit whenever a panel's size changes, until the user zooms or pans.
        self._keep_fitted = True

    def _panel(self) -> OverlayView:
        view = OverlayView()
        view.sigResized.connect(self._on_panel_resized)
        view.sigRangeChangedManually.connect(self._on_user_moved)
        return view

    def _arrange(self, columns: int) -> None:
        """(Re)build the grid only when its shape changes."""
        if columns == self._columns:
            return
        self.graphics.clear()
        self._columns = columns
        first = self.views[self.methods[0]]
        for i, method in enumerate(self.methods):
            row, col = divmod(i, columns)
            title = PanelTitle(REGISTRY[method].label, color="#e0e0e0")
            title.setMaximumHeight(TITLE_HEIGHT)
            view = self.views[method]
            self.graphics.addItem(title, row=2 * row, col=col)
            self.graphics.addItem(view, row=2 * row + 1, col=col)
            if view is not first:
                view.setXLink(first)
                view.setYLink(first)
            self.titles[method] = title
        rows = (len(self.methods) + columns - 1) // columns
        self.graphics.addItem(self.colorbar, row=0, col=columns, rowspan=2 * rows)
        grid = self.graphics.ci.layout
        for col in range(columns):
            grid.setColumnStretchFactor(col, 1)
        grid.setColumnStretchFactor(columns, 0)

    def set_image(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        self._arrange(1 if w / max(h, 1) > WIDE else 3)
        gray = display_gray(image)
        for view in self.views.values():
            view.set_image(gray)
        self.fit()

    def fit(self) -> None:
        """Fit the first panel, and keep the panels fitted as they resize until the user
        zooms or pans; the others follow through their links."""
        self._keep_fitted = True
        self.views[self.methods[0]].autoRange(padding=0.02)

    @Slot()
    def _on_panel_resized(self) -> None:
        """A fit made when the view is shown or resized used a stale size (the panels get
        theirs from the scene's layout later), leaving the images as dots: so each
        panel's own resize refits."""
        if self._keep_fitted:
            self.fit()

    @Slot()
    def _on_user_moved(self) -> None:
        self._keep_fitted = False

    def image_x_to_widget(self, x: float) -> float:
        """Image column `x` in this widget's coordinates, along the first column of panels."""
        view = self.views[self.methods[0]]
        return float(self.graphics.mapFromScene(view.mapViewToScene(QPointF(x, 0.0))).x())

    def show_maps(self, maps: dict[str, np.ndarray | None], signed: bool, cmap: str, opacity: float,
                  notes: Mapping[str, str] | None = None, value_label: str = "") -> None:
        """Draw each method's map (None = still computing) on the shared scale; a method
        with a note (e.g. `no_contrast_note`) shows its image bare, the note over it.
        `value_label` labels the shared colorbar (`render.colormaps.comparison_colorbar_label`)."""
        notes = notes or {}
        present = [m for m in maps.values() if m is not None]
        levels = map_levels(np.stack(present), signed) if present else (0.0, 1.0)
        for method, view in self.views.items():
            values = maps.get(method)
            label = REGISTRY[method].label
            note = notes.get(method, "")
            view.show_note(note)
            if values is None:
                view.clear_map()
                self.titles[method].setText(label if note else f"{label} — computing…")
            else:
                view.set_map(values, levels, cmap, signed)
                view.set_opacity(opacity)
                self.titles[method].setText(label)
        show_scale(self.colorbar, Scale(*levels, cmap, signed=signed), opacity, value_label)
