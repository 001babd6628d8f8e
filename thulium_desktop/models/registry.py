"""Bundled models by name: architecture builders, descriptions, and `load_model`.

A model is two files side by side: `<name>.safetensors` (weights) and `<name>.json`
(architecture name, hyper-parameters, alphabet, input height, training data,
measured metrics). The json says which builder to call; the weights are then
checked tensor by tensor against what that builder made (see `weights.py`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from thulium_desktop.models.attention_reader import AttentionReader, AttentionRecognizer
from thulium_desktop.models.crnn import CRNN
from thulium_desktop.models.ctc import CTCRecognizer
from thulium_desktop.models.encoder import INPUT_HEIGHT, WIDTH_STRIDE
from thulium_desktop.models.protocol import Recognizer
from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.models.weights import ModelLoadError, load_into, read_tensors

#: The model `load_model()` returns when no name is given.
DEFAULT_MODEL = "attention-reader"
MODELS_DIR = bundled_path("models")


@dataclass(frozen=True)
class Architecture:
    """How to build a bundled network from its hyper-parameters and wrap it as a Recognizer."""

    build: Callable[..., nn.Module]
    wrap: Callable[[nn.Module, str, str], Recognizer]


ARCHITECTURES: dict[str, Architecture] = {
    "attention-gru-bahdanau": Architecture(
        build=AttentionReader,
        wrap=lambda module, alphabet, name: AttentionRecognizer(module, alphabet, name),
    ),
    "crnn-ctc": Architecture(
        build=CRNN,
        wrap=lambda module, alphabet, name: CTCRecognizer(
            module, alphabet, INPUT_HEIGHT, blank=0, name=name, cam_layer="encoder.features",
            width_stride=WIDTH_STRIDE,
        ),
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
    """The json description of a model, with its required fields checked."""
    p = Path(json_path)
    try:
        card = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelLoadError(p, "no such file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(p, f"not a readable json description: {exc}") from exc
    if not isinstance(card, dict):
        raise ModelLoadError(p, "the json description is not an object")
    for key, kind in (("architecture", str), ("hparams", dict), ("alphabet", str),
                      ("input_height", int)):
        if not isinstance(card.get(key), kind):
            raise ModelLoadError(p, f"the json description needs a {kind.__name__} {key!r}")
    if card["architecture"] not in ARCHITECTURES:
        raise ModelLoadError(
            p, f"unknown architecture {card['architecture']!r}; known: "
            f"{', '.join(sorted(ARCHITECTURES))}"
        )
    if card["input_height"] != INPUT_HEIGHT:
        raise ModelLoadError(p, f"input_height {card['input_height']} is not {INPUT_HEIGHT}")
    repeated = sorted({c for c in card["alphabet"] if card["alphabet"].count(c) > 1})
    if repeated:  # two classes for one character: which one a reading means is ambiguous
        raise ModelLoadError(p, f"the alphabet repeats {''.join(repeated)!r}")
    check_name(card, p)
    return card


def check_name(card: dict, json_path: str | os.PathLike) -> None:
    """A json's optional `name` is what the app shows and captions carry: text or absent."""
    if card.get("name") is not None and not isinstance(card["name"], str):
        raise ModelLoadError(json_path, f"the json description's 'name' must be text, got {card['name']!r}")


def load_model_files(
    safetensors_path: str | os.PathLike, json_path: str | os.PathLike | None = None
) -> Recognizer:
    """A Recognizer from a weights file of a bundled architecture and its json
    (by default the json beside it, with the same stem)."""
    weights = Path(safetensors_path)
    card_path = Path(json_path) if json_path is not None else weights.with_suffix(".json")
    return recognizer_from_tensors(weights, read_tensors(weights), card_path)


def recognizer_from_tensors(
    weights_path: str | os.PathLike, tensors: dict[str, torch.Tensor], json_path: str | os.PathLike
) -> Recognizer:
    """A Recognizer of the bundled architecture that `json_path` describes, holding `tensors`
    (read from `weights_path` by any safe reader: safetensors, or a weights-only state dict).

    The tensors are checked name by name, shape by shape and dtype by dtype before any
    is copied, so a mismatched file raises `ModelLoadError` and nothing is half-loaded.
    """
    card = read_card(json_path)
    try:
        module = build_module(card["architecture"], card["hparams"], card["alphabet"])
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(json_path, f"the hyper-parameters do not build a model: {exc}") from exc
    load_into(weights_path, module, tensors)
    name = card.get("name") or Path(weights_path).stem
    return ARCHITECTURES[card["architecture"]].wrap(module, card["alphabet"], name)


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
