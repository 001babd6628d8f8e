"""One image's output set (figures, maps, record) and the run's summary, written atomically.

Names: `<out>/<name>.<method>.<png|svg|pdf>` (one figure per method: a panel per
character explained, the app's "grid" export; with `--token N`, the map of that
character, the app's "view" export), `<name>.compare.<fmt>` when several methods ran
(the app's comparison: methods side by side on one scale; a long line's figures draw
the characters that fit a page and say which), `<name>.npz` (every method's maps)
and `<name>.json` (the image's record, the same one the summary lists). With
`--contrast`, each substituted character's contrast with its truth adds
`<name>.<method>.contrast-<N>.<fmt>` (the app's Export figure of that view) and
`<name>.<method>.contrast-<N>.npz` (the app's Export maps of it). Every figure is
`render.explanation_figure`'s, the app's Export builder. Each file is complete or
absent, so an interrupted run never leaves a file that looks finished but is not; and
when one of an image's files cannot be written, the others written for it go too, so
no figure is left without its record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from thulium_desktop.io.atomic import write_json, write_npz
from thulium_desktop.io.corpus import CorpusItem
from thulium_desktop.render import FIGURE_FORMATS, explanation_arrays, explanation_figure, save_figure
from thulium_desktop.xai.methods import REGISTRY
from thulium_desktop.xai.saliency import Explanation


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
    When any write fails (a full disk), the files this call wrote are removed before
    the error goes on: a figure or maps without the record that says what they are
    would look like a finished output.
    """
    written: list[Path] = []
    try:
        _write_all(plan, item, image, explanations, contrasts or {}, written)
        outputs = [p.relative_to(plan.out_dir).as_posix() for p in written]
        if "json" in plan.formats:
            outputs.append(f"{item.name}.json")
            write_json(plan.path(item, "json"), {**record, "outputs": outputs})
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return outputs


def _write_all(
    plan: OutputPlan,
    item: CorpusItem,
    image: np.ndarray,
    explanations: Mapping[str, Explanation],
    contrasts: Mapping[str, Explanation],
    written: list[Path],
) -> None:
    """Every figure and maps file of one image, each path added to `written` once saved."""
    drawable = {m: e for m, e in explanations.items() if len(e.maps)}
    for method, exp in drawable.items():
        _save_all(plan, item, method, partial(method_figure, image, method, exp), written)
    if len(drawable) > 1:
        _save_all(plan, item, "compare", partial(explanation_figure, "compare", image, drawable, methods=REGISTRY), written)
    if "npz" in plan.formats and explanations:
        _save_npz(plan.path(item, "npz"), explanations, written)
    for stem, exp in contrasts.items():
        view = partial(explanation_figure, "view", image, {exp.method: exp}, exp.contrast.token, methods=REGISTRY)
        _save_all(plan, item, stem, view, written)
        if "npz" in plan.formats:
            _save_npz(plan.path(item, f"{stem}.npz"), {exp.method: exp}, written)


def _save_npz(path: Path, explanations: Mapping[str, Explanation], written: list[Path]) -> None:
    write_npz(path, **explanation_arrays(explanations))
    written.append(path)


def _save_all(
    plan: OutputPlan, item: CorpusItem, stem: str, draw: Callable[[], Figure], written: list[Path]
) -> None:
    """The figure `draw` makes, saved in each figure format of `plan`, each path added
    to `written` once saved.

    `draw` is called only when there is a format to save it in: drawing is about a
    quarter of a `--method all` run, wasted on a `--format json,npz` run.
    """
    paths = [plan.path(item, f"{stem}.{fmt}") for fmt in plan.figure_formats]
    if not paths:
        return
    fig = draw()
    for path in paths:
        save_figure(fig, path, dpi=plan.dpi)
        written.append(path)


def method_figure(image: np.ndarray, method: str, exp: Explanation) -> Figure:
    """A method's figure: a panel per character explained (the app's "grid": every
    character, or those of `--tokens`, as many as fit a page), or with `--token N` that
    character's map, as the app's "view" exports it."""
    if len(exp.token_indices) == 1 and len(exp.reading) > 1:
        return explanation_figure("view", image, {method: exp}, exp.token_indices[0], methods=REGISTRY)
    return explanation_figure("grid", image, {method: exp}, methods=REGISTRY)


def method_record(exp: Explanation, warnings: list[str]) -> dict[str, Any]:
    """What the summary says about one method on one image (no maps: those go to .npz).

    `notes` are the explanation's own (what a user must know about its maps);
    `warnings` the other warnings raised while it was computed (the caller leaves out
    the `MapNote` warnings the engine issues for its notes). Integrated gradients add
    each character's relative completeness gap and the steps its integral used.
    """
    record = {
        "params": dict(exp.params),
        "signed": exp.signed,
        "token_indices": list(exp.token_indices),
        "scores": exp.scores,
        "deltas": exp.deltas,
        "timings": asdict(exp.timings),
        "device": exp.device,
        "precision": exp.precision,
        "tf32_policy": exp.tf32_policy,
        "notes": list(exp.notes),
        "warnings": warnings,
    }
    if exp.relative_gaps is not None:
        record |= {"relative_gaps": exp.relative_gaps, "steps": exp.steps}
    return record
