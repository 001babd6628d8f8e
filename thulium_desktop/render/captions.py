"""Text that goes on figures: captions naming what was explained, and character labels.

A figure cut out of its context (a slide, a paper, a bug report) must still say
which model, which method with which parameters, and which character it shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Characters that would vanish or confuse in a label, shown by a visible stand-in.
_VISIBLE = {" ": "\u2423", "\t": "\u21e5", "\n": "\u21b5"}


def token_label(token: str, index: int | None = None, confidence: float | None = None) -> str:
    """`'e' #2 p=0.97`: the character made visible (a space shows as ␣), its position
    in the reading and the model's confidence, whichever are known.

    `index` is 0-based, as the engine counts (`Explanation.token_indices`); the label
    counts from 1, as people do and as the app's details line ("character 2 of 5") and
    the timeline's tooltips say, so a figure and the window name the same character alike.
    """
    shown = "".join(_VISIBLE.get(ch, ch) for ch in token)
    parts = [f"\u2018{shown}\u2019"]
    if index is not None:
        parts.append(f"#{index + 1}")
    if confidence is not None:
        parts.append(f"p={confidence:.2f}")
    return " ".join(parts)


def contrast_phrase(read: str, truth: str) -> str:
    """`'u' rather than the true 'w'`: what a contrastive map explains, in the words the
    app's details line and the figures' captions share."""
    return f"{token_label(read)} rather than the true {token_label(truth)}"


def caption(meta: Mapping[str, Any], subject: str | None = None) -> str:
    """`model · method (k=v, ...) · contrast · subject`, from an explanation's `meta` dict;
    `subject` says what is shown (a character's label, or the reading).

    A contrastive map (`meta["contrast"]`, as `explain_contrast` records it) says
    which two characters it weighs and its sign, since a signed map cut out of the
    app is otherwise read as an ordinary one. Parameters that are None are left
    out; numbers are shortened to three significant digits so the line stays short.
    """
    parts = []
    if meta.get("model"):
        parts.append(str(meta["model"]))
    if meta.get("method"):
        params = meta.get("params") or {}
        shown = ", ".join(f"{k}={_short(v)}" for k, v in sorted(params.items()) if v is not None and k != "method")
        parts.append(f"{meta['method']} ({shown})" if shown else str(meta["method"]))
    contrast = meta.get("contrast")
    if contrast:
        parts.append(f"{contrast_phrase(contrast['read'], contrast['alternative'])} "
                     "(score(read) \u2212 score(true))")
    if subject:
        parts.append(subject)
    return " \u00b7 ".join(parts)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
