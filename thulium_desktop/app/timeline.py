"""The token timeline: one clickable cell per read character, under where it was read.

Cells sit below the canvas at the x where the model read each character (its
attention centre), follow the canvas's zoom and pan, and are pushed apart just
enough not to overlap; a thin leader connects each cell to its true position.

Against a ground truth, errors are marked by colour *and* shape, so they read
without colour vision: a substitution has a solid border and the true character
in its corner, an insertion a dashed border and a "+", and a deletion (a truth
character the model skipped) a tag with that character above the gap.

A right-to-left reading (Hebrew, Arabic) keeps its tokens in logical order, but its
characters were read leftwards, so its cells run right to left on screen: each cell
still sits under its own glyph, whatever the direction.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolTip, QWidget

from thulium_desktop.app.glyphs import shown_char
from thulium_desktop.app.view_model import ALL
from thulium_desktop.xai.ground_truth import DELETION, INSERTION, MATCH, SUBSTITUTION, Comparison

#: Characters below this confidence are marked as doubtful.
LOW_CONFIDENCE = 0.5

CELL_MIN_WIDTH = 16.0
CELL_MAX_WIDTH = 40.0
CELL_GAP = 2.0
ALL_WIDTH = 38.0
LEADER = 16.0  # the band above the cells: leaders, and the tags of deletions
TAG_HEIGHT = 13.0
TAG_MIN_WIDTH = 12.0
#: Where a character outside the zoomed view has its cell: beyond the widget, unseen.
OFF_VIEW = 1e5
#: Okabe & Ito's colour-blind-safe palette: vermillion, blue, reddish purple.
EDIT_COLOURS = {SUBSTITUTION: "#D55E00", INSERTION: "#0072B2", DELETION: "#CC79A7"}


def confidence_colour(conf: float) -> QColor:
    """Red (0) through amber to green (1): the bar under each character."""
    hue = 120.0 * float(np.clip(conf, 0.0, 1.0)) / 360.0
    return QColor.fromHsvF(hue, 0.75, 0.85)


def cell_width(centres: Sequence[float], available: float) -> float:
    """As wide as the characters are apart on screen, so each cell sits under its own
    character; at least legible (CELL_MIN_WIDTH), at most CELL_MAX_WIDTH, and never so
    wide that the cells cannot all fit."""
    n = len(centres)
    fit = available / max(n, 1) - CELL_GAP
    spacing = float(np.median(np.diff(np.sort(centres)))) - CELL_GAP if n > 1 else CELL_MAX_WIDTH
    return float(max(min(spacing, CELL_MAX_WIDTH, fit), min(CELL_MIN_WIDTH, fit)))


def spread(centres: Sequence[float], width: float | Sequence[float], lo: float, hi: float) -> np.ndarray:
    """Left edges for boxes of `width` (one for all, or one each) as near their sorted
    `centres` as possible without overlapping, kept inside [lo, hi] when they fit."""
    n = len(centres)
    widths = np.broadcast_to(np.asarray(width, dtype=np.float64), (n,))
    left = np.asarray(centres, dtype=np.float64) - widths / 2
    for i in range(n):  # push right past the previous box (and the left bound)
        floor = lo if i == 0 else left[i - 1] + widths[i - 1] + CELL_GAP
        left[i] = max(left[i], floor)
    for i in range(n - 1, -1, -1):  # then pull back inside the right bound
        ceiling = hi - widths[i] if i == n - 1 else left[i + 1] - widths[i] - CELL_GAP
        left[i] = min(left[i], ceiling)
    if n and left[0] < lo:  # too many to fit: pack from the left
        left = lo + np.concatenate(([0.0], np.cumsum(widths[:-1] + CELL_GAP)))
    return left


def fitted_widths(widths: Sequence[float], room: float) -> np.ndarray:
    """`widths` as they are when they fit side by side in `room`, else each cut to an
    equal share of it (never below TAG_MIN_WIDTH): the boxes' texts are elided."""
    widths = np.asarray(widths, dtype=np.float64)
    if widths.sum() + CELL_GAP * max(len(widths) - 1, 0) <= room:
        return widths
    return np.minimum(widths, max(TAG_MIN_WIDTH, room / max(len(widths), 1) - CELL_GAP))


