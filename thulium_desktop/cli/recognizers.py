"""Which model a command runs, and on which device: `--model` and `--device`."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import torch

from thulium_desktop import __version__, models
from thulium_desktop.cli.errors import UsageError
from thulium_desktop.io.fingerprint import sha256_of
from thulium_desktop.models import ModelLoadError
from thulium_desktop.models.trocr import TrOCRRecognizer
from thulium_desktop.models.user_models import ModelFormat, OpenedModel, summarize


def load_recognizer(spec: str | None, trust: bool = False) -> OpenedModel:
    """`--model`: a bundled model's name (None: the default) or a model file or folder of
    the user's, opened by `models.open_described`; `--trust` is the consent that files
    which run code (plugins, TorchScript, full pickles) need. Failures are usage errors."""
    try:
        return models.open_described(spec, trust=trust)
    except ModelLoadError as exc:
        raise UsageError(str(exc)) from exc
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise UsageError(f"cannot load model {spec or '(default)'}: {exc}") from exc


def choose_device(choice: str) -> torch.device:
    """`--device`: auto picks CUDA when it is usable; asking for CUDA without it is an error."""
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available (try --device cpu)")
    return torch.device(choice)


def prepared_recognizer(spec: str | None, device: str, trust: bool = False,
                        decoding: str = "greedy") -> OpenedModel:
    """The recognizer for `--model` (with `--trust`), reading as `--decoding` says, moved
    to the `--device`, with the summary (name, format, device, parameters) that captions
    name it by."""
    target = choose_device(device)
    opened = load_recognizer(spec, trust)
    use_decoding(opened.recognizer, decoding)
    opened.recognizer.module.to(target)
    summary = summarize(opened.recognizer, opened.summary.format, opened.summary.path)
    return OpenedModel(opened.recognizer, summary)


def use_decoding(recognizer: object, decoding: str) -> None:
    """`--decoding`: how a Hugging Face TrOCR folder reads; every other model reads one way."""
    if isinstance(recognizer, TrOCRRecognizer):
        recognizer.decoding = decoding
    elif decoding != "greedy":
        raise UsageError(f"--decoding {decoding}: only a Hugging Face TrOCR folder has generation "
                         "settings to read with")


def model_file(opened: OpenedModel) -> Path | None:
    """The file (or folder) the model's weights were read from: the one the user gave,
    or a bundled model's own in `resources/models`; None when neither is known."""
    if opened.summary.path is not None:
        return Path(opened.summary.path)
    if opened.summary.format is ModelFormat.BUNDLED:
        bundled = models.list_models(unreadable=[])  # another model's broken card is not this run's concern
        return next((info.weights_path for info in bundled if info.name == opened.summary.name), None)
    return None


def provenance(opened: OpenedModel) -> dict[str, Any]:
    """What made a record, so that it can be reproduced or told apart from another: the
    tool, torch and Python versions, and the model's file and SHA-256 (`sha256_of`,
    streamed: call once per run). A model file that can no longer be read is a usage error."""
    file = model_file(opened)
    try:
        digest = None if file is None else sha256_of(file)
    except OSError as exc:
        raise UsageError(f"cannot read {exc.filename or file} to record the model's SHA-256: "
                         f"{exc.strerror or exc}") from exc
    return {
        "tool": f"thulium-desktop {__version__}",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "model_file": None if file is None else str(file),
        "model_sha256": digest,
        "decoding": getattr(opened.recognizer, "decoding_description", None),
    }
