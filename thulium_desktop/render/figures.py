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

The layout rule, for every figure: no text is smaller than `MIN_TEXT_PT` (labels are
`FONT_PT`, tick labels one point less), no image strip is lower than `MIN_PANEL_H_PT`
nor narrower than its title, and a figure is at most the page's width (unless one
panel alone is wider) and `MAX_HEIGHT_IN` high. Panels wrap into several rows to stay
that large; what still does not fit is left out by the caller, which asks first how
many panels fit (`grid_capacity`, `comparison_capacity`) and says in the caption which
characters are shown (`render.explanation_figures`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure

from thulium_desktop.render.captions import token_label
from thulium_desktop.render.colormaps import CmapSpec, Scale, shared_scale
from thulium_desktop.render.overlay import DEFAULT_OPACITY, colorbar_colours, composite

FONT_PT = 8
MIN_TEXT_PT = FONT_PT - 1  # the colorbar's tick labels; nothing on a figure is smaller
MIN_PANEL_H_PT = 14.0  # lower and handwriting is no longer legible in print (about 5 mm)
PAGE_WIDTH_IN = 7.0
MAX_HEIGHT_IN = 9.0  # a page's text block: a taller figure cannot be placed at 100%
_TITLE_IN = 0.2  # one line of panel title
_ROW_PAD_IN = 0.04  # the layout's space between panel rows
_CAPTION_LINE_IN = 0.17  # one line of the caption above the panels
_CAPTION_PAD_IN = 0.13
_COLORBAR_IN = 0.55  # a colorbar with its tick labels
_EM_IN = 0.55 * FONT_PT / 72  # the average width of a character of label text
_MIN_PANEL_W_IN = 0.8  # narrower and a title such as "'m' #12 p=0.97" no longer fits
_MIN_PANEL_H_IN = MIN_PANEL_H_PT / 72
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
    columns is chosen from the image's aspect ratio so that panels stay legible (the
    module's layout rule) and the figure is neither absurdly tall nor flat: 40
    characters of a word image take five columns, of a text line one column of forty
    thin panels. More maps than `grid_capacity` allows make a figure taller than a page.
    """
    maps = _as_map_list(maps)
    if labels is not None and len(labels) != len(maps):
        raise ValueError(f"{len(labels)} labels for {len(maps)} maps")
    scale = shared_scale(maps, signed, cmap, vmin, vmax, outlier_perc)
    grid = _token_grid(len(maps), image, labels, caption, width, max_columns)
    cbar_right = grid.height > 0.5 * width
    fig = _figure(
        width + (_COLORBAR_IN if cbar_right else 0.0),
        grid.height + (0.0 if cbar_right else _COLORBAR_IN) + _caption_height(caption, width),
    )
    axes = fig.subplots(grid.rows, grid.columns, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        if i >= len(maps):
            ax.remove()
            continue
        _draw_panel(ax, image, maps[i], scale, opacity)
        if labels:
            _label(ax, labels[i], grid.label_side)
    _colorbar(fig, list(axes[: len(maps)]), scale, opacity, value_label, "right" if cbar_right else "bottom")
    _caption(fig, caption)
    return fig


def grid_capacity(
    image: np.ndarray, labels: Sequence[str] | None, caption: str | None = None,
    width: float = PAGE_WIDTH_IN, max_columns: int = 8,
) -> int:
    """How many of `labels`' panels (one each) `token_grid_figure` draws within
    `MAX_HEIGHT_IN` at the legible size: all of them, or as many rows as fit of the most
    columns that stay legible."""
    n = len(labels) if labels else 1
    grid = _token_grid(n, image, labels, caption, width, max_columns)
    if grid.height <= _height_budget(caption, width):
        return n
    return grid.columns * max(1, int(_height_budget(caption, width) // grid.row_h))


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
    columns = characters, labelled on the left and on top.

    Columns that would be too narrow to read wrap into bands stacked one under the
    other, each band with the row labels on its left and its own column titles: a
    text line's comparison is a band per character. Sharing the scale only compares
    like with like when the maps are normalised alike (the engine's
    `normalize=True`); the caption should say so. Only when one panel alone is
    wider than `width` does the figure grow wider (the caption wraps to `width`). More columns than
    `comparison_capacity` allows make a figure taller than a page.
    """
    grid = [_as_map_list(row) for row in maps]
    n_rows, n_cols = len(grid), len(column_labels)
    if n_rows == 0 or n_rows != len(row_labels) or any(len(r) != n_cols for r in grid):
        raise ValueError(
            f"maps must be {len(row_labels)} rows of {n_cols} maps to match the labels"
        )
    scale = shared_scale([m for row in grid for m in row], signed, cmap, vmin, vmax, outlier_perc)
    bands = _bands(n_rows, n_cols, image, row_labels, column_labels, caption, width)
    fig = _figure(
        max(width, bands.label_in + bands.columns * bands.panel_w),
        bands.height + _COLORBAR_IN + _caption_height(caption, width),
    )
    axes = fig.subplots(bands.rows * n_rows, bands.columns, squeeze=False)
    drawn = []
    for c, text in enumerate(column_labels):
        band, col = divmod(c, bands.columns)
        for r, row in enumerate(grid):
            ax = axes[band * n_rows + r, col]
            _draw_panel(ax, image, row[c], scale, opacity)
            drawn.append(ax)
            if col == 0:
                _label(ax, row_labels[r], "left")
        _label(axes[band * n_rows, col], text, "top")
    for ax in axes.ravel():
        if ax not in drawn:
            ax.remove()
    _colorbar(fig, drawn, scale, opacity, value_label, "bottom")
    _caption(fig, caption)
    return fig


def comparison_capacity(
    image: np.ndarray, row_labels: Sequence[str], column_labels: Sequence[str],
    caption: str | None = None, width: float = PAGE_WIDTH_IN,
) -> int:
    """How many of the columns (characters) `comparison_figure` draws within
    `MAX_HEIGHT_IN` at the legible size, with every row (method) for each."""
    n_rows, n_cols = len(row_labels), len(column_labels)
    bands = _bands(n_rows, n_cols, image, row_labels, column_labels, caption, width)
    budget = _height_budget(caption, width)
    if bands.height <= budget:
        return n_cols
    return bands.columns * max(1, int(budget // bands.band_h))


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
    """Inches a column of left-hand labels needs at `FONT_PT`."""
    return 0.1 + max((len(s) for s in labels or ()), default=0) * _EM_IN


def _label(ax: Axes, text: str, side: str) -> None:
    if side == "left":
        ax.set_ylabel(text, fontsize=FONT_PT, rotation=0, ha="right", va="center", parse_math=False)
        ax.yaxis.set_label_coords(-0.01, 0.5)  # fixed, so the layout makes room for it before drawing
    else:
        ax.set_title(text, fontsize=FONT_PT, pad=2, parse_math=False)


@dataclass(frozen=True)
class _Grid:
    """A token grid's layout, in inches: `rows` x `columns` panels, each with its label."""

    columns: int
    rows: int
    row_h: float  # a panel and its title
    label_side: str | None

    @property
    def height(self) -> float:
        return self.rows * self.row_h


def _token_grid(
    n: int, image: np.ndarray, labels: Sequence[str] | None, caption: str | None, width: float, max_columns: int
) -> _Grid:
    """The column count whose grid comes closest to the target height/width ratio among
    those that keep every panel legible; when that grid is taller than a page, the most
    columns that stay legible."""
    aspect = _aspect(image)
    side = _label_side(labels, aspect)
    title_in = _TITLE_IN if side == "top" else 0.0
    label_in = _label_width(labels) if side == "left" else 0.0
    legible = [c for c in range(1, min(n, max_columns) + 1)
               if c == 1 or _panel_fits(width / c - label_in, aspect, labels if side == "top" else None)]
    heights = {c: math.ceil(n / c) * (_panel_h(width / c - label_in, aspect) + title_in + _ROW_PAD_IN)
               for c in legible}
    cols = min(legible, key=lambda c: abs(math.log(heights[c] / width / _TARGET_HEIGHT_RATIO)))
    if heights[cols] > _height_budget(caption, width):
        cols = legible[-1]
    row_h = _panel_h(width / cols - label_in, aspect) + title_in + _ROW_PAD_IN
    return _Grid(cols, math.ceil(n / cols), row_h, side)


@dataclass(frozen=True)
class _Bands:
    """A comparison's layout, in inches: its columns wrapped into `rows` bands of
    `columns` panels, each band as high as `band_h` (its panels and their titles)."""

    columns: int
    rows: int
    panel_w: float
    band_h: float
    label_in: float

    @property
    def height(self) -> float:
        return self.rows * self.band_h


def _bands(
    n_rows: int, n_cols: int, image: np.ndarray, row_labels: Sequence[str], column_labels: Sequence[str],
    caption: str | None, width: float,
) -> _Bands:
    """As many columns a band as stay legible (balanced over the bands), the panels as
    wide as the page then allows, or less when that is taller than a page."""
    aspect = _aspect(image)
    label_in = _label_width(row_labels)
    narrowest = max(_MIN_PANEL_H_IN * aspect, _MIN_PANEL_W_IN, _title_width(column_labels))
    per_band = max(1, min(n_cols, int((width - label_in) // narrowest)))
    rows = math.ceil(n_cols / per_band)
    per_band = math.ceil(n_cols / rows)
    fitting_h = (_height_budget(caption, width) / rows - _TITLE_IN) / n_rows - _ROW_PAD_IN
    panel_w = max(min((width - label_in) / per_band, fitting_h * aspect), narrowest)
    band_h = n_rows * (_panel_h(panel_w, aspect) + _ROW_PAD_IN) + _TITLE_IN
    return _Bands(per_band, rows, panel_w, band_h, label_in)


def _panel_h(panel_w: float, aspect: float) -> float:
    return min(panel_w / aspect, _MAX_PANEL_H_IN)


def _panel_fits(panel_w: float, aspect: float, titles: Sequence[str] | None) -> bool:
    """Whether a panel in a cell `panel_w` wide is legible: high enough, and as wide as its title."""
    panel_h = _panel_h(panel_w, aspect)
    return panel_h >= _MIN_PANEL_H_IN and panel_h * aspect >= max(_MIN_PANEL_W_IN, _title_width(titles))


def _title_width(titles: Sequence[str] | None) -> float:
    """Inches the longest of `titles` needs above a panel, with a gap to its neighbour's."""
    return 0.15 + max((len(t) for t in titles or ()), default=0) * _EM_IN


def _caption_height(caption: str | None, width: float) -> float:
    """Inches the caption takes once wrapped to the figure's width."""
    if not caption:
        return 0.0
    per_line = max(1, int(width * 0.95 / _EM_IN))
    return _CAPTION_PAD_IN + _CAPTION_LINE_IN * math.ceil(len(caption) / per_line)


def _height_budget(caption: str | None, width: float) -> float:
    """Inches left to the panels of a figure `MAX_HEIGHT_IN` high."""
    return MAX_HEIGHT_IN - _COLORBAR_IN - _caption_height(caption, width)


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="compressed")
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

