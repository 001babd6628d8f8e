"""`SaliencyGenerator`: every character's map from one pass, for any Recognizer.

For T read characters, peers run one forward and one backward per character. Here
each chunk of inputs (integration points or noisy copies) goes through the model
once, and the T gradients come from one batched backward over the same graph (see
`vjp.py`). Progress is reported after every chunk and cancellation is checked
between chunks, so a GUI worker can stream refining maps and stop within a chunk.
Which method runs how is the registry's word (`methods.py`); each method's own
computation is one function (`attributions.py`) given a `Run`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from thulium_desktop.models.notes import Note
from thulium_desktop.models.protocol import Contrastable, Prepared, Reading, Recognizer, ScoredReader
from thulium_desktop.xai.batched_head import BatchedHead
from thulium_desktop.xai.chunk_plan import ChunkPlanner
from thulium_desktop.xai.config import SaliencyConfig
from thulium_desktop.xai.folding import FoldedRecognizer
from thulium_desktop.xai.host_copy import HostCopier, MapBlocks
from thulium_desktop.xai.methods import BASELINES, METHODS, PARAMETERS, Passes, compute_function, lookup
from thulium_desktop.xai.precision import PrecisionChoice, precision_scope, tf32_policy
from thulium_desktop.xai.vjp import BatchedVJP

__all__ = [
    "BASELINES",
    "METHODS",
    "Attribution",
    "Cancelled",
    "Contrast",
    "Explanation",
    "MapNote",
    "NOISE_FAMILY",
    "Run",
    "SaliencyConfig",
    "SaliencyGenerator",
    "Timings",
    "map_grid",
]

PartialCallback = Callable[[np.ndarray, int, int], None]
#: `on_progress(done, total)`: backward chunks done within one image, out of those
#: planned so far (adaptive integrated gradients plans more as it refines).
ProgressCallback = Callable[[int, int], None]
CancelCheck = Callable[[], bool]

#: The methods that average gradients over the same seeded noisy copies: computed
#: together (`explain_noise_family`), they share those copies and their backward passes.
NOISE_FAMILY = ("smoothgrad", "smoothgrad_sq", "vargrad")

#: The widest model input, in multiples of its height, the engine takes: a page-wide
#: handwritten line is 50-150 times as wide as high; beyond this it is a strip no model
#: reads, whose maps would cost gigabytes (issue 26: a 1x50000 image).
MAX_INPUT_ASPECT = 400
#: When batch_size is None, a chunk holds about this many input elements (copies x
#: pixels): measured on a small CRNN, backward passes are cheapest per copy at 10-30
#: word-sized copies, and slower both below (overhead) and above (cache misses).
AUTO_CHUNK_ELEMENTS = 1 << 17
#: ... and never more gradient elements (characters x copies x pixels) than this: the
#: backward pass's activations grow with it. Measured on a 2000x100 line with 58
#: characters (integrated gradients, 50 steps, ctc-reader): 1 << 24 allowed 6 copies a
#: chunk and peaked at 3.1 GB in 58 s; 1 << 22 allows 3 and peaked at 1.7 GB in 45 s.
#: Word images are sized by AUTO_CHUNK_ELEMENTS long before this bound.
AUTO_GRADIENT_ELEMENTS = 1 << 22
#: The most map elements (characters x grid cells) an explanation keeps: 64 M float32,
#: 256 MB. Beyond it the maps are kept on a proportionally coarser grid over the image
#: (issue 26: maps on every pixel cost characters x pixels).
MAP_BUDGET_ELEMENTS = 1 << 26
#: The most elements `Run._finish` resamples and normalizes at once (characters x grid
#: cells, in the attributions' dtype): the working copies stay tens of MB whatever K is.
FINISH_BLOCK_ELEMENTS = 1 << 22


class MapNote(UserWarning):
    """The warning that carries an `Explanation` note to code that only sees bare maps."""


class Cancelled(Exception):
    """Raised by `explain` when its `cancel()` callback returned True between chunks."""


def raise_if_cancelled(cancel: CancelCheck | None, what: str) -> None:
    """The one cancellation point of every long engine loop (maps, curves, sanity)."""
    if cancel is not None and cancel():
        raise Cancelled(f"{what} was cancelled")


@dataclass(frozen=True)
class Timings:
    """Seconds an explanation took: reading the image, computing the maps, both."""

    read_s: float
    explain_s: float
    total_s: float


@dataclass(frozen=True)
class Contrast:
    """What a contrastive map weighs: character `token` (0-based), read as `read`,
    against the `alternative` (the truth) at that position."""

    token: int
    read: str
    alternative: str


@dataclass(frozen=True)
class Explanation:
    """Maps for the explained characters, in the original image's pixels, and how they
    were made (the fields after `signed`: what captions and records name).

    `maps` is `[K, h, w]`: its grid `maps.shape[1:]` is the image's `(H, W)` unless
    K x H x W exceeds `MAP_BUDGET_ELEMENTS`; then it is a proportionally coarser grid
    laid over the whole image (cell `(r, c)` covers image rows `r * H / h` to
    `(r + 1) * H / h`, likewise columns), so memory stays bounded. Consumers resample
    (`render.overlay.fit_map`) or scale x by `W / w` (`xai.centres`). `image_size` is
    the explained image's `(H, W)` (None: taken as the maps' own grid).

    `maps[k]` explains character `token_indices[k]`; when `whole_reading` is True
    there is one map, for the sum of all character scores, and `token_indices` is
    empty. `scores` are those targets' scores at the input; `deltas` (integrated
    gradients only) the completeness gap `sum(attr) - (f(x) - f(baseline))`,
    `relative_gaps` that gap as a share of |f(x) - f(baseline)| (the accuracy of the
    integral, comparable across characters and models) and `steps` the quadrature
    points each target's final integral used (adaptive integrated gradients doubles
    them for the targets whose gap exceeds its tolerance).
    `contrast` is set on a map of score(read) - score(alternative) (`explain_contrast`).
    `notes` are what a user must know before trusting these maps (the model's scores
    taken as they are, a GradCAM layer before a recurrent head, an integral that did not
    converge, an all-zero map): records, the app's details and figure captions carry
    them. Each is also issued once as a `MapNote` warning, for code that calls the
    engine for bare maps (`compute_*`) and sees no `Explanation`.
    `precision` is what the passes ran in ("float32", or "bf16" where the config asked for
    it and bfloat16 agreed with float32 on this image) and `tf32_policy` the TF32
    switches in effect (`precision.tf32_policy`): what float32 meant on CUDA.
    """

    maps: np.ndarray
    tokens: tuple[str, ...]
    token_indices: tuple[int, ...]
    confidences: np.ndarray
    scores: np.ndarray
    deltas: np.ndarray | None
    reading: Reading
    signed: bool
    method: str
    params: Mapping[str, Any]
    model: str
    device: str
    seed: int | None
    batch_size: int
    folded_batchnorms: int
    timings: Timings
    whole_reading: bool = False
    contrast: Contrast | None = None
    relative_gaps: np.ndarray | None = None
    steps: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    image_size: tuple[int, int] | None = None
    precision: str = "float32"
    tf32_policy: str = ""

    @property
    def map_size(self) -> tuple[int, int]:
        """`(h, w)` of the grid the maps are kept on (the image's size unless reduced)."""
        return int(self.maps.shape[-2]), int(self.maps.shape[-1])

    @property
    def method_label(self) -> str:
        """The method's name for people ("Integrated gradients"), as figures title it."""
        return lookup(self.method).label

    def record(self) -> dict[str, Any]:
        """How the maps were made, as JSON-ready values: the one mapping that records
        (the app's export `.json`) write, so the keys are named in one place."""
        record = {
            "method": self.method,
            "params": dict(self.params),
            "seed": self.seed,
            "device": self.device,
            "model": self.model,
            "batch_size": self.batch_size,
            "folded_batchnorms": self.folded_batchnorms,
            "timings": asdict(self.timings),
            "notes": list(self.notes),
            "precision": self.precision,
            "tf32_policy": self.tf32_policy,
        }
        if self.relative_gaps is not None:
            record["relative_gaps"] = self.relative_gaps.tolist()
            record["steps"] = self.steps.tolist()
        return record if self.contrast is None else record | {"contrast": asdict(self.contrast)}


@dataclass(frozen=True)
class _Targets:
    """Which scores to explain: row k of `weights` mixes the T character scores."""

    weights: torch.Tensor  # [K, T]
    tokens: tuple[str, ...]
    indices: tuple[int, ...]
    confidences: np.ndarray
    whole: bool


class SaliencyGenerator:
    """Explains a Recognizer's reading of an image with attention or gradient methods.

    The model is used as it is: its training flags are restored, no `.grad` is
    left on its parameters and every hook is removed, even when a method fails.
    Computation runs on the model's device.
    """

    def __init__(
        self, model: Recognizer, config: SaliencyConfig | None = None, model_label: str | None = None
    ) -> None:
        self.model = model
        self.config = config or SaliencyConfig()
        #: How explanations name the model (`meta["model"]`, hence figure captions): e.g.
        #: "name · format · device · N parameters" for a user's model; default its name.
        self.model_label = model_label
        self._vjp = BatchedVJP()
        self._folded = FoldedRecognizer(model)
        self._head = BatchedHead()
        #: Chunk sizes remembered per model and input shape (sized from memory on CUDA).
        self._chunks = ChunkPlanner()

    # -- seed-documentation calls: one [H, W] map ------------------------------------
    def compute_gradient_saliency(self, image, token: int | None = None) -> np.ndarray:
        """∂score/∂pixel for one character (`token`) or the whole reading (None)."""
        return self._single(image, token, method="gradient")

    def compute_integrated_gradients(
        self,
        image,
        num_steps: int = PARAMETERS["num_steps"].default,
        baseline=PARAMETERS["baseline"].default,
        token: int | None = None,
    ) -> np.ndarray:
        """Integrated gradients from `baseline` (default blank paper; None: zeros, as
        Captum's None) with `num_steps` points."""
        return self._single(image, token, method="integrated", num_steps=num_steps, baseline=baseline)

    def compute_smoothgrad(
        self,
        image,
        num_samples: int = PARAMETERS["num_samples"].default,
        noise_level: float = PARAMETERS["noise_level"].default,
        token: int | None = None,
    ) -> np.ndarray:
        """Mean gradient over `num_samples` noisy copies (sigma = noise_level * range)."""
        return self._single(
            image, token, method="smoothgrad", num_samples=num_samples, noise_level=noise_level
        )

    def compute_gradcam(self, image, token: int | None = None) -> np.ndarray:
        """GradCAM at the configured layer (default: the recognizer's `cam_layer()`)."""
        return self._single(image, token, method="gradcam")

    def _single(self, image, token: int | None, **overrides) -> np.ndarray:
        config = replace(self.config, **overrides)
        tokens = None if token is None else [token]
        return self.explain(image, tokens=tokens, config=config).maps[0]

    # -- the engine ------------------------------------------------------------------
    def read(self, image) -> Reading:
        """What the model reads in `image`."""
        return self.model.read(self.prepare(image).tensor)

    def explain(
        self,
        image,
        method: str | None = None,
        tokens: str | Sequence[int] | None = "all",
        on_partial: PartialCallback | None = None,
        cancel: CancelCheck | None = None,
        config: SaliencyConfig | None = None,
        reading: Reading | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Explanation:
        """Maps `[K, H, W]` for the chosen characters, all from the same passes.

        `tokens`: "all" (every character), a list of character indices, or None (one
        map for the whole reading). `on_partial(maps, done, total)` receives the
        running estimate after each chunk, `on_progress(done, total)` the backward
        chunks done out of those planned (a long line's progress within the image);
        `cancel()` is polled between chunks and raises `Cancelled` when it returns
        True. `reading` holds a reading fixed instead of reading the image (e.g. to
        explain a damaged copy of a model).
        """
        cfg = self._config(method, config)
        return self._explain(image, cfg, tokens, reading, None, on_partial, cancel, on_progress)

    def explain_noise_family(
        self,
        image,
        methods: Sequence[str] = NOISE_FAMILY,
        tokens: str | Sequence[int] | None = "all",
        cancel: CancelCheck | None = None,
        config: SaliencyConfig | None = None,
        reading: Reading | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Explanation]:
        """The explanations of several `NOISE_FAMILY` methods from one set of noisy copies.

        SmoothGrad, SmoothGrad² and VarGrad differ only in what they take of the same
        per-copy gradients (mean, mean of squares, variance), so the copies are drawn
        once (`config`'s seed) and each chunk goes through one forward and one backward
        for all of them: a third of the passes of computing them one by one, with the
        same maps. Each explanation's `timings` are those of the shared run. No partial
        maps: this is for batch runs (the CLI's `--method all`), which report
        `on_progress` instead.
        """
        unknown = [m for m in methods if m not in NOISE_FAMILY]
        if unknown or not methods:
            raise ValueError(f"explain_noise_family computes {', '.join(NOISE_FAMILY)}; got {list(methods)}")
        cfg = self._config(NOISE_FAMILY[0], config)
        t0 = time.perf_counter()
        prepared, model, reading, t_read = self._setup(image, cfg, reading)
        if len(reading) == 0:  # nothing to pass through the model: each says so alone
            return {m: self._explain(image, replace(cfg, method=m), tokens, reading, None, None, cancel)
                    for m in methods}
        run = Run(self, model, cfg, prepared, reading, tokens, None, cancel, on_progress=on_progress)
        with run.in_precision():
            moments = _noise_moments(run)
        explanations = {}
        for method in methods:
            method_cfg = replace(cfg, method=method)
            finisher = Run(self, model, method_cfg, prepared, reading, tokens, None, None)
            finisher.precision = run.precision
            computed = finisher.complete(_from_moments(method, moments))
            explanations[method] = self.explanation(finisher, computed, model, prepared, t0, t_read)
        return explanations

    def explain_selected_first(
        self,
        image,
        first: int,
        on_first: PartialCallback,
        method: str | None = None,
        on_partial: PartialCallback | None = None,
        cancel: CancelCheck | None = None,
        config: SaliencyConfig | None = None,
        reading: Reading | None = None,
    ) -> Explanation:
        """Every character's maps, as `explain(tokens="all")` gives them, character
        `first`'s computed before the others', so a viewer shows the one the user looks
        at long before a long line is done.

        `on_first(maps, done, total)` gets the `[K, h, w]` stack as soon as that map is
        final, the other rows NaN (not computed yet); `on_partial` gets the same kind of
        stack while either part refines: `first`'s map with its own progress, then the
        others' with `done` and `total` counted on from there (a one-pass method counts
        its two parts). Costs one more forward per chunk than computing all at once.
        Where K maps would be kept on a coarser grid than one (`map_grid`), they are
        computed together as `explain` does, and `on_first` is not called.
        """
        cfg = self._config(method, config)
        reading = self.read(image) if reading is None else reading
        count = len(reading)
        if not 0 <= first < count:
            raise ValueError(f"token index {first} is out of range: the reading has {count} characters")
        size = self.prepare(image).image_size
        rest = [t for t in range(count) if t != first]
        if not rest or map_grid(count, size) != map_grid(1, size):
            return self.explain(image, tokens="all", on_partial=on_partial, cancel=cancel, config=cfg, reading=reading)
        stack = np.full((count, *size), np.nan, np.float32)
        first_total = [1]

        def first_refining(maps: np.ndarray, done: int, total: int) -> None:
            stack[first] = maps[0]
            first_total[0] = total
            if on_partial is not None:
                on_partial(stack, done, total)

        def rest_refining(maps: np.ndarray, done: int, total: int) -> None:
            stack[rest] = maps
            if on_partial is not None:
                on_partial(stack, first_total[0] + done, first_total[0] + total)

        head = self.explain(image, tokens=[first], on_partial=first_refining, cancel=cancel, config=cfg, reading=reading)
        stack[first] = head.maps[0]
        on_first(stack, first_total[0], 2 * first_total[0])
        tail = self.explain(image, tokens=rest, on_partial=rest_refining, cancel=cancel, config=cfg, reading=reading)
        return _joined(head, tail, first)

    def explain_contrast(
        self,
        image,
        token: int,
        alternative: str,
        method: str | None = None,
        on_partial: PartialCallback | None = None,
        cancel: CancelCheck | None = None,
        config: SaliencyConfig | None = None,
        reading: Reading | None = None,
    ) -> Explanation:
        """Why character `token` was read rather than `alternative`: the map of
        score(read) − score(alternative) at that position, the reading otherwise held
        fixed (teacher-forced for attention models, the same frames for CTC models).

        Needs a `Contrastable` recognizer (`label_of(char)`); maps are signed unless `absolute`.
        """
        cfg = self._config(method, config)
        if not lookup(cfg.method).gradients:
            raise ValueError(f"a contrastive map needs a gradient method, not {cfg.method}")
        if not isinstance(self.model, Contrastable):
            raise ValueError(f"{getattr(self.model, 'name', 'this model')} cannot score a character it did not read")
        prepared = self.prepare(image)
        fixed = reading or self.model.read(prepared.tensor)
        if not 0 <= token < len(fixed):
            raise ValueError(f"token index {token} is out of range: the reading has {len(fixed)} characters")
        labels = list(fixed.labels)
        labels[token] = self.model.label_of(alternative)
        tokens = list(fixed.tokens)
        tokens[token] = alternative
        alt = replace(fixed, labels=tuple(labels), tokens=tuple(tokens))
        exp = self._explain(image, cfg, [token], fixed, alt, on_partial, cancel)
        return replace(exp, contrast=Contrast(token, fixed.tokens[token], alternative))

    def prepare(self, image) -> Prepared:
        """The model's input for `image`, refused when no line a model reads is that wide:
        a 1x50000 strip scaled to the model's height would be 1.6 million pixels wide and
        take many gigabytes to explain, for nothing anyone can read."""
        prepared = self.model.prepare(image)
        height, width = prepared.tensor.shape[-2:]
        if width > MAX_INPUT_ASPECT * height:
            raise ValueError(
                f"the model would read this {prepared.image_size[1]}x{prepared.image_size[0]} image at "
                f"{width}x{height} pixels, more than {MAX_INPUT_ASPECT} times as wide as high: "
                "crop it or split it into lines"
            )
        return prepared

    def _config(self, method: str | None, config: SaliencyConfig | None) -> SaliencyConfig:
        cfg = config or self.config
        return cfg if method is None else replace(cfg, method=method)

    def network(self, config: SaliencyConfig | None = None, x: torch.Tensor | None = None) -> Recognizer:
        """The recognizer a method's passes run on: for a method of many backward passes
        (`Passes.FOLDED`: integrated gradients, the SmoothGrad family) with
        `fold_batchnorm`, a copy with BatchNorm folded into its convolutions (the same
        function, less backward work) once it has scored a model input `x` as the model
        does; otherwise the model itself."""
        cfg = config or self.config
        if cfg.fold_batchnorm and lookup(cfg.method).passes is Passes.FOLDED:
            if self._folded.recognizer is not self.model:  # `model` was reassigned
                self._folded = FoldedRecognizer(self.model)
            return self._folded.get(x)
        return self.model

    def _explain(self, image, cfg, tokens, reading, alt_reading, on_partial, cancel,
                 on_progress: ProgressCallback | None = None) -> Explanation:
        t0 = time.perf_counter()
        prepared, model, reading, t_read = self._setup(image, cfg, reading)
        run = Run(self, model, cfg, prepared, reading, tokens, on_partial, cancel, alt_reading, on_progress)
        computed = run.compute()
        return self.explanation(run, computed, model, prepared, t0, t_read)

    def _setup(self, image, cfg: SaliencyConfig, reading: Reading | None):
        """The prepared input, the network the method's passes run on, the reading (None
        where a one-pass method reads in its own forward) and the seconds to get them."""
        t0 = time.perf_counter()
        prepared = self.prepare(image)
        model = self.network(cfg, prepared.tensor)
        fused = lookup(cfg.method).passes is Passes.ONE and isinstance(model, ScoredReader)
        if reading is None and not fused:
            reading = self.model.read(prepared.tensor)  # the folded copy never reads
        return prepared, model, reading, time.perf_counter() - t0

    def explanation(self, run: Run, computed: Computed, model: Recognizer, prepared: Prepared,
                     t0: float, t_read: float) -> Explanation:
        """What `run` computed, with how it was made; its notes issued as `MapNote`s."""
        cfg, reading, targets = run.cfg, run.reading, run.targets
        t_total = time.perf_counter() - t0
        precision_note = () if run.precision.note is None else (run.precision.note,)
        notes = _model_notes(self.model, model) + run.notes + precision_note
        for note in notes:
            warnings.warn(MapNote(note), stacklevel=4)
        return Explanation(
            maps=computed.maps,
            tokens=targets.tokens,
            token_indices=targets.indices,
            confidences=targets.confidences,
            scores=computed.scores,
            deltas=computed.deltas,
            relative_gaps=computed.relative_gaps,
            steps=computed.steps,
            notes=notes,
            reading=reading,
            signed=run.signed,
            whole_reading=targets.whole,
            method=cfg.method,
            params=cfg.describe(),
            seed=cfg.seed,
            device=str(prepared.tensor.device),
            model=self.model_label or getattr(self.model, "name", type(self.model).__name__),
            batch_size=run.batch_size,
            folded_batchnorms=self._folded.folded if model is not self.model else 0,
            timings=Timings(t_read, t_total - t_read, t_total),
            image_size=prepared.image_size,
            precision=run.precision.precision,
            tf32_policy=tf32_policy(),
        )


def _noise_moments(run: Run) -> Attribution:
    """The SmoothGrad family's shared pass: `raw` stacks the mean gradient over the noisy
    copies (rows 0..K-1) on their mean square (rows K..2K-1), summed exactly as each
    method sums them alone, so the maps derived from them are the same."""
    from thulium_desktop.xai.attributions import _over_noise  # the engine's one noise loop

    return _over_noise(run, lambda g_sum, g_sq, n: torch.cat([g_sum / n, g_sq / n]))


def _from_moments(method: str, moments: Attribution) -> Attribution:
    """One family method's attribution from the shared moments (`_noise_moments`)."""
    mean, mean_sq = moments.raw.chunk(2)
    raw = {"smoothgrad": mean, "smoothgrad_sq": mean_sq, "vargrad": mean_sq - mean * mean}[method]
    return moments._replace(raw=raw)


def _joined(head: Explanation, tail: Explanation, first: int) -> Explanation:
    """One explanation of every character from `head` (character `first` alone) and
    `tail` (the others, in order), as `explain(tokens="all")` would give it."""
    count = len(head.reading)
    order = [first, *(t for t in range(count) if t != first)]

    def placed(a, b):
        if a is None:
            return None
        joined = np.concatenate([a, b])
        out = np.empty_like(joined)
        out[order] = joined
        return out

    seconds = Timings(head.timings.read_s, head.timings.explain_s + tail.timings.explain_s,
                      head.timings.total_s + tail.timings.total_s)
    return replace(
        tail,
        maps=placed(head.maps, tail.maps),
        tokens=tuple(t for _, t in sorted(zip(order, head.tokens + tail.tokens))),
        token_indices=tuple(range(count)),
        confidences=placed(head.confidences, tail.confidences),
        scores=placed(head.scores, tail.scores),
        deltas=placed(head.deltas, tail.deltas),
        relative_gaps=placed(head.relative_gaps, tail.relative_gaps),
        steps=placed(head.steps, tail.steps),
        notes=tuple(dict.fromkeys((*head.notes, *tail.notes))),
        timings=seconds,
    )


def _model_notes(*models: Recognizer) -> tuple[str, ...]:
    """What the recognizers a run used say about their own scores (an optional `notes`
    attribute, e.g. `CTCRecognizer`'s outputs taken as probabilities), each note once
    (the folded copy of a model says what the model says)."""
    return tuple(dict.fromkeys(note for model in models for note in getattr(model, "notes", ())))


def _select_targets(reading: Reading, tokens, x: torch.Tensor) -> _Targets:
    n = len(reading)
    if tokens is None:
        weights = torch.ones(1, n, dtype=x.dtype, device=x.device)
        conf = np.asarray([reading.confidences.min() if n else 0.0], np.float32)
        return _Targets(weights, (reading.text,), (), conf, True)
    if isinstance(tokens, str):
        if tokens != "all":
            raise ValueError(f'tokens must be "all", a list of indices or None; got {tokens!r}')
        indices = list(range(n))
    else:
        indices = [int(t) for t in tokens]
        bad = [t for t in indices if not 0 <= t < n]
        if bad:
            raise ValueError(f"token index {bad[0]} is out of range: the reading has {n} characters")
    weights = torch.zeros(len(indices), n, dtype=x.dtype, device=x.device)
    weights[torch.arange(len(indices)), torch.as_tensor(indices, dtype=torch.long)] = 1
    return _Targets(
        weights,
        tuple(reading.tokens[t] for t in indices),
        tuple(indices),
        np.asarray([reading.confidences[t] for t in indices], np.float32),
        False,
    )


class NoAttention(ValueError):
    """The model has no attention to show (its `attention()` returned None).

    Its own type, so callers that fall back (place characters by their alignment, skip
    localisation, drop a table row) catch only this, never another ValueError that
    would mean a real failure. A ValueError still, for code that caught that before."""


class Attribution(NamedTuple):
    """What a method's compute function returns: `raw` `[K, C, h, w]` model-space
    attributions (or any map on the model's input grid) of the K targets, their `scores`
    `[K]` at the input, for integrated gradients the completeness gaps `deltas` `[K]`,
    those gaps relative to |f(x) - f(baseline)| and the `steps` each target used, and
    the `notes` a user must know about these maps (see `Explanation`)."""

    raw: torch.Tensor
    scores: torch.Tensor
    deltas: torch.Tensor | None = None
    relative_gaps: torch.Tensor | None = None
    steps: torch.Tensor | None = None
    notes: tuple[str, ...] = ()


class Computed(NamedTuple):
    """A run's result in image pixels and numpy: `Attribution`'s numbers, its `raw`
    attributions turned into the `[K, H, W]` `maps`."""

    maps: np.ndarray
    scores: np.ndarray
    deltas: np.ndarray | None = None
    relative_gaps: np.ndarray | None = None
    steps: np.ndarray | None = None


class _NothingRead(Exception):
    """A one-pass method read the image and found no character: there is nothing to map."""


class Run:
    """One explanation job: what a method's compute function (`methods.register`) works
    with, and what turns its raw attributions into maps.

    A compute function reads `model` (the network its passes run on), `cfg`, `x` (the
    prepared input `[1, C, h, w]`), `prepared`, `reading` and `targets` (row k of
    `targets.weights` `[K, T]` mixes the T character scores into target k), and uses the
    steps below: `scored` for a one-pass method, `in_chunks` / `grads` / `report` for one
    that streams over copies, `check_cancel` between passes. The run then takes the
    magnitude (unless the method's maps are signed), maps the result onto the image's
    pixels, normalizes it and checks it.
    """

    def __init__(self, gen: SaliencyGenerator, model: Recognizer, cfg: SaliencyConfig,
                 prepared: Prepared, reading: Reading | None, tokens, on_partial, cancel,
                 alt_reading: Reading | None = None, on_progress: ProgressCallback | None = None) -> None:
        self.model = model
        self.gen_model = gen.model
        self.planner = gen._chunks
        self.vjp = gen._vjp
        self.head = gen._head
        self.cfg = cfg
        self.prepared = prepared
        self.x = prepared.tensor
        self.tokens = tokens
        self.reading = reading  # None until a one-pass method reads the image itself
        self.targets = None if reading is None else _select_targets(reading, tokens, self.x)
        self.on_partial = on_partial
        #: The maps' way to the host: on CUDA the partial maps arrive one report late,
        #: so the worker never waits on the device (`host_copy`).
        # the copier holds no reference back to this run (a bound method would: then every
        # run, and its pinned buffer, waited for the cyclic collector instead of being freed)
        self.host = HostCopier(self.x.device, _checked_hand_over(on_partial))
        self.cancel = cancel
        self.on_progress = on_progress
        #: Backward chunks planned (`in_chunks`) and done (`grads`, `backward`): the progress
        #: within one image that `on_progress` hears of.
        self.planned = 0
        self.done = 0
        self.alt_reading = alt_reading
        self.batch_size = 1
        self.signed = lookup(cfg.method).signed(vars(cfg))
        self._compute = compute_function(cfg.method)
        #: What the user must know about the finished maps (`Explanation.notes`).
        self.notes: tuple[str, ...] = ()
        #: The arithmetic the method runs in (`cfg.precision`, chosen by `in_precision`).
        self.precision = PrecisionChoice("float32", None, None)

    def compute(self) -> Computed:
        """The method's maps `[K, H, W]` in image pixels and its numbers; `notes` set."""
        if self.reading is not None and len(self.reading) == 0:
            return self._empty()
        try:
            with self.in_precision():
                result = self._compute(self)
        except _NothingRead:
            return self._empty()
        return self.complete(result)

    def in_precision(self) -> AbstractContextManager:
        """The block a method's passes run in: `cfg.precision` where bfloat16 agrees with
        float32 on this image's gradient maps (`precision.precision_scope`), else float32;
        `precision` says which, with its note. bfloat16 needs the reading to probe with, so
        a one-pass method that would read in its own forward reads first. A method without
        gradients (attention) has no backward pass to speed up: it runs as it is."""
        if self.cfg.precision != "float32" and lookup(self.cfg.method).gradients:
            if self.reading is None:
                self.reading = self.model.read(self.x)
                self.targets = _select_targets(self.reading, self.tokens, self.x)
            if len(self.reading) == 0:
                raise _NothingRead
            self.precision = precision_scope(self.cfg.precision, self.x.device, self._gradients_at_input)
        return self.precision.scope(self.x.device)

    def _gradients_at_input(self) -> torch.Tensor:
        """`[K, H, W]` plain gradient maps of the input, summed over channels as the maps
        are: the precision check's probe."""
        ones = torch.ones(1, dtype=self.x.dtype, device=self.x.device)
        return self._gradients(self.x, ones, None)[:, 0].sum(dim=1)

    def complete(self, result: Attribution) -> Computed:
        """`result`'s maps `[K, H, W]` in image pixels and its numbers; `notes` set."""
        maps = self._finish(result.raw)
        self.notes = tuple(dict.fromkeys((*result.notes, *self._zero_map_notes(maps))))
        optional = (None if t is None else self._np(t) for t in (result.deltas, result.relative_gaps))
        steps = None if result.steps is None else result.steps.cpu().numpy().astype(np.int64)
        return Computed(maps, self._np(result.scores), *optional, steps)

    def _empty(self) -> Computed:
        self.notes = (Note("the model read no characters: the map is empty", short="nothing read: empty map"),)
        k = len(self.targets.tokens)
        return Computed(np.zeros((k, *map_grid(k, self.prepared.image_size)), np.float32), np.zeros(k, np.float32))

    def _zero_map_notes(self, maps: np.ndarray) -> tuple[str, ...]:
        """A note naming the characters whose final map is all zero (a partial map may
        still be, early on, without anything being wrong)."""
        zero = [self.targets.tokens[k] for k in np.flatnonzero((maps == 0).all(axis=(1, 2)))]
        if not zero:
            return ()
        named = ", ".join(map(repr, zero))
        return (Note(f"{self.cfg.method}: the map of {named} is all zero "
                     "(no input pixel moves that score at this point)", short=f"all-zero map of {named}"),)

    def scored(self, x: torch.Tensor) -> torch.Tensor:
        """`[1, T]` character scores of `x` with their graph, reading `x` in the same
        forward pass when no reading was given (one-pass methods only)."""
        if self.reading is None:
            self.reading, scores = self.model.read_scored(x, self.cfg.score)
            self.targets = _select_targets(self.reading, self.tokens, self.x)
            if len(self.reading) == 0:
                raise _NothingRead
            return scores
        return self.char_scores(x)

    # -- chunk bookkeeping -------------------------------------------------------------
    def in_chunks(self, total: int, compute: Callable[[slice], Any], accumulate: Callable[[slice, Any], None],
                  targets: int | None = None) -> None:
        """`compute(chunk)`, then `accumulate(chunk, result)`, for `total` copies in chunks of
        `cfg.batch_size` (None: on CUDA as many as the free memory holds, elsewhere sized
        from the input), for `targets` of the K targets (None: all). A chunk out of CUDA
        memory is halved and computed again, and the size that worked is kept for this
        model and input (`chunk_plan`): so `compute` must leave no trace, and only
        `accumulate` may add to a running sum (a retried chunk is then counted once)."""
        k = self.targets.weights.shape[0] if targets is None else targets
        numel = self.x.numel()
        auto = max(1, min(AUTO_CHUNK_ELEMENTS // numel, AUTO_GRADIENT_ELEMENTS // (k * numel)))
        key = (getattr(self.model, "name", type(self.model).__name__), self.model is not self.gen_model,
               tuple(self.x.shape), k, str(self.x.device), self.precision.precision)
        size = self.cfg.batch_size or self.planner.size(key, total, auto, self.x.device, self._probe)
        self.batch_size = min(total, size)
        self.planned += -(-total // self.batch_size)

        def checked(chunk: slice) -> Any:
            self.check_cancel()
            return compute(chunk)

        self.batch_size = self.planner.run(key, total, self.batch_size, checked, accumulate)

    def _probe(self, copies: int) -> None:
        """One chunk's work on `copies` copies of the input: what the planner measures a
        chunk's memory by on CUDA."""
        ones = torch.ones(copies, dtype=self.x.dtype, device=self.x.device)
        self._gradients(self.x.repeat(copies, *[1] * (self.x.dim() - 1)), ones, None)

    def _chunk_done(self) -> None:
        """Count one backward pass done and tell `on_progress` (a one-pass method plans none)."""
        self.done += 1
        self.planned = max(self.planned, self.done)
        if self.on_progress is not None:
            self.on_progress(self.done, self.planned)

    def check_cancel(self) -> None:
        """Raise `Cancelled` when the caller asked to stop."""
        raise_if_cancelled(self.cancel, "the explanation")

    def report(self, raw: torch.Tensor, done: int, total: int) -> None:
        """Hand the running estimate `raw` (as an `Attribution.raw`) to `on_partial`: on
        CUDA at the next report, once its copy to the host has landed (`HostCopier`)."""
        if self.on_partial is not None and done < total:
            self.host.hand_over(self._map_blocks(raw), done, total)

    def grads(
        self, inputs: torch.Tensor, sample_weights: torch.Tensor, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """`[K, B, C, H, W]`: gradients of each target's weighted score for every input copy
        (of the targets `rows` only, when given: backward work grows with their number)."""
        grads = self._gradients(inputs, sample_weights, rows)
        self._chunk_done()
        return grads

    def _gradients(self, inputs: torch.Tensor, sample_weights: torch.Tensor,
                   rows: torch.Tensor | None) -> torch.Tensor:
        """`grads` without counting a pass: for the probes that are no part of the progress."""
        inputs = inputs.detach().requires_grad_(True)
        weights = self.targets.weights if rows is None else self.targets.weights[rows]
        with torch.enable_grad():
            scores = self.char_scores(inputs)  # [B, T]
            cot = weights[:, None, :] * sample_weights[None, :, None]
            return self.vjp(scores, inputs, cot.to(scores.dtype))

    def scores(self, inputs: torch.Tensor) -> torch.Tensor:
        """`[B, K]` target scores without a graph."""
        with torch.no_grad():
            return self.target_scores(self.char_scores(inputs))

    def char_scores(self, inputs: torch.Tensor) -> torch.Tensor:
        """`[B, T]` character scores, or their contrast with the alternative reading."""
        scores = self.model.token_scores(inputs, self.reading, self.cfg.score)
        if self.alt_reading is not None:
            scores = scores - self.model.token_scores(inputs, self.alt_reading, self.cfg.score)
        return scores

    def target_scores(self, char_scores: torch.Tensor) -> torch.Tensor:
        """`[B, T]` character scores mixed into `[B, K]` target scores."""
        return char_scores.detach() @ self.targets.weights.to(char_scores.dtype).T

    # -- one-image backward passes --------------------------------------------------------
    def split_layer(self) -> nn.Module | None:
        """Where the one-image methods batch the characters through the head: the
        recognizer's GradCAM layer (None where it has none or is unusable)."""
        few = self.tokens is None or (not isinstance(self.tokens, str) and len(self.tokens) < 2)
        root = getattr(self.model, "module", None)
        if few or not isinstance(root, nn.Module):
            return None  # one target (a contrast has one too); no module to hook
        return self.head.split_layer(self.model, root)

    def backward(self, split, x, seen, scores, cot, to_input: bool) -> torch.Tensor:
        """The K gradients of a one-image method, at the input (`to_input`) or at the
        split layer's output `seen[-1]`: the plain backward per character, or through one
        batched pass of the head where that is possible and faster (`batched_head.py`).
        A split layer that ran more than once (e.g. a contrast scores two readings)
        takes the plain way."""
        target = x if to_input else seen[-1]

        def plain() -> torch.Tensor:
            with torch.enable_grad():
                return self.vjp(scores, target, cot)

        def onward(at_split: torch.Tensor) -> torch.Tensor:  # from the split layer to the input
            with torch.enable_grad():
                return self.vjp(seen[-1], x, at_split)

        root = getattr(self.model, "module", None)
        if split is None or len(seen) != 1 or not isinstance(root, nn.Module):
            grads = plain()
        else:
            grads = self.head.gradients(root, split, x, seen[-1], scores, cot, self.char_scores,
                                        plain, onward if to_input else None)
        self._chunk_done()
        return grads

    # -- post-processing --------------------------------------------------------------
    def _finish(self, raw: torch.Tensor) -> np.ndarray:
        """`[K, C, h, w]` model-space attributions -> `[K, h', w']` float32 maps on the
        image's pixels (or the coarser `map_grid`); a partial map still on its way to
        the host is dropped (`HostCopier.now`)."""
        return _finite(self.host.now(self._map_blocks(raw)))

    def _map_blocks(self, raw: torch.Tensor) -> MapBlocks:
        """`_finish`'s maps, still on the device, a block of characters at a time so the
        working copies stay bounded. Normalizing in the attributions' own dtype loses
        nothing: |map| <= peak, and one IEEE division rounded once to float32 equals
        the float64 one rounded to float32."""
        raw = raw.detach()
        k = raw.shape[0]
        grid = map_grid(k, self.prepared.image_size)
        cells = max(grid[0] * grid[1], self.x.shape[-2] * self.x.shape[-1], 1)
        step = max(1, FINISH_BLOCK_ELEMENTS // cells)
        blocks = ((start, self._finish_block(raw[start : start + step], grid)) for start in range(0, k, step))
        return MapBlocks((k, *grid), blocks)

    def _finish_block(self, raw: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """One block of `_map_blocks`: magnitude (unless signed), summed over channels,
        resampled onto `grid` and each map divided by its peak (when normalizing), in
        place: the block's maps are this function's own copy. Nothing is read back
        from the device here (`_finite` checks the maps on the host)."""
        maps = raw.abs().sum(dim=1) if not self.signed else raw.sum(dim=1)
        maps = self.prepared.to_image(maps, grid)
        if maps.element_size() < 4:  # a half-precision model: normalize in float32
            maps = maps.float()
        if self.cfg.normalize:
            flat = maps.flatten(1)
            peak = torch.maximum(flat.amax(dim=1), -flat.amin(dim=1))  # max |value|, no |maps| copy
            maps = maps.div_(torch.where(peak > 0, peak, torch.ones_like(peak))[:, None, None])
        return maps

    @staticmethod
    def _np(t: torch.Tensor) -> np.ndarray:
        """float32 numpy (float64 kept): converted in torch, since numpy has no bfloat16."""
        return t.detach().cpu().to(torch.float64 if t.dtype == torch.float64 else torch.float32).numpy()


def _checked_hand_over(on_partial: PartialCallback | None) -> Callable[[np.ndarray, int, int], None]:
    """`on_partial` for maps that reached the host: checked there, not on the device."""

    def hand_over(maps: np.ndarray, done: int, total: int) -> None:
        if on_partial is not None:
            on_partial(_finite(maps), done, total)

    return hand_over


def _finite(maps: np.ndarray) -> np.ndarray:
    """`maps`, refused when any value is not finite (a non-finite gradient stays one
    through normalizing: NaN, or inf over an infinite peak)."""
    if not np.isfinite(maps).all():
        raise FloatingPointError("the model produced non-finite gradients for this image")
    return maps


def map_grid(k: int, image_size: tuple[int, int], budget: int | None = None) -> tuple[int, int]:
    """The grid `(rows, columns)` that K maps of an image are kept on: the image's own
    size while K x H x W fits `budget` (default `MAP_BUDGET_ELEMENTS`), otherwise both
    sides shrunk by the same factor until it fits (at least one cell each)."""
    budget = MAP_BUDGET_ELEMENTS if budget is None else budget
    height, width = image_size
    if max(k, 1) * height * width <= budget:
        return height, width
    scale = (budget / (max(k, 1) * height * width)) ** 0.5
    return max(1, int(height * scale)), max(1, int(width * scale))
