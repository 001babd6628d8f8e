"""Every figure of explanations, as both the app's Export and `thulium-desktop explain` write them.

One builder per figure kind, called by both faces (`app/figure_export.py` and
`cli/outputs.py`), on the one colour-scale rule (`colormaps.OUTLIER_PERC`, which the
app's screen uses too): a figure saved from the app and the same figure written by
the CLI cannot drift apart in labels, caption or scale; they are the same pixels.

Kinds (`FIGURE_KINDS`):
- "view": the map of the selected character, or an explanation's one map (the whole
  reading, or a contrast), as the app's single view shows it;
- "grid": a panel per character of one explanation;
- "compare": methods side by side on one scale, for the selected character or for
  every character explained.

Explanations are duck-typed (`xai.saliency.Explanation`): render sits below the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from thulium_desktop.render.captions import caption, comparison_caption, token_label
from thulium_desktop.render.colormaps import OUTLIER_PERC, SIGNED_CMAP, UNSIGNED_CMAP, CmapSpec
from thulium_desktop.render.figures import comparison_figure, overlay_figure, token_grid_figure

FIGURE_KINDS = ("view", "grid", "compare")
#: What a comparison's shared scale compares (the engine normalises each map by default).
COMPARISON_NOTE = "methods on one scale (each map peaks at 1)"


def explanation_figure(
    kind: str,
    image: np.ndarray,
    explanations: Mapping[str, Any],
    index: int | None = None,
    *,
    cmaps: tuple[CmapSpec, CmapSpec] = (UNSIGNED_CMAP, SIGNED_CMAP),
    no_contrast: Sequence[str] = (),
) -> Figure:
    """The `kind` figure of `explanations` (keyed by method) over `image`.

    `index` is the selected character, 0-based as `Explanation.token_indices` count
    (ignored for a whole-reading explanation, whose one map is drawn); None draws every
    character explained (a comparison) and is refused for a view. A view and a grid draw
    one explanation. `cmaps` are the (unsigned, signed) colormaps. `no_contrast` names
    the methods a contrastive comparison leaves out for having no gradients, so that a
    missing row is not taken for an oversight.
    """
    if kind not in FIGURE_KINDS:
        raise ValueError(f"unknown figure kind {kind!r}; choose from {', '.join(FIGURE_KINDS)}")
    if not explanations:
        raise ValueError("there are no explanations to draw")
    if kind == "compare":
        return _comparison(image, list(explanations.values()), index, cmaps, no_contrast)
    if len(explanations) != 1:
        raise ValueError(f"a {kind} figure draws one method's maps, not {len(explanations)}")
    exp = next(iter(explanations.values()))
    cmap = cmaps[1] if exp.signed else cmaps[0]
    if kind == "view":
        return _view(image, exp, index, cmap)
    return token_grid_figure(
        image, exp.maps, [_label(exp, k) for k in range(len(exp.maps))], signed=exp.signed, cmap=cmap,
        outlier_perc=OUTLIER_PERC, caption=caption(exp, _read(exp), OUTLIER_PERC),
    )


def _view(image: np.ndarray, exp: Any, index: int | None, cmap: CmapSpec) -> Figure:
    """One map over its image, captioned with model, method, parameters and, for a
    contrast, which two characters it weighs."""
    if index is None and not exp.whole_reading:
        raise ValueError("a view figure shows one character: say which (its 0-based index)")
    row = _row(exp, index)
    return overlay_figure(
        image, exp.maps[row], signed=exp.signed, cmap=cmap, outlier_perc=OUTLIER_PERC,
        label=_label(exp, row), caption=caption(exp, None, OUTLIER_PERC),
    )


def _comparison(
    image: np.ndarray, exps: list[Any], index: int | None, cmaps: tuple[CmapSpec, CmapSpec], no_contrast: Sequence[str]
) -> Figure:
    """Methods side by side on one scale: rows = methods and columns = characters when
    there are fewer characters than methods (the selected one, or `--token N`), else the
    transpose, so that the grid stays tall rather than wide."""
    first = exps[0]
    if len({e.token_indices for e in exps}) != 1:
        raise ValueError("the compared explanations are not of the same characters")
    rows = range(len(first.maps)) if index is None else [_row(first, index)]
    labels = [_label(first, k) for k in rows]
    by_method = [[e.maps[k] for k in rows] for e in exps]
    methods = [e.method_label for e in exps]
    grid, row_labels, col_labels = by_method, methods, labels
    if len(labels) > len(methods):
        grid, row_labels, col_labels = [list(r) for r in zip(*by_method)], labels, methods
    signed = any(e.signed for e in exps)
    absent = "".join(f"; {name} has no contrast map" for name in no_contrast) if first.contrast else ""
    return comparison_figure(
        image, grid, row_labels, col_labels, signed=signed, cmap=cmaps[1] if signed else cmaps[0],
        outlier_perc=OUTLIER_PERC,
        caption=comparison_caption(first, f"{COMPARISON_NOTE}{absent} \u00b7 {_read(first)}", OUTLIER_PERC),
    )


def _row(exp: Any, index: int | None) -> int:
    """Which of `exp`'s maps shows character `index`: the one map of a whole-reading
    explanation, else the row that explains that character."""
    if exp.whole_reading:
        return 0
    if index not in exp.token_indices:
        raise ValueError(f"character {index} (0-based) was not explained")
    return exp.token_indices.index(index)


def _label(exp: Any, row: int) -> str:
    """A panel's label: the character with its position and confidence, or the quoted
    reading for a whole-reading map."""
    if exp.whole_reading:
        return f"\u201c{exp.reading.text}\u201d"
    return token_label(exp.tokens[row], exp.token_indices[row], float(exp.confidences[row]))


def _read(exp: Any) -> str:
    return f"read \u201c{exp.reading.text}\u201d"
