"""Publication figures of explanation maps, built with matplotlib's object API.

Only `matplotlib.figure.Figure` is used, never pyplot: pyplot keeps global state
(not thread-safe, and it may pick an interactive Qt backend), while a bare
Figure renders with Agg/SVG/PDF from any thread. Builders take numpy arrays,
strings and dicts and return a Figure; `render.export.save_figure` writes it.

Every panel is the image with its map laid over it by `render.overlay.composite`, the
blend the app's screen shows (weak values transparent, the map at `opacity`), drawn
with nearest-neighbour sampling so the raster stays crisp when a PDF or SVG
viewer enlarges it. Panels of one figure share one colour scale and one colorbar,
whose colours are that blend over blank paper and whose label says what the value is.
Figure sizes are chosen in inches for a 7-inch page width with 8-point text, so a
figure is placed at 100% in a paper and its labels read like body text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure

from thulium_desktop.render.captions import token_label
from thulium_desktop.render.colormaps import CmapSpec, Scale, shared_scale
from thulium_desktop.render.overlay import DEFAULT_OPACITY, colorbar_colours, composite

FONT_PT = 8
PAGE_WIDTH_IN = 7.0
_TITLE_IN = 0.2  # one line of panel title
_CAPTION_IN = 0.3  # the caption line above the panels
_COLORBAR_IN = 0.55  # a colorbar with its tick labels
_MIN_PANEL_W_IN = 0.8  # narrower and a title such as "'m' #12 p=0.97" no longer fits
_MIN_PANEL_H_IN = 0.18  # lower and the handwriting is no longer legible in print
_LEFT_LABEL_ASPECT = 5.0  # panels wider than this (text lines) get their label beside them
_MAX_PANEL_H_IN = 2.2
_TARGET_HEIGHT_RATIO = 0.65  # wrapped grids aim at roughly this height / width


def overlay_figure(
    image: np.ndarray,
    weights: np.ndarray,
    *,
    signed: bool = False,
    cmap: CmapSpec | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    outlier_perc: float = 0.0,
    opacity: float = DEFAULT_OPACITY,
    label: str | None = None,
    value_label: str | None = None,
    caption: str | None = None,
    width: float = PAGE_WIDTH_IN,
) -> Figure:
    """One map over its image, with a colorbar, an optional panel `label` (the character),
    the colorbar's `value_label` (what the value is, e.g. "|∂ score/∂ pixel|") and a
    `caption` (model, method, parameters; see `render.captions.caption`)."""
    return token_grid_figure(
        image,
        np.asarray(weights)[None],
        [label] if label else None,
        signed=signed,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        outlier_perc=outlier_perc,
        opacity=opacity,
        value_label=value_label,
        caption=caption,
        width=width,
    )


def token_grid_figure(
    image: np.ndarray,
    maps: np.ndarray | Sequence[np.ndarray],
    labels: Sequence[str] | None,
    *,
    signed: bool = False,
    cmap: CmapSpec | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    outlier_perc: float = 0.0,
    opacity: float = DEFAULT_OPACITY,
    value_label: str | None = None,
    caption: str | None = None,
    width: float = PAGE_WIDTH_IN,
    max_columns: int = 8,
) -> Figure:
    """One panel per map (per character), wrapped into rows, on one shared colour scale.

    `labels[i]` titles panel i (see `render.captions.token_label`); line-shaped
    panels carry it on their left instead, where it costs no height. The number of
    columns is chosen from the image's aspect ratio so that panels stay legible (at
    least 0.18 in high and 0.8 in wide) and the figure is neither absurdly tall nor
    flat: 40 characters of a word image take five columns, of a text line one
    column of forty thin panels.
    """
    maps = _as_map_list(maps)
    if labels is not None and len(labels) != len(maps):
        raise ValueError(f"{len(labels)} labels for {len(maps)} maps")
    scale = shared_scale(maps, signed, cmap, vmin, vmax, outlier_perc)
    aspect = _aspect(image)
    side = _label_side(labels, aspect)
    title_in = _TITLE_IN if side == "top" else 0.0
    label_in = _label_width(labels) if side == "left" else 0.0
    cols = _wrap_columns(len(maps), aspect, width, max_columns, title_in, label_in)
    rows = math.ceil(len(maps) / cols)
    panel_w = width / cols - label_in
    panel_h = min(panel_w / aspect, _MAX_PANEL_H_IN)
    grid_h = rows * (panel_h + title_in)
    cbar_right = grid_h > 0.5 * width
    fig = _figure(
        width + (_COLORBAR_IN if cbar_right else 0.0),
        grid_h + (0.0 if cbar_right else _COLORBAR_IN) + (_CAPTION_IN if caption else 0.0),
    )
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        if i >= len(maps):
            ax.remove()
            continue
        _draw_panel(ax, image, maps[i], scale, opacity)
        if labels:
            _label(ax, labels[i], side)
    _colorbar(fig, list(axes[: len(maps)]), scale, opacity, value_label, "right" if cbar_right else "bottom")
    _caption(fig, caption)
    return fig


def comparison_figure(
    image: np.ndarray,
    maps: Sequence[Sequence[np.ndarray]],
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    *,
    signed: bool = False,
    cmap: CmapSpec | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    outlier_perc: float = 0.0,
    opacity: float = DEFAULT_OPACITY,
    value_label: str | None = None,
    caption: str | None = None,
    width: float = PAGE_WIDTH_IN,
) -> Figure:
    """A rows x columns table of maps on one shared colour scale, e.g. rows = methods and
    columns = characters (or the reverse), labelled on the left and on top.

    Sharing the scale only compares like with like when the maps are normalised
    alike (the engine's `normalize=True`); the caption should say so. When the
    columns would be too narrow to read, the figure grows wider than `width`.
    """
    grid = [_as_map_list(row) for row in maps]
    n_rows, n_cols = len(grid), len(column_labels)
    if n_rows == 0 or n_rows != len(row_labels) or any(len(r) != n_cols for r in grid):
        raise ValueError(
            f"maps must be {len(row_labels)} rows of {n_cols} maps to match the labels"
        )
    scale = shared_scale([m for row in grid for m in row], signed, cmap, vmin, vmax, outlier_perc)
    aspect = _aspect(image)
    label_in = _label_width(row_labels)
    panel_w = max((width - label_in) / n_cols, _MIN_PANEL_H_IN * aspect, _MIN_PANEL_W_IN)
    panel_h = min(panel_w / aspect, _MAX_PANEL_H_IN)
    grid_h = n_rows * panel_h + _TITLE_IN
    fig = _figure(
        label_in + n_cols * panel_w,
        grid_h + _COLORBAR_IN + (_CAPTION_IN if caption else 0.0),
    )
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for r, row in enumerate(grid):
        for c, weights in enumerate(row):
            _draw_panel(axes[r, c], image, weights, scale, opacity)
        _label(axes[r, 0], row_labels[r], "left")
    for c, text in enumerate(column_labels):
        _label(axes[0, c], text, "top")
    _colorbar(fig, list(axes.ravel()), scale, opacity, value_label, "bottom")
    _caption(fig, caption)
    return fig


def character_labels(
    tokens: Sequence[str], indices: Sequence[int] | None = None, confidences: Sequence[float] | None = None
) -> list[str]:
    """Panel titles for the characters of a reading (see `captions.token_label`)."""
    return [
        token_label(
            tok,
            None if indices is None else int(indices[i]),
            None if confidences is None else float(confidences[i]),
        )
        for i, tok in enumerate(tokens)
    ]


def _as_map_list(maps: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    out = [np.asarray(m, np.float32) for m in maps]
    if not out:
        raise ValueError("there are no maps to draw")
    return out


def _aspect(image: np.ndarray) -> float:
    """Width / height of the image, bounded so that degenerate shapes still lay out."""
    h, w = np.asarray(image).shape[:2]
    return float(np.clip(w / max(h, 1), 0.1, 40.0))


def _label_side(labels: Sequence[str] | None, aspect: float) -> str | None:
    """Titles above word-like panels; beside line-like ones, where a title line would
    take as much height as the panel itself."""
    if not labels:
        return None
    return "left" if aspect > _LEFT_LABEL_ASPECT else "top"


def _label_width(labels: Sequence[str] | None) -> float:
    """Inches a column of left-hand labels needs at `FONT_PT` (about 0.55 em a character)."""
    longest = max((len(s) for s in labels or ()), default=0)
    return 0.1 + longest * 0.55 * FONT_PT / 72


def _label(ax: Axes, text: str, side: str) -> None:
    if side == "left":
        ax.set_ylabel(
            text, fontsize=FONT_PT, rotation=0, ha="right", va="center", labelpad=3,
            parse_math=False,
        )
    else:
        ax.set_title(text, fontsize=FONT_PT, pad=2, parse_math=False)


def _wrap_columns(
    n: int, aspect: float, width: float, max_columns: int, title_in: float, label_in: float
) -> int:
    """The column count whose grid comes closest to the target height/width ratio among
    those that keep every panel at least the minimum legible size."""
    best, best_err = 1, math.inf
    for cols in range(1, min(n, max_columns) + 1):
        panel_w = width / cols - label_in
        panel_h = min(panel_w / aspect, _MAX_PANEL_H_IN)
        if cols > 1 and (panel_w < _MIN_PANEL_W_IN or panel_h < _MIN_PANEL_H_IN):
            break
        height = math.ceil(n / cols) * (panel_h + title_in)
        err = abs(math.log(height / width / _TARGET_HEIGHT_RATIO))
        if err < best_err:
            best, best_err = cols, err
    return best


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0.02, hspace=0.02)
    return fig


def _draw_panel(ax: Axes, image: np.ndarray, weights: np.ndarray, scale: Scale, opacity: float) -> None:
    ax.imshow(composite(image, weights, scale, opacity), interpolation="nearest", resample=False)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.4)


def _colorbar(
    fig: Figure, axes: list[Axes], scale: Scale, opacity: float, value_label: str | None, location: str
) -> None:
    """The scale in the panels' own colours (`colorbar_colours`), labelled with what the value is."""
    colours = ListedColormap(colorbar_colours(scale, opacity) / 255.0, name=f"{scale.cmap} over paper")
    mappable = ScalarMappable(Normalize(scale.vmin, scale.vmax), colours)
    bar = fig.colorbar(
        mappable,
        ax=axes,
        location=location,
        fraction=0.05 if location == "right" else 0.08,
        shrink=0.6 if location == "right" else 0.5,
        aspect=30,
        pad=0.02,
        extend=scale.extend,
    )
    bar.ax.tick_params(labelsize=FONT_PT - 1, width=0.4, length=2)
    bar.outline.set_linewidth(0.4)
    if value_label:
        bar.set_label(value_label, size=FONT_PT - 1, parse_math=False)


def _caption(fig: Figure, text: str | None) -> None:
    if text:
        fig.suptitle(text, fontsize=FONT_PT, parse_math=False, wrap=True)

