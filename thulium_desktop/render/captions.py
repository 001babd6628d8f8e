"""Text that goes on figures: captions naming what was explained, and character labels.

A figure cut out of its context (a slide, a paper, a bug report) must still say
which model, which method with which parameters, and which character it shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from thulium_desktop.models.notes import short_form

#: What marks a note on a figure: a warning sign, as the app's details line shows it.
NOTE_MARK = "\u26a0"

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


def caption(exp: Any, subject: str | None = None, outlier_perc: float = 0.0) -> str:
    """`model · method (k=v, ...) · contrast · subject · scale · ⚠ note`, for a figure of one
    explanation (`xai.saliency.Explanation`, duck-typed: render sits below the engine);
    `subject` says what is shown (a character's label, or the reading).

    A contrastive map (`exp.contrast`) says which two characters it weighs and its
    sign, since a signed map cut out of the app is otherwise read as an ordinary one.
    Parameters that are None are left out; numbers are shortened to three significant
    digits so the line stays short. `outlier_perc` is the clipping the figure's colour
    scale applied (`render.colormaps.shared_scale`), said so that a reader knows the
    brightest colour is not the maximum. The explanation's notes end the line, in their
    short form, so a figure cut out of the app still carries its warning.
    """
    shown = ", ".join(
        f"{k}={_short(v)}" for k, v in sorted(exp.params.items()) if v is not None and k != "method"
    )
    method = f"{exp.method} ({shown})" if shown else exp.method
    return _join(exp.model, method, _contrast(exp), subject, scale_phrase(outlier_perc), *notes_phrases([exp]))


def comparison_caption(exp: Any, subject: str, outlier_perc: float = 0.0, compared: Iterable[Any] = ()) -> str:
    """`model · contrast · subject · scale · ⚠ notes` for a figure of several methods'
    maps, `exp` being any of them (they share model, reading and contrast); each panel
    names its method. The notes are those of every `compared` explanation (each once),
    else of `exp`."""
    return _join(exp.model, None, _contrast(exp), subject, scale_phrase(outlier_perc),
                 *notes_phrases(list(compared) or [exp]))


def shown_phrase(shown: Sequence[int], explained: Sequence[int], length: int) -> str | None:
    """`characters #1–#5 of 60 shown; no room for #6–#60: draw them with explain --tokens 5-59
    (0-based) or select one in the app`: which characters (0-based indices) a figure of
    a `length`-character reading shows, when not all of them, and how to draw the
    others. `explained` are those its maps were computed for; the ones of them not
    `shown` were left out for room. None when every character is shown."""
    if list(shown) == list(range(length)):
        return None
    text = f"characters {index_ranges(shown, first=1, mark='#')} of {length} shown"
    left = [i for i in explained if i not in set(shown)]
    if left:
        return (f"{text}; no room for {index_ranges(left, first=1, mark='#')}: draw them with "
                f"explain --tokens {index_ranges(left)} (0-based) or select one in the app")
    return f"{text}; draw others with explain --tokens (0-based) or select one in the app"


def index_ranges(indices: Iterable[int], first: int = 0, mark: str = "") -> str:
    """`0,3,5-8`: sorted 0-based character indices as `--tokens` takes them; with
    `first=1, mark='#'`, `#1, #4, #6–#9` as the figures' labels count."""
    runs: list[list[int]] = []
    for i in sorted(set(indices)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    dash, comma = ("\u2013", ", ") if mark else ("-", ",")
    return comma.join(
        f"{mark}{a + first}" if a == b else f"{mark}{a + first}{dash}{mark}{b + first}" for a, b in runs
    )


def notes_phrases(explanations: Iterable[Any]) -> list[str]:
    """`⚠ IG gap 22% after 400 steps`: the short form of each note of `explanations`
    (their `notes`, if they have any), each once, in order."""
    shorts = (short_form(note) for exp in explanations for note in getattr(exp, "notes", ()))
    return [f"{NOTE_MARK} {short}" for short in dict.fromkeys(shorts)]


def scale_phrase(outlier_perc: float) -> str | None:
    """`colour scale ends at the 99th percentile` for a scale clipped at the top
    `outlier_perc` % of values; None for one that runs to the maximum."""
    if outlier_perc <= 0:
        return None
    return f"colour scale ends at the {_ordinal(100.0 - outlier_perc)} percentile"


def _contrast(exp: Any) -> str | None:
    contrast = exp.contrast
    if contrast is None:
        return None
    return f"{contrast_phrase(contrast.read, contrast.alternative)} (score(read) \u2212 score(true))"


def _join(*parts: str | None) -> str:
    return " \u00b7 ".join(p for p in parts if p)


def _ordinal(value: float) -> str:
    """`99th`, `97.5th`, `91st`: a percentile as people write it."""
    text = f"{value:g}"
    if text.isdigit() and not 11 <= int(text) % 100 <= 13:
        return text + {"1": "st", "2": "nd", "3": "rd"}.get(text[-1], "th")
    return text + "th"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
