"""What the Trust panel draws for one character: its interpretation in words and
numbers, its deletion/insertion curves and its sanity check, as small plots, in three
columns set side by side in a wide dock or stacked in a narrow one.

Pure display over a finished `TrustReport`: no requests, no state beyond what is
shown (the panel in `trust_panel.py` decides what to show and when).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QBoxLayout,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from thulium_desktop.xai.diagnostics import (
    BACKGROUND_THRESHOLD,
    COLUMN_MASS_THRESHOLD,
    FAMILY_ATTENTION,
    FOCUS_LIFT,
    LABELS,
    LOCALISATION_LIMIT,
    MAX_INK_SHARE,
    NO_VERDICT,
    SPREAD_MASS,
    MapDiagnostics,
    focus_threshold,
)
from thulium_desktop.xai.sanity import INSENSITIVE_CORRELATION

if TYPE_CHECKING:
    from thulium_desktop.xai.faithfulness import Curves
    from thulium_desktop.xai.sanity import SanityResult
    from thulium_desktop.xai.trust import TrustReport

#: Label colours: each family's verdicts read as good / doubtful / bad; no verdict is grey.
LABEL_COLOURS = {label: colour for labels in LABELS.values()
                 for label, colour in zip(labels, ("#2e7d32", "#9a6700", "#c62828"))}
WITHHELD_COLOUR = "#505050"
#: The measures listed, in order; which of them decide the verdict depends on the family.
MEASURES = ("Stroke focus", "Spread", "Background", "Localisation", "Column mass")
MODE_COLOURS = {"deletion": "#c62828", "insertion": "#1565c0"}
CHARACTER_COLOUR = "#6a1b9a"
BAND_ALPHA = 50
#: A plot's height stacked in a narrow dock; side by side in a low one, it takes the
#: dock's height, down to what its axis labels need (`SmallPlot.label_room`).
PLOT_HEIGHT = 150
#: Room a plot needs besides its axis labels' lengths: the other axis (numbers and
#: label) and the margins.
AXIS_ROOM = QSize(64, 44)
UNBOUNDED = 16777215  # Qt's QWIDGETSIZE_MAX, which PySide6 does not export
FLAG_STYLE = "background: #fdecea; border: 1px solid #e0a39c; border-radius: 4px; color: #7a1f16; padding: 2px 4px;"
PASS_STYLE = "background: #edf7ee; border: 1px solid #a5d6a7; border-radius: 4px; color: #1b5e20; padding: 2px 4px;"


def diagnostic_rows(d: MapDiagnostics) -> list[tuple[str, str, str]]:
    """(name, value, why it matters) for each of `MEASURES`, as the panel lists them. A
    gradient map whose ink could not be found says so beside its ink measures."""
    unjudged = " (ink not understood: not judged)" if d.family != FAMILY_ATTENTION and d.label is None else ""
    rows = [
        ("Stroke focus", f"{d.stroke_focus:.0%} of the map on ink{unjudged}",
         f"Share of the map's mass on ink (strokes found by adaptive thresholding of the flattened image). "
         f"Ink is {d.ink_share:.0%} of the text region, so a map spread over the text but blind to its strokes "
         f"scores about that. For gradient maps, at {focus_threshold(d.ink_share):.0%} or more "
         f"({FOCUS_LIFT:g}× the ink's share): focused on strokes. No verdict when the ink covers more than "
         f"{MAX_INK_SHARE:.0%} of the image or no text is found."),
        ("Spread", f"{SPREAD_MASS:.0%} of the mass in {d.spread:.1%} of the pixels",
         f"The smallest share of the pixels holding {SPREAD_MASS:.0%} of the map's mass: small is concentrated, "
         f"{SPREAD_MASS:.0%} is uniform."),
        ("Background", f"{d.background:.0%} outside the text{unjudged}",
         f"Mass outside the text region (the strokes' box, grown by half the text's height). For "
         f"gradient maps, at {BACKGROUND_THRESHOLD:.0%} or more: background activation, the map reacts to noise."),
    ]
    if d.localisation_px is None:
        where = "— (no alignment for this map)"
    else:
        widths = "" if d.localisation_chars is None else f" ({d.localisation_chars:.2f} character widths)"
        where = f"{d.localisation_px:.1f} px from the alignment{widths}"
    rows.append(("Localisation", where,
                 "Horizontal distance of the map's centre of mass from where the model aligned the character. "
                 f"For attention, more than {LOCALISATION_LIMIT:g} character widths: off its character."))
    columns = "— (no alignment for this map)" if d.column_mass is None else f"{d.column_mass:.0%} in its columns"
    rows.append(("Column mass", columns,
                 "Share of the map's mass in the character's columns (one character width around the alignment). "
                 f"For attention, {COLUMN_MASS_THRESHOLD:.0%} or more: on its character. Attention is judged by "
                 "these two, never by stroke focus: a column band always covers paper."))
    return rows


def verdict_text(d: MapDiagnostics) -> str:
    """The verdict in colour and its meaning, or, when the measures cannot support one, why."""
    if d.label is None:
        return (f"<span style='color:{WITHHELD_COLOUR}; font-size:large'><b>{NO_VERDICT.capitalize()}</b></span>"
                f" — {html.escape(d.withheld or '')}")
    return (f"<span style='color:{LABEL_COLOURS[d.label]}; font-size:large'><b>{d.label}</b></span>"
            f" — {d.meaning}")


def curve_summary(curves: Curves, k: int) -> str:
    """One short line (it must not wrap under the plot): the map's AUC against the
    random orders' range, and the rule's outcome, "✓ below all 8" (deletion) or "✓ above
    all 8" (insertion) when it beats random; the rule in full is in `auc_tip`."""
    low, high = curves.random_auc[k].min(), curves.random_auc[k].max()
    side = "below" if curves.mode == "deletion" else "above"
    mark = "✓" if curves.beats_random()[k] else "✗ not"
    swatch = f"<span style='color:{MODE_COLOURS[curves.mode]}'>━━</span>"
    return (f"{swatch} {curves.mode.capitalize()} AUC <b>{curves.auc[k]:.2f}</b>, random "
            f"{low:.2f}–{high:.2f}: {mark} {side} all {curves.orders}")


