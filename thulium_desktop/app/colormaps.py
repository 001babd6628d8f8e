"""Heatmap colouring for the canvas and the compare view.

Names are matplotlib's, so the exported figures (render layer) use the same maps.

Low saliency must leave the handwriting visible, so the lookup tables carry an
alpha ramp: transparent where the map is ~0 (or ~0 for signed maps, the centre of
the diverging scale), opaque where it is strong.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyqtgraph as pg

#: Perceptually uniform maps for unsigned saliency (first = default, as in exported figures).
UNSIGNED_MAPS = ("viridis", "inferno", "magma", "plasma", "cividis")
#: Diverging maps for signed saliency, centred on zero (first = default, as in exported figures).
SIGNED_MAPS = ("RdBu_r", "coolwarm", "PuOr_r", "bwr")

#: Alpha reaches full opacity at this fraction of the map's range.
ALPHA_SATURATION = 0.6


@lru_cache(maxsize=None)
def colormap(name: str) -> pg.ColorMap:
    """A matplotlib colormap by name, so the screen shows what an exported figure will.

    Cached: building it from matplotlib takes milliseconds a click must not spend."""
    return pg.colormap.get(name, source="matplotlib")


@lru_cache(maxsize=32)
def heat_lut(name: str, signed: bool, points: int = 256) -> np.ndarray:
    """RGBA uint8 lookup table `[points, 4]` with the transparency ramp."""
    lut = colormap(name).getLookupTable(0.0, 1.0, points, alpha=True).astype(np.uint8)
    pos = np.linspace(0.0, 1.0, points)
    strength = np.abs(2.0 * pos - 1.0) if signed else pos
    lut[:, 3] = (np.clip(strength / ALPHA_SATURATION, 0.0, 1.0) * 255).astype(np.uint8)
    return lut


def map_levels(maps: np.ndarray, signed: bool) -> tuple[float, float]:
    """Display range: [0, max] for unsigned maps, symmetric [-m, m] for signed ones,
    so that zero always sits at the transparent end (or centre) of the scale."""
    if maps.size == 0:
        return (-1.0, 1.0) if signed else (0.0, 1.0)
    if signed:
        m = float(np.nanmax(np.abs(maps)))
        return (-m, m) if m > 0 else (-1.0, 1.0)
    hi = float(np.nanmax(maps))
    return (0.0, hi) if hi > 0 else (0.0, 1.0)
