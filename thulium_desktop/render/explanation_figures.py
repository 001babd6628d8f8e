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

A grid or a comparison of more characters than fit a page at a legible size
(`render.figures`' layout rule) draws the run of them that fits, around the selected
character when there is one, else from the first; its caption says which characters
are shown and how to draw the others (`captions.shown_phrase`).

Explanations and method records are duck-typed (`xai.saliency.Explanation`,
`xai.methods.Method`): render sits below the engine. The colorbar says what the value
is from the method's record (`colormaps.colorbar_label`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from thulium_desktop.render.captions import caption, comparison_caption, shown_phrase, token_label
from thulium_desktop.render.colormaps import (
    OUTLIER_PERC,
    SIGNED_CMAP,
    UNSIGNED_CMAP,
    CmapSpec,
    colorbar_label,
    comparison_colorbar_label,
)
from thulium_desktop.render.figures import (
    comparison_capacity,
    comparison_figure,
    grid_capacity,
    overlay_figure,
    token_grid_figure,
)
from thulium_desktop.render.overlay import DEFAULT_OPACITY

FIGURE_KINDS = ("view", "grid", "compare")


def explanation_figure(
    kind: str,
    image: np.ndarray,
    explanations: Mapping[str, Any],
    index: int | None = None,
    *,
    cmaps: tuple[CmapSpec, CmapSpec] = (UNSIGNED_CMAP, SIGNED_CMAP),
    no_contrast: Sequence[str] = (),
    methods: Mapping[str, Any] | None = None,
    opacity: float = DEFAULT_OPACITY,
) -> Figure:
    """The `kind` figure of `explanations` (keyed by method) over `image`.

    `index` is the selected character, 0-based as `Explanation.token_indices` count
    (ignored for a whole-reading explanation, whose one map is drawn); None draws every
    character explained (a comparison) and is refused for a view. A grid draws every
    character explained that fits, around `index` when it was explained. A view and a
    grid draw one explanation. `cmaps` are the (unsigned, signed) colormaps. `no_contrast`
    names the methods a contrastive comparison leaves out for having no gradients, so that a
    missing row is not taken for an oversight. `methods` is the method registry
    (`xai.methods.REGISTRY`), whose records say what each map's values are (None leaves
    the colorbar of a view or a grid unlabelled). `opacity`
    is the map's weight where strongest, as the screen's Display panel sets it.
    """
    if kind not in FIGURE_KINDS:
        raise ValueError(f"unknown figure kind {kind!r}; choose from {', '.join(FIGURE_KINDS)}")
    if not explanations:
        raise ValueError("there are no explanations to draw")
    if kind == "compare":
        return _comparison(image, list(explanations.values()), index, cmaps, no_contrast, opacity)
    if len(explanations) != 1:
        raise ValueError(f"a {kind} figure draws one method's maps, not {len(explanations)}")
    exp = next(iter(explanations.values()))
    cmap = cmaps[1] if exp.signed else cmaps[0]
    value_label = colorbar_label(methods[exp.method], exp.signed, _normalised([exp])) if methods else None
    if kind == "view":
        return _view(image, exp, index, cmap, value_label, opacity)
    return _grid(image, exp, index, cmap, value_label, opacity)


def _view(
    image: np.ndarray, exp: Any, index: int | None, cmap: CmapSpec, value_label: str | None, opacity: float
) -> Figure:
    """One map over its image, captioned with model, method, parameters and, for a
    contrast, which two characters it weighs."""
    if index is None and not exp.whole_reading:
        raise ValueError("a view figure shows one character: say which (its 0-based index)")
    row = _row(exp, index)
    return overlay_figure(
        image, exp.maps[row], signed=exp.signed, cmap=cmap, outlier_perc=OUTLIER_PERC, opacity=opacity,
        label=_label(exp, row), value_label=value_label, caption=caption(exp, None, OUTLIER_PERC),
    )


def _grid(
    image: np.ndarray, exp: Any, index: int | None, cmap: CmapSpec, value_label: str | None, opacity: float
) -> Figure:
    """A panel per character explained, as many as fit, captioned with which are shown."""
    labels = [_label(exp, k) for k in range(len(exp.maps))]
    rows, subject = _fit(
        exp, index, _read(exp), lambda text: grid_capacity(image, labels, caption(exp, text, OUTLIER_PERC))
    )
    return token_grid_figure(
        image, [exp.maps[k] for k in rows], [labels[k] for k in rows], signed=exp.signed, cmap=cmap,
        outlier_perc=OUTLIER_PERC, opacity=opacity, value_label=value_label,
        caption=caption(exp, subject, OUTLIER_PERC),
    )


def _comparison(
    image: np.ndarray, exps: list[Any], index: int | None, cmaps: tuple[CmapSpec, CmapSpec],
    no_contrast: Sequence[str], opacity: float,
) -> Figure:
    """Methods side by side on one scale: a row per method and a column per character
    (the selected one, or as many of those explained as fit), the columns wrapped into
    bands when they are too many for one."""
    first = exps[0]
    if len({e.token_indices for e in exps}) != 1:
        raise ValueError("the compared explanations are not of the same characters")
    methods = [e.method_label for e in exps]
    labels = [_label(first, k) for k in range(len(first.maps))]
    absent = "".join(f"; {name} has no contrast map" for name in no_contrast) if first.contrast else ""
    subject = f"{_comparison_note(exps)}{absent} \u00b7 {_read(first)}"

    def captioned(text: str) -> str:
        return comparison_caption(first, text, OUTLIER_PERC, compared=exps)

    if index is None:
        rows, subject = _fit(
            first, None, subject, lambda text: comparison_capacity(image, methods, labels, captioned(text))
        )
    else:
        rows = [_row(first, index)]
    signed = any(e.signed for e in exps)
    return comparison_figure(
        image, [[e.maps[k] for k in rows] for e in exps], methods, [labels[k] for k in rows], signed=signed,
        cmap=cmaps[1] if signed else cmaps[0], outlier_perc=OUTLIER_PERC, opacity=opacity,
        value_label=comparison_colorbar_label(signed, _normalised(exps)), caption=captioned(subject),
    )


def _fit(exp: Any, index: int | None, subject: str, capacity: Callable[[str], int]) -> tuple[list[int], str]:
    """Which of `exp`'s maps a grid or comparison draws (the run of them that fits,
    around character `index` when it was explained, else from the first) and `subject`
    with what the caption must say about them.

    `capacity(subject)` is how many fit under that subject's caption; asked twice,
    since saying which characters are left out lengthens the caption."""
    explained = list(exp.token_indices)
    rows = list(range(len(exp.maps)))
    if exp.whole_reading:
        return rows, subject
    centre = explained.index(index) if index in explained else 0
    shown = rows
    for _ in range(2):
        shown = _run_around(rows, capacity(_naming_shown(subject, shown, exp)), centre)
    return shown, _naming_shown(subject, shown, exp)


def _naming_shown(subject: str, rows: list[int], exp: Any) -> str:
    """`subject`, followed by which characters `rows` shows when not the whole reading;
    nothing for a figure of the one character explained, which its panel names (as the
    comparison of a selected character does)."""
    if len(exp.token_indices) == 1:
        return subject
    phrase = shown_phrase([exp.token_indices[k] for k in rows], exp.token_indices, len(exp.reading))
    return f"{subject} \u00b7 {phrase}" if phrase else subject


def _run_around(rows: list[int], count: int, centre: int) -> list[int]:
    """`count` consecutive `rows` (all of them when they are fewer), centred on `centre`
    as far as the ends allow."""
    if len(rows) <= count:
        return rows
    start = min(max(centre - count // 2, 0), len(rows) - count)
    return rows[start : start + count]


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


def _normalised(exps: Sequence[Any]) -> bool:
    """Whether every map was divided by its own maximum (the engine's `normalize`)."""
    return all(e.params.get("normalize") for e in exps)


def _comparison_note(exps: Sequence[Any]) -> str:
    """What a comparison's shared scale compares: maps that each peak at 1 only when normalised."""
    return "methods on one scale (each map normalised to peak at 1)" if _normalised(exps) else "methods on one scale"


def _read(exp: Any) -> str:
    return f"read \u201c{exp.reading.text}\u201d"
