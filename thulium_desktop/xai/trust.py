"""One call that answers "can I trust this map?" for the app's Trust panel and the CLI.

It gathers, for an explanation already computed: the interpretation measures of
each map and the verdict of its method's family (`diagnostics`: gradient maps against
the ink, attention against the alignment, or no verdict and why), the deletion and
insertion curves against several random orders (`faithfulness`), and optionally the
model-randomisation check (`sanity`, which recomputes the maps once per layer and so
costs the most).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from thulium_desktop.models.protocol import Recognizer
from thulium_desktop.xai.centres import span_centres
from thulium_desktop.xai.config import SaliencyConfig
from thulium_desktop.xai.diagnostics import (
    FAMILY_ATTENTION,
    FAMILY_GRADIENT,
    MapDiagnostics,
    column_centres,
    explanation_diagnostics,
)
from thulium_desktop.xai.faithfulness import Curves, perturbation_curves
from thulium_desktop.xai.methods import REGISTRY
from thulium_desktop.xai.saliency import CancelCheck, Explanation, NoAttention, SaliencyGenerator, raise_if_cancelled
from thulium_desktop.xai.sanity import SanityResult, randomisation_check


@dataclass(frozen=True)
class TrustReport:
    """Measures for each explained character (index k follows `Explanation.maps[k]`)."""

    diagnostics: list[MapDiagnostics]
    deletion: Curves | None
    insertion: Curves | None
    sanity: SanityResult | None

    def as_dict(self) -> dict:
        """Plain JSON-able numbers, for `summary.json` and the app's export."""
        out: dict = {"diagnostics": [d.as_dict() for d in self.diagnostics]}
        for curves in (self.deletion, self.insertion):
            if curves is not None:
                out[curves.mode] = {
                    "fractions": curves.fractions.tolist(),
                    "auc": curves.auc.tolist(),
                    "random_auc": curves.random_auc.tolist(),
                    "random_orders": curves.orders,
                    "beats_random": curves.beats_random().tolist(),
                }
        if self.sanity is not None:
            out["sanity"] = {
                "method": self.sanity.method,
                "layers": list(self.sanity.layers),
                "mean_correlation": np.nanmean(self.sanity.correlations, axis=1).tolist(),
                "final": self.sanity.final,
                "flagged": self.sanity.flagged,
            }
        return out


def trust_report(
    model: Recognizer,
    image,
    explanation: Explanation,
    config: SaliencyConfig,
    curves: bool = True,
    sanity: bool = False,
    steps: int = 20,
    progress: Callable[[str], None] | None = None,
    cancel: CancelCheck | None = None,
) -> TrustReport:
    """Diagnostics of `explanation` (made by `config` on `image`), see module docs.

    Curves and sanity need per-character maps (not the whole-reading map). `progress`
    names each stage as it starts (the sanity check once per layer); `cancel()` is
    polled within every stage and raises `Cancelled`, so the app can stop a check.
    """

    def say(stage: str) -> None:
        raise_if_cancelled(cancel, "the trust check")
        if progress is not None:
            progress(stage)

    say("diagnostics")
    family = FAMILY_GRADIENT if REGISTRY[config.method].gradients else FAMILY_ATTENTION
    centres = _alignment_centres(model, image, explanation, family)
    diagnostics = explanation_diagnostics(_as_image(image), explanation.maps, centres,
                                          len(explanation.reading), family)
    per_char = not explanation.whole_reading and len(explanation.token_indices) > 0
    deletion = insertion = None
    if curves and per_char:
        say("deletion curve")
        args = (model, image, explanation.maps, explanation.token_indices, explanation.reading)
        deletion = perturbation_curves(*args, mode="deletion", steps=steps, seed=config.seed, cancel=cancel)
        say("insertion curve")
        insertion = perturbation_curves(*args, mode="insertion", steps=steps, seed=config.seed, cancel=cancel)
    check = None
    if sanity and per_char and REGISTRY[config.method].gradients:
        check = randomisation_check(
            model, image, config, tokens=list(explanation.token_indices), seed=config.seed,
            progress=lambda done, total: say(f"randomisation check: layer {done + 1} of {total}"), cancel=cancel,
        )
    return TrustReport(diagnostics, deletion, insertion, check)


def _alignment_centres(model: Recognizer, image, explanation: Explanation, family: str) -> np.ndarray | None:
    """Where the model aligned each explained character, as a column of its maps.

    A CTC reading's (`Reading.ctc_alignment`) gradient maps are measured from the middle
    of each character's whole frame extent (`centres.span_centres`), as the timeline
    places it. Attention maps, of any model, from their attention's centre: an attention
    model's attention is a real distribution over the line, and a CTC model's is its
    frame posterior, the alignment itself, whose spike opens the extent (measured from
    the extent's middle it would sit about half a glyph left of it, and be called "off
    its character" whatever the model did)."""
    reading = explanation.reading
    if explanation.whole_reading or len(reading) == 0:
        return None
    if reading.ctc_alignment and family == FAMILY_GRADIENT:
        columns = explanation.maps.shape[-1]
        centres = span_centres(reading, columns, model.prepare(image)) - 0.5  # x to column index
        return centres[list(explanation.token_indices)]
    try:
        attention = SaliencyGenerator(model, SaliencyConfig(method="attention")).explain(
            image, tokens=list(explanation.token_indices), reading=reading
        )
    except NoAttention:  # no localisation without attention
        return None
    return column_centres(attention.maps)


def _as_image(image) -> np.ndarray:
    """Tensors `[1, C, H, W]` (already prepared) become a grayscale array for ink finding."""
    if isinstance(image, np.ndarray):
        return image
    return image.detach().cpu().numpy()[0].mean(axis=0)
