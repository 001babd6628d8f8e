"""Opening a user's model: one door, `open_model`, for every format, and none runs code unasked.

Data formats are read without running anything from the file: a `.safetensors` file of
a bundled architecture with its `.json`, a `.pt`/`.pth` state dict read by PyTorch's
weights-only unpickler, a Hugging Face `VisionEncoderDecoderModel` folder. Formats that
*are* code run what they contain the moment they are loaded: an adapter plugin (`.py`),
a TorchScript archive, a full pickle. They open only with `trust=True`, which the caller
sets after asking the user (the CLI's `--trust`, the app's confirmation dialog); without
it they raise `UntrustedModelError`, and nothing from the file has run. The decision is
made from the file's name and zip directory, or by the weights-only unpickler refusing
it: never by trying the unsafe load first.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from thulium_desktop.models.ctc import CTCRecognizer
from thulium_desktop.models.descriptions import CTC_FIELDS, check_alphabet, check_fields
from thulium_desktop.models.errors import first_line
from thulium_desktop.models.files import PICKLE, SAFETENSORS, ZIP, read_json, regular_file, sniff
from thulium_desktop.models.kraken_model import KRAKEN_SUFFIXES, is_kraken_safetensors, open_kraken_model
from thulium_desktop.models.protocol import Recognizer, model_device
from thulium_desktop.models.registry import (
    ARCHITECTURES,
    load_model,
    load_model_files,
    recognizer_from_tensors,
)
from thulium_desktop.models.trocr import open_trocr
from thulium_desktop.models.weights import ModelLoadError

#: Suffixes read as PyTorch files (`torch.save` output): state dicts, checkpoints, pickles.
TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
_TORCHSCRIPT_SUFFIXES = (".ts", ".torchscript")
#: Every file suffix `open_model` takes (for a file dialog's filter); folders open too.
MODEL_SUFFIXES = (".safetensors", *TORCH_SUFFIXES, *_TORCHSCRIPT_SUFFIXES, ".py", *KRAKEN_SUFFIXES)

#: What to tell the user who holds a pickle or TorchScript file and does not want to trust it.
_EXPORT_ADVICE = (
    "If it is your own model, save only its weights: "
    "`safetensors.torch.save_file(model.state_dict(), 'model.safetensors')` (or "
    "`torch.save(model.state_dict(), 'model.pt')`) with a .json describing it beside "
    "the file, or write an adapter plugin. Open the file as it is only if you trust "
    "whoever made it: `--trust` on the command line, or confirm in the app."
)


class ModelFormat(StrEnum):
    """How a model file is stored; the formats that are code need consent to open."""

    BUNDLED = "bundled"
    SAFETENSORS = "safetensors"
    STATE_DICT = "state dict"
    HUGGING_FACE = "Hugging Face"
    PLUGIN = "plugin"
    TORCHSCRIPT = "TorchScript"
    PICKLE = "pickle"
    KRAKEN = "kraken"

    @property
    def runs_code(self) -> bool:
        """Loading a file of this format executes code stored in it."""
        return self in (ModelFormat.PLUGIN, ModelFormat.TORCHSCRIPT, ModelFormat.PICKLE)


class UntrustedModelError(ModelLoadError):
    """The file would run code when loaded, and the user has not consented.

    A caller that can ask (the app) catches this, names `path` and `kind` to the user,
    and opens again with `trust=True` only if they agree; it never remembers the answer.
    """

    def __init__(self, path: str | os.PathLike, kind: str, advice: str) -> None:
        self.kind = kind
        super().__init__(
            path,
            f"it is {kind}, and loading it can run any code stored in the file, which can "
            "do anything your user account can (read, change or send your files). It was "
            f"not loaded. {advice}",
        )


@dataclass(frozen=True)
class ModelSummary:
    """What the status bar and exported captions say about the loaded model."""

    name: str
    format: ModelFormat
    device: str
    parameters: int
    path: str | None = None

    def caption(self) -> str:
        """`name · format · device · 1.2M parameters`."""
        return " \u00b7 ".join(
            (self.name, str(self.format), self.device, f"{_short_count(self.parameters)} parameters")
        )


class OpenedModel(NamedTuple):
    """A model ready to read, and what to say about it."""

    recognizer: Recognizer
    summary: ModelSummary


def summarize(
    recognizer: Recognizer, fmt: ModelFormat, path: str | os.PathLike | None = None
) -> ModelSummary:
    """Name, format, device and parameter count of a recognizer (counted on its module)."""
    module = recognizer.module
    return ModelSummary(
        name=recognizer.name,
        format=fmt,
        device=str(model_device(module)),
        parameters=sum(p.numel() for p in module.parameters()),
        path=None if path is None else str(path),
    )


def _short_count(n: int) -> str:
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


# -- the door ----------------------------------------------------------------------------
def open_model(
    spec: str | os.PathLike | None, trust: bool = False, card: str | os.PathLike | None = None
) -> Recognizer:
    """The Recognizer for a bundled model name (None: the default) or a model file/folder.

    `trust=True` is the user's consent to run code from the file (plugins, TorchScript,
    full pickles); without it those raise `UntrustedModelError`. `card` is the json that
    describes a weights file (by default the one beside it, with the same stem).
    """
    return open_described(spec, trust, card).recognizer


def open_described(
    spec: str | os.PathLike | None, trust: bool = False, card: str | os.PathLike | None = None
) -> OpenedModel:
    """`open_model`, plus the summary the app and the captions show."""
    if _is_bundled_name(spec):
        recognizer = load_model(None if spec is None else str(spec))
        return OpenedModel(recognizer, summarize(recognizer, ModelFormat.BUNDLED))
    path = Path(spec)
    fmt = detect_format(path)
    if fmt.runs_code and not trust:
        raise UntrustedModelError(path, _CODE_KINDS[fmt], _CODE_ADVICE[fmt])
    card_path = Path(card) if card is not None else path.with_suffix(".json")
    recognizer, fmt = _OPENERS[fmt](path, card_path, trust)
    return OpenedModel(recognizer, summarize(recognizer, fmt, path))


def _is_bundled_name(spec: str | os.PathLike | None) -> bool:
    """None, or a string that names no existing path and looks like a name (no folder, no
    suffix): `load_model` then says which names exist when it is not one of them."""
    if spec is None:
        return True
    if isinstance(spec, os.PathLike) or Path(spec).exists():
        return False
    return "/" not in spec and os.sep not in spec and not Path(spec).suffix


def detect_format(path: str | os.PathLike) -> ModelFormat:
    """The format of a model file or folder from its name, its zip directory or its
    config.json; nothing in it is unpickled or run, and only regular files are opened.
    A PyTorch file is reported as a state dict: what it really holds shows when it is
    opened (its first bytes, then the weights-only unpickler)."""
    p = Path(path)
    if p.is_dir():
        if _is_vision_encoder_decoder(p):
            return ModelFormat.HUGGING_FACE
        raise ModelLoadError(
            p, "a folder opens only as a Hugging Face VisionEncoderDecoderModel checkpoint "
            "(config.json, weights, tokenizer and preprocessor files)"
        )
    if not p.exists():
        raise ModelLoadError(p, "no such file or folder")
    regular_file(p)
    suffix = p.suffix.lower()
    if suffix in KRAKEN_SUFFIXES or (suffix == ".safetensors" and is_kraken_safetensors(p)):
        return ModelFormat.KRAKEN
    if suffix == ".safetensors":
        return ModelFormat.SAFETENSORS
    if suffix == ".py":
        return ModelFormat.PLUGIN
    if suffix in TORCH_SUFFIXES or suffix in _TORCHSCRIPT_SUFFIXES:
        return ModelFormat.TORCHSCRIPT if _is_torchscript(p) else ModelFormat.STATE_DICT
    raise ModelLoadError(
        p, f"unknown model file type {suffix or '(no suffix)'!r}; open a .safetensors file "
        f"(with its .json), a state dict ({', '.join(TORCH_SUFFIXES)}), an adapter plugin "
        "(.py), a TorchScript file, a kraken model (.mlmodel) or a Hugging Face model folder"
    )


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives are zips holding `<name>/code/...` and `<name>/constants.pkl`;
    plain `torch.save` zips hold neither."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.split("/")[1:2] == ["code"] or n.endswith("/constants.pkl") for n in names)


def _is_vision_encoder_decoder(folder: Path) -> bool:
    """Whether the folder's config.json (a regular file, else refused) names the class."""
    if not os.path.lexists(folder / "config.json"):
        return False
    config = read_json(folder / "config.json", "config.json")
    return isinstance(config, dict) and (
        config.get("model_type") == "vision-encoder-decoder"
        or "VisionEncoderDecoderModel" in (config.get("architectures") or [])
    )


