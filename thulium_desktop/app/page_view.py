"""The page view: a whole scan with every line's polygon, coloured by how well it reads.

A page's lines are read one by one (each a corpus item cut out of the page); this view
puts them back where they are on the scan, so a user sees at a glance which lines of a
page the model gets wrong, clicks one to open it in the canvas and timeline
(`lineChosen`), and sees the selected character's map drawn back inside that line's
polygon, in page coordinates (`show_line_map`).

Each line is coloured by its CER against the layout's truth or, without a truth, by
how unsure the model is (one minus its lowest character confidence), both on the
colour-blind-safe scale the maps use, in `STEPS` steps: solid outlines for CER,
dashed for confidence, grey dotted for lines not read yet. The legend under the page
says so. The rule is `render.page_figure`'s, which the exported page figure draws too.

Scans are large (4000 x 6000 pixels and more), so the view stays light. The scan is
one `ImageItem` showing the level of a pyramid (halved by area averaging, built once per
page) nearest above the screen's resolution, chosen again when the zoom changes, and of
that level only the part around the view (`tile_for`):
pyqtgraph's own `autoDownsample` averages the full scan anew at every zoom step, which
measured 0.3 to 1.2 s per step on a 4000 x 6000 scan (benchmarks/page_view.py), where a
level switch costs a few milliseconds. The outlines are one path item per colour step
and style (at most `2 * STEPS + 2` items whatever the page's number of lines); clicks
find their line by testing the polygons, not by an item per line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QGraphicsPathItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from thulium_desktop.app.canvas import BACKGROUND
from thulium_desktop.app.document_tree import Document
from thulium_desktop.app.files import ImageStats
from thulium_desktop.app.screen_colours import map_levels
from thulium_desktop.io.corpus import CorpusItem
from thulium_desktop.io.documents import fit_to_image
from thulium_desktop.io.layout import Line
from thulium_desktop.io.line_images import cut_line, line_to_page
from thulium_desktop.render.colormaps import CmapSpec, Scale
from thulium_desktop.render.overlay import DEFAULT_OPACITY, composite, display_gray, fit_map
from thulium_desktop.render.page_figure import LINE_CMAP, STEPS, UNREAD_COLOUR, LineMark, step_of, step_rgb
from thulium_desktop.render.page_figure import line_mark as mark_of_numbers

#: The selected line's outline.
SELECTED_COLOUR = "#ff2d95"
#: How much of each outline's colour fills its polygon (0..255): enough to find a line
#: on a page zoomed out, little enough to read the ink through.
FILL_ALPHA = 45
OUTLINE_WIDTH = 2.0
#: The pyramid stops halving the scan once its longer side is at most this.
SMALLEST_LEVEL = 1024


def line_mark(stats: ImageStats | None) -> LineMark | None:
    """A line's mark from its numbers (`render.page_figure.line_mark`); None when it has
    not been read."""
    return None if stats is None else mark_of_numbers(stats.cer, stats.min_confidence)


def page_gray(image: np.ndarray) -> np.ndarray:
    """The scan as the canvas shows an image (`display_gray`), quickly for the common
    8-bit scans: `display_gray` goes through float32, two seconds on the GUI thread for
    a 4000 x 6000 colour scan, where OpenCV's conversion (the same luma weights) takes
    milliseconds."""
    if image.dtype == np.uint8 and image.ndim == 2:
        return image
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return display_gray(image)


def pyramid(gray: np.ndarray) -> list[np.ndarray]:
    """`gray` and its halvings (area-averaged, so thin strokes stay visible) down to
    `SMALLEST_LEVEL` pixels on the longer side: level k has 1 / 2**k of the pixels per side."""
    levels = [gray]
    while max(levels[-1].shape) > SMALLEST_LEVEL:
        h, w = levels[-1].shape
        levels.append(cv2.resize(levels[-1], (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA))
    return levels


def level_for(scan_pixels_per_screen_pixel: float, count: int) -> int:
    """The pyramid level to draw at a zoom: the coarsest with at least one of its pixels
    per screen pixel (nothing drawn coarser than the screen shows)."""
    if scan_pixels_per_screen_pixel <= 1.0:
        return 0
    return min(count - 1, int(np.floor(np.log2(scan_pixels_per_screen_pixel))))


def tile_for(visible: tuple[float, float, float, float], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The part of a pyramid level to draw, as (c0, r0, c1, r1) in its pixels (ends
    exclusive): the `visible` box (x0, y0, x1, y1, in the level's pixels) grown by half
    its size on every side, within the level. Drawing only that keeps each paint to a
    few screens' worth of pixels at 1:1 (the whole 4000 x 6000 scan cost each paint
    tens of milliseconds), and panning redraws nothing new until it leaves the margin."""
    x0, y0, x1, y1 = visible
    grow_x, grow_y = (x1 - x0) / 2, (y1 - y0) / 2
    height, width = shape
    c0 = int(np.clip(np.floor(x0 - grow_x), 0, width - 1))
    r0 = int(np.clip(np.floor(y0 - grow_y), 0, height - 1))
    c1 = int(np.clip(np.ceil(x1 + grow_x), c0 + 1, width))
    r1 = int(np.clip(np.ceil(y1 + grow_y), r0 + 1, height))
    return c0, r0, c1, r1


