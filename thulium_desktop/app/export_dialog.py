"""The Export dialog (Ctrl+E): which figure, which format and resolution, where."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from thulium_desktop.app.figure_export import FIGURE_HINTS, FIGURE_KINDS, ExportPlan
from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.render import FIGURE_FORMATS


def export_folder(last: object, image: Path | None) -> Path:
    """Where Export suggests writing: the last export folder, else the image's folder when
    the user can write there (never inside the installed package), else Pictures, else home."""
    if last and Path(str(last)).is_dir():
        return Path(str(last))
    if image is not None and _user_writable(image.parent):
        return image.parent
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return Path(pictures) if pictures and Path(pictures).is_dir() else Path.home()


def _user_writable(folder: Path) -> bool:
    """Writable, and not the app's own files (a bundled sample's folder is the install's)."""
    installed = bundled_path().resolve()
    resolved = folder.resolve()
    return os.access(folder, os.W_OK) and resolved != installed and installed not in resolved.parents


def view_suffix(index: int) -> str:
    """`.char3` for the view of the third character, `.whole` for the whole reading."""
    return ".whole" if index < 0 else f".char{index + 1}"


class ExportDialog(QDialog):
    """Collects an `ExportPlan`; the window does the writing.

    `names` suggests a file (without extension) per figure kind offered, and only those
    kinds are offered (the page figure only while a page's line is open); choosing
    another kind switches to its name unless the user has typed one.
    """

    def __init__(
        self, names: Mapping[str, Path], fmt: str = "png", kind: str = "view", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._names = {k: str(path) for k, path in names.items()}
        self.setWindowTitle("Export figure")
        self._kinds = QButtonGroup(self)
        kinds = QVBoxLayout()
        self._kind_buttons: dict[str, QRadioButton] = {}
        for name, label in FIGURE_KINDS.items():
            if name not in self._names:
                continue
            button = QRadioButton(label)
            button.setToolTip(FIGURE_HINTS[name])
            self._kinds.addButton(button)
            self._kind_buttons[name] = button
            kinds.addWidget(button)
        kind = kind if kind in self._kind_buttons else "view"
        self._kind_buttons[kind].setChecked(True)
        self.format = QComboBox()
        self.format.addItems([f.upper() for f in FIGURE_FORMATS])
        self.dpi = QSpinBox(minimum=50, maximum=1200, singleStep=50, value=300, suffix=" dpi")
        self.with_maps = QCheckBox("Also save the raw maps (.npz)")
        self.with_params = QCheckBox("Also save the parameters (.json)")
        self.path = QLineEdit(self._names.get(kind, ""))
        self.path.setMinimumWidth(380)
        self.path.setToolTip("The format's extension is added to this name")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.path, 1)
        where.addWidget(browse)
        form = QFormLayout()
        form.addRow("Figure", kinds)
        form.addRow("Format", self.format)
        form.addRow("Resolution", self.dpi)
        form.addRow("", self.with_maps)
        form.addRow("", self.with_params)
        form.addRow("File", where)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.format.currentTextChanged.connect(self._on_format)
        self._kinds.buttonToggled.connect(self._on_kind)
        if fmt in FIGURE_FORMATS:
            self.format.setCurrentText(fmt.upper())

    def _on_format(self, fmt: str) -> None:
        self.dpi.setEnabled(fmt == "PNG")  # vector formats have no resolution

    def _on_kind(self, button: QRadioButton, checked: bool) -> None:
        """Follow the kind with its suggested name, unless the name is the user's own."""
        if checked and self.path.text() in self._names.values():
            self.path.setText(self._names.get(self.kind, self.path.text()))

    @property
    def kind(self) -> str:
        return next(k for k, b in self._kind_buttons.items() if b.isChecked())

    @property
    def kinds(self) -> tuple[str, ...]:
        """The figure kinds offered, in the dialog's order."""
        return tuple(self._kind_buttons)

    def set_kind(self, kind: str) -> None:
        self._kind_buttons[kind].setChecked(True)

    def plan(self) -> ExportPlan:
        """The plan as filled in; the extension always matches the chosen format."""
        stem = Path(self.path.text().strip()).expanduser()
        if stem.suffix.lower().lstrip(".") in FIGURE_FORMATS:
            stem = stem.with_suffix("")
        path = Path(f"{stem}.{self.format.currentText().lower()}")
        return ExportPlan(self.kind, path, self.dpi.value(), self.with_maps.isChecked(),
                          self.with_params.isChecked())

    def _browse(self) -> None:
        fmt = self.format.currentText().lower()
        chosen, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text(), f"{fmt.upper()} (*.{fmt})")
        if chosen:
            self.path.setText(chosen)
