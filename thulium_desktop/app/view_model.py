"""The view model: what the window shows, and the rules that decide it, without Qt.

In the spirit of napari's `ViewerModel`. The image, its reading against its truth,
the finished and partial maps, the selected character, the chosen method and the
Compare and Contrast switches live here, with the rules that turn them into
requests, maps and figures: which spec the view shows, when Contrast with truth
applies, what Compare and each Export kind draw. The window hands user input in
and follows `events`; the error review and the Trust panel read the model instead
of keeping copies. Plain Python, so the rules are tested without a window (and an
import-linter contract keeps Qt out).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from thulium_desktop.app.events import Events
from thulium_desktop.app.glyphs import shown_char
from thulium_desktop.app.jobs import image_key
from thulium_desktop.io.truths import Truth
from thulium_desktop.xai.ground_truth import MATCH, SUBSTITUTION, Comparison, compare
from thulium_desktop.xai.ground_truth import truth_problem as uncomparable
from thulium_desktop.xai.methods import REGISTRY, compare_methods
from thulium_desktop.xai.spec import MethodSpec

if TYPE_CHECKING:
    from thulium_desktop.models import Reading
    from thulium_desktop.xai.saliency import Explanation

#: The selection that shows the map of the whole reading (the timeline's "all" cell).
ALL = -1
#: Clicking the image picks a character by this method's maps while the chosen
#: method's are not computed: attention is the first map every image gets.
CLICK_FALLBACK = "attention"


class ShownReading(Protocol):
    """What the model needs of the worker's `ReadingInfo` (whose module imports Qt)."""

    @property
    def reading(self) -> Reading: ...


class FigurePlan(Protocol):
    """What the model needs of an `ExportPlan`: which figure it waits for."""

    @property
    def kind(self) -> str: ...


