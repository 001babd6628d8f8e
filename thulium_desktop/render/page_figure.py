"""The page figure: a whole scan with every line's polygon coloured by how well it reads,
and the selected maps blended inside their polygons, as PNG, SVG or PDF.

The line colour rule lives here, once, for the app's page view and this figure alike
(render sits below the app and needs no Qt for it): a line's mark is its CER against
the truth or, without a truth, one minus its lowest character confidence
(`line_mark`), clipped to [0, 1] and binned in `STEPS` tenths (`step_of`) on the maps'
own colour-blind-safe scale (`LINE_CMAP`, viridis), each step drawn in the scale's
colour at its middle (`step_rgb`). Solid outlines for a CER, dashed for a confidence,
grey dotted for a line not read yet: `LEGEND_TEXT` says so under the page.

Maps arrive already placed on the page (`io.line_images.line_to_page`: page-sized,
NaN outside the line's polygon), and are blended with `render.overlay.composite`, the
screen's blend, inside their polygons only: the rest of the scan stays plain grey.

Scans are large (4000 x 6000 pixels and more) while a figure is 7 inches wide, so the
scan and its map are averaged down to the pixels the figure has at the dpi it is saved
at before they are drawn: a PDF of a large scan stays a few megabytes instead of
carrying every pixel of it (`raster_size`).

The page view imports the colour rule at the app's launch, so matplotlib's figure
machinery (`render.figures`, about 0.2 s) is imported by the functions that build a
figure, on the first export, as `render/__init__` keeps it out of the launch too.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.patches import Polygon

from thulium_desktop.io.layout import Line
from thulium_desktop.render.colormaps import UNSIGNED_CMAP, CmapSpec, Scale, lookup_table, shared_scale
from thulium_desktop.render.overlay import DEFAULT_OPACITY, composite, display_gray

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The colour steps of the line scale: CER (or unsureness) in tenths, 100% and above in the last.
STEPS = 10
#: The scale the outlines are coloured on (the maps' own unsigned default: viridis).
LINE_CMAP: CmapSpec = UNSIGNED_CMAP
#: Lines not read yet.
UNREAD_COLOUR = "#9a9a9a"
#: What the outlines' colours and styles mean, as the page view's legend says it.
LEGEND_TEXT = (
    "line colour: CER against the truth (solid outline) \u00b7 without a truth, "
    "1 \u2212 lowest confidence (dashed) \u00b7 not read yet: grey dotted"
)
#: The outline's width in points: about 2.5 pixels at 150 dpi, visible on a page-wide scan.
OUTLINE_PT = 1.2
#: Figure dpi assumed when the caller does not say which the figure will be saved at.
DEFAULT_DPI = 300
_LEGEND_IN = 0.75  # the step bar with its ticks and the legend's two lines
_MAP_BAR_IN = 0.6  # the map's colorbar beside the page


@dataclass(frozen=True)
class LineMark:
    """How a line is marked: its value in [0, 1] and whether it is a CER (else one minus
    the lowest confidence); a line not read yet has no mark (None)."""

    value: float
    is_cer: bool


def line_mark(cer: float | None, min_confidence: float | None) -> LineMark | None:
    """A line's mark from its numbers: its CER when it has a truth, else how unsure its
    least confident character is; None when it has not been read."""
    if cer is not None:
        return LineMark(min(float(cer), 1.0), True)
    if min_confidence is not None:
        return LineMark(1.0 - float(min_confidence), False)
    return None


def step_of(value: float) -> int:
    """The colour step of a value in [0, 1]: tenths, with 1.0 in the last step."""
    return min(int(value * STEPS), STEPS - 1)


def step_rgb(step: int) -> tuple[int, int, int]:
    """The colour of a step as 8-bit RGB: the scale's colour at the step's middle."""
    r, g, b = lookup_table(LINE_CMAP)[round((step + 0.5) / STEPS * 255)]
    return int(r), int(g), int(b)


def page_caption(model: str, page_cer: float | None, read: int, lines: int, method: str | None = None) -> str:
    """The page figure's caption: the model, the method of the maps shown (if any), how
    many of the page's lines were read, and the page's CER when it has a truth."""
    cer = "no truth" if page_cer is None else f"page CER {page_cer:.1%}"
    parts = [model, *([method] if method else []), f"{read} of {lines} lines read", cer]
    return " \u00b7 ".join(parts)


def page_figure(
    page_image: np.ndarray,
    layout_lines: Sequence[Line],
    line_marks: Mapping[str, LineMark | None],
    page_map: np.ndarray | None = None,
    *,
    signed: bool = False,
    cmap: CmapSpec | None = None,
    outlier_perc: float = 0.0,
    opacity: float = DEFAULT_OPACITY,
    value_label: str | None = None,
    caption: str | None = None,
    dpi: int = DEFAULT_DPI,
) -> Figure:
    """The scan `page_image` (any supported image, page pixels) with each of
    `layout_lines` outlined by its mark in `line_marks` (keyed by line id; a missing or
    None mark is a line not read yet), the step bar and legend under it, and `caption`
    (see `page_caption`) above.

    `page_map` is the page-sized map to show (NaN outside the lines it covers, as
    `io.line_images.line_to_page` places a line's map; several lines' maps may share one
    array), blended inside those polygons on its own scale with its colorbar beside the
    page, labelled `value_label`. `dpi` is the resolution the figure will be saved at:
    the scan is averaged down to the pixels the figure has there.
    """
    from thulium_desktop.render.figures import _caption, _colorbar, _figure

    height, width = page_image.shape[:2]
    if page_map is not None and page_map.shape[:2] != (height, width):
        raise ValueError(f"the map is {page_map.shape[1]}x{page_map.shape[0]} pixels, the page {width}x{height}")
    fig_w, page_h = _page_size(width, height, caption, with_map=page_map is not None)
    fig = _figure(fig_w, page_h + _LEGEND_IN)
    ax = fig.add_subplot()
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.4)
    size = raster_size((height, width), (fig_w - (_MAP_BAR_IN if page_map is not None else 0.0)) * dpi)
    gray = display_gray(_shrink_image(page_image, size))
    raster = np.repeat(gray[:, :, None], 3, axis=2)
    if page_map is not None:
        scale = shared_scale([page_map], signed, cmap, outlier_perc=outlier_perc)
        raster = blend_inside(gray, _shrink_map(page_map, size), scale, opacity)
        _colorbar(fig, [ax], scale, opacity, value_label, "right")
    ax.imshow(raster, extent=(0, width, height, 0), interpolation="nearest", resample=False)
    for line in layout_lines:
        ax.add_patch(outline_patch(line, line_marks.get(line.id)))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    _step_bar(fig, ax, fig_w)
    _caption(fig, caption)
    return fig


def raster_size(shape: tuple[int, int], pixels_wide: float) -> tuple[int, int]:
    """(rows, columns) the scan is drawn at: no more columns than the figure has pixels
    across (`pixels_wide`), never enlarged, the aspect kept."""
    height, width = shape
    factor = min(1.0, pixels_wide / width)
    return max(1, round(height * factor)), max(1, round(width * factor))


def blend_inside(gray: np.ndarray, page_map: np.ndarray, scale: Scale, opacity: float) -> np.ndarray:
    """uint8 RGB: `page_map` blended over the grey scan by `composite` where it is a
    number, the plain grey scan where it is NaN (outside the lines' polygons)."""
    inside = np.isfinite(page_map)
    blended = composite(gray, np.where(inside, page_map, 0.0), scale, opacity)
    return np.where(inside[:, :, None], blended, gray[:, :, None].repeat(3, axis=2))


def outline_patch(line: Line, mark: LineMark | None) -> Polygon:
    """A line's polygon outline, coloured and dashed by its mark (grey dotted unread)."""
    if mark is None:
        colour, style = UNREAD_COLOUR, ":"
    else:
        colour = tuple(c / 255.0 for c in step_rgb(step_of(mark.value)))
        style = "-" if mark.is_cer else "--"
    return Polygon(np.asarray(line.polygon, np.float64), closed=True, fill=False, edgecolor=colour,
                   linestyle=style, linewidth=OUTLINE_PT, joinstyle="round")


def _page_size(width: int, height: int, caption: str | None, with_map: bool) -> tuple[float, float]:
    """(figure width, page height) in inches: the page as wide as the figure allows, or
    narrower where a tall scan would make the figure higher than `MAX_HEIGHT_IN`."""
    from thulium_desktop.render.figures import MAX_HEIGHT_IN, PAGE_WIDTH_IN, _caption_height

    bar = _MAP_BAR_IN if with_map else 0.0
    caption_in = _caption_height(caption, PAGE_WIDTH_IN)
    page_w = PAGE_WIDTH_IN - bar
    page_h = page_w * height / width
    room = MAX_HEIGHT_IN - _LEGEND_IN - caption_in
    if page_h > room:
        page_w, page_h = room * width / height, room
    return max(page_w + bar, 3.0), page_h + caption_in


def _shrink_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` averaged down to `size` (rows, columns) before it is made grey: the grey
    conversion of a whole 4000 x 6000 scan goes through float32 (about 300 MB), of the
    figure's pixels a few megabytes. Averaging and the grey's weighted sum commute."""
    if image.shape[:2] == size:
        return image
    return cv2.resize(np.asarray(image), size[::-1], interpolation=cv2.INTER_AREA)


def _shrink_map(page_map: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`page_map` averaged down to `size` (rows, columns), NaN kept where most of a
    pixel's area was NaN, the average taken over the numbers only."""
    if page_map.shape[:2] == size:
        return page_map.astype(np.float32)
    inside = np.isfinite(page_map)
    dsize = size[::-1]
    total = cv2.resize(np.where(inside, page_map, 0.0).astype(np.float32), dsize, interpolation=cv2.INTER_AREA)
    share = cv2.resize(inside.astype(np.float32), dsize, interpolation=cv2.INTER_AREA)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(share >= 0.5, total / share, np.nan).astype(np.float32)


def _step_bar(fig: Figure, ax, width_in: float) -> None:
    """The line scale's steps under the page, "0%" to "≥100%", labelled with the legend
    broken into lines no wider than the figure (matplotlib's own wrapping lets a label
    reach past a narrow figure's edge)."""
    from thulium_desktop.render.figures import FONT_PT

    colours = ListedColormap([np.asarray(step_rgb(s)) / 255.0 for s in range(STEPS)], name="line steps")
    bounds = np.linspace(0.0, 1.0, STEPS + 1)
    bar = fig.colorbar(ScalarMappable(BoundaryNorm(bounds, STEPS), colours), ax=[ax], location="bottom",
                       fraction=0.05, shrink=0.5, aspect=30, pad=0.02, ticks=[0.0, 0.5, 1.0])
    bar.ax.set_xticklabels(["0%", "50%", "\u2265100%"])
    bar.ax.tick_params(labelsize=FONT_PT - 1, width=0.4, length=2)
    bar.outline.set_linewidth(0.4)
    per_line = max(20, int(width_in * 72 / (0.55 * (FONT_PT - 1))))
    bar.set_label(textwrap.fill(LEGEND_TEXT, per_line), size=FONT_PT - 1, parse_math=False)
