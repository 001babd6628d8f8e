"""The window's Help menu: the guide, the keyboard shortcuts and About, each dialog
non-modal and one of each.

Apart from the window because Help only reads (the registry, the versions, the model's
device) and never changes what the window shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMenuBar, QMessageBox

from thulium_desktop.app.files import FIND_LINES_SHORTCUT
from thulium_desktop.app.help import HelpDialog, about_html, guide_html
from thulium_desktop.app.layout_export import LAYOUT_EXPORT_SHORTCUT
from thulium_desktop.app.trust_panel import CHECK_SHORTCUT, TOGGLE_SHORTCUT

if TYPE_CHECKING:
    from thulium_desktop.app.window import MainWindow

SHORTCUTS = (
    ("Left / Right", "previous / next character (“all” is left of the first)"),
    ("Home / End", "first / last character"),
    ("Page Up / Page Down", "previous / next image"),
    ("Ctrl+O, Ctrl+Shift+O", "open images, open a folder"),
    ("Ctrl+E", "export a figure"),
    (LAYOUT_EXPORT_SHORTCUT, "export the open page's PAGE-XML/ALTO with every line's reading"),
    (FIND_LINES_SHORTCUT, "find the lines of a page opened without PAGE-XML/ALTO (kraken)"),
    ("Ctrl+M", "compare all methods"),
    ("Ctrl+T", "contrast a substituted character with its truth"),
    (TOGGLE_SHORTCUT, "show / hide the Trust panel"),
    (CHECK_SHORTCUT, "check trust: deletion/insertion curves and the sanity check"),
    ("Ctrl+0", "fit the image to the window"),
    ("Esc", "cancel the running job (first: finding a page's lines, a layout export waiting for them)"),
    ("F1", "the guide: each method and each trust measure"),
    ("Wheel / drag", "zoom / pan; click the image to pick the character strongest there"),
)


class HelpMenu(QObject):
    """Help ▸ Guide (F1), Keyboard shortcuts, About."""

    def __init__(self, window: MainWindow, menu_bar: QMenuBar) -> None:
        super().__init__(window)
        self.window = window
        menu = menu_bar.addMenu("&Help")
        self.guide_action = menu.addAction("&Guide", self.show_guide)
        self.guide_action.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))
        menu.addAction("&Keyboard shortcuts", self.show_shortcuts)
        menu.addSeparator()
        self.about_action = menu.addAction("&About Thulium Desktop", self.show_about)
        self.dialogs: dict[str, HelpDialog] = {}

    @Slot()
    def show_guide(self) -> None:
        """Help ▸ Guide (F1): each method and each trust measure in a few lines."""
        self._show("Thulium Desktop guide", guide_html(), (680, 640))

    @Slot()
    def show_about(self) -> None:
        """Help ▸ About: the versions and the device, for a bug report."""
        current = self.window.client.models.current
        self._show("About Thulium Desktop", about_html(current.device if current else ""), (520, 360))

    @Slot()
    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;{v}</td></tr>" for k, v in SHORTCUTS)
        QMessageBox.information(self.window, "Keyboard shortcuts", f"<table>{rows}</table>")

    def _show(self, title: str, text: str, size: tuple[int, int]) -> None:
        """Non-modal, one of each: the guide stays open beside the window while one works."""
        dialog = self.dialogs.get(title)
        if dialog is None:
            dialog = self.dialogs[title] = HelpDialog(title, text, self.window)
            dialog.resize(*size)
        dialog.text.setHtml(text)
        if dialog.isVisible():
            dialog.raise_()  # behind the main window: bring it forward
        dialog.show()
