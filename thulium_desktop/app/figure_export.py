"""What Export writes: the chosen figure, and optionally the raw maps and parameters.

Plain numpy + the render layer (no Qt): the figure is `render.explanation_figure`,
the builder the CLI's `explain` draws with, so an exported figure and the CLI's are
the same pixels. Each file is written atomically by the render/io
layer: a failed export leaves no partial file and never damages an existing one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from thulium_desktop.io.atomic import write_json, write_npz
from thulium_desktop.io.layout import Line
from thulium_desktop.render import DEFAULT_OPACITY, explanation_arrays, explanation_figure, save_figure
from thulium_desktop.render.page_figure import LineMark, page_figure
from thulium_desktop.xai.methods import REGISTRY
from thulium_desktop.xai.spec import MethodSpec

#: Figure kinds offered, with their labels in the dialog.
FIGURE_KINDS: dict[str, str] = {
    "view": "Current view (selected character)",
    "grid": "Every character (grid)",
    "compare": "Method comparison (selected character)",
    "page": "Whole page (lines by CER, maps inside)",
}

#: What each kind draws of a line with many characters, as the dialog's tooltips say.
FIGURE_HINTS: dict[str, str] = {
    "view": "The map on screen, over the whole image",
    "grid": "A panel per character; a line with more characters than fit a page at a readable size "
            "shows those around the selected one, and the caption says which",
    "compare": "Every method's map of the selected character, on one colour scale",
    "page": "The page scan with every line outlined by its CER (or its lowest confidence), "
            "and the open line's map inside its polygon; offered while a page's line is open",
}


@dataclass(frozen=True)
class ExportPlan:
    """Where and what to export; `path`'s extension picks PNG, SVG or PDF."""

    kind: str
    path: Path
    dpi: int = 300
    with_maps: bool = False
    with_params: bool = False

    def outputs(self) -> list[Path]:
        extra = [self.path.with_suffix(".npz")] if self.with_maps else []
        return [self.path, *extra, *([self.path.with_suffix(".json")] if self.with_params else [])]


@dataclass(frozen=True)
class PageContent:
    """The page a line is open on, as the page figure draws it: the scan, its lines in
    the scan's pixels, each line's mark by id (absent: not read), the shown map placed
    on the page (`io.line_images.line_to_page`: NaN outside the line), whether that map
    is signed, its colorbar label, and the caption (`render.page_caption`)."""

    image: np.ndarray
    lines: Sequence[Line]
    marks: Mapping[str, LineMark | None]
    page_map: np.ndarray | None
    signed: bool
    value_label: str
    caption: str


@dataclass(frozen=True)
class ExportContent:
    """What is on screen: the image, the explanations by method, the selected character
    (`index`, or -1 for the whole reading), and the display choices (the colormaps for
    unsigned and signed maps)."""

    image: np.ndarray
    explanations: Mapping[str, Any]
    index: int
    cmaps: tuple[str, str]  # (unsigned, signed)
    source: str = ""
    opacity: float = DEFAULT_OPACITY  # the display's map opacity
    page: PageContent | None = None  # the open line's page, for the "page" figure


def suggested_name(image_stem: str, kind: str, specs: Sequence[MethodSpec]) -> str:
    """`hello.gradient.contrast`: the image, what the figure draws and whether it is a
    contrast with the truth, from the specs it is drawn from. Named after the method
    drawn, not the panel's choice: under contrast an attention choice draws gradient.
    A comparison is `compare`, as the CLI names its comparison figures."""
    drawn = {"compare": "compare", "page": f"page.{specs[0].method}"}.get(kind, specs[0].method)
    contrast = ".contrast" if any(spec.contrast is not None for spec in specs) else ""
    return f"{image_stem}.{drawn}{contrast}"


def build_figure(kind: str, content: ExportContent, dpi: int = 300) -> Figure:
    """The `kind` figure of what is on screen, drawn as the CLI draws it (`render`); a
    grid of more characters than fit a page draws those around the selected one. The
    page figure averages the scan down to the pixels it has at `dpi`."""
    if kind == "page":
        return _page_figure(content, dpi)
    return explanation_figure(
        kind, content.image, content.explanations, content.index, cmaps=content.cmaps,
        no_contrast=_without_contrast(content.explanations), methods=REGISTRY, opacity=content.opacity,
    )


def write_export(plan: ExportPlan, content: ExportContent) -> list[Path]:
    """Write the figure and the requested side files; returns the paths written."""
    save_figure(build_figure(plan.kind, content, plan.dpi), plan.path, dpi=plan.dpi)
    if plan.with_maps:
        write_npz(plan.path.with_suffix(".npz"), **explanation_arrays(content.explanations))
    if plan.with_params:
        write_json(plan.path.with_suffix(".json"), export_record(plan, content))
    return plan.outputs()


def _page_figure(content: ExportContent, dpi: int) -> Figure:
    """The whole page, as the CLI's `write_page_figures` draws it, in the display's colours."""
    page = content.page
    if page is None:
        raise ValueError("the page figure needs a page's line open")
    return page_figure(page.image, page.lines, page.marks, page.page_map, signed=page.signed,
                       cmap=content.cmaps[page.signed], opacity=content.opacity, value_label=page.value_label,
                       caption=page.caption, dpi=dpi)


def _without_contrast(explanations: Mapping[str, Any]) -> list[str]:
    """The methods a contrastive comparison leaves out for having no gradients, named
    in its caption so that a missing row is not taken for an oversight."""
    return [method.label for name, method in REGISTRY.items() if not method.gradients and name not in explanations]


def export_record(plan: ExportPlan, content: ExportContent) -> dict[str, Any]:
    """The `.json`: enough to reproduce the figure (source, model, methods, parameters)."""
    first = next(iter(content.explanations.values()))
    return {
        "source": content.source,
        "figure": plan.kind,
        "reading": first.reading.text,
        "confidences": first.reading.confidences,
        "selected": None if content.index < 0 else content.index,
        "dpi": plan.dpi if plan.path.suffix.lower() == ".png" else None,
        "colormaps": {"unsigned": content.cmaps[0], "signed": content.cmaps[1]},
        "methods": {
            method: {"meta": exp.record(), "signed": exp.signed, "deltas": exp.deltas}
            for method, exp in content.explanations.items()
        },
    }
