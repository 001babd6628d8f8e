"""Finding layers inside a module: by dotted name, or the feature maps GradCAM can use."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from thulium_desktop.models.module_state import evaluating
from thulium_desktop.models.protocol import model_device, model_dtype


def resolve_layer(module: nn.Module, layer: nn.Module | str) -> nn.Module:
    """The submodule named by a dotted path (e.g. ``"encoder.conv.5"``), or `layer` itself.

    Raises ValueError naming the missing part and listing valid names nearby.
    """
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in module.modules()):
            raise ValueError("the GradCAM layer is not a submodule of the model")
        return layer
    try:
        return module.get_submodule(layer)
    except AttributeError as exc:
        names = [n for n, _ in module.named_modules() if n][:12]
        raise ValueError(
            f"the model has no layer named {layer!r}; some valid names: {', '.join(names)}"
        ) from exc


def layer_names(module: nn.Module) -> list[str]:
    """Dotted names of every submodule, for a layer chooser."""
    return [name for name, _ in module.named_modules() if name]


#: Modules that mix the positions of a line: a GradCAM map taken after one of them no
#: longer says where on the line a feature was (and one taken before it may misplace a
#: character that the sequence head reads from its neighbours).
SEQUENCE_MODULES: tuple[type[nn.Module], ...] = (
    nn.RNNBase,
    nn.MultiheadAttention,
    nn.TransformerEncoderLayer,
    nn.TransformerDecoderLayer,
)


@dataclass(frozen=True)
class CamLayer:
    """A layer GradCAM can use: a `[B, C, h, w]` map whose width follows the input's."""

    name: str
    module: nn.Module
    #: Its output's shape for a probe input 8 heights wide (for a layer chooser).
    shape: tuple[int, ...]
    #: A recurrent or attention module runs after it: the head may read a character from
    #: its neighbours' features, so GradCAM can light up the wrong glyph.
    feeds_sequence_head: bool


def cam_layers(module: nn.Module, height: int, channels: int = 1) -> list[CamLayer]:
    """Every layer GradCAM can use, in the order they run.

    Two forwards of blank probes (4 and 8 input heights wide, hooks always removed)
    find the 4-D outputs whose last axis grows with the input's width while their
    height axis stays put. That rejects what only looks like a feature map: a sequence
    permuted to `[B, T, C, 1]` before a pool, or a per-class `[B, K, 1, 1]` output.
    Outputs after the first recurrent or attention module are rejected too (a 1x1
    classifier conv after a BiLSTM): their columns are no longer places on the line.
    """
    narrow, _ = _spatial_outputs(module, height, channels, 4 * height)
    wide, sequence_head = _spatial_outputs(module, height, channels, 8 * height)
    named = {id(m): name for name, m in module.named_modules()}
    return [
        CamLayer(named[id(mod)], mod, large, sequence_head)
        for (mod, small), (_, large) in zip(narrow, wide, strict=True)
        if large[-2] == small[-2] and large[-1] > small[-1] > 0 and large[-1] > 1
    ]


def default_cam_layer(module: nn.Module, height: int, channels: int = 1) -> CamLayer | None:
    """The last feature map before the first recurrent or attention module (the last one
    of all in a model without such a module), or None when the model has none."""
    layers = cam_layers(module, height, channels)
    return layers[-1] if layers else None


def _spatial_outputs(
    module: nn.Module, height: int, channels: int, width: int
) -> tuple[list[tuple[nn.Module, tuple[int, ...]]], bool]:
    """The leaves with a 4-D output, and that output's shape, that run before the first
    recurrent or attention module in one forward of a blank `[1, channels, height,
    width]` input; and whether such a module ran at all."""
    seen: list[tuple[nn.Module, tuple[int, ...]]] = []
    sequence_starts: list[int] = []

    def record(mod: nn.Module, _inputs, output) -> None:
        if isinstance(output, torch.Tensor) and output.dim() == 4:
            seen.append((mod, tuple(output.shape)))

    def started(_mod: nn.Module, _inputs) -> None:
        sequence_starts.append(len(seen))

    handles = [m.register_forward_hook(record) for m in module.modules() if not list(m.children())]
    handles += [m.register_forward_pre_hook(started) for m in module.modules() if isinstance(m, SEQUENCE_MODULES)]
    example = torch.ones(1, channels, height, width, device=model_device(module), dtype=model_dtype(module))
    try:
        with evaluating(module), torch.no_grad():
            module(example)
    finally:
        for h in handles:
            h.remove()
    return seen[: min(sequence_starts, default=len(seen))], bool(sequence_starts)
