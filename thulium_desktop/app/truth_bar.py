"""The line under the reading that shows the image's truth, its error rate and a legend.

The truth is drawn with the characters the model got wrong in the timeline's
colours (underlined as well, for readers who do not see the colours), so the
two read as one picture of where the reading went wrong.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from thulium_desktop.app.glyphs import shown_char
from thulium_desktop.app.timeline import EDIT_COLOURS, bidi_isolated
from thulium_desktop.xai.ground_truth import DELETION, INSERTION, MATCH, SUBSTITUTION, Comparison, describe_edits

LEGEND = (
    (SUBSTITUTION, "▭", "substituted (the truth on its tab)"),
    (INSERTION, "+", "inserted (dashed)"),
    (DELETION, "▼", "missed (tag over the gap)"),
)


def truth_html(comparison: Comparison) -> str:
    """The truth as rich text, substituted and skipped characters coloured and underlined."""
    parts = []
    for op in comparison.ops:
        if not op.truth:
            continue
        char = html.escape(shown_char(op.truth) if op.kind != MATCH else op.truth)
        if op.kind == MATCH:
            parts.append(char)
        else:
            parts.append(f'<span style="color:{EDIT_COLOURS[op.kind]}; text-decoration:underline"><b>{char}</b></span>')
    return "".join(parts)


def legend_html() -> str:
    return " &nbsp; ".join(
        f'<span style="color:{EDIT_COLOURS[kind]}"><b>{mark}</b></span> {html.escape(text)}' for kind, mark, text in LEGEND
    )


class TruthBar(QLabel):
    """“Truth: minimum · CER 14% (1 substitution)”, with the legend; hidden without a truth."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setWordWrap(True)
        self.setToolTip(legend_html())
        self.hide()

    def show_comparison(self, comparison: Comparison) -> None:
        big = f'<span style="font-size:large; font-family:monospace">{bidi_isolated(truth_html(comparison))}</span>'
        edits = describe_edits(comparison.counts)
        legend = f'<br><small>{legend_html()}</small>' if comparison.cer > 0 else ""
        self.setText(f"Truth: {big} &nbsp; (<b>CER {comparison.cer:.1%}</b>, {edits}){legend}")
        self.show()

    def show_pending(self, truth: str) -> None:
        """The truth is known, the reading not yet."""
        shown = bidi_isolated(html.escape(truth))
        self.setText(f'Truth: <span style="font-size:large; font-family:monospace">{shown}</span>')
        self.show()

    def show_problem(self, problem: str) -> None:
        self.setText(f'<span style="color:#c0392b">No usable truth: {html.escape(problem)}</span>')
        self.show()