# -- data formats --------------------------------------------------------------------------
def _require_card(path: Path, card: Path) -> None:
    """Weights alone do not say which network they fill: say so before anything is read."""
    if not os.path.lexists(card):  # one that exists but is no regular file is refused on reading
        raise ModelLoadError(
            path, f"weights need their description {card.name} beside them (architecture, "
            f"hparams, alphabet, input_height) to build a bundled architecture "
            f"({', '.join(sorted(ARCHITECTURES))}); for a network of your own, write an "
            "adapter plugin (a .py file defining load_recognizer())"
        )


def _open_safetensors(path: Path, card: Path, _trust: bool) -> tuple[Recognizer, ModelFormat]:
    _require_card(path, card)
    return load_model_files(path, card), ModelFormat.SAFETENSORS


def _open_kraken(path: Path, _card: Path, _trust: bool) -> tuple[Recognizer, ModelFormat]:
    """kraken's own CoreML or safetensors file, read by kraken (the `[kraken]` extra)."""
    return open_kraken_model(path), ModelFormat.KRAKEN


def _open_torch_file(path: Path, card: Path, trust: bool) -> tuple[Recognizer, ModelFormat]:
    """A state dict through the weights-only unpickler; a full pickle only with consent.

    The first bytes must say PyTorch (a zip archive, or a pickle for the older format)
    before the unpickler sees the file: a renamed image is called what it is, not a
    pickle needing consent. A zip is memory-mapped, so its tensors take no memory until
    they have matched the architecture."""
    kind = sniff(path)
    if kind not in (ZIP, PICKLE):
        raise ModelLoadError(path, _not_pytorch(kind))
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=kind == ZIP)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" not in str(exc):
            raise _unreadable(path, exc) from exc
        if not trust:
            raise UntrustedModelError(
                path, _CODE_KINDS[ModelFormat.PICKLE], _CODE_ADVICE[ModelFormat.PICKLE]
            ) from None
        return _open_pickle(path, card), ModelFormat.PICKLE
    except Exception as exc:  # noqa: BLE001 - the weights-only unpickler runs nothing of the
        # file's, so whatever it raises (IndexError on garbage, say) describes the file
        raise _unreadable(path, exc) from exc
    tensors = _state_dict_in(path, loaded)
    _require_card(path, card)
    return recognizer_from_tensors(path, tensors, card), ModelFormat.STATE_DICT


