"""One image's output set (figures, maps, record) and the run's summary, written atomically.

Names: `<out>/<name>.<method>.<png|svg|pdf>` (one figure per method: a panel per
character), `<name>.compare.<fmt>` when several methods ran, `<name>.npz` (every
method's maps) and `<name>.json` (the image's record, the same one the summary
lists). With `--contrast`, each substituted character's contrast with its truth
adds `<name>.<method>.contrast-<N>.<fmt>` (the app's Export figure of that view)
and `<name>.<method>.contrast-<N>.npz` (the app's Export maps of it). Each file is complete or absent, so an interrupted run never leaves a
file that looks finished but is not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from thulium_desktop.io.atomic import write_json, write_npz
from thulium_desktop.io.corpus import CorpusItem
from thulium_desktop.render import (
    FIGURE_FORMATS,
    caption,
    character_labels,
    characters_figure,
    comparison_figure,
    explanation_arrays,
    save_figure,
    selection_figure,
)
from thulium_desktop.xai.saliency import Explanation


#: Figures end their colour scale at the top 1% of values (the colorbar shows an arrow):
#: gradient maps have a few extreme pixels that would otherwise wash everything else
#: into the bottom colour. Captum's `visualize_image_attr` clips 2% by default.
FIGURE_OUTLIER_PERC = 1.0


@dataclass(frozen=True)
class OutputPlan:
    """Where outputs go and which ones (`formats` from `--format`)."""

    out_dir: Path
    formats: tuple[str, ...]
    dpi: int = 300

    def path(self, item: CorpusItem, suffix: str) -> Path:
        target = self.out_dir / f"{item.name}.{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    @property
    def figure_formats(self) -> tuple[str, ...]:
        return tuple(f for f in self.formats if f in FIGURE_FORMATS)


def write_image_outputs(
    plan: OutputPlan,
    item: CorpusItem,
    image: np.ndarray,
    explanations: Mapping[str, Explanation],
    record: dict[str, Any],
    contrasts: Mapping[str, Explanation] | None = None,
) -> list[str]:
    """Write everything `plan` asks for; returns the written paths relative to the out folder.

    Figures are skipped for a method with no maps (the model read nothing), and
    not even drawn when `plan` asks for no figure format.
    `contrasts` are contrastive explanations keyed by their file stem.
    """
    written: list[Path] = []
    drawable = {m: e for m, e in explanations.items() if len(e.maps)}
    for method, exp in drawable.items():
        draw = partial(characters_figure, image, exp, outlier_perc=FIGURE_OUTLIER_PERC)
        written += _save_all(plan, item, method, draw)
    if len(drawable) > 1:
        written += _save_all(plan, item, "compare", partial(comparison, image, drawable))
    if "npz" in plan.formats and explanations:
        written.append(plan.path(item, "npz"))
        write_npz(written[-1], **explanation_arrays(explanations))
    for stem, exp in (contrasts or {}).items():
        written += _save_all(plan, item, stem, partial(contrast_figure, image, exp))
        if "npz" in plan.formats:
            written.append(plan.path(item, f"{stem}.npz"))
            write_npz(written[-1], **explanation_arrays({exp.meta["method"]: exp}))
    outputs = [p.relative_to(plan.out_dir).as_posix() for p in written]
    if "json" in plan.formats:
        outputs.append(f"{item.name}.json")
        write_json(plan.path(item, "json"), {**record, "outputs": outputs})
    return outputs


def _save_all(plan: OutputPlan, item: CorpusItem, stem: str, draw: Callable[[], Figure]) -> list[Path]:
    """The figure `draw` makes, saved in each figure format of `plan`.

    `draw` is called only when there is a format to save it in: drawing is about a
    quarter of a `--method all` run, wasted on a `--format json,npz` run.
    """
    paths = [plan.path(item, f"{stem}.{fmt}") for fmt in plan.figure_formats]
    if not paths:
        return []
    fig = draw()
    for path in paths:
        save_figure(fig, path, dpi=plan.dpi)
    return paths


def contrast_figure(image: np.ndarray, exp: Explanation) -> Figure:
    """The contrasted character's map, drawn and captioned as the app exports that view."""
    return selection_figure(image, exp, exp.meta["contrast"]["token"], outlier_perc=FIGURE_OUTLIER_PERC)


def comparison(image: np.ndarray, explanations: Mapping[str, Explanation]) -> Figure:
    """Methods side by side on one scale: rows = methods and columns = characters when there
    are fewer characters than methods (e.g. `--token N`), else the transpose, so the grid
    stays tall rather than wide."""
    methods = list(explanations)
    first = explanations[methods[0]]
    labels = character_labels(first.tokens, first.token_indices)  # short: they head narrow columns
    by_method = [list(explanations[m].maps) for m in methods]
    rows, row_labels, col_labels = by_method, methods, labels
    if len(labels) > len(methods):
        rows, row_labels, col_labels = [list(r) for r in zip(*by_method)], labels, methods
    return comparison_figure(
        image,
        rows,
        row_labels,
        col_labels,
        signed=any(e.signed for e in explanations.values()),
        outlier_perc=FIGURE_OUTLIER_PERC,
        caption=caption(
            {"model": first.meta.get("model")},
            f"methods on one scale (each map peaks at 1) \u00b7 read \u201c{first.reading.text}\u201d",
        ),
    )


def method_record(exp: Explanation, warnings: list[str]) -> dict[str, Any]:
    """What the summary says about one method on one image (no maps: those go to .npz)."""
    return {
        "params": exp.meta.get("params", {}),
        "signed": exp.signed,
        "token_indices": list(exp.token_indices),
        "scores": exp.scores,
        "deltas": exp.deltas,
        "timings": exp.meta.get("timings", {}),
        "device": exp.meta.get("device"),
        "warnings": warnings,
    }
