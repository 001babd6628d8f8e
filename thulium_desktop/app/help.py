"""Help: the About box, the in-app guide and the first-run hint.

The guide is written from the same sources the rest of the app reads (the method
registry's `about` texts, the trust measures' thresholds), so it cannot drift from
what the panels show.
"""

from __future__ import annotations

import html
import platform
from importlib.metadata import PackageNotFoundError, version

import PySide6
from PySide6.QtCore import QSettings, Qt, qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from thulium_desktop import __version__
from thulium_desktop.app.trust_view import auc_tip
from thulium_desktop.models.registry import MODELS_DIR
from thulium_desktop.xai.diagnostics import (
    BACKGROUND_THRESHOLD,
    COLUMN_MASS_THRESHOLD,
    FOCUS_LIFT,
    LOCALISATION_LIMIT,
    MAX_INK_SHARE,
    SPREAD_MASS,
)
from thulium_desktop.xai.faithfulness import RANDOM_ORDERS
from thulium_desktop.xai.methods import REGISTRY
from thulium_desktop.xai.sanity import INSENSITIVE_CORRELATION

HINT_TEXT = ("Tip: click a character in the timeline under the image to see where the model looked "
             "for it (← and → step through the characters).")
HINT_DONE_KEY = "help/selected_a_character"

#: What each measure of the Trust panel says, in its order there.
TRUST_MEASURES = (
    ("Stroke focus", "the share of the map on ink (strokes found by adaptive thresholding). A gradient "
     f"map with {FOCUS_LIFT:g}× the ink's own share or more is “focused on strokes”. No verdict when the "
     f"ink covers more than {MAX_INK_SHARE:.0%} of the image or no text is found."),
    ("Spread", f"the smallest share of the pixels that holds {SPREAD_MASS:.0%} of the map: small is "
     "concentrated, large is diffuse."),
    ("Background", f"the map's mass outside the text region; {BACKGROUND_THRESHOLD:.0%} or more flags a "
     "gradient map that reacts to noise."),
    ("Localisation", "how far the map's centre lies from where the model aligned the character; for "
     f"attention, more than {LOCALISATION_LIMIT:g} character widths is “off its character”."),
    ("Column mass", "the share of the map in the character's own columns; attention with "
     f"{COLUMN_MASS_THRESHOLD:.0%} or more is “on its character”. Attention is judged by these two, "
     "never by stroke focus."),
)


def versions() -> dict[str, str]:
    """The versions a bug report needs."""
    try:
        torch = version("torch")
    except PackageNotFoundError:
        torch = "not installed"
    return {
        "Thulium Desktop": __version__,
        "PyTorch": torch,
        "Qt": qVersion(),
        "PySide6": PySide6.__version__,
        "Python": platform.python_version(),
    }


def about_html(device: str) -> str:
    """The About box's text: versions, where the bundled models are, the model's device."""
    rows = {**versions(), "Models folder": str(MODELS_DIR), "Device": device or "no model loaded"}
    table = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>&nbsp;{html.escape(v)}</td></tr>"
                    for k, v in rows.items())
    return ("<h3>Thulium Desktop</h3><p>Explains what a handwriting recognition model looked at, "
            f"character by character, and whether to trust it.</p><table>{table}</table>")


def guide_html() -> str:
    """The user guide: how to use the window, each method, each trust measure."""
    methods = "".join(f"<dt><b>{html.escape(m.label)}</b></dt><dd>{html.escape(m.about)}</dd>"
                      for m in REGISTRY.values())
    measures = "".join(f"<dt><b>{name}</b></dt><dd>{html.escape(text)}</dd>" for name, text in TRUST_MEASURES)
    return (
        "<h2>Using Thulium Desktop</h2>"
        "<p>Open an image (Ctrl+O) or a folder. The model reads it; the characters it read appear in the "
        "timeline under the image, each under where it was read, with its confidence as a bar. Click a "
        "character (or use ← →) to see its map; “all” is the whole reading. Pick a method on the right. "
        "Wheel to zoom, drag to pan, Ctrl+0 to fit. Esc cancels a running computation: the partial map "
        "stays, faded and marked “cancelled”.</p>"
        f"<h3>Methods</h3><dl>{methods}</dl>"
        "<h3>Trust panel</h3><p>Under the canvas, for the selected character's map: a verdict and the "
        f"measures behind it.</p><dl>{measures}</dl>"
        "<h3>Check trust (Ctrl+Shift+K)</h3><dl>"
        f"<dt><b>Deletion and insertion curves</b></dt><dd>{html.escape(auc_tip(RANDOM_ORDERS))}</dd>"
        "<dt><b>Sanity check</b></dt><dd>The model's layers are randomised one by one and the maps "
        "recomputed: maps of a method worth trusting change. A mean rank correlation above "
        f"{INSENSITIVE_CORRELATION:g} after randomising every layer flags the method.</dd></dl>"
    )


class HelpDialog(QDialog):
    """A non-modal window of rich text (the guide, the About box), closed with Close."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.text.setHtml(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)


class FirstRunHint(QLabel):
    """“Click a character…”, shown until the user first selects one (remembered)."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(HINT_TEXT, parent)
        self._settings = settings
        self.setWordWrap(True)
        self.setStyleSheet("QLabel { background: #fff6d8; color: #5a4500; border: 1px solid #e6c65c;"
                           " border-radius: 4px; padding: 3px 6px; }")
        self.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        if settings.value(HINT_DONE_KEY, False, type=bool):
            self.hide()

    def done(self) -> None:
        """The user selected a character: the hint has served, for good."""
        if not self.isHidden():
            self.hide()
            self._settings.setValue(HINT_DONE_KEY, True)
