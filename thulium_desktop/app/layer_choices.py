"""The GradCAM layer chooser's entries: the feature maps GradCAM can use, with their
output shapes and a word on the head they feed, then every layer by name for experts.

Why shapes: a user picking a layer of a model nobody here trained needs to see which
outputs are maps over the line (`C×h×w`, the width following the input's) and whether a
sequence head reads them afterwards (GradCAM can then light up a neighbour's glyph).
Runs on the worker thread (it probes the model); the GUI receives plain tuples.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from thulium_desktop.models import CTCRecognizer, Recognizer, layer_names
from thulium_desktop.models.layers import SEQUENCE_MODULES, CamLayer, cam_layers
from thulium_desktop.models.module_state import evaluating

log = logging.getLogger(__name__)

#: The blank probe line is this many heights wide (as `models.layers.cam_layers`'s).
PROBE_WIDTHS = 8
#: The probe's height for a recognizer that does not say its own.
PROBE_HEIGHT = 32


@dataclass(frozen=True)
class LayerChoice:
    """One entry of the layer chooser; `shape` None: a plain name, for experts."""

    name: str
    shape: tuple[int, ...] | None = None
    #: e.g. "before the BiLSTM": a sequence head reads this map (GradCAM may misplace).
    note: str = ""

    @property
    def label(self) -> str:
        """`features.8 — 16×1×64 (before the BiLSTM)`; the bare name for an expert entry."""
        if self.shape is None:
            return self.name
        text = f"{self.name} — {'×'.join(map(str, self.shape[1:]))}"
        return f"{text} ({self.note})" if self.note else text


def layer_choices(recognizer: Recognizer) -> tuple[tuple[LayerChoice, ...], str | None]:
    """The chooser's entries (candidates first, in the order they run, then every layer
    name) and the default layer's name (None: the model has no GradCAM layer).

    A model whose probe fails still loads: its chooser lists the names alone."""
    module = recognizer.module
    default = recognizer.cam_layer()
    default_name = next((n for n, m in module.named_modules() if m is default and n), None)
    try:
        candidates = _candidates(recognizer, default)
    except Exception as exc:  # noqa: BLE001 - the shapes are a help; the names remain
        log.info("could not probe the GradCAM layers of %s: %s", recognizer.name, exc)
        candidates = []
    head = _head_name(module)
    shaped = tuple(
        LayerChoice(c.name, c.shape, f"before the {head}" if c.feeds_sequence_head and head else "")
        for c in candidates
    )
    return shaped + tuple(LayerChoice(name) for name in layer_names(module)), default_name


def _candidates(recognizer: Recognizer, default: nn.Module | None) -> list[CamLayer]:
    """A CTC model's every usable feature map (`cam_layers`); for others, whose forward
    needs more than an image (a decoder), the default layer probed through a reading."""
    if isinstance(recognizer, CTCRecognizer):
        found = cam_layers(recognizer.module, recognizer.height)
        if default is None or any(c.module is default for c in found):
            return found
        return [*found, _probed(recognizer, default)]  # a layer chosen at construction
    return [] if default is None else [_probed(recognizer, default)]


def _probed(recognizer: Recognizer, layer: nn.Module) -> CamLayer:
    """`layer`'s output shape on a blank line read by the recognizer itself, and whether a
    recurrent or attention module ran after it."""
    height = getattr(recognizer, "height", PROBE_HEIGHT)
    blank = np.full((height, PROBE_WIDTHS * height), 255, dtype=np.uint8)
    shapes: list[tuple[int, ...]] = []
    later: list[bool] = []

    def record(_mod, _inputs, output) -> None:
        if isinstance(output, torch.Tensor) and not shapes:
            shapes.append(tuple(output.shape))

    def started(_mod, _inputs) -> None:
        later.append(bool(shapes))

    module = recognizer.module
    handles = [layer.register_forward_hook(record)]
    handles += [m.register_forward_pre_hook(started) for m in module.modules() if isinstance(m, SEQUENCE_MODULES)]
    try:
        with evaluating(module), torch.no_grad():
            recognizer.read(recognizer.prepare(blank).tensor)
    finally:
        for h in handles:
            h.remove()
    name = next(n for n, m in module.named_modules() if m is layer)
    return CamLayer(name, layer, shapes[0] if shapes else (), any(later))


def _head_name(module: nn.Module) -> str:
    """The first recurrent or attention module, as a reader would name it ("BiLSTM")."""
    head = next((m for m in module.modules() if isinstance(m, SEQUENCE_MODULES)), None)
    if head is None:
        return ""
    kind = type(head).__name__
    return f"Bi{kind}" if getattr(head, "bidirectional", False) else kind
