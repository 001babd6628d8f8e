"""`explain --contrast`: why each substituted character was read rather than its truth.

For every character the reading substitutes (edit-distance alignment against the
image's truth, found as the app finds it: `io.truths`), the map of score(read) − score(true) from
`SaliencyGenerator.explain_contrast`, with the reading held at the one the other
maps explain, and signed as in the app (which pixels favour which character).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from thulium_desktop.xai.ground_truth import compare
from thulium_desktop.xai.methods import REGISTRY
from thulium_desktop.xai.saliency import Explanation, SaliencyGenerator

NO_TRUTH = "no contrast: no truth (IMAGE.gt.txt or the folder's ground_truth.tsv) to contrast with"
NO_SUBSTITUTION = "no contrast: the reading substitutes no character of the truth"


def contrast_methods(methods: tuple[str, ...]) -> tuple[str, ...]:
    """The gradient methods that contrast the chosen ones: a method without gradients
    (attention) is contrasted with its fallback, once however many ask for it."""
    return tuple(dict.fromkeys(REGISTRY[m].contrast_method for m in methods))


def contrast_stem(method: str, token: int) -> str:
    """`gradient.contrast-3`: the output names' part after the image's name (the 0-based
    index of the character, as `--token` and the records count)."""
    return f"{method}.contrast-{token}"


def explain_contrasts(
    generator: SaliencyGenerator,
    image: np.ndarray,
    methods: tuple[str, ...],
    reading: Any,
    truth: str | None,
) -> tuple[dict[str, Explanation], list[str]]:
    """Each substituted character's contrast under each method, keyed by `contrast_stem`,
    and notes on what has none: no truth, no substitution, or a true character the model
    cannot score (not in its alphabet), which skips that character only."""
    if truth is None:
        return {}, [NO_TRUTH]
    substitutions = compare(tuple(reading.tokens), truth).substitutions
    if not substitutions:
        return {}, [NO_SUBSTITUTION]
    contrasts, notes = {}, []
    for method in contrast_methods(methods):
        config = replace(generator.config, method=method, absolute=False)
        for token, true_char in substitutions:
            try:
                exp = generator.explain_contrast(image, token, true_char, config=config, reading=reading)
            except ValueError as exc:
                notes.append(f"no {method} contrast for character {token + 1}: {exc}")
                continue
            contrasts[contrast_stem(method, token)] = exp
    return contrasts, notes


def contrast_record(exp: Explanation) -> dict[str, Any]:
    """What the image's record says about one contrast (its map goes to the .npz)."""
    return {
        "method": exp.method,
        "token": exp.contrast.token,
        "read": exp.contrast.read,
        "truth": exp.contrast.alternative,
        "score_difference": float(exp.scores[0]),
        "params": dict(exp.params),
        "notes": list(exp.notes),
    }
