"""The method panel: which explanation to compute and with which parameters.

The methods, their labels, the parameters each shows and their defaults and
tooltips all come from the engine's method registry (`xai/methods.py`), so a
registered method appears here without a change to this file. Edits are
debounced so that a spin box being stepped does not start a job per click; the
panel then emits `changed` once and the window recomputes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
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

if TYPE_CHECKING:
    from thulium_desktop.app.layer_choices import LayerChoice

DEBOUNCE_MS = 250
CONTRAST_SIGN_TIP = (
    "Contrast maps keep their sign: red favours the read character, blue the true one. "
    "Correctly read characters keep your choice (Absolute value {}), shown again when Contrast is off"
)
_LAYER_TIP = "Output shape (channels×height×width) for a line 8 heights wide"


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
        self.contrast.toggled.connect(self._show_contrast_sign)
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
        self.layer.currentIndexChanged.connect(self._show_layer_tip)
        self.absolute = self._check("absolute")
        #: the user's Absolute value, kept while Contrast shows it unticked (`_show_contrast_sign`)
        self._absolute_choice = self.absolute.isChecked()
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
            "absolute": self._absolute_choice if self.contrast.isChecked() else self.absolute.isChecked(),
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
        if widget is self.absolute and self.contrast.isChecked():
            self._absolute_choice = value in (True, "true", 1)  # shown again when Contrast is off
            return
        if isinstance(widget, QSpinBox):
            widget.setValue(int(value))
        elif isinstance(widget, QDoubleSpinBox):
            widget.setValue(float(value))
        elif isinstance(widget, QCheckBox):
            widget.setChecked(value in (True, "true", 1))
        elif isinstance(widget, QComboBox):
            # an entry's data is its value where the label says more (a layer's shape)
            index = widget.findData(value) if widget.findData(value) >= 0 else widget.findText(str(value))
            if index >= 0:
                widget.setCurrentIndex(index)

    def set_layers(self, layers: Sequence[LayerChoice], default: str | None) -> None:
        """Fill the GradCAM layer chooser from the loaded model: the default first, then
        the other layers GradCAM can use, each with its output shape, then (after a
        separator) every layer by name for experts; the default is chosen."""
        shaped = [c for c in layers if c.shape is not None]
        first = next((c.label for c in shaped if c.name == default), default)
        self.layer.blockSignals(True)
        self.layer.clear()
        self.layer.addItem(f"default: {first}" if first else "default", None)
        self.layer.setItemData(0, _LAYER_TIP, Qt.ItemDataRole.ToolTipRole)
        for choice in shaped:
            if choice.name != default:
                self.layer.addItem(choice.label, choice.name)
                self.layer.setItemData(self.layer.count() - 1, _LAYER_TIP, Qt.ItemDataRole.ToolTipRole)
        self.layer.insertSeparator(self.layer.count())
        for choice in layers:
            if choice.shape is None:
                self.layer.addItem(choice.name, choice.name)
        self.layer.blockSignals(False)
        self._show_layer_tip()

    def _show_layer_tip(self) -> None:
        """The chosen entry in full in the tooltip: a long layer name and its shape do
        not fit the panel's width."""
        self.layer.setToolTip(f"{self.layer.currentText()}\n{_tooltip('layer')}")

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

    def _show_contrast_sign(self, contrasting: bool) -> None:
        """Contrast maps keep their sign (which pixels favour which character), so while
        Contrast is on, Absolute value shows unticked and cannot be changed; the user's
        choice, which correctly read characters keep using, comes back when it is off."""
        self.absolute.blockSignals(True)
        if contrasting:
            self._absolute_choice = self.absolute.isChecked()
            self.absolute.setChecked(False)
        else:
            self.absolute.setChecked(self._absolute_choice)
        self.absolute.setEnabled(not contrasting)
        self.absolute.setToolTip(
            CONTRAST_SIGN_TIP.format("on" if self._absolute_choice else "off") if contrasting else _tooltip("absolute")
        )
        self.absolute.blockSignals(False)


def _tooltip(name: str) -> str:
    """A parameter's help from the registry, as a sentence."""
    text = PARAMETERS[name].help
    return text[:1].upper() + text[1:]
