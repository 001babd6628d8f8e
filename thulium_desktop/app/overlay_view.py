"""A ViewBox showing an image with a saliency map blended over it.

Shared by the main canvas and each panel of the compare view, so both colour,
scale and blend maps identically.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from thulium_desktop.app.screen_colours import UNSIGNED_MAPS, colormap, heat_lut
from thulium_desktop.io.images import to_unit_gray

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)


#: Wide enough for the bar and tick labels such as "-0.25" or "1e-05".
COLORBAR_WIDTH = 58


def make_colorbar() -> pg.ColorBarItem:
    """A read-only colorbar whose tick labels read on the dark canvas."""
    bar = pg.ColorBarItem(
        values=(0, 1), colorMap=colormap(UNSIGNED_MAPS[0]), interactive=False, width=14, colorMapMenu=False
    )
    axis = bar.getAxis("right")
    axis.setTextPen("#d0d0d0")
    axis.setWidth(COLORBAR_WIDTH - 18)  # fixed: auto-width lags one paint behind the labels
    bar.setMinimumWidth(COLORBAR_WIDTH)
    return bar


def display_gray(image: np.ndarray) -> np.ndarray:
    """The image as the model sees it (grayscale, alpha over white), as uint8 for display.

    Grayscale also keeps the heatmap's colours unambiguous."""
    return np.round(to_unit_gray(image) * 255.0).astype(np.uint8)


class OverlayView(pg.ViewBox):
    """Image + heatmap in image pixel coordinates (y down, square pixels)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, **kwargs)
        self.base = pg.ImageItem(levels=(0, 255))
        self.heat = pg.ImageItem()
        self.heat.setZValue(1)
        self.note = pg.TextItem(color="#f0f0f0", fill=pg.mkBrush(0, 0, 0, 170), anchor=(0.5, 0.5))
        self.note.setZValue(2)
        self.note.hide()
        self.addItem(self.base)
        self.addItem(self.heat)
        self.addItem(self.note, ignoreBounds=True)
        self._map: np.ndarray | None = None

    def set_image(self, gray: np.ndarray) -> None:
        self.base.setImage(gray, levels=(0, 255))
        self.clear_map()
        self.autoRange(padding=0.02)

    def set_map(self, values: np.ndarray, levels: tuple[float, float], cmap: str, signed: bool) -> None:
        self._map = values
        self.heat.setImage(values, levels=levels, lut=heat_lut(cmap, signed), autoLevels=False)
        self.heat.setVisible(True)

    def clear_map(self) -> None:
        self._map = None
        self.heat.clear()
        self.heat.setVisible(False)

    def show_note(self, text: str) -> None:
        """A line over the image's centre saying why no map is drawn ("": none), where
        the eye looks for the map rather than in a title."""
        h, w = self.image_size()
        self.note.setText(text)
        self.note.setPos(w / 2, h / 2)
        self.note.setVisible(bool(text))

    @property
    def map(self) -> np.ndarray | None:
        return self._map

    def set_opacity(self, opacity: float) -> None:
        self.heat.setOpacity(opacity)

    def image_size(self) -> tuple[int, int]:
        """(height, width) of the image shown, (0, 0) when none."""
        img = self.base.image
        return (0, 0) if img is None else (int(img.shape[0]), int(img.shape[1]))
