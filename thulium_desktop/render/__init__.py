"""Drawing explanation maps: colour scales, overlays, figures and their export (no Qt, no torch)."""

from thulium_desktop.render.captions import caption, contrast_phrase, token_label
from thulium_desktop.render.colormaps import (
    SIGNED_CMAP,
    UNSIGNED_CMAP,
    Scale,
    colorize,
    default_cmap,
    shared_scale,
)
from thulium_desktop.render.explanation_figures import (
    characters_figure,
    selected_label,
    selected_row,
    selection_figure,
)
from thulium_desktop.render.export import FIGURE_FORMATS, explanation_arrays, save_figure, save_image
from thulium_desktop.render.figures import (
    character_labels,
    comparison_figure,
    overlay_figure,
    token_grid_figure,
)
from thulium_desktop.render.overlay import fit_map, overlay, to_bgr8

__all__ = [
    "explanation_arrays",
    "FIGURE_FORMATS",
    "SIGNED_CMAP",
    "UNSIGNED_CMAP",
    "Scale",
    "caption",
    "character_labels",
    "characters_figure",
    "colorize",
    "contrast_phrase",
    "comparison_figure",
    "default_cmap",
    "fit_map",
    "overlay",
    "overlay_figure",
    "save_figure",
    "save_image",
    "selected_label",
    "selected_row",
    "selection_figure",
    "shared_scale",
    "to_bgr8",
    "token_label",
    "token_grid_figure",
]
