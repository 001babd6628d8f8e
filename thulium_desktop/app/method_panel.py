"""The method panel: which explanation to compute and with which parameters.

The methods, their labels, the parameters each shows and their defaults and
tooltips all come from the engine's method registry (`xai/methods.py`), so a
registered method appears here without a change to this file. Edits are
debounced so that a spin box being stepped does not start a job per click; the
panel then emits `changed` once and the window recomputes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from thulium_desktop.xai.methods import BASELINES, PARAMETERS, REGISTRY
from thulium_desktop.xai.quadrature import RULES

DEBOUNCE_MS = 250


class MethodPanel(QWidget):
    """Method choice, its parameters, and the Compare and Contrast switches."""

    changed = Signal()
    compareToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self.changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build_methods())
        layout.addWidget(self._build_params())
        self.compare = QCheckBox("Compare all methods")
        self.compare.setToolTip("Show the selected character under every method, on one colour scale")
        self.compare.toggled.connect(self.compareToggled)
        layout.addWidget(self.compare)
        self.contrast = QCheckBox("Contrast with truth")
        self.contrast.setToolTip(
            "For a substituted character: which pixels made the model read its character rather "
            "than the true one (score(read) − score(truth), signed; red favours the read one)"
        )
        self.contrast.toggled.connect(self._show_contrast_method)
        self.contrast.toggled.connect(self.changed)
        layout.addWidget(self.contrast)
        self.contrast_method = QLabel()
        self.contrast_method.setWordWrap(True)
        self.contrast_method.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.contrast_method)
        self._show_fields()

    # -- construction ------------------------------------------------------------------
    def _build_methods(self) -> QGroupBox:
        box = QGroupBox("Method")
        column = QVBoxLayout(box)
        self._group = QButtonGroup(self)
        self._buttons: dict[str, QRadioButton] = {}
        for name, method in REGISTRY.items():
            button = QRadioButton(method.label)
            button.setToolTip(method.about)
            self._group.addButton(button)
            self._buttons[name] = button
            column.addWidget(button)
        next(iter(self._buttons.values())).setChecked(True)  # the first offered: attention
        self._about = QLabel()
        self._about.setWordWrap(True)
        self._about.setStyleSheet("color: palette(placeholder-text);")
        column.addWidget(self._about)
        self._group.buttonToggled.connect(self._on_method_toggled)
        return box

    def _build_params(self) -> QGroupBox:
        box = QGroupBox("Parameters")
        self._form = QFormLayout(box)
        self._form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.num_steps = self._spin("num_steps", 2, 1024)
        self.tolerance = self._fraction("tolerance", 0.01)
        self.integration = self._combo("integration", RULES)
        self.baseline = self._combo("baseline", BASELINES)
        self.num_samples = self._spin("num_samples", 1, 1000)
        self.noise_level = self._fraction("noise_level", 0.05)
        self.seed = self._spin("seed", 0, 2**31 - 1)
        self.layer = self._combo("layer", ())  # filled from the model: `set_layers`
        self.absolute = self._check("absolute")
        self.normalize = self._check("normalize")
        self._fields: dict[str, QWidget] = {
            "num_steps": self.num_steps,
            "tolerance": self.tolerance,
            "integration": self.integration,
            "baseline": self.baseline,
            "num_samples": self.num_samples,
            "noise_level": self.noise_level,
            "seed": self.seed,
            "layer": self.layer,
            "absolute": self.absolute,
            "normalize": self.normalize,
        }
        for name, widget in self._fields.items():
            widget.setToolTip(_tooltip(name))
            if isinstance(widget, QCheckBox):
                self._form.addRow(widget)
            else:
                self._form.addRow(PARAMETERS[name].label, widget)
        return box

    def _spin(self, name: str, lo: int, hi: int) -> QSpinBox:
        spin = QSpinBox(minimum=lo, maximum=hi, value=PARAMETERS[name].default)
        spin.setKeyboardTracking(False)
        spin.valueChanged.connect(self._debounce.start)
        return spin

    def _fraction(self, name: str, step: float) -> QDoubleSpinBox:
        """A spin box for a parameter in [0, 1], two decimals."""
        spin = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=step, decimals=2, value=PARAMETERS[name].default)
        spin.setKeyboardTracking(False)
        spin.valueChanged.connect(self._debounce.start)
        return spin

    def _combo(self, name: str, items: Sequence[str]) -> QComboBox:
        combo = QComboBox()
        combo.addItems(list(items))
        if PARAMETERS[name].default in items:
            combo.setCurrentText(PARAMETERS[name].default)
        combo.currentIndexChanged.connect(self._debounce.start)
        return combo

    def _check(self, name: str) -> QCheckBox:
        check = QCheckBox(PARAMETERS[name].label, checked=PARAMETERS[name].default)
        check.toggled.connect(self._debounce.start)
        return check

    # -- state -----------------------------------------------------------------------
    @property
    def method(self) -> str:
        return next(m for m, b in self._buttons.items() if b.isChecked())

    def set_method(self, method: str) -> None:
        """Select a method; emits `changed` at once (not debounced: it is one click)."""
        self._buttons[method].setChecked(True)

    def params(self) -> dict[str, Any]:
        """Every parameter's current value (a MethodSpec keeps those its method uses)."""
        return {
            "num_steps": self.num_steps.value(),
            "tolerance": round(self.tolerance.value(), 4),
            "integration": self.integration.currentText(),
            "baseline": self.baseline.currentText(),
            "num_samples": self.num_samples.value(),
            "noise_level": round(self.noise_level.value(), 4),
            "seed": self.seed.value(),
            "layer": self.layer.currentData(),
            "absolute": self.absolute.isChecked(),
            "normalize": self.normalize.isChecked(),
        }

    def set_params(self, values: dict[str, Any]) -> None:
        """Restore saved values (unknown or invalid ones are ignored) without emitting:
        the fields' own signals only reach the debounce timer, stopped here."""
        for name, value in values.items():
            self._set_field(name, value)
        self._debounce.stop()

    def _set_field(self, name: str, value: Any) -> None:
        widget = self._fields.get(name)
        if isinstance(widget, QSpinBox):
            widget.setValue(int(value))
        elif isinstance(widget, QDoubleSpinBox):
            widget.setValue(float(value))
        elif isinstance(widget, QCheckBox):
            widget.setChecked(value in (True, "true", 1))
        elif isinstance(widget, QComboBox) and widget.findText(str(value)) >= 0:
            widget.setCurrentIndex(widget.findText(str(value)))

    def set_layers(self, layers: Sequence[str], default: str | None) -> None:
        """Fill the GradCAM layer chooser from the loaded model (default listed first)."""
        self.layer.blockSignals(True)
        self.layer.clear()
        self.layer.addItem(f"default ({default})" if default else "default", None)
        for name in layers:
            self.layer.addItem(name, name)
        self.layer.blockSignals(False)

    # -- reactions -------------------------------------------------------------------
    def _on_method_toggled(self, button: QRadioButton, checked: bool) -> None:
        if checked:
            self._show_fields()
            self._debounce.stop()
            self.changed.emit()

    def _show_fields(self) -> None:
        method = REGISTRY[self.method]
        for name, widget in self._fields.items():
            self._form.setRowVisible(widget, name in method.params)
        self._about.setText(method.about)
        self._show_contrast_method()

    def _show_contrast_method(self) -> None:
        """Contrast maps are gradients: with a method that has none checked, say which
        method draws them, so the checked button never claims a map it did not make."""
        method = REGISTRY[self.method]
        shown = self.contrast.isChecked() and not method.gradients
        if shown:
            self.contrast_method.setText(
                f"Contrast maps use {REGISTRY[method.contrast_method].label}: {method.label} has no "
                f"gradients to contrast. Correctly read characters still show {method.label}."
            )
        self.contrast_method.setVisible(shown)


def _tooltip(name: str) -> str:
    """A parameter's help from the registry, as a sentence."""
    text = PARAMETERS[name].help
    return text[:1].upper() + text[1:]
