"""A ViewBox showing an image with a saliency map blended over it.

Shared by the main canvas and each panel of the compare view, so both colour,
scale and blend maps identically: with `render.overlay.composite`, the blend every
exported figure draws.

The map layer is the composite at full opacity, and the Display panel's opacity is
that layer's own opacity over the grayscale image: `o * composite(1) + (1 - o) * gray`
is `composite(o)` (the blend is linear in its alpha), so the screen shows what a figure
exported at that opacity shows, and dragging the slider recomposites nothing.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg

from thulium_desktop.app.screen_colours import UNSIGNED_MAPS, colorbar_map
from thulium_desktop.render.colormaps import Scale
from thulium_desktop.render.overlay import DEFAULT_OPACITY, composite

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)


#: Wide enough for the bar, tick labels such as "-0.25" or "1e-05" and three lines of value label.
COLORBAR_WIDTH = 100


#: What a view shows before a map arrives.
_NO_SCALE = Scale(0.0, 1.0, UNSIGNED_MAPS[0])


def make_colorbar() -> pg.ColorBarItem:
    """A read-only colorbar whose tick labels and value label read on the dark canvas."""
    bar = pg.ColorBarItem(
        values=(0, 1), colorMap=colorbar_map(_NO_SCALE, DEFAULT_OPACITY), interactive=False, width=14,
        colorMapMenu=False,
    )
    axis = bar.getAxis("right")
    axis.setTextPen("#d0d0d0")
    axis.setPen("#d0d0d0")
    axis.enableAutoSIPrefix(False)  # a labelled axis would show 0.4 as 400 with "(x0.001)"
    axis.setWidth(COLORBAR_WIDTH - 18)  # fixed: auto-width lags one paint behind the labels
    bar.setMinimumWidth(COLORBAR_WIDTH)
    return bar


def show_scale(bar: pg.ColorBarItem, scale: Scale, opacity: float, value_label: str) -> None:
    """`bar` shows `scale` in the overlay's colours at `opacity`, labelled with what the value is."""
    bar.setColorMap(colorbar_map(scale, opacity))
    bar.setLevels((scale.vmin, scale.vmax))
    axis = bar.getAxis("right")
    axis.setLabel(_lines(value_label) or None, color="#d0d0d0", **{"font-size": "8pt"})
    axis.resizeEvent()  # places the label by its new height; a fixed-width axis is not resized


def _lines(text: str) -> str:
    """A value label as rich text broken after each comma, so that it fits along a short bar."""
    return "<br>".join(html.escape(part) for part in text.split(", "))


class OverlayView(pg.ViewBox):
    """Image + heatmap in image pixel coordinates (y down, square pixels)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, **kwargs)
        self.base = pg.ImageItem(levels=(0, 255))
        #: The composite at full opacity; its item opacity is the Display panel's.
        self.heat = pg.ImageItem()
        self.heat.setZValue(1)
        self.note = pg.TextItem(color="#f0f0f0", fill=pg.mkBrush(0, 0, 0, 170), anchor=(0.5, 0.5))
        self.note.setZValue(2)
        self.note.hide()
        self.addItem(self.base)
        self.addItem(self.heat)
        self.addItem(self.note, ignoreBounds=True)
        self._map: np.ndarray | None = None
        #: The colour scale of the map shown (its range, colormap and sign).
        self.scale = _NO_SCALE

    def set_image(self, gray: np.ndarray) -> None:
        self.base.setImage(gray, levels=(0, 255))
        self.clear_map()
        self.autoRange(padding=0.02)

    def set_map(self, values: np.ndarray, levels: tuple[float, float], cmap: str, signed: bool) -> None:
        """Show `values` over the image on the scale `levels` of `cmap` (diverging around
        zero when `signed`), composited as the figures are."""
        self._map = values
        self.scale = Scale(float(levels[0]), float(levels[1]), cmap, signed=signed)
        self.heat.setImage(composite(self.base.image, values, self.scale, 1.0), levels=(0, 255))
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

    def value_at(self, x: int, y: int) -> float | None:
        """The map's value over image pixel (x, y), None when no map is shown. A map may
        lie on a coarser grid than the image (`Explanation.maps`, issue 26) or be one
        row of columns: the cell covering the pixel is read."""
        if self._map is None:
            return None
        values = np.atleast_2d(self._map)
        h, w = self.image_size()
        row = min(y * values.shape[0] // max(h, 1), values.shape[0] - 1)
        col = min(x * values.shape[1] // max(w, 1), values.shape[1] - 1)
        return float(values[row, col])

    def set_opacity(self, opacity: float) -> None:
        """The map's weight where strongest, as `composite`'s `opacity` (see the module's doc)."""
        self.heat.setOpacity(opacity)

    @property
    def opacity(self) -> float:
        return float(self.heat.opacity())

    def image_size(self) -> tuple[int, int]:
        """(height, width) of the image shown, (0, 0) when none."""
        img = self.base.image
        return (0, 0) if img is None else (int(img.shape[0]), int(img.shape[1]))
