"""Recognizers: the protocol every model is seen through, wrappers for real models, the
bundled readers (`load_model`, `list_models`) and the one safe door for a user's own model
files (`open_model`)."""

from thulium_desktop.models.attention_reader import AttentionReader, AttentionRecognizer
from thulium_desktop.models.crnn import CRNN
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
from thulium_desktop.models.registry import (
    DEFAULT_MODEL,
    ModelInfo,
    list_models,
    load_model,
    load_model_files,
)
from thulium_desktop.models.user_models import (
    MODEL_SUFFIXES,
    ModelFormat,
    ModelSummary,
    OpenedModel,
    UntrustedModelError,
    detect_format,
    open_described,
    open_model,
    summarize,
)
from thulium_desktop.models.weights import ModelLoadError

__all__ = [
    "CRNN",
    "DEFAULT_MODEL",
    "MODEL_SUFFIXES",
    "SCORE_KINDS",
    "AttentionReader",
    "AttentionRecognizer",
    "CTCRecognizer",
    "ModelInfo",
    "ModelFormat",
    "ModelLoadError",
    "ModelSummary",
    "OpenedModel",
    "Prepared",
    "Reading",
    "Recognizer",
    "UntrustedModelError",
    "detect_format",
    "layer_names",
    "list_models",
    "load_model",
    "load_model_files",
    "model_device",
    "model_dtype",
    "open_described",
    "open_model",
    "resolve_layer",
    "summarize",
]
