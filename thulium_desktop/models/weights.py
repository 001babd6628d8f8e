"""Safe weight files: safetensors only, every tensor checked against the architecture.

A weight file is data, never code, so a user's file cannot run anything. Before a
single value is copied, every tensor's name, shape and dtype are compared with a
freshly built module; any difference raises `ModelLoadError` naming the tensor and
the problem, and the half-built module is dropped, so nothing is ever half-loaded.
A module built on the meta device is compared with the file's header alone, and
memory is taken only once they match: a description that asks for a huge network
costs nothing before it is refused.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from thulium_desktop.models.errors import ModelLoadError, first_line
from thulium_desktop.models.files import SAFETENSORS, regular_file, sniff

__all__ = ["ModelLoadError", "TensorSpec", "check_tensors", "load_into", "read_tensors",
           "save_json", "save_model_files", "save_weights", "tensor_specs"]

#: safetensors' dtype names; one not listed stays a name, and never matches a module's.
_DTYPES = {"BOOL": torch.bool, "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16,
           "I32": torch.int32, "I64": torch.int64, "F16": torch.float16, "BF16": torch.bfloat16,
           "F32": torch.float32, "F64": torch.float64}


class TensorSpec(NamedTuple):
    """A tensor's shape and dtype as a file's header declares them (no data read)."""

    shape: tuple[int, ...]
    dtype: torch.dtype | str


def _read_safetensors(path: str | os.PathLike, take: Callable) -> dict:
    """`take(file, name)` for every tensor of a safetensors file, which must be a regular
    file that does not start as another known file type; any failure is one line."""
    p = regular_file(path)
    kind = sniff(p)
    if kind and kind != SAFETENSORS:
        raise ModelLoadError(p, f"not a valid safetensors file: it is {kind}")
    try:
        with safe_open(str(p), framework="pt", device="cpu") as f:
            return {name: take(f, name) for name in f.keys()}
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise ModelLoadError(p, f"not a valid safetensors file (corrupt or truncated?): {first_line(exc)}") from exc


def _spec(f, name: str) -> TensorSpec:
    declared = f.get_slice(name)
    return TensorSpec(tuple(declared.get_shape()), _DTYPES.get(declared.get_dtype(), declared.get_dtype()))


def tensor_specs(path: str | os.PathLike) -> dict[str, TensorSpec]:
    """Every tensor's shape and dtype from a safetensors file's header, reading no data."""
    return _read_safetensors(path, _spec)


def read_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file on the CPU; a corrupt or truncated file raises
    `ModelLoadError`."""
    return _read_safetensors(path, lambda f, name: f.get_tensor(name))


def check_tensors(path: str | os.PathLike, tensors: Mapping[object, torch.Tensor | TensorSpec],
                  module: nn.Module) -> None:
    """Raise `ModelLoadError` unless `tensors` (tensors, or the specs a header declares)
    match `module.state_dict()` exactly in names, shapes and dtypes."""
    odd = [repr(name) for name in tensors if not isinstance(name, str)]
    if odd:  # a state dict from a PyTorch file may be keyed by anything
        raise ModelLoadError(path, f"tensor names must be text, got {', '.join(odd[:8])}")
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(n if n.isprintable() else repr(n) for n in set(tensors) - set(expected))
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
        raise ModelLoadError(path, "; ".join(problems[:8]) + ("; ..." if len(problems) > 8 else ""))


def load_into(path: str | os.PathLike, module: nn.Module,
              tensors: Mapping[str, torch.Tensor] | None = None) -> nn.Module:
    """Check the file's tensors against `module` and copy them in; `module` should be
    freshly built, on the CPU or on the meta device (then it is given CPU memory only
    once everything matches). `tensors`, when given, were already read from `path` by
    another safe reader (a weights-only state dict) and are checked the same way;
    otherwise the safetensors header is checked before any data is read."""
    if tensors is None:
        check_tensors(path, tensor_specs(path), module)
        tensors = read_tensors(path)
    else:
        check_tensors(path, tensors, module)
    if any(t.is_meta for t in module.state_dict().values()):
        module.to_empty(device="cpu")
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