def _unreadable(path: Path, exc: Exception) -> ModelLoadError:
    return ModelLoadError(path, f"not a readable PyTorch file (truncated or corrupt?): {first_line(exc)}")


def _not_pytorch(kind: str) -> str:
    """Why a file with a PyTorch suffix is refused, naming what it really is."""
    if kind == SAFETENSORS:
        return "it is a safetensors file, not a PyTorch file: give it the .safetensors suffix"
    if kind:
        return f"it is {kind}, not a PyTorch file"
    return ("not a PyTorch file: it starts neither as a zip archive nor as a pickle, as "
            "files saved by torch.save do")


def _state_dict_in(path: Path, loaded: object) -> dict[str, torch.Tensor]:
    """The state dict itself, or the one a training checkpoint keeps under a usual key."""
    candidates = [loaded]
    if isinstance(loaded, dict):
        candidates += [loaded.get(k) for k in ("state_dict", "model_state_dict", "model")]
    for c in candidates:
        if isinstance(c, dict) and c and all(isinstance(v, torch.Tensor) for v in c.values()):
            return c
    raise ModelLoadError(
        path, f"holds a {type(loaded).__name__}, not a state dict (a dict of tensors, or a "
        "checkpoint with one under 'state_dict', 'model_state_dict' or 'model')"
    )


def _open_hugging_face(path: Path, _card: Path, _trust: bool) -> tuple[Recognizer, ModelFormat]:
    """Never with consent either: the weights stay data (safetensors or weights-only)."""
    return open_trocr(path), ModelFormat.HUGGING_FACE


# -- formats that are code (reached only with trust) --------------------------------------
def _open_plugin(path: Path, _card: Path, _trust: bool) -> tuple[Recognizer, ModelFormat]:
    """Run the plugin file and call its `load_recognizer()`. Its own folder is importable
    while it runs, so it can import the user's network code kept beside it."""
    name = f"thulium_plugin_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(path, "cannot be imported as a Python module")
    plugin = importlib.util.module_from_spec(spec)
    with _importable_folder(path.parent):
        sys.modules[name] = plugin
        try:
            spec.loader.exec_module(plugin)
            factory = getattr(plugin, "load_recognizer", None)
            if not callable(factory):
                raise ModelLoadError(path, "the plugin defines no load_recognizer() function")
            return _checked_recognizer(path, factory()), ModelFormat.PLUGIN
        except ModelLoadError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the user's code raises is reported
            raise ModelLoadError(path, f"the plugin failed: {type(exc).__name__}: {exc}") from exc


