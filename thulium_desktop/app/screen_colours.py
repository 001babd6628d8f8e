"""Heatmap colouring for the canvas and the compare view, from the render layer's rules.

The colours are `render.colormaps.lookup_table`'s and the value range is
`render.colormaps.shared_scale`'s with the figures' `OUTLIER_PERC`, so the screen
shows a map as an exported figure (app or CLI) draws it.

Low saliency must leave the handwriting visible, so the on-screen lookup tables add
an alpha ramp: transparent where the map is ~0 (for signed maps, the centre of the
diverging scale), opaque where it is strong.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyqtgraph as pg

from thulium_desktop.render.colormaps import OUTLIER_PERC, SIGNED_CMAP, UNSIGNED_CMAP, lookup_table, shared_scale

#: Perceptually uniform maps for unsigned saliency (first = default, as in exported figures).
UNSIGNED_MAPS = (UNSIGNED_CMAP, "inferno", "magma", "plasma", "cividis")
#: Diverging maps for signed saliency, centred on zero (first = default, as in exported figures).
SIGNED_MAPS = (SIGNED_CMAP, "coolwarm", "PuOr_r", "bwr")

#: Alpha reaches full opacity at this fraction of the map's range.
ALPHA_SATURATION = 0.6


@lru_cache(maxsize=None)
def colormap(name: str) -> pg.ColorMap:
    """The colorbar's colormap: the render layer's lookup table under its matplotlib name.

    Cached: a click must not rebuild it."""
    table = lookup_table(name)
    return pg.ColorMap(np.linspace(0.0, 1.0, len(table)), table, name=name)


@lru_cache(maxsize=32)
def heat_lut(name: str, signed: bool) -> np.ndarray:
    """RGBA uint8 lookup table `[256, 4]`: the render layer's colours with the transparency ramp."""
    table = lookup_table(name)
    pos = np.linspace(0.0, 1.0, len(table))
    strength = np.abs(2.0 * pos - 1.0) if signed else pos
    alpha = np.round(np.clip(strength / ALPHA_SATURATION, 0.0, 1.0) * 255).astype(np.uint8)
    return np.column_stack([table, alpha])


def map_levels(maps: np.ndarray, signed: bool) -> tuple[float, float]:
    """Display range of `maps` (one map, or a stack sharing a scale): the figures' own
    (`shared_scale` clipped at `OUTLIER_PERC`), so zero sits at the transparent end (or
    centre) of the scale and the colorbar reads as an exported figure's does."""
    scale = shared_scale([np.asarray(maps)], signed, outlier_perc=OUTLIER_PERC)
    return scale.vmin, scale.vmax