class ViewModel:
    """The window's state and rules. Observers connect to `events` by name:

    - "image": another image (its reading, maps and comparison are dropped with it), or
      a file that could not be read (`image` None, `failure` says why)
    - "title": the image's title
    - "reading": its reading arrived, or was dropped (None); the comparison with it
    - "truth": its truth changed (a transcription table was chosen)
    - "selection": a character (or ALL) was selected, even the one selected already
    - "results": a finished or partial map arrived
    """

    def __init__(self) -> None:
        self.events = Events("image", "title", "reading", "truth", "selection", "results")
        self.image: np.ndarray | None = None
        self.image_key = ""
        self.path: Path | None = None  # None: an array not read from a file
        self.failure: str | None = None  # why the file at `path` could not be read (no image then)
        self.title = ""
        self.reading: ShownReading | None = None
        self.truth = Truth()
        self.comparison: Comparison | None = None
        #: What the loaded model can score without having read it (`LoadedModel.scorable`).
        self.scorable = ""
        self.results: dict[MethodSpec, Explanation] = {}
        self.partials: dict[MethodSpec, np.ndarray] = {}
        self.progress: dict[MethodSpec, tuple[int, int]] = {}  # (done, total) while refining
        self.selection = 0
        self.pending_selection: int | None = None  # asked for before the reading came
        self.method = next(iter(REGISTRY))  # as the method panel starts
        self.params: dict[str, Any] = {}
        self.compare = False
        self.contrast = False
        self.pending_export: FigurePlan | None = None  # waiting for its maps

    # -- what the window hands in --------------------------------------------------------
    def set_image(self, image: np.ndarray, path: Path | None = None, title: str = "", truth: Truth = Truth()) -> None:
        """Show another image, read from `path` (whose `truth` the caller looked up)."""
        self.image, self.image_key = image, image_key(image)
        self.path, self.title, self.truth, self.failure = path, title, truth, None
        self._drop_reading()
        self.events.emit("image")
        self.events.emit("reading")

    def set_unreadable(self, path: Path, title: str, reason: str) -> None:
        """The file chosen at `path` could not be read: nothing of the image before it
        stays (no pixels, reading, truth or maps), and `failure` says why, so the window
        never shows another image's reading under this file's name."""
        self.image, self.image_key = None, ""
        self.path, self.title, self.truth, self.failure = path, title, Truth(), reason
        self._drop_reading()
        self.events.emit("image")
        self.events.emit("reading")

    def set_title(self, title: str) -> None:
        self.title = title
        self.events.emit("title")

    def forget_reading(self) -> None:
        """Another model reads the image: its reading, maps and comparison are the old one's."""
        self._drop_reading()
        self.events.emit("reading")

    def set_reading(self, reading: ShownReading) -> None:
        """Take the image's reading and compare it with the truth. The selection stays
        inside it; the character asked for before it came is selected now, else the
        first one when it is the image's first reading (ALL stays ALL)."""
        first = self.reading is None
        self.reading = reading
        count = len(reading.reading.tokens)
        self.selection = min(self.selection, count - 1)
        self.comparison = self._compared()
        self.events.emit("reading")
        if self.pending_selection is not None:
            index, self.pending_selection = self.pending_selection, None
            self.select(index)
        elif first and count and self.selection != ALL:
            self.select(0)

    def set_truth(self, truth: Truth) -> None:
        self.truth = truth
        self.comparison = self._compared()
        self.events.emit("truth")

    def select(self, index: int) -> None:
        """Select character `index` (ALL: the whole reading), kept inside the reading.
        Before the reading arrives the choice is remembered (`--token`); a reading
        without characters has nothing to select."""
        if self.reading is None:
            self.pending_selection = index
            return
        count = len(self.reading.reading.tokens)
        if count:
            self.selection = max(ALL, min(index, count - 1))
            self.events.emit("selection")

    def choose(self, method: str, params: Mapping[str, Any], compare: bool, contrast: bool) -> None:
        """Take the method panel's choices. No event: the window hands them over as it
        requests, so a parameter being stepped counts at once though the panel's
        `changed` waits for it to settle."""
        self.method, self.params, self.compare, self.contrast = method, dict(params), compare, contrast

    def add_partial(self, spec: MethodSpec, maps: np.ndarray, done: int, total: int) -> None:
        self.partials[spec] = maps
        self.progress[spec] = (done, total)
        self.events.emit("results")

    def add_result(self, spec: MethodSpec, explanation: Explanation) -> None:
        """A finished explanation replaces the partial maps; the one already here (a cache
        hit answering a request) is no news, and the requester redraws once."""
        if self.results.get(spec) is explanation:
            return
        self.results[spec] = explanation
        self.partials.pop(spec, None)
        self.progress.pop(spec, None)
        self.events.emit("results")

    def take_export(self) -> FigurePlan | None:
        """The pending export, no longer pending: it is finished (or stopped) now."""
        plan, self.pending_export = self.pending_export, None
        return plan

    # -- which maps are shown and asked for ------------------------------------------------
    def current_spec(self, method: str | None = None) -> MethodSpec:
        """The spec for the selected character (or the whole reading) under `method`."""
        return MethodSpec.build(method or self.method, self.params, whole_reading=self.selection == ALL)

    def contrast_target(self) -> tuple[int, str] | None:
        """(index, true character) when Contrast with truth is on and the selected
        character is a substitution whose true character the model can score; else
        None (the character's own map shows)."""
        if not self.contrast or self.comparison is None:
            return None
        truth = self.comparison.substituted(self.selection)
        scorable = truth is not None and len(truth) == 1 and truth in self.scorable
        return (self.selection, truth) if scorable else None

    def method_spec(self, method: str) -> MethodSpec | None:
        """What `method` shows for the selection: its contrast with the truth when that
        applies (None for a method without gradients, which has no contrast map), else
        the selected character's map."""
        target = self.contrast_target()
        if target is None:
            return self.current_spec(method)
        if not REGISTRY[method].gradients:
            return None
        return MethodSpec.build(method, self.params, contrast=target)

    def view_spec(self) -> MethodSpec:
        """The single view's spec: a contrast takes the fallback of a method without
        gradients (the method panel says which)."""
        method = self.method
        if self.contrast_target() is not None:
            method = REGISTRY[method].contrast_method
        return self.method_spec(method)

    def compare_specs(self) -> dict[str, MethodSpec | None]:
        """The Compare view's spec per method (None: no contrast map for that method)."""
        return {m: self.method_spec(m) for m in compare_methods()}

    def wanted_specs(self) -> list[MethodSpec]:
        """The maps on screen: every compared method's, or the single view's."""
        if self.compare:
            return [s for s in self.compare_specs().values() if s is not None]
        return [self.view_spec()]

    def requested_specs(self) -> list[MethodSpec]:
        """What to ask the worker for: the maps on screen, then those a pending export
        draws, each once."""
        specs = self.wanted_specs()
        if self.pending_export is not None:
            specs += self.export_specs(self.pending_export.kind)
        return list(dict.fromkeys(specs))

    def maps_for(self, spec: MethodSpec) -> tuple[np.ndarray | None, bool]:
        """The map of the selected character under `spec` (final, else the latest
        partial; None before either, or while a partial stack's row is NaN: a long
        line's characters not computed yet, the selected one coming first), and
        whether it is signed."""
        exp = self.results.get(spec)
        maps = exp.maps if exp is not None else self.partials.get(spec)
        signed = bool(exp.signed) if exp is not None else spec.signed
        if maps is None or len(maps) == 0:
            return None, signed
        if spec.whole_reading or spec.contrast is not None:
            return maps[0], signed
        index = self.selection
        if not 0 <= index < len(maps) or np.isnan(maps[index].flat[0]):
            return None, signed
        return maps[index], signed

    def compare_maps(self) -> tuple[dict[str, np.ndarray | None], bool]:
        """Each compared method's map (None: not computed yet, or no contrast map for
        it), and whether any shown one is signed: they share one colour scale."""
        maps: dict[str, np.ndarray | None] = {}
        any_signed = False
        for method, spec in self.compare_specs().items():
            values, signed = self.maps_for(spec) if spec is not None else (None, False)
            maps[method] = values
            any_signed |= signed and values is not None
        return maps, any_signed

    def strongest_token(self, x: int, y: int) -> int | None:
        """The character whose map is strongest at pixel (x, y), under the chosen method
        (per character), else CLICK_FALLBACK; None while neither is computed."""
        exp = self.results.get(MethodSpec.build(self.method, self.params))
        if exp is None:
            exp = self.results.get(MethodSpec.build(CLICK_FALLBACK, {}))
        if exp is None or len(exp.maps) == 0:
            return None
        return int(np.argmax(np.abs(exp.maps[:, y, x])))

    def no_contrast_reason(self) -> str:
        """Why the selection (ALL: the whole reading) shows its own map though Contrast
        with truth is on, so the switch never seems to do nothing."""
        if self.comparison is None:
            return "Contrast with truth: this image has no truth to contrast with."
        index, kinds = self.selection, self.comparison.kinds
        if SUBSTITUTION not in kinds:
            why = "this reading has none"
        elif not 0 <= index < len(kinds):
            why = "select one marked on the timeline"
        elif kinds[index] == MATCH:
            why = f"‘{shown_char(self.comparison.truth_chars[index])}’ was read correctly"
        elif kinds[index] == SUBSTITUTION:
            truth = shown_char(self.comparison.truth_chars[index])
            why = (f"the model cannot score the true ‘{truth}’ (not in its alphabet)" if self.scorable
                   else "this model cannot score a character it did not read")
        else:
            why = f"character {index + 1} has no true counterpart ({kinds[index]})"
        return f"Contrast applies to substituted characters only: {why}, so its own map is shown."

    # -- export --------------------------------------------------------------------------
    def export_specs(self, kind: str) -> list[MethodSpec]:
        """What a figure shows is what the window shows: the grid is every character's own
        map, the others follow Contrast with truth."""
        if kind == "compare":
            return [s for s in self.compare_specs().values() if s is not None]
        if kind == "grid":
            return [MethodSpec.build(self.method, self.params)]
        return [self.view_spec()]

    def export_results(self, kind: str) -> dict[str, Explanation] | None:
        """The finished explanations a `kind` figure draws, by method; None while any is
        missing (the export waits for them)."""
        specs = self.export_specs(kind)
        if any(s not in self.results for s in specs):
            return None
        return {s.method: self.results[s] for s in specs}

    def export_index(self, kind: str) -> int:
        """The selected character a `kind` figure is of: -1 for the whole reading, except
        in the grid, drawn from per-character maps, where that is the first character."""
        return -1 if kind != "grid" and self.selection == ALL else max(self.selection, 0)

    # -- internals -----------------------------------------------------------------------
    def _drop_reading(self) -> None:
        """Forget what belongs to the reading, and an export waiting for its maps."""
        self.reading = None
        self.comparison = None
        self.pending_export = None
        self.results.clear()
        self.partials.clear()
        self.progress.clear()

    @property
    def truth_problem(self) -> str | None:
        """Why the truth is not compared with the reading, for the user: it could not be
        used, or it is too long for this reading to be measured against (aligning it
        would cost time and memory for a score that only says so). None otherwise."""
        if self.truth.problem is not None:
            return self.truth.problem
        if self.reading is None or self.truth.text is None:
            return None
        return uncomparable("".join(self.reading.reading.tokens), self.truth.text)

    def _compared(self) -> Comparison | None:
        if self.reading is None or self.truth.text is None or self.truth_problem is not None:
            return None
        return compare(self.reading.reading.tokens, self.truth.text)
