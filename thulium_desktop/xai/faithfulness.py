"""Deletion and insertion curves (Petsiuk et al. 2018): does the map rank pixels that matter?

Deletion turns pixels to paper in the map's order, most salient first, and tracks
the character's score with the reading held fixed; a faithful map makes it fall
fast (low area under the curve). Insertion reveals pixels of the image, in the same
order, over a heavily blurred copy; a faithful map makes the score rise fast (high
area). Both are compared with a random order computed the same way. All steps of
all characters' curves go through the model in as few batched forwards as
`batch_size` allows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from thulium_desktop.models.protocol import Reading, Recognizer
from thulium_desktop.xai.perturb import gaussian_blur
from thulium_desktop.xai.saliency import CancelCheck, raise_if_cancelled

MODES = ("deletion", "insertion")


@dataclass(frozen=True)
class Curves:
    """Scores (relative to the unperturbed score) after perturbing a fraction of pixels."""

    mode: str
    fractions: np.ndarray  # [S + 1]
    scores: np.ndarray  # [K, S + 1], map order
    random_scores: np.ndarray  # [K, S + 1], random order
    auc: np.ndarray  # [K]
    random_auc: np.ndarray  # [K]

    def beats_random(self) -> np.ndarray:
        """Per character: the map's order is better than random (lower AUC for deletion)."""
        return self.auc < self.random_auc if self.mode == "deletion" else self.auc > self.random_auc


def perturbation_curves(
    model: Recognizer,
    image,
    maps: np.ndarray,
    token_indices: Sequence[int],
    reading: Reading | None = None,
    mode: str = "deletion",
    steps: int = 20,
    seed: int = 0,
    batch_size: int = 64,
    cancel: CancelCheck | None = None,
) -> Curves:
    """Deletion or insertion curves for `maps[k]` explaining character `token_indices[k]`.

    `maps` are `[K, H, W]` in image pixels (as `Explanation.maps`). Scores are the
    characters' probabilities (`token_scores(..., "prob")`) divided by their value on
    the unperturbed image. `cancel()` is polled between batches (raising `Cancelled`):
    a long line's curves take seconds.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    prepared = model.prepare(image)
    x = prepared.tensor
    reading = reading or model.read(x)
    targets = list(token_indices)
    if len(targets) != len(maps):
        raise ValueError(f"{len(maps)} maps for {len(targets)} characters")
    content = torch.zeros(prepared.model_size, dtype=torch.bool, device=x.device)
    top, left, height, width = prepared.content
    content[top : top + height, left : left + width] = True
    with torch.no_grad():
        model_maps = prepared.from_image(np.asarray(maps, np.float32))
        gen = torch.Generator(device="cpu").manual_seed(seed)
        random_maps = torch.rand(model_maps.shape, generator=gen, dtype=torch.float64).to(x.device, x.dtype)
        ranks = torch.stack([_ranks(m, content) for m in (*model_maps, *random_maps)])  # [2K, Hm, Wm]
        start, end = _endpoints(x, mode)
        fractions = np.linspace(0.0, 1.0, steps + 1)
        n_pixels = int(content.sum())
        full = model.token_scores(x, reading, "prob")[0]
        columns = torch.as_tensor(targets * 2, device=x.device)
        raw = _scores_in_batches(model, reading, start, end, ranks, fractions, n_pixels, columns, batch_size, cancel)
        rel = (raw / full[columns].clamp_min(1e-12)[:, None]).cpu().numpy()
    k = len(targets)
    auc = np.trapezoid(rel, fractions, axis=1)
    return Curves(mode, fractions, rel[:k], rel[k:], auc[:k], auc[k:])


def _ranks(saliency: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Rank of every pixel (0 = most salient); padding ranks last."""
    flat = torch.where(content, saliency.abs(), torch.full_like(saliency, -1.0)).flatten()
    order = torch.argsort(flat, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks[order] = torch.arange(order.numel(), device=order.device)
    return ranks.view_as(saliency)


def _endpoints(x: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(image before any step, image after the last step) for the mode."""
    paper = torch.full_like(x, float(x.max()))
    blurred = gaussian_blur(x, sigma=max(1.0, x.shape[-2] / 4))
    return (x, paper) if mode == "deletion" else (blurred, x)


def _scores_in_batches(
    model, reading, start, end, ranks, fractions, n_pixels, columns, batch_size, cancel=None
) -> torch.Tensor:
    """`[2K, S + 1]` scores of each curve's column over every step, `batch_size` inputs at a time."""
    jobs = [(c, s) for c in range(ranks.shape[0]) for s in range(len(fractions))]
    out = torch.empty(ranks.shape[0], len(fractions), dtype=torch.float64)
    for chunk in _chunked(jobs, batch_size):
        raise_if_cancelled(cancel, "the perturbation curves")
        batch = torch.cat([
            torch.where(ranks[c] < round(fractions[s] * n_pixels), end[0], start[0])[None]
            for c, s in chunk
        ])
        scores = model.token_scores(batch, reading, "prob")
        for row, (c, s) in enumerate(chunk):
            out[c, s] = float(scores[row, columns[c]])
    return out


def _chunked(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
