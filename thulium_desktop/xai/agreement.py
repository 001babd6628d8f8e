"""How closely two computations of the same scores or gradients must agree.

The engine's shortcuts (a BatchNorm-folded copy, a batched pass of the head) are used
only after they reproduced the plain computation; these are the tolerances of that
check. In float32 the two differ by rounding (about 1e-6 relative); a shortcut that
changes the function (a tapped convolution, a head that mixes its batch) differs by
far more. On CUDA with TF32 matrix products (10-bit mantissa) rounding alone reaches
about 1e-3, so the relative tolerance widens there rather than refusing the shortcut.
"""

from __future__ import annotations

import torch

from thulium_desktop.xai.tf32 import allowed_on


def relative_tolerance(like: torch.Tensor) -> float:
    return 5e-3 if allowed_on(like.device) else 1e-4


def scores_agree(scores: torch.Tensor, reference: torch.Tensor) -> bool:
    """`scores` (any leading batch) against one reference row of the same scores."""
    reference = reference.detach().to(scores.dtype).expand_as(scores)
    scale = float(reference.abs().max()) if reference.numel() else 0.0
    return bool(torch.allclose(scores.detach(), reference, rtol=relative_tolerance(scores),
                               atol=1e-5 * max(scale, 1.0)))


def gradients_agree(got: torch.Tensor, expected: torch.Tensor) -> bool:
    """K gradients `[K, ...]` against the plain computation's, row by row: each within
    the tolerance of its own peak plus 1e-5 of the largest peak of all rows (a row of
    a character the input barely moves is compared at the scale of the others)."""
    got, expected = got.detach().flatten(1), expected.detach().to(got.dtype).flatten(1)
    peaks = expected.abs().amax(dim=1)
    allowed = relative_tolerance(got) * peaks + 1e-5 * float(peaks.max()) if peaks.numel() else 0.0
    return bool(((got - expected).abs().amax(dim=1) <= allowed).all())
