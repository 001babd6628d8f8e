"""Bundled models by name: architecture builders, descriptions, and `load_model`.

A model is two files side by side: `<name>.safetensors` (weights) and `<name>.json`
(architecture name, hyper-parameters, alphabet, input height, training data,
measured metrics). The json says which builder to call; the weights are then
checked tensor by tensor against what that builder made (see `weights.py`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from thulium_desktop.models.attention_reader import AttentionReader, AttentionRecognizer
from thulium_desktop.models.crnn import CRNN
from thulium_desktop.models.ctc import CTCRecognizer
from thulium_desktop.models.descriptions import (
    ATTENTION_HPARAMS,
    CARD_FIELDS,
    CRNN_HPARAMS,
    Field,
    check_alphabet,
    check_fields,
)
from thulium_desktop.models.encoder import INPUT_HEIGHT, WIDTH_STRIDE
from thulium_desktop.models.protocol import Recognizer
from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.models.files import read_json
from thulium_desktop.models.weights import ModelLoadError, load_into

#: The model `load_model()` returns when no name is given.
DEFAULT_MODEL = "attention-reader"
MODELS_DIR = bundled_path("models")


@dataclass(frozen=True)
class Architecture:
    """How to build a bundled network from its hyper-parameters (each checked against
    its row in `hparams` first) and wrap it as a Recognizer."""

    build: Callable[..., nn.Module]
    wrap: Callable[[nn.Module, str, str, bool], Recognizer]
    hparams: tuple[Field, ...]


ARCHITECTURES: dict[str, Architecture] = {
    "attention-gru-bahdanau": Architecture(
        build=AttentionReader,
        wrap=lambda module, alphabet, name, flatten: AttentionRecognizer(module, alphabet, name, flatten),
        hparams=ATTENTION_HPARAMS,
    ),
    "crnn-ctc": Architecture(
        build=CRNN,
        wrap=lambda module, alphabet, name, flatten: CTCRecognizer(
            module, alphabet, INPUT_HEIGHT, blank=0, name=name, cam_layer="encoder.features",
            width_stride=WIDTH_STRIDE, flatten_paper=flatten,
        ),
        hparams=CRNN_HPARAMS,
    ),
}


@dataclass(frozen=True)
class ModelInfo:
    name: str
    architecture: str
    description: str
    metrics: dict
    weights_path: Path
    json_path: Path


def build_module(architecture: str, hparams: dict, alphabet: str) -> nn.Module:
    """A freshly initialised network of a bundled architecture."""
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {architecture!r}; known: {', '.join(sorted(ARCHITECTURES))}"
        )
    return ARCHITECTURES[architecture].build(len(alphabet), **hparams)


def read_card(json_path: str | os.PathLike) -> dict:
    """The json description of a model, every field the code reads checked for type and
    range (`descriptions.CARD_FIELDS`, then the architecture's hyper-parameters) before
    anything is built from it."""
    p = Path(json_path)
    card = read_json(p)
    if not isinstance(card, dict):
        raise ModelLoadError(p, "the json description is not an object")
    check_fields(p, card, CARD_FIELDS)
    if card["architecture"] not in ARCHITECTURES:
        raise ModelLoadError(
            p, f"unknown architecture {card['architecture']!r}; known: "
            f"{', '.join(sorted(ARCHITECTURES))}"
        )
    check_fields(p, card["hparams"], ARCHITECTURES[card["architecture"]].hparams,
                 where=f"the hyper-parameters of {card['architecture']}", closed=True)
    if card["input_height"] != INPUT_HEIGHT:
        raise ModelLoadError(p, f"input_height {card['input_height']} is not {INPUT_HEIGHT}")
    check_alphabet(p, card["alphabet"])
    return card


def load_model_files(
    safetensors_path: str | os.PathLike, json_path: str | os.PathLike | None = None
) -> Recognizer:
    """A Recognizer from a weights file of a bundled architecture and its json
    (by default the json beside it, with the same stem)."""
    weights = Path(safetensors_path)
    card_path = Path(json_path) if json_path is not None else weights.with_suffix(".json")
    return recognizer_from_tensors(weights, None, card_path)


def recognizer_from_tensors(
    weights_path: str | os.PathLike, tensors: Mapping[str, torch.Tensor] | None,
    json_path: str | os.PathLike,
) -> Recognizer:
    """A Recognizer of the bundled architecture that `json_path` describes, holding `tensors`
    (read from `weights_path` by any safe reader: a weights-only state dict), or, with
    None, the tensors of the safetensors file at `weights_path`.

    The json is checked first, the network is built on the meta device, and the tensors
    are checked name by name, shape by shape and dtype by dtype before any memory is
    taken or any value copied, so a mismatched file raises `ModelLoadError` having cost
    nothing, and nothing is half-loaded.
    """
    card = read_card(json_path)
    with torch.device("meta"):
        module = build_module(card["architecture"], card["hparams"], card["alphabet"])
    load_into(weights_path, module, tensors)
    name = card.get("name") or Path(weights_path).stem
    return ARCHITECTURES[card["architecture"]].wrap(module, card["alphabet"], name, bool(card.get("flatten_paper")))


def list_models(models_dir: str | os.PathLike | None = None,
                unreadable: list[ModelLoadError] | None = None) -> list[ModelInfo]:
    """Every bundled model (a json with its safetensors beside it), default first.

    An unreadable json raises, unless `unreadable` is given: then its error is appended
    there and the others are listed (the app's menu shows both; measuring tools want all
    or nothing)."""
    folder = Path(models_dir) if models_dir is not None else MODELS_DIR
    infos = []
    for card_path in sorted(folder.glob("*.json")):
        weights = card_path.with_suffix(".safetensors")
        if not weights.is_file():
            continue
        try:
            card = read_card(card_path)
        except ModelLoadError as exc:
            if unreadable is None:
                raise
            unreadable.append(exc)
            continue
        infos.append(ModelInfo(
            name=card.get("name") or card_path.stem,
            architecture=card["architecture"],
            description=card.get("description", ""),
            metrics=dict(card.get("metrics", {})),
            weights_path=weights,
            json_path=card_path,
        ))
    infos.sort(key=lambda i: (i.name != DEFAULT_MODEL, i.name))
    return infos


def load_model(name: str | None = None, models_dir: str | os.PathLike | None = None) -> Recognizer:
    """A bundled model by name (None: the default attention reader), ready to read."""
    name = name or DEFAULT_MODEL
    folder = Path(models_dir) if models_dir is not None else MODELS_DIR
    weights = folder / f"{name}.safetensors"
    if not weights.is_file():
        unreadable: list[ModelLoadError] = []
        known = ", ".join(i.name for i in list_models(folder, unreadable)) or "none"
        known += "".join(f"; unreadable: {exc}" for exc in unreadable)
        raise ModelLoadError(weights, f"no bundled model named {name!r} (bundled: {known})")
    return load_model_files(weights, folder / f"{name}.json")