def auc_tip(orders: int) -> str:
    """How the curves are compared with chance: the test and its error rate."""
    return ("Area under the curve. Deletion: lower is better (the score falls fast when the map's pixels go "
            "first). Insertion: higher is better (it rises fast when they come first). "
            f"The map beats random (✓) only when its AUC lies outside the range of all {orders} random pixel "
            "orders' AUCs, on the better side (below every one for deletion, above every one for insertion); "
            f"a map no better than a random order does that by chance 1 time in {orders + 1}.")


def sanity_verdict(sanity: SanityResult) -> str:
    """The sentence under the sanity plot; the flagged one is the warning the issue asks for."""
    after = f"mean rank correlation {sanity.final:.2f} after randomising all {len(sanity.layers)} layers"
    if sanity.flagged:
        return f"⚠ Maps barely change when the model is destroyed — don't trust this method here ({after})."
    return f"✓ Maps change when the model is destroyed ({after})."


def wrapped(text: str = "") -> QLabel:
    """A label that wraps: the panel is narrow, and no line may set its width."""
    label = QLabel(text)
    label.setWordWrap(True)
    return label


def column(*items: QWidget | QLayout, grow: QWidget | None = None) -> QVBoxLayout:
    """The items top to bottom; extra height goes to `grow` (a plot), else under
    them, never between lines of text."""
    layout = QVBoxLayout()
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(3)
    for item in items:
        if isinstance(item, QLayout):
            layout.addLayout(item)
        else:
            layout.addWidget(item, int(item is grow))
    if grow is None:
        layout.addStretch(1)
    return layout


