"""Status bar: hover readout, model and device, job progress with Cancel, last job time."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget


class JobStatusBar(QStatusBar):
    """The window's status bar; `cancelRequested` fires on the Cancel button."""

    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hover = QLabel()
        self.hover.setMinimumWidth(220)
        self.addWidget(self.hover, 1)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop the running job (Esc)")
        self.cancel.clicked.connect(self.cancelRequested)
        self.last_time = QLabel()
        self.last_time.setMinimumWidth(self.last_time.fontMetrics().horizontalAdvance("last job 999 ms") + 8)
        self.model = QLabel("loading model…")
        self.device = QLabel()
        for widget in (self.progress, self.cancel, self.last_time, self.model, self.device):
            self.addPermanentWidget(widget)
        self.set_idle()

    def set_model(self, name: str, device: str) -> None:
        """The model in use (its name, or its caption: name · format · device · size) and
        where it runs (`device_status`: "CPU", or a GPU's name and free memory)."""
        self.model.setText(f"model: {name}")
        self.set_device(device)

    def set_device(self, device: str) -> None:
        """Where the model runs, its free memory refreshed after each job on a GPU."""
        self.device.setText(f"device: {device}")

    def set_moving(self) -> None:
        """The model is on its way to another device (Model ▸ Device)."""
        self.device.setText("device: moving…")

    def set_busy(self, done: int = 0, total: int = 0) -> None:
        """Indeterminate until the engine reports chunk counts."""
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setVisible(True)
        self.cancel.setVisible(True)

    def set_idle(self) -> None:
        self.progress.setVisible(False)
        self.cancel.setVisible(False)

    def set_last_time(self, seconds: float) -> None:
        self.last_time.setText(f"last job {seconds * 1000:.0f} ms" if seconds < 1 else f"last job {seconds:.1f} s")
