"""Model randomisation sanity check (Adebayo et al., "Sanity Checks for Saliency Maps", 2018).

A map that explains the model must change when the model is destroyed. On a copy
of the model, layers are randomised one after another from the output down
(cascading), the maps recomputed with the original reading held fixed, and each
compared with the original by Spearman rank correlation. The user's model is
never touched.

The maps compared are the signed attributions (Adebayo et al.'s "no ABS" rank
correlation), whatever `absolute` the user's view has: absolute maps of a network
with every weight random still follow the ink's edges, because ReLU gating and
max-pool switches depend on the input (measured on the bundled ctc-reader, sample
hello.png: absolute gradient maps keep a rank correlation of about 0.6, signed ones
fall to about 0.0), so absolute maps cannot tell a destroyed model from a trained one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from thulium_desktop.models.protocol import Recognizer
from thulium_desktop.xai.config import SaliencyConfig
from thulium_desktop.xai.saliency import CancelCheck, SaliencyGenerator, raise_if_cancelled

#: A method whose maps still correlate this much with the original after every layer
#: was randomised is flagged: its maps do not depend on what the model learned.
INSENSITIVE_CORRELATION = 0.5


@dataclass(frozen=True)
class SanityResult:
    """Rank correlations `[L, K]` after randomising `layers[:l + 1]` (top-down)."""

    method: str
    layers: tuple[str, ...]
    correlations: np.ndarray

    @property
    def final(self) -> float:
        """Mean correlation once every layer is random."""
        return float(np.nanmean(self.correlations[-1])) if len(self.layers) else float("nan")

    @property
    def flagged(self) -> bool:
        return bool(self.final >= INSENSITIVE_CORRELATION)


def parameter_layers(module: nn.Module) -> list[str]:
    """Names of submodules holding parameters directly, from the output end down."""
    names = [name for name, m in module.named_modules() if any(True for _ in m.parameters(recurse=False))]
    return names[::-1]


def randomisation_check(
    model: Recognizer,
    image,
    config: SaliencyConfig,
    tokens="all",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    cancel: CancelCheck | None = None,
) -> SanityResult:
    """Cascading randomisation from the top layer down; see module docs.

    It recomputes the maps once per layer, so it reports `progress(layers_done, layers)`
    before each layer and polls `cancel()` (raising `Cancelled`) between and within them.
    """
    config = replace(config, absolute=False)
    original = SaliencyGenerator(model, config).explain(image, tokens=tokens, cancel=cancel)
    damaged = copy.deepcopy(model)
    layers = parameter_layers(damaged.module)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    engine = SaliencyGenerator(damaged, config)  # one for all layers: its checks are paid once
    rows = []
    for done, name in enumerate(layers):
        raise_if_cancelled(cancel, "the sanity check")
        if progress is not None:
            progress(done, len(layers))
        randomise(damaged.module.get_submodule(name), gen)
        maps = engine.explain(image, tokens=tokens, reading=original.reading, cancel=cancel).maps
        rows.append([spearman(a, b) for a, b in zip(original.maps, maps)])
    return SanityResult(config.method, tuple(layers), np.asarray(rows, np.float64).reshape(len(layers), -1))


@torch.no_grad()
def randomise(module: nn.Module, gen: torch.Generator) -> None:
    """Replace the module's own parameters by Gaussian noise of the same mean and scale."""
    for p in module.parameters(recurse=False):
        scale = float(p.std()) if p.numel() > 1 and float(p.std()) > 0 else 0.1
        noise = torch.randn(p.shape, generator=gen, dtype=torch.float64) * scale + float(p.mean())
        p.copy_(noise.to(p.device, p.dtype))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (average ranks for ties); 0 when one is constant."""
    ra, rb = _average_ranks(np.ravel(a)), _average_ranks(np.ravel(b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(values.size, np.float64)
    ranks[order] = np.arange(values.size, dtype=np.float64)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]
