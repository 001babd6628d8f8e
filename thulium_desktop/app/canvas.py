"""The main image canvas: image + heatmap, colorbar, zoom/pan, hover readout, clicks."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from thulium_desktop.app.overlay_view import COLORBAR_WIDTH, OverlayView, make_colorbar, show_scale
from thulium_desktop.render.overlay import display_gray

BACKGROUND = "#26282b"
#: Room the colorbar and margins take beside the image, in pixels.
CHROME_WIDTH = COLORBAR_WIDTH + 16
MIN_HEIGHT = 160


class ImageCanvas(QWidget):
    """Shows one image and one map; reports hovered and clicked image pixels."""

    clicked = Signal(int, int)  # image x, y
    hovered = Signal(str)  # readout text ("" when outside the image)
    viewChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(BACKGROUND)
        self.graphics.ci.setContentsMargins(4, 4, 4, 4)
        self.view = OverlayView()
        self.graphics.addItem(self.view, row=0, col=0)
        self.colorbar = make_colorbar()
        self.graphics.addItem(self.colorbar, row=0, col=1)
        self.hint = pg.TextItem("Open an image (Ctrl+O) or drop one here", color="#9a9a9a", anchor=(0.5, 0.5))
        self.hint.setPos(0.5, 0.5)
        self.view.addItem(self.hint)
        self.view.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        self._show_colorbar(False)
        #: What the map's values are, as the colorbar labels them.
        self._value_label = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        scene = self.graphics.scene()
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)
        self.view.sigRangeChanged.connect(self._on_range_changed)
        self.view.sigResized.connect(self._on_range_changed)

    # -- content ---------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        self.hint.setVisible(False)
        self.view.set_image(display_gray(image))
        self._show_colorbar(False)
        self._fit_height()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        """Be no taller than the image needs at full width, so that a line image and
        the timeline under it stay together instead of being split by empty space."""
        h, w = self.view.image_size()
        if w:
            need = int((self.width() - CHROME_WIDTH) * h / w) + 16
            self.setMaximumHeight(max(MIN_HEIGHT, need))

    def set_map(
        self, values: np.ndarray, levels: tuple[float, float], cmap: str, signed: bool, value_label: str = ""
    ) -> None:
        """Show a map on the scale `levels` of `cmap`; `value_label` says what its values are
        (`render.colormaps.colorbar_label`) on the colorbar."""
        self.view.set_map(values, levels, cmap, signed)
        self._value_label = value_label
        self._show_scale()
        self._show_colorbar(True)

    def clear_map(self) -> None:
        self.view.clear_map()
        self._show_colorbar(False)

    def set_opacity(self, opacity: float) -> None:
        self.view.set_opacity(opacity)
        self._show_scale()

    def _show_scale(self) -> None:
        show_scale(self.colorbar, self.view.scale, self.view.opacity, self._value_label)

    def _show_colorbar(self, shown: bool) -> None:
        """Shown or hidden by opacity: hiding the item would collapse its layout cell, and
        re-showing it lays the axis out one paint late (a grab would miss the labels)."""
        self.colorbar.setOpacity(1.0 if shown else 0.0)

    @property
    def colorbar_shown(self) -> bool:
        return self.colorbar.opacity() > 0

    def fit(self) -> None:
        """Ctrl+0: the whole image, as large as the canvas allows."""
        self.view.autoRange(padding=0.02)

    # -- geometry shared with the timeline ---------------------------------------------
    def image_x_to_widget(self, x: float) -> float:
        """Where image column `x` falls in this widget's coordinates (for the timeline)."""
        scene = self.view.mapViewToScene(QPointF(x, 0.0))
        return float(self.graphics.mapFromScene(scene).x() + self.graphics.x())

    def widget_pos_of_pixel(self, x: float, y: float) -> QPointF:
        """Viewport position of image point (x, y): for tests and benchmarks that click."""
        return QPointF(self.graphics.mapFromScene(self.view.mapViewToScene(QPointF(x, y))))

    # -- mouse -------------------------------------------------------------------------
    def _pixel_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        if not self.view.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.view.mapSceneToView(scene_pos)
        x, y = int(np.floor(p.x())), int(np.floor(p.y()))
        h, w = self.view.image_size()
        return (x, y) if 0 <= x < w and 0 <= y < h else None

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        pixel = self._pixel_at(scene_pos)
        if pixel is None:
            self.hovered.emit("")
            return
        x, y = pixel
        text = f"x {x}  y {y}  ink {255 - int(self.view.base.image[y, x])}"
        value = self.view.value_at(x, y)
        if value is not None:
            text += f"  map {value:.3g}"
        self.hovered.emit(text)

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        pixel = self._pixel_at(event.scenePos())
        if pixel is not None:
            self.clicked.emit(*pixel)

    def _on_range_changed(self, *_args) -> None:
        self.viewChanged.emit()
