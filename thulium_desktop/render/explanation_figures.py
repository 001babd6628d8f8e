"""Figures of one explanation, as both the app's Export and `thulium-desktop explain` write them.

One builder per figure, shared by the two faces, so a figure saved from the app and
the same figure written by the CLI cannot drift apart in labels, caption or scale.
Explanations are duck-typed (`xai.saliency.Explanation`): render sits below the engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from thulium_desktop.render.captions import caption, token_label
from thulium_desktop.render.colormaps import CmapSpec
from thulium_desktop.render.figures import character_labels, overlay_figure, token_grid_figure


def selected_row(exp: Any, index: int) -> int:
    """Which of `exp`'s maps shows character `index`: the only one of a whole-reading or a
    contrastive explanation (whose one map is its character's), else row `index`."""
    return 0 if exp.whole_reading or exp.meta.get("contrast") else index


def selected_label(exp: Any, index: int) -> str:
    """The panel label of the selected character, or the quoted reading for a whole-reading map."""
    if exp.whole_reading:
        return f"\u201c{exp.reading.text}\u201d"
    k = selected_row(exp, index)
    return token_label(exp.tokens[k], exp.token_indices[k], float(exp.confidences[k]))


def selection_figure(
    image: np.ndarray, exp: Any, index: int, *, cmap: CmapSpec | None = None, outlier_perc: float = 0.0
) -> Figure:
    """The map of one character (or of the whole reading, or a contrast) over its image,
    captioned with model, method, parameters and, for a contrast, which two characters."""
    return overlay_figure(
        image, exp.maps[selected_row(exp, index)], signed=exp.signed, cmap=cmap,
        outlier_perc=outlier_perc, label=selected_label(exp, index), caption=caption(exp.meta),
    )


def characters_figure(
    image: np.ndarray, exp: Any, *, cmap: CmapSpec | None = None, outlier_perc: float = 0.0
) -> Figure:
    """A panel per explained character on one scale, captioned with the reading."""
    labels = character_labels(exp.tokens, exp.token_indices, exp.confidences)
    return token_grid_figure(
        image, exp.maps, labels, signed=exp.signed, cmap=cmap, outlier_perc=outlier_perc,
        caption=caption(exp.meta, f"read \u201c{exp.reading.text}\u201d"),
    )
