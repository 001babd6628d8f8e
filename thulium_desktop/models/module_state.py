"""Run a user's module for explanation without leaving a trace on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

_RNN_TYPES = (nn.RNNBase,)


@contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """Put `module` in eval mode for the block and restore every submodule's own flag.

    cuDNN's RNN kernels refuse a backward pass in eval mode, so while the block runs
    on CUDA with an RNN inside, cuDNN is switched off for this block only (the
    forward then takes the native kernels, whose backward works in eval mode).
    """
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        if _needs_native_rnn(module):
            with torch.backends.cudnn.flags(enabled=False):
                yield module
        else:
            yield module
    finally:
        for m, was_training in flags:
            m.training = was_training


def _needs_native_rnn(module: nn.Module) -> bool:
    if not torch.backends.cudnn.is_available():
        return False
    has_rnn = any(isinstance(m, _RNN_TYPES) for m in module.modules())
    on_cuda = any(p.is_cuda for p in module.parameters())
    return has_rnn and on_cuda
