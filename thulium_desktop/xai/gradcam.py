"""GradCAM pieces: capture a layer's activation, weight it by its mean gradient.

One forward records the layer output through a hook that is always removed; the
scores are then differentiated only down to that activation (not to the input),
which is what makes GradCAM the cheapest gradient method.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from thulium_desktop.models.layers import SEQUENCE_MODULES
from thulium_desktop.models.notes import Note


@contextmanager
def capture_output(layer: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Yield a list that receives the layer's output (first element of a tuple output)."""
    seen: list[torch.Tensor] = []

    def hook(_mod: nn.Module, _inputs, output) -> None:
        tensor = output[0] if isinstance(output, (tuple, list)) else output
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"GradCAM layer {type(layer).__name__} does not output a tensor")
        seen.append(tensor)

    handle = layer.register_forward_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


@contextmanager
def sequence_modules_after(module: nn.Module, seen: list[torch.Tensor]) -> Iterator[list[nn.Module]]:
    """Yield a list that receives each recurrent or attention module of `module` that
    starts after the watched layer gave its output (`seen` non-empty): in the same
    forward as `capture_output`, so telling the user costs no extra pass."""
    after: list[nn.Module] = []

    def started(mod: nn.Module, _inputs) -> None:
        if seen:
            after.append(mod)

    handles = [m.register_forward_pre_hook(started) for m in module.modules() if isinstance(m, SEQUENCE_MODULES)]
    try:
        yield after
    finally:
        for handle in handles:
            handle.remove()


def sequence_head_note(layer_name: str) -> Note:
    """What a user must know about a GradCAM map taken before a sequence head."""
    return Note(
        f"GradCAM layer {layer_name} feeds a recurrent or attention head, which reads each "
        "character from its neighbours too: the map can sit on the wrong character",
        short="GradCAM layer before a recurrent head: may misplace characters",
    )


def as_batch_first(activation: torch.Tensor, layer: nn.Module, batch: int) -> torch.Tensor:
    """A `[B, C, h, w]` map, or a `[B, T, D]` sequence (RNNs with batch_first=False flipped)."""
    if activation.dim() == 4:
        return activation
    if activation.dim() == 3:
        if isinstance(layer, nn.RNNBase) and not layer.batch_first:
            return activation.transpose(0, 1)
        if activation.shape[0] != batch and activation.shape[1] == batch:
            return activation.transpose(0, 1)
        return activation
    raise ValueError(
        f"GradCAM needs a [B, C, h, w] feature map or a [B, T, D] sequence; "
        f"layer {type(layer).__name__} gave {tuple(activation.shape)}"
    )


def cam_maps(activation: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """ReLU(sum_k alpha_k A_k) per cotangent: `[K, h, w]` (a sequence gives `[K, 1, T]`).

    `activation` is `[1, C, h, w]` or `[1, T, D]` (batch first) and `grads` the same
    with a leading K. For a sequence the positions are the T steps, the channels D.
    """
    if activation.dim() == 3:
        activation = activation.transpose(1, 2)[..., None, :]  # [1, D, 1, T]
        grads = grads.transpose(-1, -2)[..., None, :]
    alpha = grads.mean(dim=(-2, -1), keepdim=True)  # [K, 1, C, 1, 1]
    return F.relu((alpha * activation).sum(dim=2))[:, 0]  # [K, h, w]


def upsample(cams: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear (align_corners=False) upsampling of `[K, h, w]` maps to the model input."""
    return F.interpolate(cams[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
