"""Run a user's module for explanation without leaving a trace on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import torch
from torch import nn

#: What a scripted or traced RNN module's `original_name` is (its class is not `RNNBase`).
_RNN_NAMES = frozenset({"RNN", "LSTM", "GRU"})


@contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """Put `module` in eval mode for the block and restore every submodule's own flag
    and the global cuDNN switch, even when the block raises.

    Eval mode, not a switch to train mode: BatchNorm keeps using (and never updates)
    its running statistics and dropout stays off, so explaining a model never changes
    it or its scores. cuDNN's RNN kernels refuse a backward pass in eval mode, so on
    CUDA every RNN's forward takes the native kernels instead (their backward works in
    eval mode, and which kernel runs backward is fixed by the forward, so the backward
    may come after the block). Only the RNNs' forwards lose cuDNN: the convolutions
    around them keep it. A scripted or traced RNN cannot be hooked; with one inside,
    cuDNN is off for the whole block.
    """
    flags = [(m, m.training) for m in module.modules()]
    cudnn_enabled = torch.backends.cudnn.enabled
    module.eval()
    try:
        with ExitStack() as scope:
            if _on_cuda(module):
                _native_rnn_kernels(module, cudnn_enabled, scope)
            yield module
    finally:
        torch.backends.cudnn.enabled = cudnn_enabled
        for m, was_training in flags:
            m.training = was_training


def _on_cuda(module: nn.Module) -> bool:
    """Whether the module's parameters or buffers live on a CUDA device."""
    return any(t.is_cuda for t in (*module.parameters(), *module.buffers()))


def _native_rnn_kernels(module: nn.Module, cudnn_enabled: bool, scope: ExitStack) -> None:
    """Turn cuDNN off around each RNN's forward until `scope` closes (back to
    `cudnn_enabled` after each), or for the whole block when an RNN is scripted
    (`evaluating` turns it back). Only `enabled` changes: `torch.backends.cudnn.flags`
    would also reset the user's `deterministic` and `benchmark` for the block."""

    def native(*_: object) -> None:
        torch.backends.cudnn.enabled = False

    def restore(*_: object) -> None:
        torch.backends.cudnn.enabled = cudnn_enabled

    if any(_is_scripted_rnn(m) for m in module.modules()):
        native()
        return
    for m in module.modules():
        if isinstance(m, nn.RNNBase):
            scope.callback(m.register_forward_pre_hook(native).remove)
            scope.callback(m.register_forward_hook(restore).remove)


def _is_scripted_rnn(module: nn.Module) -> bool:
    return isinstance(module, torch.jit.ScriptModule) and getattr(module, "original_name", "") in _RNN_NAMES
