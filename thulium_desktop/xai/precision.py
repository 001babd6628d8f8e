"""The arithmetic the engine's maps are computed in: the TF32 policy it runs under, for
records, and an optional bfloat16 autocast that is used only where it agrees with
float32 on the image being explained.

TF32 (on Ampere and later GPUs) rounds float32 matmul and convolution inputs to a
10-bit mantissa; whether torch may do so is global state a user can change, so a record
of maps made on CUDA says which it was (`tf32_policy`). bfloat16 halves the memory and
the time of a chunk on such GPUs, but has an 8-bit mantissa: a map's fine structure
may change. So `precision_scope` first compares a cheap probe (e.g. the plain gradient
maps of this input, one pass) in both precisions; within `BF16_TOLERANCE` the method
runs under autocast, otherwise in float32, and either way a note says which and why.
float32 stays the default.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from thulium_desktop.models.notes import Note
from thulium_desktop.xai.tf32 import conv_tf32, matmul_precision, matmul_tf32

__all__ = [
    "BF16_TOLERANCE",
    "PRECISIONS",
    "PrecisionChoice",
    "map_difference",
    "precision_scope",
    "tf32_policy",
    "tf32_record",
]

PRECISIONS = ("float32", "bf16")
#: The most that bfloat16 maps may differ from float32 ones, as a share of each map's
#: own peak |value|: 5 % is about a dozen of a colour map's 256 levels, a shade a user
#: can barely tell. Measured on CPU (`tests/xai/test_precision.py`): the bundled
#: readers' gradient maps differ by 28-45 % in bfloat16, so there they run in float32.
BF16_TOLERANCE = 0.05

#: `probe()`: maps `[K, H, W]` of the image being explained (computed in whatever
#: precision is in effect while it runs).
Probe = Callable[[], np.ndarray | torch.Tensor]


def tf32_record() -> dict[str, object]:
    """The TF32 switches the engine runs under, for a JSON record."""
    return {
        "matmul_allow_tf32": matmul_tf32(),
        "cudnn_allow_tf32": conv_tf32(),
        "float32_matmul_precision": matmul_precision(),
    }


def tf32_policy() -> str:
    """The TF32 policy in one line: what a record of CUDA maps says about its float32."""
    record = tf32_record()
    matmul = "TF32" if record["matmul_allow_tf32"] else "full float32"
    conv = "TF32" if record["cudnn_allow_tf32"] else "full float32"
    return (f"float32 on CUDA: matmuls in {matmul} (float32 matmul precision "
            f"{record['float32_matmul_precision']!r}), cuDNN convolutions in {conv}")


def map_difference(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """The largest difference between two stacks of maps `[K, H, W]`, each map pair taken
    relative to the float32-side (`b`) map's peak |value| (an all-zero map: absolute).
    Maps of another shape (a different reading) differ by infinity."""
    a, b = (np.asarray(m.detach().float().cpu() if isinstance(m, torch.Tensor) else m, np.float64) for m in (a, b))
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    peaks = np.abs(b).reshape(len(b), -1).max(axis=1)
    scale = np.where(peaks > 0, peaks, 1.0)[:, None, None]
    return float((np.abs(a - b) / scale).max())


@dataclass(frozen=True)
class PrecisionChoice:
    """What the maps of one explanation are computed in, and the note that says so
    (None for plain float32)."""

    precision: str
    difference: float | None
    note: Note | None

    def scope(self, device: torch.device) -> AbstractContextManager:
        """The autocast block to run the method in (nothing for float32)."""
        if self.precision == "bf16":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return nullcontext()


def precision_scope(precision: str, device: torch.device, probe: Probe,
                    tolerance: float = BF16_TOLERANCE) -> PrecisionChoice:
    """Which precision to run in. "float32": float32, no probe. "bf16": `probe()` in
    float32 and under bfloat16 autocast; bfloat16 when their `map_difference` is within
    `tolerance`, else float32, with a note either way."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "float32":
        return PrecisionChoice("float32", None, None)
    reference = probe()
    with torch.autocast(device.type, dtype=torch.bfloat16):
        candidate = probe()
    difference = map_difference(candidate, reference)
    if difference <= tolerance:
        return PrecisionChoice("bf16", difference, Note(
            f"computed in bfloat16 (autocast): on this image its gradient maps differ from "
            f"float32 by at most {difference:.1%} of a map's peak (tolerance {tolerance:.0%})",
            short="bf16"))
    return PrecisionChoice("float32", difference, Note(
        f"computed in float32: in bfloat16 this image's gradient maps differ from float32 "
        f"by {difference:.1%} of a map's peak, more than the {tolerance:.0%} tolerance",
        short=f"bf16 off: {difference:.0%} from float32"))