class TokenTimeline(QWidget):
    """Clickable character cells. A click or key emits `selected` with the index asked
    for (or ALL); the cell drawn as selected is the view model's choice (`show_current`),
    which keeps the index inside the reading."""

    selected = Signal(int)

    def __init__(self, image_x_to_widget: Callable[[float], float], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._to_widget = image_x_to_widget
        self._tokens: tuple[str, ...] = ()
        self._confidences = np.zeros(0)
        self._centres = np.zeros(0)
        self._comparison: Comparison | None = None
        self._current = 0
        self._placeholder = "The characters the model reads will appear here, under where it read them."
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.35)
        self._char_font = font
        self._badge_font = QFont(self.font())
        self._badge_font.setBold(True)
        self._badge_font.setPointSizeF(self.font().pointSizeF() * 0.8)

    def sizeHint(self) -> QSize:
        return QSize(400, 64)

    def minimumSizeHint(self) -> QSize:
        return QSize(120, 64)

    # -- state -----------------------------------------------------------------------
    def set_reading(self, tokens: Sequence[str], confidences: np.ndarray, centres: np.ndarray) -> None:
        """Show a reading: its tokens in logical order, each read at image x `centres[i]`
        (increasing for a left-to-right line, decreasing for a right-to-left one)."""
        self._tokens = tuple(tokens)
        self._confidences = np.asarray(confidences, dtype=np.float64)
        self._centres = np.asarray(centres, dtype=np.float64)
        self.update()

    def set_comparison(self, comparison: Comparison | None) -> None:
        """Mark the reading's errors against its truth (None: no truth, no marks)."""
        self._comparison = comparison
        self.update()

    @property
    def comparison(self) -> Comparison | None:
        return self._comparison

    def clear(self, placeholder: str) -> None:
        self._comparison = None
        self._tokens = ()
        self._confidences = np.zeros(0)
        self._centres = np.zeros(0)
        self._placeholder = placeholder
        self.update()

    @property
    def count(self) -> int:
        return len(self._tokens)

    @property
    def current(self) -> int:
        return self._current

    def select(self, index: int) -> None:
        """Ask for a character (or ALL): emits `selected`, unless there are none to select."""
        if self._tokens:
            self.selected.emit(index)

    def show_current(self, index: int) -> None:
        """Draw `index` as the selected cell (without emitting: it is selected already)."""
        if index != self._current:
            self._current = index
            self.update()

    @property
    def right_to_left(self) -> bool:
        """Whether the reading runs leftwards on the image (its last character left of its first)."""
        return len(self._centres) > 1 and bool(self._centres[-1] < self._centres[0])

    def screen_order(self) -> list[int]:
        """ALL, then the characters from leftmost to rightmost on screen: the order the arrow
        keys walk, so that they move the way the cells lie, whatever the script's direction."""
        return [ALL, *np.argsort(self._centres, kind="stable").tolist()]

    def _step(self, offset: int) -> None:
        """Select the cell `offset` places right (+) or left (-) of the current one on
        screen, stopping at ALL on the left and at the rightmost character."""
        order = self.screen_order()
        at = order.index(self._current) if self._current in order else 0
        self.select(order[min(max(at + offset, 0), len(order) - 1)])

    @Slot()
    def step_back(self) -> None:
        """Left arrow: the character on the left on screen (the next one in a right-to-left
        script), then ALL, which sits left of every character; stops there."""
        self._step(-1)

    @Slot()
    def step_forward(self) -> None:
        """Right arrow: the character on the right on screen; stops at the rightmost."""
        self._step(+1)

    @Slot()
    def select_first(self) -> None:
        """Home: the first character read, as Home goes to a line's start in a text editor
        (the rightmost cell in a right-to-left script)."""
        self.select(0)

    @Slot()
    def select_last(self) -> None:
        """End: the last character read (the leftmost cell in a right-to-left script)."""
        self.select(len(self._tokens) - 1)

    # -- geometry --------------------------------------------------------------------
    def cell_rect(self, index: int) -> QRectF:
        """Rectangle of a cell in widget coordinates (ALL = the "all" cell)."""
        top, height = LEADER, self.height() - LEADER - 2
        if index == ALL:
            return QRectF(2, top, ALL_WIDTH, height)
        return self._cell_rects()[index]

    def _bounds(self) -> tuple[float, float]:
        """The span of x where cells go: right of the "all" cell, inside the widget."""
        return ALL_WIDTH + 8, float(self.width() - 2)

    def _cell_rects(self) -> list[QRectF]:
        """Cells under the characters in view, spread apart; a character zoomed out of
        view has its cell beyond the widget, so that it neither shows nor pushes the
        cells in view away from their characters. A character in view under the "all"
        cell (a line drawn from the widget's left edge) has its cell just right of it."""
        if not self._tokens:
            return []
        lo, hi = self._bounds()
        centres = np.array([self._to_widget(c) for c in self._centres])
        in_view = (centres >= 0) & (centres <= self.width())
        width = cell_width(centres[in_view] if in_view.any() else centres, hi - lo)
        lefts = np.where(centres < 0, -OFF_VIEW, OFF_VIEW)
        shown = np.flatnonzero(in_view)
        shown = shown[np.argsort(centres[shown], kind="stable")]  # spread wants them left to right
        lefts[shown] = spread(centres[shown], width, lo, hi)
        top, height = LEADER, self.height() - LEADER - 2
        return [QRectF(x, top, width, height) for x in lefts]

    def _in_view(self, rect: QRectF) -> bool:
        return -OFF_VIEW < rect.left() < OFF_VIEW

    def gap_x(self, gap: int) -> float:
        """x of gap `gap`, between characters gap - 1 and gap in reading order: just
        before cell `gap` (on its left, or on its right in a right-to-left reading); after
        the last cell for gap == count."""
        rects = self._cell_rects()
        rtl = self.right_to_left
        before = self._beside(rects[gap - 1], left=rtl) if gap > 0 else None
        after = self._beside(rects[gap], left=not rtl) if gap < len(rects) else None
        if before is None or (after is not None and not self._in_view(rects[gap - 1])):
            return after
        if after is None or not self._in_view(rects[gap]):
            return before
        return (before + after) / 2

    @staticmethod
    def _beside(rect: QRectF, left: bool) -> float:
        """x just outside a cell, on its left or its right side."""
        return rect.left() - CELL_GAP / 2 if left else rect.right() + CELL_GAP / 2

    def deletion_rect(self, gap: int) -> QRectF:
        """The tag naming the truth characters missed at gap `gap`."""
        return self._deletion_rects()[gap]

    def _deletion_rects(self) -> dict[int, QRectF]:
        """Each tag of missed truth characters over its gap, pushed apart where gaps are
        close (a long line can miss characters at neighbouring gaps) and narrowed, its
        text elided, where they cannot all fit side by side."""
        lo, hi = self._bounds()
        xs = {g: self.gap_x(g) for g in (self._comparison.missed if self._comparison else ())}
        gaps = sorted((g for g, x in xs.items() if lo - CELL_GAP <= x <= hi + CELL_GAP), key=xs.get)  # in view
        if not gaps:
            return {}
        metrics = QFontMetricsF(self._badge_font)
        natural = [max(TAG_MIN_WIDTH, metrics.horizontalAdvance(self._missed_text(g)) + 6.0) for g in gaps]
        widths = fitted_widths(natural, hi - 2.0)
        lefts = spread([xs[g] for g in gaps], widths, 2.0, hi)
        return {g: QRectF(x, 0, w, TAG_HEIGHT) for g, x, w in zip(gaps, lefts, widths)}

    def deletion_at(self, x: float, y: float) -> int | None:
        """The gap whose deletion tag is at (x, y), if any."""
        for gap, rect in self._deletion_rects().items():
            if rect.contains(x, y):
                return gap
        return None

    def index_at(self, x: float, y: float) -> int | None:
        if self.cell_rect(ALL).contains(x, y):
            return ALL
        for i, rect in enumerate(self._cell_rects()):
            if rect.contains(x, y):
                return i
        return None

    # -- events ----------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self.index_at(event.position().x(), event.position().y())
        if index is not None and self._tokens:
            self.select(index)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        tip = self.tooltip_at(event.position().x(), event.position().y())
        if tip:
            QToolTip.showText(event.globalPosition().toPoint(), tip, self)
        else:
            QToolTip.hideText()

    def tooltip_at(self, x: float, y: float) -> str:
        """What the tooltip says at (x, y): the character, its confidence, its error."""
        if not self._tokens:
            return ""
        gap = self.deletion_at(x, y)
        if gap is not None:
            return f"Deletion: truth '{self._missed_text(gap)}' missed here"
        index = self.index_at(x, y)
        if index is None:
            return ""
        if index == ALL:
            return "The whole reading"
        tip = f"'{shown_char(self._tokens[index])}'  #{index + 1}  confidence {self._confidences[index]:.0%}"
        return tip + self._error_note(index)

    def _error_note(self, index: int) -> str:
        kind = self._edit_kind(index)
        read = shown_char(self._tokens[index])
        if kind == SUBSTITUTION:
            return f"\nSubstitution: read '{read}', truth '{self._comparison.truth_chars[index]}'"
        if kind == INSERTION:
            return f"\nInsertion: read '{read}', not in the truth"
        return ""

    def _edit_kind(self, index: int) -> str:
        return self._comparison.kinds[index] if self._comparison else MATCH

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        if not self._tokens:
            painter.setPen(pal.placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            return
        rects = self._cell_rects()
        shown = [i for i, rect in enumerate(rects) if self._in_view(rect)]
        painter.setPen(QPen(pal.mid().color(), 1))
        for i in shown:
            x = self._to_widget(self._centres[i])
            painter.drawLine(int(x), 0, int(rects[i].center().x()), int(rects[i].top()))
        self._paint_cell(painter, self.cell_rect(ALL), "all", None, self._current == ALL)
        for i in shown:
            self._paint_cell(painter, rects[i], shown_char(self._tokens[i]), self._confidences[i], i == self._current)
            self._paint_edit(painter, rects[i], i)
        for gap, tag in self._deletion_rects().items():
            self._paint_deletion(painter, gap, tag)

    def _paint_cell(self, painter: QPainter, rect: QRectF, text: str, conf: float | None, current: bool) -> None:
        pal = self.palette()
        if current:
            fill, border = pal.highlight().color(), pal.highlight().color().darker(130)
        elif conf is not None and conf < LOW_CONFIDENCE:
            fill, border = QColor("#fbe3d6"), QColor("#d9825b")
        else:
            fill, border = pal.base().color(), pal.mid().color()
        painter.setPen(QPen(border, 2 if current else 1))
        painter.setBrush(fill)
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        text_rect = QRectF(rect.left(), rect.top(), rect.width(), rect.height() - 6)
        painter.setPen(pal.highlightedText().color() if current else pal.text().color())
        painter.setFont(self._char_font if conf is not None else self.font())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignCenter, text)
        if conf is not None:
            bar = QRectF(rect.left() + 3, rect.bottom() - 6, (rect.width() - 6) * float(conf), 3)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(confidence_colour(conf))
            painter.drawRect(bar)


    def _paint_edit(self, painter: QPainter, rect: QRectF, index: int) -> None:
        """A substitution's solid border and true character, an insertion's dashes and "+"."""
        kind = self._edit_kind(index)
        if kind == MATCH:
            return
        colour = QColor(EDIT_COLOURS[kind])
        style = Qt.PenStyle.SolidLine if kind == SUBSTITUTION else Qt.PenStyle.DashLine
        painter.setPen(QPen(colour, 2.5, style))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(1.5, 1.5, -1.5, -1.5), 4, 4)
        badge = shown_char(self._comparison.truth_chars[index]) if kind == SUBSTITUTION else "+"
        self._paint_tag(painter, self._badge_rect(rect, badge), colour, badge)

    def _badge_rect(self, cell: QRectF, text: str) -> QRectF:
        """A small tab on the cell's top-right corner, reaching into the band above."""
        width = max(11.0, QFontMetricsF(self._badge_font).horizontalAdvance(text) + 5.0)
        return QRectF(cell.right() - width + 2, cell.top() - 7, width, 13)

    def _paint_tag(self, painter: QPainter, rect: QRectF, colour: QColor, text: str) -> None:
        """White bold text on a filled tab: legible on any cell, selected or not."""
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(rect, 3, 3)
        painter.setFont(self._badge_font)
        painter.setPen(QColor("white"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_deletion(self, painter: QPainter, gap: int, tag: QRectF) -> None:
        """A tag above the gap with the missed characters (elided where tags are crowded),
        and a bar from it down into the gap."""
        colour = QColor(EDIT_COLOURS[DELETION])
        x = self.gap_x(gap)
        painter.setPen(QPen(colour, 2.5))
        painter.drawLine(QPointF(tag.center().x(), tag.bottom()), QPointF(x, LEADER))
        painter.drawLine(QPointF(x, LEADER), QPointF(x, self.height() - 4))
        text = QFontMetricsF(self._badge_font).elidedText(self._missed_text(gap), Qt.TextElideMode.ElideRight,
                                                           tag.width() - 4)
        self._paint_tag(painter, tag, colour, text)

    def _missed_text(self, gap: int) -> str:
        return "".join(map(shown_char, self._comparison.missed[gap])) if self._comparison else ""


def bidi_isolated(text: str) -> str:
    """`text` between Unicode's first-strong isolate marks (FSI, PDI): laid out in its own
    direction, set by its first letter, so that a right-to-left reading keeps its trailing
    punctuation on its left and does not mix with the left-to-right words around it."""
    return f"\u2068{text}\u2069"


def reading_html(tokens: Sequence[str], confidences: np.ndarray) -> str:
    """The reading as rich text, doubtful characters in red and underlined."""
    parts = []
    for token, conf in zip(tokens, confidences):
        char = html.escape(token)
        if conf < LOW_CONFIDENCE:
            parts.append(f'<span style="color:#c0392b; text-decoration:underline">{char}</span>')
        else:
            parts.append(char)
    return "".join(parts)


class ReadingLabel(QLabel):
    """“Reads: hello  (mean confidence 87%, 1 doubtful)”, selectable for copying."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setTextFormat(Qt.TextFormat.RichText)

    def show_reading(self, tokens: Sequence[str], confidences: np.ndarray) -> None:
        if not tokens:
            self.setText("Reads: <i>nothing</i> (the model found no characters)")
            return
        doubtful = int(np.sum(np.asarray(confidences) < LOW_CONFIDENCE))
        note = f"mean confidence {float(np.mean(confidences)):.0%}"
        if doubtful:
            note += f', <span style="color:#c0392b">{doubtful} below {LOW_CONFIDENCE:.0%}</span>'
        reading = bidi_isolated(reading_html(tokens, confidences))
        big = f'<span style="font-size:large; font-family:monospace">{reading}</span>'
        self.setText(f"Reads: {big} &nbsp; ({note})")

    def show_status(self, text: str) -> None:
        self.setText(html.escape(text))
