"""Safe weight files: safetensors only, every tensor checked against the architecture.

A weight file is data, never code, so a user's file cannot run anything. Before a
single value is copied, every tensor's name, shape and dtype are compared with a
freshly built module; any difference raises `ModelLoadError` naming the tensor and
the problem, and the half-built module is dropped, so nothing is ever half-loaded.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn


class ModelLoadError(ValueError):
    """A model file could not be loaded; `str()` names the file and the problem."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot load model {self.path}: {reason}")


def read_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file on the CPU; a corrupt or truncated file raises
    `ModelLoadError`."""
    p = Path(path)
    if not p.is_file():
        raise ModelLoadError(p, "no such file")
    try:
        with safe_open(str(p), framework="pt", device="cpu") as f:
            return {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise ModelLoadError(
            p, f"not a valid safetensors file (corrupt or truncated?): {exc}"
        ) from exc


def check_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor],
                  module: nn.Module) -> None:
    """Raise `ModelLoadError` unless `tensors` match `module.state_dict()` exactly."""
    odd = [repr(name) for name in tensors if not isinstance(name, str)]
    if odd:  # a state dict from a PyTorch file may be keyed by anything
        raise ModelLoadError(path, f"tensor names must be text, got {', '.join(odd[:8])}")
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    problems = []
    if missing:
        problems.append(f"missing tensors: {', '.join(missing[:8])}" + (" ..." if len(missing) > 8 else ""))
    if unexpected:
        problems.append(
            f"unexpected tensors: {', '.join(unexpected[:8])}" + (" ..." if len(unexpected) > 8 else "")
        )
    for name in sorted(set(expected) & set(tensors)):
        want, got = expected[name], tensors[name]
        if tuple(want.shape) != tuple(got.shape):
            problems.append(f"tensor {name} has shape {tuple(got.shape)}, the architecture "
                            f"needs {tuple(want.shape)}")
        elif want.dtype != got.dtype:
            problems.append(f"tensor {name} has dtype {got.dtype}, the architecture needs {want.dtype}")
    if problems:
        raise ModelLoadError(path, "; ".join(problems))


def load_into(path: str | os.PathLike, module: nn.Module,
              tensors: dict[str, torch.Tensor] | None = None) -> nn.Module:
    """Check the file's tensors against `module` and copy them in; `module` should be
    freshly built. `tensors`, when given, were already read from `path` by another safe
    reader (a weights-only state dict) and are checked the same way."""
    tensors = read_tensors(path) if tensors is None else tensors
    check_tensors(path, tensors, module)
    module.load_state_dict(tensors, strict=True)
    return module.eval()


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder and rename: never a torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_weights(module: nn.Module, path: str | os.PathLike) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    _atomic_write(Path(path), lambda tmp: save_file(tensors, tmp))


def save_json(data: dict, path: str | os.PathLike) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    _atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def save_model_files(module: nn.Module, card: dict, weights_path: str | os.PathLike,
                     card_path: str | os.PathLike) -> None:
    """Write a reader's weights and json as a pair: both are staged beside their targets
    and swapped in only once both are written, so a failed write (a full disk) leaves the
    old pair rather than new weights beside a json that does not describe them. The two
    renames that follow are separate steps; only a crash between them splits the pair."""
    targets = [Path(weights_path), Path(card_path)]
    staged = [path.with_name(path.name + ".new") for path in targets]
    try:
        save_weights(module, staged[0])
        save_json(card, staged[1])
        for new, target in zip(staged, targets):
            os.replace(new, target)
    finally:
        for new in staged:
            new.unlink(missing_ok=True)