class SmallPlot(pg.PlotWidget):
    """A light, fixed (no pan/zoom/menu) plot with labelled axes, never so small that
    an axis label is cut (a panel too small for it scrolls instead)."""

    def __init__(self, bottom: str, left: str) -> None:
        super().__init__(background="w")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseEnabled(False, False)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.showGrid(x=True, y=True, alpha=0.15)
        for side, text in (("bottom", bottom), ("left", left)):
            axis = self.getAxis(side)
            axis.setPen("#606060")
            axis.setTextPen("#303030")
            axis.setLabel(text, color="#303030")
        self.fit(horizontal=False)

    def label_room(self) -> QSize:
        """The smallest size at which neither axis label is cut: each axis as long as its label."""
        bottom, left = (self.getAxis(side).label.boundingRect().width() for side in ("bottom", "left"))
        return QSize(int(bottom) + AXIS_ROOM.width(), int(left) + AXIS_ROOM.height())

    def fit(self, horizontal: bool) -> None:
        """Side by side in a low dock, take its height down to the labels' room; stacked, `PLOT_HEIGHT`."""
        room = self.label_room()
        self.setMinimumSize(room.width(), room.height() if horizontal else PLOT_HEIGHT)
        self.setMaximumHeight(UNBOUNDED if horizontal else PLOT_HEIGHT)

    def sizeHint(self) -> QSize:
        """No more than the minimum (pyqtgraph asks for 640×480): the layout gives the rest."""
        return self.minimumSize()


class CurvesPlot(QWidget):
    """Deletion and insertion of one character: the map's order (solid) against random
    orders (their spread as a band, their median dashed), with the AUCs written underneath."""

    TITLE = "<b>Faithfulness</b> (band: {orders} random orders, dashed: their median)"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = SmallPlot("fraction of pixels deleted / inserted", "score ratio")
        self.plot.setToolTip("The character's score ÷ its score on the untouched image.")
        self.plot.setXRange(0, 1, padding=0.02)
        self.lines: dict[str, pg.PlotDataItem] = {}
        #: Each mode's random band: its lower and upper edge (invisible lines) and the fill between.
        self.bands: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem, pg.FillBetweenItem]] = {}
        for mode, colour in MODE_COLOURS.items():
            low, high = (self.plot.plot(pen=pg.mkPen(None)) for _ in range(2))
            tint = pg.mkColor(colour)
            tint.setAlpha(BAND_ALPHA)  # translucent: the two modes' bands may overlap
            fill = pg.FillBetweenItem(low, high, brush=pg.mkBrush(tint))
            self.plot.addItem(fill)
            self.bands[mode] = (low, high, fill)
            self.lines[f"{mode} random"] = self.plot.plot(pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine))
            self.lines[mode] = self.plot.plot(pen=pg.mkPen(colour, width=2))
        self.title = wrapped()
        self.summary = wrapped()
        self.setLayout(column(self.title, self.plot, self.summary, grow=self.plot))

    def show_curves(self, curves: tuple[Curves, ...], k: int) -> None:
        for c in curves:
            low, high, _ = self.bands[c.mode]
            for edge, values in zip((low, high), c.random_band(k)):
                edge.setData(c.fractions, values)
            self.lines[c.mode].setData(c.fractions, c.scores[k])
            self.lines[f"{c.mode} random"].setData(c.fractions, np.median(c.random_scores[k], axis=0))
        self.title.setText(self.TITLE.format(orders=curves[0].orders))
        self.summary.setText("<br>".join(curve_summary(c, k) for c in curves))
        self.summary.setToolTip(auc_tip(curves[0].orders))


class SanityPlot(QWidget):
    """Rank correlation of the character's map with the original as layers are
    randomised from the top down, the mean over characters, and the flag threshold;
    the verdict under them. Titles stay one line so the two plots line up side by side."""

    TITLE = (f"<b>Sanity check</b> (<span style='color:{CHARACTER_COLOUR}'>━</span> this character, "
             "dashed: mean, dotted: flag level)")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = SmallPlot("layers randomised (top down)", "correlation")
        self.plot.setYRange(-1, 1, padding=0.05)
        self.character = self.plot.plot(pen=pg.mkPen(CHARACTER_COLOUR, width=2), symbol="o", symbolSize=5,
                                        symbolBrush=CHARACTER_COLOUR, symbolPen=None)
        self.mean = self.plot.plot(pen=pg.mkPen("#808080", width=1, style=Qt.PenStyle.DashLine))
        self.threshold = pg.InfiniteLine(INSENSITIVE_CORRELATION, angle=0,
                                         pen=pg.mkPen("#c62828", width=1, style=Qt.PenStyle.DotLine))
        self.plot.addItem(self.threshold)
        self.verdict = wrapped()
        self.setLayout(column(wrapped(self.TITLE), self.plot, self.verdict, grow=self.plot))

    def show_sanity(self, sanity: SanityResult, k: int) -> None:
        steps = np.arange(1, len(sanity.layers) + 1)
        self.character.setData(steps, sanity.correlations[:, k])
        self.mean.setData(steps, np.nanmean(sanity.correlations, axis=1))
        self.plot.setXRange(1, max(2, len(steps)), padding=0.05)
        first, last = (sanity.layers[0], sanity.layers[-1]) if sanity.layers else ("", "")
        self.plot.setToolTip(f"Rank correlation with the original map; {len(steps)} layers randomised, from "
                             f"{html.escape(first)} down to {html.escape(last)}.")
        self.verdict.setText(sanity_verdict(sanity))
        self.verdict.setStyleSheet(FLAG_STYLE if sanity.flagged else PASS_STYLE)


