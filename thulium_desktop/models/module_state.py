"""Run a user's module for explanation without leaving a trace on it."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import torch
from torch import nn

#: What a scripted or traced RNN module's `original_name` is (its class is not `RNNBase`).
_RNN_NAMES = frozenset({"RNN", "LSTM", "GRU"})
#: The graph operators of the RNNs cuDNN runs: what a frozen or inlined TorchScript
#: module (whose submodules are gone) shows of its RNN.
_RNN_OPS = frozenset({"aten::lstm", "aten::gru", "aten::rnn_tanh", "aten::rnn_relu"})
#: Whether each scripted module seen runs an RNN (reading its graph is not free).
_SCRIPTED_RNN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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
    # a frozen TorchScript module has no `training` flag until `eval()` gives it one
    flags = [(m, m.training) for m in module.modules() if hasattr(m, "training")]
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

    if _runs_scripted_rnn(module):
        native()
        return
    for m in module.modules():
        if isinstance(m, nn.RNNBase):
            scope.callback(m.register_forward_pre_hook(native).remove)
            scope.callback(m.register_forward_hook(restore).remove)


def _runs_scripted_rnn(module: nn.Module) -> bool:
    """Whether a scripted or traced part of `module` runs an RNN: a scripted RNN module,
    or an RNN operator in a scripted module's graph (`torch.jit.freeze` and
    `optimize_for_inference` inline the submodules, so only the graph still shows it)."""
    if isinstance(module, torch.jit.ScriptModule):
        if module not in _SCRIPTED_RNN:
            _SCRIPTED_RNN[module] = (getattr(module, "original_name", "") in _RNN_NAMES
                                     or _graph_runs_rnn(module))
        return _SCRIPTED_RNN[module]
    return any(_runs_scripted_rnn(child) for child in module.children())


def _graph_runs_rnn(module: torch.jit.ScriptModule) -> bool:
    """Whether the module's forward, its calls inlined, has an RNN operator."""
    try:
        graph = module.inlined_graph
    except (AttributeError, RuntimeError):  # a scripted module without a forward
        return False
    return any(node.kind() in _RNN_OPS for node in graph.nodes())