def step_colour(step: int) -> QColor:
    """The colour of a step, as the page figure draws it (`render.page_figure.step_rgb`)."""
    return QColor(*step_rgb(step))


class PageView(QWidget):
    """A page scan with its line polygons; `lineChosen(item)` when a line is clicked."""

    lineChosen = Signal(object)  # the line's CorpusItem

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(BACKGROUND)
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.graphics.addItem(self.view)
        self.scan = pg.ImageItem()
        self.heat = pg.ImageItem()
        self.heat.setZValue(2)
        self.view.addItem(self.scan)
        self.view.addItem(self.heat)
        #: One outline item per (step, CER or not), plus the unread lines': few items.
        self.outlines: dict[tuple[int, bool] | None, QGraphicsPathItem] = {}
        self.selected = self._path_item(QPen(QColor(SELECTED_COLOUR), OUTLINE_WIDTH + 1.5), z=3)
        self.legend = PageLegend()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.legend)
        self.graphics.scene().sigMouseClicked.connect(self._on_clicked)
        self.view.sigRangeChanged.connect(self._show_level)
        self.view.sigResized.connect(self._show_level)
        self.document: Document | None = None
        self._page: np.ndarray | None = None
        self._gray: np.ndarray | None = None
        self._levels: list[np.ndarray] = []
        self._page_rect = QRectF()
        #: The part of the page the scan item holds now, in page pixels.
        self._tile = QRectF()
        #: The pyramid level drawn now (0: the scan's own pixels).
        self.level: int | None = None
        self._lines: dict[str, Line] = {}  # fitted to the scan's pixels, by id, reading order
        self._shapes: dict[str, QPolygonF] = {}
        self._marks: dict[str, LineMark] = {}
        self.selected_id: str | None = None

    # -- content ---------------------------------------------------------------------
    def show_page(self, document: Document, image: np.ndarray) -> tuple[str, ...]:
        """Show `document`'s scan (`image`, already decoded) with its lines, none read
        yet; the notes on fitting the layout to the scan (coordinates scaled). Raises
        `LayoutError` when the scan is not the page the layout describes."""
        height, width = image.shape[:2]
        fitted, notes = fit_to_image(document.layout, document.image, (width, height))
        self.document = document
        self._page = image
        self._gray = page_gray(image)
        self._levels = pyramid(self._gray)
        self._page_rect = QRectF(0, 0, width, height)
        self.level = None
        self._lines = {line.id: line for line in fitted.lines}
        self._shapes = {line.id: QPolygonF([QPointF(x, y) for x, y in line.polygon]) for line in fitted.lines}
        self._marks = {}
        self.selected_id = None
        self.clear_map()
        self._draw_outlines()
        self.selected.setPath(QPainterPath())
        self.view.setRange(QRectF(0, 0, width, height), padding=0.02)
        self._show_level()
        return notes

    def show_stats(self, stats: Mapping[object, ImageStats]) -> None:
        """Colour each line of the page by its numbers in `stats` (keyed by its
        `CorpusItem`, as the Images list's are); lines absent stay "not read"."""
        if self.document is None:
            return
        marks = {item.line.line.id: line_mark(stats.get(item)) for item in self.document.lines}
        self._marks = {line_id: mark for line_id, mark in marks.items() if mark is not None}
        self._draw_outlines()

    def select_line(self, line_id: str) -> None:
        """Outline the line open in the canvas (without announcing a choice)."""
        self.selected_id = line_id
        path = QPainterPath()
        if line_id in self._shapes:
            path.addPolygon(self._shapes[line_id])
            path.closeSubpath()
        self.selected.setPath(path)

    def show_line_map(self, line_id: str, line_map: np.ndarray, levels: tuple[float, float] | None = None,
                      cmap: CmapSpec = LINE_CMAP, signed: bool = False, opacity: float = DEFAULT_OPACITY) -> None:
        """Draw a map computed on a line (`[H, W]` in the line image's pixels, or any
        shape the canvas accepts: a coarser grid, a 1-D column profile; `fit_map` brings
        it to the line's pixels) onto the page inside that
        line's polygon, coloured as the canvas colours it (`levels`: the canvas's, else
        the map's own). Raises KeyError for a line the page does not have."""
        if line_id not in self._lines:
            raise KeyError(f"the page has no line {line_id!r}")
        cut = cut_line(self._page, self._lines[line_id])
        box_h, box_w = cut.mask.shape
        fitted = fit_map(line_map, (box_h, box_w))
        values = line_to_page(fitted, replace(cut, offset=(0, 0)), (box_h, box_w))  # NaN outside the polygon
        lo, hi = levels if levels is not None else map_levels(values, signed)
        x, y = cut.offset
        colours = composite(self._gray[y:y + box_h, x:x + box_w], np.nan_to_num(values, nan=lo),
                            Scale(float(lo), float(hi), cmap, signed=signed), opacity)
        alpha = np.where(cut.mask, 255, 0).astype(np.uint8)
        self.heat.setImage(np.dstack([colours, alpha]), levels=(0, 255))
        self.heat.setRect(QRectF(x, y, box_w, box_h))
        self.heat.setVisible(True)

    def clear_map(self) -> None:
        self.heat.clear()
        self.heat.setVisible(False)

    def line_at(self, x: float, y: float) -> CorpusItem | None:
        """The line whose polygon holds page point (x, y); the first in reading order
        where polygons overlap; None between lines."""
        if self.document is None:
            return None
        point = QPointF(x, y)
        for line_id, shape in self._shapes.items():
            if shape.containsPoint(point, Qt.FillRule.OddEvenFill):
                return self.document.line(line_id)
        return None

    def mark_of(self, line_id: str) -> LineMark | None:
        """How a line is coloured now (None: not read)."""
        return self._marks.get(line_id)

    # -- internals -------------------------------------------------------------------
    def _show_level(self, *_: object) -> None:
        """Draw the pyramid level for the current zoom: the part of it around what is in
        view (`tile_for`), kept while panning stays inside it."""
        if not self._levels:
            return
        visible = self.view.viewRect()
        device_pixels = self.view.boundingRect().width() * self.graphics.devicePixelRatioF()
        if device_pixels <= 0:
            return  # not laid out yet: sized (and called again) when shown
        level = level_for(visible.width() / device_pixels, len(self._levels))
        if level == self.level and self._tile.contains(visible.intersected(self._page_rect)):
            return
        self.level = level
        pixels = self._levels[level]
        sx, sy = self._page_rect.width() / pixels.shape[1], self._page_rect.height() / pixels.shape[0]
        c0, r0, c1, r1 = tile_for((visible.left() / sx, visible.top() / sy, visible.right() / sx,
                                   visible.bottom() / sy), pixels.shape)
        self._tile = QRectF(c0 * sx, r0 * sy, (c1 - c0) * sx, (r1 - r0) * sy)
        self.scan.setImage(pixels[r0:r1, c0:c1], levels=(0, 255))
        self.scan.setRect(self._tile)

    def _draw_outlines(self) -> None:
        """Group the polygons by colour step and style into one path each."""
        paths: dict[tuple[int, bool] | None, QPainterPath] = {}
        for line_id, shape in self._shapes.items():
            mark = self._marks.get(line_id)
            key = None if mark is None else (step_of(mark.value), mark.is_cer)
            path = paths.setdefault(key, QPainterPath())
            path.addPolygon(shape)
            path.closeSubpath()
        for key, item in self.outlines.items():
            item.setPath(paths.pop(key, QPainterPath()))
        for key, path in paths.items():
            self.outlines[key] = self._outline_item(key)
            self.outlines[key].setPath(path)

    def _outline_item(self, key: tuple[int, bool] | None) -> QGraphicsPathItem:
        if key is None:
            return self._path_item(outline_pen(QColor(UNREAD_COLOUR), Qt.PenStyle.DotLine), z=1)
        step, is_cer = key
        colour = step_colour(step)
        style = Qt.PenStyle.SolidLine if is_cer else Qt.PenStyle.DashLine
        return self._path_item(outline_pen(colour, style), z=1, fill=colour)

    def _path_item(self, pen: QPen, z: float, fill: QColor | None = None) -> QGraphicsPathItem:
        item = QGraphicsPathItem()
        pen.setCosmetic(True)  # the same width on screen at every zoom
        item.setPen(pen)
        if fill is not None:
            item.setBrush(QBrush(QColor(fill.red(), fill.green(), fill.blue(), FILL_ALPHA)))
        item.setZValue(z)
        self.view.addItem(item, ignoreBounds=True)
        return item

    def _on_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self.view.sceneBoundingRect().contains(event.scenePos()):
            return
        point = self.view.mapSceneToView(event.scenePos())
        item = self.line_at(point.x(), point.y())
        if item is not None:
            self.select_line(item.line.line.id)
            self.lineChosen.emit(item)


