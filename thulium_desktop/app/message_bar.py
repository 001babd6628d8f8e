"""An in-window message strip for errors: visible, non-modal, dismissible.

A modal box would block the event loop (and scripted runs); the strip names the
problem and lets the user carry on with what is on screen.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget


class MessageBar(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MessageBar")
        self.setStyleSheet(
            "#MessageBar { background: #fdecea; border: 1px solid #e0a39c; border-radius: 4px; }"
            "#MessageBar QLabel { color: #7a1f16; }"
        )
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 4, 4)
        row.addWidget(self.label, 1)
        row.addWidget(close)
        self.hide()

    def show_error(self, text: str) -> None:
        self.label.setText(text)
        self.show()

    @property
    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""