@contextmanager
def _importable_folder(folder: Path) -> Iterator[None]:
    """`folder` on the import path for the block; afterwards the modules imported from it
    (the plugin included) are forgotten, so a plugin opened later from another folder
    imports its own `net.py`, not a cached one of the same name."""
    entry = folder.resolve()
    before = set(sys.modules)
    sys.path.insert(0, str(entry))
    try:
        yield
    finally:
        sys.path.remove(str(entry))
        for module_name in set(sys.modules) - before:
            file = getattr(sys.modules[module_name], "__file__", None)
            if file and Path(file).resolve().is_relative_to(entry):
                del sys.modules[module_name]


def _open_torchscript(path: Path, card: Path, _trust: bool) -> tuple[Recognizer, ModelFormat]:
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except RuntimeError as exc:
        raise ModelLoadError(path, f"not a readable TorchScript file (truncated or corrupt?): {exc}") from exc
    return _ctc_from_module(path, module, card), ModelFormat.TORCHSCRIPT


def _open_pickle(path: Path, card: Path) -> Recognizer:
    """A pickled Recognizer as it is, or a pickled network read as CTC per its json."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as exc:
        raise ModelLoadError(path, f"not a readable pickle (truncated or corrupt?): {exc}") from exc
    if isinstance(loaded, nn.Module):
        return _ctc_from_module(path, loaded, card)
    return _checked_recognizer(path, loaded)


def _ctc_from_module(path: Path, module: nn.Module, card_path: Path) -> CTCRecognizer:
    """A whole network (TorchScript or pickled) read as a CTC model, as its json says:
    `{"decoder": "ctc", "alphabet": ..., "input_height": ...}` plus optional `blank`,
    `time_major`, `name`, `cam_layer`, `width_stride`. Other decoders need an adapter plugin."""
    if not os.path.lexists(card_path):
        raise ModelLoadError(
            path, f"a whole network needs a json beside it ({card_path.name}) saying how to read "
            'its output, e.g. {"decoder": "ctc", "alphabet": "abc...", "input_height": 32}; '
            "for other decoders write an adapter plugin"
        )
    card = read_json(card_path)
    if not isinstance(card, dict) or card.get("decoder") != "ctc":
        raise ModelLoadError(
            card_path, 'only "decoder": "ctc" networks open from a json; for other decoders '
            "write an adapter plugin defining load_recognizer()"
        )
    check_fields(card_path, card, CTC_FIELDS)
    check_alphabet(card_path, card["alphabet"])
    try:
        return CTCRecognizer(
            module.eval(),
            alphabet=card["alphabet"],
            height=card["input_height"],
            blank=card.get("blank") or 0,
            time_major=bool(card.get("time_major")),
            name=card.get("name") or path.stem,
            cam_layer=card.get("cam_layer"),
            width_stride=card.get("width_stride"),
            flatten_paper=bool(card.get("flatten_paper")),
        )
    except ValueError as exc:  # the blank outside the classes
        raise ModelLoadError(card_path, f"not a valid CTC description: {exc}") from exc


def _checked_recognizer(path: Path, obj: object) -> Recognizer:
    """`obj` if it has everything the engine calls, else an error naming what is missing."""
    needed = ("name", "module", "prepare", "read", "token_scores", "attention", "cam_layer")
    missing = [a for a in needed if not hasattr(obj, a)]
    if missing or not isinstance(getattr(obj, "module", None), nn.Module):
        raise ModelLoadError(
            path, f"gave a {type(obj).__name__}, not a Recognizer (missing: "
            f"{', '.join(missing) or 'module is not an nn.Module'}); wrap a CTC network in "
            "CTCRecognizer or implement the Recognizer protocol"
        )
    return obj  # type: ignore[return-value]


_Opener = Callable[[Path, Path, bool], tuple[Recognizer, ModelFormat]]
_OPENERS: dict[ModelFormat, _Opener] = {
    ModelFormat.SAFETENSORS: _open_safetensors,
    ModelFormat.STATE_DICT: _open_torch_file,
    ModelFormat.HUGGING_FACE: _open_hugging_face,
    ModelFormat.PLUGIN: _open_plugin,
    ModelFormat.TORCHSCRIPT: _open_torchscript,
    ModelFormat.KRAKEN: _open_kraken,
}
_CODE_KINDS = {
    ModelFormat.PLUGIN: "an adapter plugin (a Python program)",
    ModelFormat.TORCHSCRIPT: "a TorchScript program",
    ModelFormat.PICKLE: "a full pickle (it stores Python objects, not only tensors)",
}
_CODE_ADVICE = {
    ModelFormat.PLUGIN: "Open it only if you wrote it or trust whoever did: `--trust` on the "
    "command line, or confirm in the app.",
    ModelFormat.TORCHSCRIPT: _EXPORT_ADVICE,
    ModelFormat.PICKLE: _EXPORT_ADVICE,
}