def outline_pen(colour: QColor, style: Qt.PenStyle) -> QPen:
    pen = QPen(colour, OUTLINE_WIDTH)
    pen.setStyle(style)
    return pen


class PageLegend(QWidget):
    """What the outlines' colours and styles mean: the scale's steps from 0% to 100%."""

    SWATCH = 22

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scale = QLabel()
        self.scale.setPixmap(self._scale_pixmap())
        self.text = QLabel(
            "line colour: <b>CER</b> against the truth (solid outline) · without a truth, "
            "<b>1 − lowest confidence</b> (dashed) · not read yet: grey dotted"
        )
        self.text.setWordWrap(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)
        row.addWidget(self.scale)
        row.addWidget(self.text, 1)

    def _scale_pixmap(self) -> QPixmap:
        """The steps as swatches with "0%", "50%" and "≥100%" under them."""
        width, height = self.SWATCH * STEPS, self.SWATCH + 14
        pixmap = QPixmap(width, height)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        for step in range(STEPS):
            painter.fillRect(step * self.SWATCH, 0, self.SWATCH, self.SWATCH - 6, step_colour(step))
        font = QFont(painter.font())
        font.setPointSizeF(7.5)
        painter.setFont(font)
        painter.setPen(self.palette().text().color())
        label_top = self.SWATCH - 4
        flags = Qt.AlignmentFlag.AlignTop
        painter.drawText(QRectF(0, label_top, 40, 14), flags | Qt.AlignmentFlag.AlignLeft, "0%")
        painter.drawText(QRectF(width / 2 - 20, label_top, 40, 14), flags | Qt.AlignmentFlag.AlignHCenter, "50%")
        painter.drawText(QRectF(width - 40, label_top, 40, 14), flags | Qt.AlignmentFlag.AlignRight, "≥100%")
        painter.end()
        return pixmap
