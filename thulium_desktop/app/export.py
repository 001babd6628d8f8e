"""What Export writes: the chosen figure, and optionally the raw maps and parameters.

Plain numpy + the render layer (no Qt), so the app's export is the same drawing
code as the CLI's figures. Each file is written atomically by the render/io
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
from thulium_desktop.render import (
    caption,
    characters_figure,
    comparison_figure,
    explanation_arrays,
    save_figure,
    selected_label,
    selected_row,
    selection_figure,
)
from thulium_desktop.xai.methods import REGISTRY
from thulium_desktop.xai.spec import MethodSpec

#: Figure kinds offered, with their labels in the dialog.
FIGURE_KINDS: dict[str, str] = {
    "view": "Current view (selected character)",
    "grid": "Every character (grid)",
    "compare": "Method comparison (selected character)",
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
class ExportContent:
    """What is on screen: the image, the explanations by method, the selected character
    (`index`, or -1 for the whole reading), and the display choices."""

    image: np.ndarray
    explanations: Mapping[str, Any]
    index: int
    cmaps: tuple[str, str]  # (unsigned, signed)
    source: str = ""

    def cmap(self, signed: bool) -> str:
        return self.cmaps[1] if signed else self.cmaps[0]


def suggested_name(image_stem: str, kind: str, specs: Sequence[MethodSpec]) -> str:
    """`hello.gradient.contrast`: the image, what the figure draws and whether it is a
    contrast with the truth, from the specs it is drawn from. Named after the method
    drawn, not the panel's choice: under contrast an attention choice draws gradient.
    A comparison is `compare`, as the CLI names its comparison figures."""
    drawn = "compare" if kind == "compare" else specs[0].method
    contrast = ".contrast" if any(spec.contrast is not None for spec in specs) else ""
    return f"{image_stem}.{drawn}{contrast}"


def build_figure(kind: str, content: ExportContent) -> Figure:
    if kind == "view":
        return _view_figure(content)
    if kind == "grid":
        return _grid_figure(content)
    if kind == "compare":
        return _compare_figure(content)
    raise ValueError(f"unknown figure kind {kind!r}; choose from {', '.join(FIGURE_KINDS)}")


def write_export(plan: ExportPlan, content: ExportContent) -> list[Path]:
    """Write the figure and the requested side files; returns the paths written."""
    save_figure(build_figure(plan.kind, content), plan.path, dpi=plan.dpi)
    if plan.with_maps:
        write_npz(plan.path.with_suffix(".npz"), **explanation_arrays(content.explanations))
    if plan.with_params:
        write_json(plan.path.with_suffix(".json"), export_record(plan, content))
    return plan.outputs()


def _view_figure(content: ExportContent) -> Figure:
    exp = next(iter(content.explanations.values()))
    return selection_figure(content.image, exp, content.index, cmap=content.cmap(exp.signed))


def _grid_figure(content: ExportContent) -> Figure:
    exp = next(iter(content.explanations.values()))
    return characters_figure(content.image, exp, cmap=content.cmap(exp.signed))


def _compare_figure(content: ExportContent) -> Figure:
    exps = content.explanations
    first = next(iter(exps.values()))
    label = selected_label(first, content.index)
    signed = any(e.signed for e in exps.values())
    return comparison_figure(
        content.image,
        [[e.maps[selected_row(e, content.index)]] for e in exps.values()],
        [REGISTRY[m].label for m in exps],
        [label],
        signed=signed,
        cmap=content.cmap(signed),
        caption=caption({"model": first.meta.get("model"), "contrast": first.meta.get("contrast")},
                        _compare_subject(exps)),
    )


def _compare_subject(exps: Mapping[str, Any]) -> str:
    """The comparison's note; contrasting, it names the methods left out for having no
    gradients, so a missing row is not taken for an oversight."""
    subject = "methods on one scale (each map peaks at 1)"
    if not next(iter(exps.values())).meta.get("contrast"):
        return subject
    absent = [method.label for name, method in REGISTRY.items() if not method.gradients and name not in exps]
    return subject + "".join(f"; {label} has no contrast map" for label in absent)


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
            method: {"meta": exp.meta, "signed": exp.signed, "deltas": exp.deltas}
            for method, exp in content.explanations.items()
        },
    }
