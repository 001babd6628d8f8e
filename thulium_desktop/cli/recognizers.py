"""Which model a command runs, and on which device: `--model` and `--device`."""

from __future__ import annotations

from pathlib import Path

import torch

from thulium_desktop import models
from thulium_desktop.cli.errors import UsageError
from thulium_desktop.models.protocol import Recognizer


def load_recognizer(spec: str | None) -> Recognizer:
    """`--model`: an existing path is a model file (or folder) of the user's; anything else
    names a bundled model; None is the default bundled model. Failures are usage errors."""
    from_file = spec is not None and Path(spec).exists()
    loader = getattr(models, "load_model_files" if from_file else "load_model", None)
    if loader is None:
        raise UsageError("this build has no model registry (thulium_desktop.models.load_model)")
    try:
        return loader(spec)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise UsageError(f"cannot load model {spec or '(default)'}: {exc}") from exc


def choose_device(choice: str) -> torch.device:
    """`--device`: auto picks CUDA when it is usable; asking for CUDA without it is an error."""
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available (try --device cpu)")
    return torch.device(choice)


def prepared_recognizer(spec: str | None, device: str) -> Recognizer:
    """The recognizer for `--model`, moved to the `--device`."""
    target = choose_device(device)
    recognizer = load_recognizer(spec)
    recognizer.module.to(target)
    return recognizer
