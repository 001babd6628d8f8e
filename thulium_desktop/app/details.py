"""The line under the timeline that says what the shown map is of, in numbers.

A map alone does not say how sure the model was or, for integrated gradients,
whether the path integral converged; this line does, and under it the explanation's
notes: what a user must know before trusting the map (a GradCAM layer before a
recurrent head, an integral that did not converge, scores taken as the model gave them).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from thulium_desktop.app.glyphs import shown_char
from thulium_desktop.xai.methods import REGISTRY
from thulium_desktop.xai.spec import MethodSpec

if TYPE_CHECKING:
    from thulium_desktop.app.view_model import ViewModel

#: Notes stand out from the numbers without reading as errors.
NOTE_COLOUR = "#d9a441"
#: What marks an explanation's note, as figure captions mark it.
NOTE_MARK = "\u26a0"


def shown_what(explanation, index: int) -> tuple[str, int]:
    """Rich text naming what a map is of, and the index of that map in `explanation`:
    the character `index`, or the whole reading (its one map) for a whole-reading one."""
    if explanation.whole_reading:
        return f"the whole reading “{html.escape(explanation.reading.text)}”", 0
    token = html.escape(shown_char(explanation.tokens[index]))
    return f"‘{token}’ (character {index + 1} of {len(explanation.tokens)})", index


def selection_details(spec: MethodSpec, explanation, index: int) -> str:
    """Rich text for the character `index` (ignored for a whole-reading or contrast spec,
    whose single map is of the whole reading or of the contrasted character)."""
    method = REGISTRY[spec.method].label
    if spec.contrast is not None:
        t, truth = spec.contrast
        read = html.escape(shown_char(explanation.reading.tokens[t]))
        what, k = (f"‘{read}’ rather than the true ‘{html.escape(shown_char(truth))}’ (character {t + 1}): "
                   f"red favours ‘{read}’, blue ‘{html.escape(shown_char(truth))}’"), 0
    else:
        what, k = shown_what(explanation, index)
    score = "score difference" if spec.contrast is not None else "score"
    parts = [f"<b>{method}</b> of {what}", f"confidence {explanation.confidences[k]:.0%}",
             f"{score} {explanation.scores[k]:.3g}"]
    if explanation.deltas is not None:
        parts.append(completeness_phrase(explanation, k))
    parts.append(f"computed in {explanation.timings.total_s:.2f} s")
    return "<br>".join([" · ".join(parts), *map(note_line, getattr(explanation, "notes", ()))])


def completeness_phrase(explanation, k: int) -> str:
    """`completeness gap 21% after 400 steps`: map k's gap as a share of
    |f(x) − f(baseline)| (a bare gap says nothing without the scale of the change) and
    the steps its integral used; the bare gap where the share is unknown."""
    if getattr(explanation, "relative_gaps", None) is None:
        return f"completeness gap {explanation.deltas[k]:.2g}"
    return f"completeness gap {explanation.relative_gaps[k]:.0%} after {explanation.steps[k]} steps"


def note_line(note: str) -> str:
    """One of an explanation's notes, marked and highlighted."""
    return f'<span style="color:{NOTE_COLOUR}">{NOTE_MARK} {html.escape(note)}</span>'


def with_note(note: str, details: str) -> str:
    """`details` under a highlighted `note` that says why the view is not what a switch
    asked for (e.g. no contrast for a correctly read character)."""
    line = f'<span style="color:{NOTE_COLOUR}">{html.escape(note)}</span>'
    return f"{line}<br>{details}" if details else line


def progress_details(spec: MethodSpec, done: int, total: int) -> str:
    return f"<b>{REGISTRY[spec.method].label}</b>: refining… {done} of {total}"


def view_details(view: ViewModel) -> str:
    """The line for what the single view shows: the final map's numbers, else how far
    it has refined, under the reason a switched-on contrast does not apply to it."""
    spec = view.view_spec()
    exp = view.results.get(spec)
    index = view.selection
    text = ""
    if exp is not None and (spec.contrast or exp.whole_reading or 0 <= index < len(exp.tokens)):
        text = selection_details(spec, exp, index)
    elif spec in view.progress:
        text = progress_details(spec, *view.progress[spec])
    if view.contrast and spec.contrast is None and view.reading is not None:
        text = with_note(view.no_contrast_reason(), text)
    return text
