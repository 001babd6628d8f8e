"""Drawing explanation maps: colour scales, overlays, figures and their export (no Qt, no torch).

The figure names are imported from their modules on first use (PEP 562): the app
takes its screen colours from `render.colormaps` at launch, and must not pay there
for matplotlib's figure machinery (about 0.3 s), which only an export needs.
"""

from __future__ import annotations

import importlib
from typing import Any

from thulium_desktop.render.captions import caption, comparison_caption, contrast_phrase, token_label
from thulium_desktop.render.colormaps import (
    OUTLIER_PERC,
    SIGNED_CMAP,
    UNSIGNED_CMAP,
    Scale,
    colorbar_label,
    colorize,
    comparison_colorbar_label,
    default_cmap,
    lookup_table,
    shared_scale,
)
from thulium_desktop.render.overlay import DEFAULT_OPACITY, colorbar_colours, composite, fit_map, overlay, to_bgr8

#: Names of the modules that import matplotlib's figures, loaded when first asked for.
_FIGURE_EXPORTS = {
    "explanation_figures": ("FIGURE_KINDS", "explanation_figure"),
    "export": ("FIGURE_FORMATS", "explanation_arrays", "save_figure", "save_image"),
    "figures": ("character_labels", "comparison_figure", "overlay_figure", "token_grid_figure"),
    # not its builder `page_figure`, whose name the module itself takes once imported:
    # `from thulium_desktop.render.page_figure import page_figure`
    "page_figure": (
        "LEGEND_TEXT", "LINE_CMAP", "STEPS", "UNREAD_COLOUR", "LineMark", "line_mark", "page_caption", "step_of",
        "step_rgb",
    ),
}
_MODULE_OF = {name: module for module, names in _FIGURE_EXPORTS.items() for name in names}

__all__ = [
    "DEFAULT_OPACITY",
    "OUTLIER_PERC",
    "SIGNED_CMAP",
    "UNSIGNED_CMAP",
    "Scale",
    "caption",
    "colorbar_colours",
    "colorbar_label",
    "colorize",
    "comparison_caption",
    "comparison_colorbar_label",
    "composite",
    "contrast_phrase",
    "default_cmap",
    "fit_map",
    "lookup_table",
    "overlay",
    "shared_scale",
    "to_bgr8",
    "token_label",
    *_MODULE_OF,
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
