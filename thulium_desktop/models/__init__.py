"""Recognizers: the protocol every model is seen through, and wrappers for real models."""

from thulium_desktop.models.ctc import CTCRecognizer
from thulium_desktop.models.layers import layer_names, resolve_layer
from thulium_desktop.models.protocol import (
    SCORE_KINDS,
    Prepared,
    Reading,
    Recognizer,
    model_device,
    model_dtype,
)

__all__ = [
    "SCORE_KINDS",
    "CTCRecognizer",
    "Prepared",
    "Reading",
    "Recognizer",
    "layer_names",
    "model_device",
    "model_dtype",
    "resolve_layer",
]
