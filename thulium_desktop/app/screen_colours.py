"""The screen's colours, from the render layer's rules.

The value range is `render.colormaps.shared_scale`'s with the figures' `OUTLIER_PERC`,
the overlay is `render.overlay.composite` (the blend every exported figure draws, weak
values transparent) and the colorbar shows `render.overlay.colorbar_colours` (that blend
over blank paper), so the screen shows a map as an exported figure (app or CLI) does.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from thulium_desktop.render.colormaps import OUTLIER_PERC, SIGNED_CMAP, UNSIGNED_CMAP, Scale, shared_scale
from thulium_desktop.render.overlay import colorbar_colours

#: Perceptually uniform maps for unsigned saliency (first = default, as in exported figures).
UNSIGNED_MAPS = (UNSIGNED_CMAP, "inferno", "magma", "plasma", "cividis")
#: Diverging maps for signed saliency, centred on zero (first = default, as in exported figures).
SIGNED_MAPS = (SIGNED_CMAP, "coolwarm", "PuOr_r", "bwr")


def colorbar_map(scale: Scale, opacity: float) -> pg.ColorMap:
    """The colorbar's colours: `scale`'s steps as the overlay draws them over blank paper,
    named after the colormap (what the Display panel calls it)."""
    table = colorbar_colours(scale, opacity)
    return pg.ColorMap(np.linspace(0.0, 1.0, len(table)), table, name=str(scale.cmap))


def map_levels(maps: np.ndarray, signed: bool) -> tuple[float, float]:
    """Display range of `maps` (one map, or a stack sharing a scale): the figures' own
    (`shared_scale` clipped at `OUTLIER_PERC`), so zero sits at the transparent end (or
    centre) of the scale and the colorbar reads as an exported figure's does."""
    scale = shared_scale([np.asarray(maps)], signed, outlier_perc=OUTLIER_PERC)
    return scale.vmin, scale.vmax
