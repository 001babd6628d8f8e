"""Display choices that never need a recomputation: opacity and colormaps."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QSlider, QWidget

from thulium_desktop.app.screen_colours import SIGNED_MAPS, UNSIGNED_MAPS
from thulium_desktop.render.overlay import DEFAULT_OPACITY as FIGURE_OPACITY

#: The opacity slider's default, in percent: the figures' default, so a fresh window and
#: an exported figure look alike.
DEFAULT_OPACITY = round(FIGURE_OPACITY * 100)


class DisplayPanel(QGroupBox):
    """`changed` fires on any edit; the window redraws from what it already has."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Display", parent)
        self.opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=DEFAULT_OPACITY)
        self.opacity.setToolTip("How strongly the map covers the image")
        self.cmap_unsigned = QComboBox()
        self.cmap_unsigned.addItems(UNSIGNED_MAPS)
        self.cmap_unsigned.setToolTip("Colormap for maps without sign (perceptually uniform)")
        self.cmap_signed = QComboBox()
        self.cmap_signed.addItems(SIGNED_MAPS)
        self.cmap_signed.setToolTip("Diverging colormap for signed maps, white at zero")
        form = QFormLayout(self)
        form.addRow("Opacity", self.opacity)
        form.addRow("Colormap", self.cmap_unsigned)
        form.addRow("Signed", self.cmap_signed)
        self.opacity.valueChanged.connect(self.changed)
        self.cmap_unsigned.currentIndexChanged.connect(self.changed)
        self.cmap_signed.currentIndexChanged.connect(self.changed)

    @property
    def alpha(self) -> float:
        return self.opacity.value() / 100

    def cmap(self, signed: bool) -> str:
        """The colormap for a signed or an unsigned map."""
        return (self.cmap_signed if signed else self.cmap_unsigned).currentText()

    def save(self, settings: QSettings) -> None:
        settings.setValue("view/opacity", self.opacity.value())
        settings.setValue("view/cmap_unsigned", self.cmap_unsigned.currentText())
        settings.setValue("view/cmap_signed", self.cmap_signed.currentText())

    def restore(self, settings: QSettings) -> None:
        self.opacity.setValue(int(settings.value("view/opacity", DEFAULT_OPACITY)))
        self.cmap_unsigned.setCurrentText(str(settings.value("view/cmap_unsigned", UNSIGNED_MAPS[0])))
        self.cmap_signed.setCurrentText(str(settings.value("view/cmap_signed", SIGNED_MAPS[0])))
