"""Deletion and insertion curves (Petsiuk et al. 2018): does the map rank pixels that matter?

Deletion turns pixels to paper in the map's order, most salient first, and tracks
the character's score with the reading held fixed; a faithful map makes it fall
fast (low area under the curve). Insertion reveals pixels of the image, in the same
order, over a heavily blurred copy; a faithful map makes the score rise fast (high
area). Both are compared with several random orders computed the same way, and a map
is "better than random" only when its area lies outside their whole spread: one random
order is one draw, and a map 0.01 below it says nothing. All steps of all curves go
through the model in as few batched forwards as `batch_size` allows.
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
#: Random pixel orders each map is compared with. A map no better than a random order
#: would beat all of them by chance with probability 1 / (RANDOM_ORDERS + 1).
RANDOM_ORDERS = 8


@dataclass(frozen=True)
class Curves:
    """Scores (relative to the unperturbed score) after perturbing a fraction of pixels,
    in each map's order and in `RANDOM_ORDERS` random orders shared by every character."""

    mode: str
    fractions: np.ndarray  # [S + 1]
    scores: np.ndarray  # [K, S + 1], map order
    random_scores: np.ndarray  # [K, R, S + 1], each random order
    auc: np.ndarray  # [K]
    random_auc: np.ndarray  # [K, R]

    @property
    def orders(self) -> int:
        """How many random orders the maps are compared with."""
        return self.random_auc.shape[1]

    def random_band(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Character `k`'s lowest and highest random-order score at each step: the spread
        a map's curve must leave to be better than chance."""
        return self.random_scores[k].min(axis=0), self.random_scores[k].max(axis=0)

    def beats_random(self) -> np.ndarray:
        """Per character: the map's AUC lies outside the random orders' whole spread, on
        the better side (below every random AUC for deletion, above for insertion)."""
        if self.mode == "deletion":
            return self.auc < self.random_auc.min(axis=1)
        return self.auc > self.random_auc.max(axis=1)


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
    orders: int = RANDOM_ORDERS,
) -> Curves:
    """Deletion or insertion curves for `maps[k]` explaining character `token_indices[k]`,
    and for `orders` random pixel orders (seeded by `seed`).

    `maps` are `[K, h, w]` over the whole image, on its pixels or a coarser grid (as
    `Explanation.maps`): `Prepared.from_image` lays either onto the model input. Scores are the
    characters' probabilities (`token_scores(..., "prob")`) divided by their value on
    the unperturbed image. A random order does not depend on the character, so each
    random image is scored once for all characters: the cost is (K + orders) curves,
    not K × (1 + orders). `cancel()` is polled between batches (raising `Cancelled`):
    a long line's curves take seconds.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    if orders < 1:
        raise ValueError(f"orders must be positive, got {orders}")
    prepared = model.prepare(image)
    x = prepared.tensor
    reading = reading or model.read(x)
    targets = list(token_indices)
    if len(targets) != len(maps):
        raise ValueError(f"{len(maps)} maps for {len(targets)} characters")
    content = torch.zeros(prepared.model_size, dtype=torch.bool, device=x.device)
    top, left, height, width = prepared.content
    content[top : top + height, left : left + width] = True
    k = len(targets)
    with torch.no_grad():
        model_maps = prepared.from_image(np.asarray(maps, np.float32))
        gen = torch.Generator(device="cpu").manual_seed(seed)
        random_maps = torch.rand((orders, *model_maps.shape[1:]), generator=gen, dtype=torch.float64)
        random_maps = random_maps.to(x.device, x.dtype)
        ranks = torch.stack([_ranks(m, content) for m in (*model_maps, *random_maps)])  # [K + R, Hm, Wm]
        start, end = _endpoints(x, mode)
        fractions = np.linspace(0.0, 1.0, steps + 1)
        n_pixels = int(content.sum())
        columns = torch.as_tensor(targets, device=x.device)
        full = model.token_scores(x, reading, "prob")[0, columns]
        raw = _scores_in_batches(model, reading, start, end, ranks, fractions, n_pixels, columns, batch_size, cancel)
        rel = (raw / full.clamp_min(1e-12).cpu().double()).numpy()  # [K + R, S + 1, K]
    scores = rel[np.arange(k), :, np.arange(k)]  # each map's own character
    random_scores = rel[k:].transpose(2, 0, 1)  # [K, R, S + 1]
    return Curves(mode, fractions, scores, random_scores,
                  np.trapezoid(scores, fractions, axis=1), np.trapezoid(random_scores, fractions, axis=2))


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
    """`[C, S + 1, K]` scores of every explained character (`columns`) on each curve's
    image at every step, `batch_size` inputs at a time."""
    jobs = [(c, s) for c in range(ranks.shape[0]) for s in range(len(fractions))]
    out = torch.empty(ranks.shape[0], len(fractions), len(columns), dtype=torch.float64)
    for chunk in _chunked(jobs, batch_size):
        raise_if_cancelled(cancel, "the perturbation curves")
        batch = torch.cat([
            torch.where(ranks[c] < round(fractions[s] * n_pixels), end[0], start[0])[None]
            for c, s in chunk
        ])
        scores = model.token_scores(batch, reading, "prob")[:, columns].cpu().double()
        for row, (c, s) in enumerate(chunk):
            out[c, s] = scores[row]
    return out


def _chunked(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
