"""Issue 7's trust measures per attribution method, averaged over a model's held-out images.

For each image the model reads, the characters that count are those of its reading that
the edit-distance alignment with the truth marks as a *match*, spaces excepted (a space has
no ink to point at); up to `chars_per_image` of them, evenly spaced along the reading, so
that long lines do not dominate the cost or the means. Every method explains the same
characters with the reading held fixed, and `xai.trust.trust_report` measures each map:
diagnostics, deletion and insertion curves against a random order, and (on the first
`sanity_images` images only, because it recomputes every map once per layer) the
model-randomisation check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from thulium_desktop.models.protocol import Recognizer
from thulium_desktop.training.synth import Sample
from thulium_desktop.xai.config import SaliencyConfig
from thulium_desktop.xai.diagnostics import LABELS as VERDICTS
from thulium_desktop.xai.diagnostics import NO_VERDICT
from thulium_desktop.xai.ground_truth import MATCH, align
from thulium_desktop.xai.methods import PAPER_BASELINE, REGISTRY, compare_methods
from thulium_desktop.xai.saliency import NoAttention, SaliencyGenerator
from thulium_desktop.xai.sanity import INSENSITIVE_CORRELATION
from thulium_desktop.xai.trust import TrustReport, trust_report

#: The methods of the table: those the app compares side by side (`in_compare`), the
#: gradient methods first (the sanity column is theirs) and then those without gradients;
#: "attention" only where the model answers it.
TABLE_METHODS = tuple(sorted(compare_methods(), key=lambda name: not REGISTRY[name].gradients))
LABELS = (*(label for family in VERDICTS.values() for label in family), NO_VERDICT)


@dataclass(frozen=True)
class TrustSettings:
    """How much work each measure gets: cheap enough for a CPU, named in the table."""

    num_steps: int = 16  # integrated gradients (Gauss-Legendre points)
    num_samples: int = 16  # SmoothGrad noisy copies
    curve_steps: int = 10  # deletion / insertion steps
    chars_per_image: int = 4
    sanity_images: int = 2
    seed: int = 0  # SmoothGrad noise and the random pixel order of the curves
    #: Integrated gradients from blank paper, as the app computes them.
    baseline: str = PAPER_BASELINE

    def config(self, method: str) -> SaliencyConfig:
        return SaliencyConfig(method=method, num_steps=self.num_steps, baseline=self.baseline,
                              num_samples=self.num_samples, seed=self.seed)

    def as_dict(self) -> dict:
        return asdict(self)


def correct_characters(read: str, truth: str, limit: int) -> list[int]:
    """Indices into `read` of up to `limit` non-space characters that match the truth,
    evenly spaced (first and last included)."""
    matched = [op.read_index for op in align(read, truth) if op.kind == MATCH and op.read != " "]
    if len(matched) <= limit:
        return matched
    return [matched[int(i)] for i in np.linspace(0, len(matched) - 1, limit).round()]


def method_engines(model: Recognizer, settings: TrustSettings) -> dict[str, SaliencyGenerator]:
    """One engine per method for every image, so what an engine settles on its first
    calls (the faster of two exact ways, a folded copy) is not paid again per image."""
    return {method: SaliencyGenerator(model, settings.config(method)) for method in TABLE_METHODS}


def image_reports(
    model: Recognizer, sample: Sample, settings: TrustSettings, sanity: bool,
    engines: dict[str, SaliencyGenerator],
) -> dict[str, TrustReport]:
    """Each method's trust report on the correctly read characters of one image."""
    x = model.prepare(sample.image).tensor
    reading = model.read(x)
    tokens = correct_characters(reading.text, sample.text, settings.chars_per_image)
    if not tokens:
        return {}
    reports = {}
    for method, engine in engines.items():
        try:
            exp = engine.explain(sample.image, tokens=tokens, reading=reading)
        except NoAttention:
            continue  # a model without attention: no row
        reports[method] = trust_report(model, sample.image, exp, engine.config, sanity=sanity,
                                       steps=settings.curve_steps)
    return reports


def measure_model(
    model: Recognizer,
    samples: Sequence[Sample],
    settings: TrustSettings,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, dict]:
    """Per method, the means over every counted character of `samples` (see module docs)."""
    collected: dict[str, list[TrustReport]] = {}
    engines = method_engines(model, settings)
    for i, sample in enumerate(samples):
        for method, report in image_reports(model, sample, settings, i < settings.sanity_images, engines).items():
            collected.setdefault(method, []).append(report)
        if progress is not None:
            progress(i + 1, len(samples))
    return {method: summarise(reports) for method, reports in collected.items()}


def summarise(reports: Sequence[TrustReport]) -> dict:
    """Means over all characters of `reports`; the sanity check over those that ran it."""
    diags = [d for r in reports for d in r.diagnostics]
    located = [d.localisation_chars for d in diags if d.localisation_chars is not None]
    out = {
        "characters": len(diags),
        "stroke_focus": _mean([d.stroke_focus for d in diags]),
        "ink_share": _mean([d.ink_share for d in diags]),
        "spread": _mean([d.spread for d in diags]),
        "background": _mean([d.background for d in diags]),
        "localisation_chars": _mean(located),
        "labels": {label: _mean([(d.label or NO_VERDICT) == label for d in diags]) for label in LABELS},
    }
    for mode in ("deletion", "insertion"):
        curves = [getattr(r, mode) for r in reports]
        out[mode] = {
            "auc": _mean(np.concatenate([c.auc for c in curves])),
            "random_auc": _mean(np.concatenate([c.random_auc for c in curves])),
            "beats_random": _mean(np.concatenate([c.beats_random() for c in curves])),
        }
    finals = [r.sanity.correlations[-1] for r in reports if r.sanity is not None]
    if finals:
        final = float(np.nanmean(np.concatenate(finals)))
        out["sanity"] = {"characters": int(sum(len(f) for f in finals)), "final": final,
                         "flagged": bool(final >= INSENSITIVE_CORRELATION)}
    return out


def _mean(values) -> float | None:
    values = np.asarray(values, np.float64)
    return float(values.mean()) if values.size else None
