"""The inputs the gradient methods evaluate: baselines and seeded noisy copies."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from thulium_desktop.models.protocol import Recognizer


def make_baseline(
    x: torch.Tensor, spec: str | np.ndarray | torch.Tensor | None, model: Recognizer
) -> torch.Tensor:
    """The integrated-gradients reference input, shaped like `x`.

    "white" (the default, `methods.PAPER_BASELINE`) is blank paper (ones), "zeros" (or
    None, as in Captum) black ink everywhere, "blur" a heavy Gaussian blur of the input
    (removes strokes, keeps the ink budget). An array is an image, prepared like the
    input; a tensor is taken as model input.
    """
    if spec is None or (isinstance(spec, str) and spec == "zeros"):
        return torch.zeros_like(x)
    if isinstance(spec, str) and spec == "white":
        return torch.ones_like(x)
    if isinstance(spec, str) and spec == "blur":
        return gaussian_blur(x, sigma=max(1.0, x.shape[-2] / 4))
    base = model.prepare(spec).tensor if isinstance(spec, np.ndarray) else spec
    if tuple(base.shape) != tuple(x.shape):
        raise ValueError(
            f"the baseline has shape {tuple(base.shape)} in model space, the input {tuple(x.shape)}"
        )
    return base.to(x.device, x.dtype)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with replicated borders, on the input's device."""
    radius = max(1, int(3 * sigma))
    coords = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-(coords**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    rows = F.pad(x, (radius, radius, 0, 0), mode="replicate")
    out = F.conv2d(rows, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    cols = F.pad(out, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(cols, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def smoothgrad_noise(
    x: torch.Tensor, num_samples: int, noise_level: float, seed: int
) -> torch.Tensor:
    """`[num_samples, C, H, W]` Gaussian noise with sigma = noise_level * (max - min) of x.

    Drawn on the CPU from a seeded generator, then moved to x's device, so the same
    seed gives the same noise on every machine and device.
    """
    sigma = noise_level * float(x.max() - x.min())
    gen = torch.Generator(device="cpu").manual_seed(seed)
    noise = torch.randn((num_samples, *x.shape[1:]), generator=gen, dtype=torch.float64)
    return (noise * sigma).to(x.device, x.dtype)
