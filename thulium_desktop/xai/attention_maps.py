"""`AttentionVisualizer`: the seed documentation's attention calls, on the render layer.

The seed's users write `viz.overlay_attention(image, weights)` and hand the result
to `cv2.imwrite`, or call `viz.plot_attention_grid(...)` for a figure. Those calls
keep working here; the drawing itself is `thulium_desktop.render`, shared with the
app and the CLI, so the three never disagree about colours or scales.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import cv2
import numpy as np
import torch
from matplotlib.figure import Figure

from thulium_desktop.models.protocol import Recognizer
from thulium_desktop.render import (
    character_labels,
    overlay,
    save_figure,
    shared_scale,
    token_grid_figure,
)
from thulium_desktop.render.colormaps import CmapSpec
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator

ArrayLike = np.ndarray | torch.Tensor


class AttentionVisualizer:
    """Overlays and figures of per-character attention.

    `model` is optional: it is only needed by `get_attention`, which asks a
    Recognizer where it looked for each character it read. `colormap` is an
    OpenCV constant or a matplotlib name; the default, viridis, is perceptually
    uniform (`cv2.COLORMAP_JET` still works when asked for).
    """

    def __init__(self, model: Recognizer | None = None, colormap: CmapSpec = cv2.COLORMAP_VIRIDIS) -> None:
        self.model = model
        self.colormap = colormap

    def get_attention(self, image: np.ndarray) -> np.ndarray:
        """`[T, H, W]` float32: where the model looked for each character it reads in
        `image`, in the image's pixels (CTC models: each character's frame posterior)."""
        if self.model is None:
            raise ValueError("AttentionVisualizer(model) needs a Recognizer to compute attention")
        config = SaliencyConfig(method="attention", normalize=False)
        return SaliencyGenerator(self.model, config).explain(image).maps

    def overlay_attention(
        self,
        image: np.ndarray,
        attention_weights: ArrayLike,
        alpha: float = 0.6,
        colormap: CmapSpec | None = None,
        token: int | None = None,
    ) -> np.ndarray:
        """uint8 BGR image of `image`'s height and width with the attention blended over it.

        `attention_weights` is a 1-D column profile (spread over the height), a 2-D
        map of any size (resized to the image), or `[T, H, W]` with `token=` picking
        the character. `image` may be grayscale, BGR, BGRA, 8- or 16-bit.
        """
        weights = _select_token(_as_numpy(attention_weights), token)
        signed = bool(np.nanmin(weights) < 0)
        scale = shared_scale([weights], signed, colormap if colormap is not None else self.colormap)
        return overlay(image, weights, scale, alpha)

    def plot_attention_grid(
        self,
        image: np.ndarray,
        attentions: ArrayLike | Sequence[ArrayLike],
        tokens: Sequence[str] | str,
        save_path: str | os.PathLike | None = None,
    ) -> Figure:
        """One panel per character, labelled, on a shared colour scale with a colorbar.

        `save_path` writes the figure as PNG, SVG or PDF, chosen by its extension.
        """
        maps = [_as_numpy(a) for a in attentions]
        if len(maps) != len(tokens):
            raise ValueError(f"{len(maps)} attention maps for {len(tokens)} tokens")
        fig = token_grid_figure(
            image, maps, character_labels(list(tokens), range(len(maps))), cmap=self.colormap
        )
        if save_path is not None:
            save_figure(fig, save_path)
        return fig


def _as_numpy(weights: ArrayLike) -> np.ndarray:
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().cpu()
    return np.asarray(weights, np.float32)


def _select_token(weights: np.ndarray, token: int | None) -> np.ndarray:
    """The 1-D or 2-D map to draw: `weights` itself, or character `token` of a `[T, H, W]` stack."""
    if weights.ndim == 3:
        if token is None:
            if weights.shape[0] != 1:
                raise ValueError(f"attention for {weights.shape[0]} characters: pass token= to pick one")
            token = 0
        if not -weights.shape[0] <= token < weights.shape[0]:
            raise ValueError(f"token {token} is out of range for {weights.shape[0]} characters")
        return weights[token]
    if token is not None:
        raise ValueError(f"token= needs [T, H, W] attention, got shape {weights.shape}")
    return weights
