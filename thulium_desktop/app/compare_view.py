"""The Compare view: one character under every method, on one shared colour scale."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from thulium_desktop.app.canvas import BACKGROUND
from thulium_desktop.app.colormaps import colormap, map_levels
from thulium_desktop.app.jobs import METHOD_INFO
from thulium_desktop.app.method_panel import COMPARE_METHODS
from thulium_desktop.app.overlay import OverlayView, display_gray, make_colorbar

#: Images wider than this (width / height) are stacked in one column, others in a grid.
WIDE = 2.5
TITLE_HEIGHT = 18
#: A panel's note when Contrast with truth is on and its method has no gradients.
NO_CONTRAST = "No contrast map:\nattention has\nno gradients"


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
        self.views: dict[str, OverlayView] = {}
        self.titles: dict[str, pg.LabelItem] = {}
        self.colorbar = make_colorbar()
        self._columns = 0

    def _arrange(self, columns: int) -> None:
        """(Re)build the grid only when its shape changes."""
        if columns == self._columns:
            return
        self.graphics.clear()
        self._columns = columns
        first: OverlayView | None = None
        for i, method in enumerate(COMPARE_METHODS):
            row, col = divmod(i, columns)
            title = pg.LabelItem(METHOD_INFO[method][0], color="#e0e0e0")
            title.setMaximumHeight(TITLE_HEIGHT)
            view = self.views.get(method) or OverlayView()
            self.graphics.addItem(title, row=2 * row, col=col)
            self.graphics.addItem(view, row=2 * row + 1, col=col)
            if first is None:
                first = view
                view.sigRangeChanged.connect(self.viewChanged)
            else:
                view.setXLink(first)
                view.setYLink(first)
            self.views[method], self.titles[method] = view, title
        rows = (len(COMPARE_METHODS) + columns - 1) // columns
        self.graphics.addItem(self.colorbar, row=0, col=columns, rowspan=2 * rows)

    def set_image(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        self._arrange(1 if w / max(h, 1) > WIDE else 3)
        gray = display_gray(image)
        for view in self.views.values():
            view.set_image(gray)
        self.fit()

    def fit(self) -> None:
        """Fit the first panel; the others follow through their links."""
        first = self.views.get(COMPARE_METHODS[0])
        if first is not None:
            first.autoRange(padding=0.02)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()

    def image_x_to_widget(self, x: float) -> float:
        """Image column `x` in this widget's coordinates, along the first column of panels."""
        view = self.views.get(COMPARE_METHODS[0])
        if view is None:
            return float(x)
        return float(self.graphics.mapFromScene(view.mapViewToScene(QPointF(x, 0.0))).x())

    def show_maps(self, maps: dict[str, np.ndarray | None], signed: bool, cmap: str, opacity: float,
                  notes: Mapping[str, str] | None = None) -> None:
        """Draw each method's map (None = still computing) on the shared scale; a method
        with a note (e.g. `NO_CONTRAST`) shows its image bare, the note over it."""
        notes = notes or {}
        present = [m for m in maps.values() if m is not None]
        levels = map_levels(np.stack(present), signed) if present else (0.0, 1.0)
        for method, view in self.views.items():
            values = maps.get(method)
            label = METHOD_INFO[method][0]
            note = notes.get(method, "")
            view.show_note(note)
            if values is None:
                view.clear_map()
                self.titles[method].setText(label if note else f"{label} — computing…")
            else:
                view.set_map(values, levels, cmap, signed)
                view.set_opacity(opacity)
                self.titles[method].setText(label)
        self.colorbar.setColorMap(colormap(cmap))
        self.colorbar.setLevels(levels)
