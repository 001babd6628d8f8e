"""Whether CUDA float32 runs in TF32, read whichever of torch's two APIs set it.

torch 2.9 added per-backend `fp32_precision` settings beside the legacy `allow_tf32`
flags and `get_float32_matmul_precision()`. Once anything in the process (a user's
script, a library) sets the new ones, reading the legacy ones raises "mix of the legacy
and new APIs", and every explanation, which records the TF32 policy, would fail. So each
switch is read the legacy way, and where that refuses, from the new setting.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def matmul_tf32() -> bool:
    """Whether cuBLAS float32 matrix products may use TF32."""
    matmul = torch.backends.cuda.matmul
    return _read(lambda: matmul.allow_tf32, lambda: getattr(matmul, "fp32_precision", "") == "tf32")


def conv_tf32() -> bool:
    """Whether cuDNN float32 convolutions may use TF32."""
    cudnn = torch.backends.cudnn
    return _read(lambda: cudnn.allow_tf32,
                 lambda: getattr(getattr(cudnn, "conv", cudnn), "fp32_precision", "") == "tf32")


def allowed_on(device: torch.device) -> bool:
    """Whether float32 work on `device` may round to TF32: CUDA with either switch on."""
    return device.type == "cuda" and (matmul_tf32() or conv_tf32())


def matmul_precision() -> str:
    """torch's float32 matmul precision ("highest", "high", "medium"), or the new API's
    setting for matmuls ("tf32", "ieee", "none") where only that can be read."""
    return _read(torch.get_float32_matmul_precision,
                 lambda: str(getattr(torch.backends.cuda.matmul, "fp32_precision", "unknown")))


def _read(legacy: Callable[[], object], new: Callable[[], object]):
    try:
        value = legacy()
    except RuntimeError:  # the new API was used: the legacy reader refuses
        return new()
    return value if isinstance(value, str) else bool(value)