class TrustView(QWidget):
    """The panel's contents in three columns: what is shown, its label, the numbers,
    the check button and progress; then the two plots once they are computed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = wrapped()
        self.label = wrapped()
        self.numbers = QWidget()
        form = QFormLayout(self.numbers)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        #: One row per measure, named as `diagnostic_rows` names them.
        self.fields: dict[str, QLabel] = {}
        for name in MEASURES:
            self.fields[name] = wrapped()
            form.addRow(f"{name}:", self.fields[name])
        self.check = QPushButton("Check trust")
        self.cancel = QPushButton("Cancel")
        self.status = wrapped()
        buttons = QHBoxLayout()
        buttons.addWidget(self.check)
        buttons.addWidget(self.cancel)
        buttons.addWidget(self.status, 1)  # beside the buttons: a low dock has no line to spare
        buttons.addStretch(0)  # keeps the buttons narrow while there is no status
        diagnostics = QWidget()
        diagnostics.setLayout(column(self.title, self.label, self.numbers, buttons))
        self.curves = CurvesPlot()
        self.sanity = SanityPlot()
        self.columns = QBoxLayout(QBoxLayout.Direction.TopToBottom, self)
        self.columns.setContentsMargins(6, 3, 6, 3)
        self.columns.setSpacing(12)
        for widget in (diagnostics, self.curves, self.sanity):
            self.columns.addWidget(widget)
        self.columns.addStretch(1)
        self.show_message("")

    def set_horizontal(self, horizontal: bool) -> None:
        """Columns side by side (a wide, low dock) or stacked (a narrow one). Side by
        side, the plots keep their place while hidden, so nothing jumps when they come."""
        self.columns.setDirection(QBoxLayout.Direction.LeftToRight if horizontal else QBoxLayout.Direction.TopToBottom)
        for i in range(3):  # the columns share the width; stacked, the trailing stretch takes the spare height
            self.columns.setStretch(i, int(horizontal))
        self.columns.setStretch(3, int(not horizontal))
        for widget in (self.curves, self.sanity):
            policy = widget.sizePolicy()
            policy.setRetainSizeWhenHidden(horizontal)
            widget.setSizePolicy(policy)
            widget.plot.fit(horizontal)

    def show_message(self, text: str) -> None:
        """Nothing to measure yet (no image, no final map): say why, hide the rest."""
        self.title.setText(text)
        self.label.hide()
        self.numbers.hide()
        self.curves.hide()
        self.sanity.hide()

    def show_report(self, title: str, report: TrustReport, k: int) -> None:
        """The measures of character `k` (index into the report's maps)."""
        self.title.setText(title)
        d = report.diagnostics[k]
        self.label.setText(verdict_text(d))
        self.label.show()
        for name, value, why in diagnostic_rows(d):
            self.fields[name].setText(value)
            self.fields[name].setToolTip(why)
        self.numbers.show()
        curves = tuple(c for c in (report.deletion, report.insertion) if c is not None)
        self.curves.setVisible(bool(curves))
        if curves:
            self.curves.show_curves(curves, k)
        self.sanity.setVisible(report.sanity is not None)
        if report.sanity is not None:
            self.sanity.show_sanity(report.sanity, k)

    def set_status(self, text: str, checking: bool) -> None:
        """The line under the buttons: progress while checking, else a hint or nothing."""
        self.status.setText(text)
        self.status.setVisible(bool(text))
        self.cancel.setVisible(checking)
