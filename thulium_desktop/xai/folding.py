"""The copy of a recognizer the gradient methods run on: BatchNorm folded into its convolution.

Why: on CNN readers one character's input gradient costs about one forward pass, and
on the bundled readers BatchNorm's backward is a sixth of it (profiled on the
ctc-reader at 16 path points: `native_batch_norm_backward` 9% of the loop's backward
time, plus the tensors it touches). In eval mode, a BatchNorm right after a
convolution is a per-channel affine map, so it folds exactly into that convolution's
weight and bias: the folded network is the same function (up to float rounding,
about 1e-6 relative) with one layer fewer to run backwards, T times per chunk.

The user's module is never touched: the fold is done on a deep copy of the whole
recognizer (so its cached layers point into the copy), rebuilt whenever a parameter
or buffer of the module changes (identity or in-place version), so a model trained
further between two explanations is explained as it is now. Only convolutions
followed by their BatchNorm inside a plain `nn.Sequential` are folded: there the
convolution's output reaches nothing but the BatchNorm.
"""

from __future__ import annotations

import copy
from itertools import chain

import torch
from torch import nn

from thulium_desktop.models.protocol import Recognizer

_NORM_OF = {nn.Conv1d: nn.BatchNorm1d, nn.Conv2d: nn.BatchNorm2d, nn.Conv3d: nn.BatchNorm3d}
_HOOK_TABLES = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")
#: Models whose tensors take more than this are not copied (the copy doubles memory).
MAX_FOLD_BYTES = 512 << 20


def foldable_pairs(module: nn.Module) -> list[tuple[nn.Sequential, int]]:
    """`(sequential, i)` for each `sequential[i]` convolution followed by its BatchNorm
    with running statistics (the eval-mode affine map that folds), neither of them
    hooked (a hook on either would see another tensor after the fold)."""
    pairs = []
    for seq in module.modules():
        if type(seq) is not nn.Sequential:  # a subclass may route outputs elsewhere
            continue
        children = list(seq)
        for i, (conv, norm) in enumerate(zip(children, children[1:])):
            if (
                type(conv) in _NORM_OF
                and type(norm) is _NORM_OF[type(conv)]
                and norm.running_mean is not None
                and norm.running_var is not None
                and not _hooked(conv)
                and not _hooked(norm)
            ):
                pairs.append((seq, i))
    return pairs


def _hooks(module: nn.Module) -> list:
    """Every hook registered on this one module (not its children)."""
    return [hook for table in _HOOK_TABLES for hook in getattr(module, table).values()]


def _hooked(module: nn.Module) -> bool:
    return bool(_hooks(module))


def fold_batchnorm(module: nn.Module) -> int:
    """Fold, in place, every foldable BatchNorm into its convolution (the BatchNorm
    becomes an `nn.Identity`, so module names are kept). Returns how many were folded.

    The folded weights are computed in float64 and cast back, so the fold adds no
    rounding of its own beyond the final cast."""
    pairs = foldable_pairs(module)
    for seq, i in pairs:
        seq[i] = _folded_conv(seq[i], seq[i + 1])
        seq[i + 1] = nn.Identity()
    return len(pairs)


def _folded_conv(conv: nn.Module, norm: nn.Module) -> nn.Module:
    with torch.no_grad():
        mean, var = norm.running_mean.double(), norm.running_var.double()
        gain = torch.ones_like(mean) if norm.weight is None else norm.weight.double()
        shift = torch.zeros_like(mean) if norm.bias is None else norm.bias.double()
        scale = gain / torch.sqrt(var + norm.eps)
        bias = torch.zeros_like(mean) if conv.bias is None else conv.bias.double()
        weight = conv.weight.double() * scale.reshape(-1, *[1] * (conv.weight.dim() - 1))
        folded = copy.deepcopy(conv)
        folded.weight = nn.Parameter(weight.to(conv.weight.dtype), conv.weight.requires_grad)
        folded.bias = nn.Parameter(((bias - mean) * scale + shift).to(conv.weight.dtype),
                                   conv.weight.requires_grad)
    return folded


class FoldedRecognizer:
    """Hands out the recognizer to compute input gradients with: a folded copy when
    its module has BatchNorms to fold (cached until the module's tensors change),
    else the recognizer itself."""

    def __init__(self, recognizer: Recognizer) -> None:
        self.recognizer = recognizer
        self._key: tuple | None = None
        self._copy: Recognizer = recognizer
        self.folded = 0  # BatchNorms folded into the current copy

    def get(self) -> Recognizer:
        module = getattr(self.recognizer, "module", None)
        if not isinstance(module, nn.Module):
            return self.recognizer
        key = _state_key(module)
        if key != self._key:
            self._key = key
            self._copy, self.folded = _fold_copy(self.recognizer, module)
        return self._copy


def _state_key(module: nn.Module) -> tuple:
    """Changes when any parameter or buffer is replaced, moved or modified, or a hook is
    added or removed (the copy must run what the module runs). In-place operations bump
    a tensor's version, but writes through `.data` do not, so each tensor's sum is part
    of the key too (0.4 ms for the bundled ctc-reader's 1.5 M values); only a write
    below a float32 sum's rounding would go unseen."""
    tensors = list(chain(module.parameters(), module.buffers()))
    where = tuple((id(t), t._version, t.data_ptr(), t.device, t.dtype) for t in tensors)
    hooks = tuple(id(hook) for m in module.modules() for hook in _hooks(m))
    with torch.no_grad():
        sums = tuple(float(t.sum()) for t in tensors)
    return where + hooks + sums


def _fold_copy(recognizer: Recognizer, module: nn.Module) -> tuple[Recognizer, int]:
    if not foldable_pairs(module):
        return recognizer, 0
    size = sum(t.numel() * t.element_size() for t in chain(module.parameters(), module.buffers()))
    if size > MAX_FOLD_BYTES:
        return recognizer, 0
    try:
        twin = copy.deepcopy(recognizer)
    except (TypeError, RuntimeError, copy.Error):  # an attribute that cannot be copied
        return recognizer, 0
    return twin, fold_batchnorm(twin.module)
