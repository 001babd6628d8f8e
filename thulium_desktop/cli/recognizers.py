"""Which model a command runs, and on which device: `--model` and `--device`."""

from __future__ import annotations

import torch

from thulium_desktop import models
from thulium_desktop.cli.errors import UsageError
from thulium_desktop.models import ModelLoadError
from thulium_desktop.models.user_models import OpenedModel, summarize


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


def prepared_recognizer(spec: str | None, device: str, trust: bool = False) -> OpenedModel:
    """The recognizer for `--model` (with `--trust`), moved to the `--device`, with the
    summary (name, format, device, parameters) that captions name it by."""
    target = choose_device(device)
    opened = load_recognizer(spec, trust)
    opened.recognizer.module.to(target)
    summary = summarize(opened.recognizer, opened.summary.format, opened.summary.path)
    return OpenedModel(opened.recognizer, summary)
