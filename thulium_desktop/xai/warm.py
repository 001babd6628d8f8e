"""Warming a freshly loaded model up, so that the user's first click costs what later ones do.

Why: the first explanation on a model the engine has never seen cost up to twice the
steady one (`benchmarks/first_call.py --runs 5`, question.png, one thread, CPU time: a
small CRNN's gradient 17 against 9 ms, its integrated gradients 277 against 209 ms).
Profiled, the excess is not in the map itself but in one-off work the first call does:
- the batched head's agreement check (`batched_head.BatchedHead`): both ways computed,
  one of them on copies, the first time a network is explained;
- the first vmapped backward's set-up (`vjp.BatchedVJP`, once per engine);
- torch's first use of each operator and shape (oneDNN primitives, autograd): a few
  milliseconds for one image, most of it not tied to the width (a probe of another
  width pays it); for integrated gradients' batches of ~50 copies, tens of
  milliseconds, paid only by a probe with as many copies (4 or 16 did not);
- finding the default GradCAM layer, the batched head's split (two probe forwards,
  12 ms on that CRNN; the app already pays it at load, for its layer chooser).

None of it depends on the user's image: the agreement is a matter of the network's
structure, the set-ups are per engine and process. So the face explains a bundled
line once per method, on the thread that owns the model, right after it loads
(`warm_up`), and the first map of the user's line starts near the steady pace (same
benchmark: 9 against 8 ms and 224 against 194 ms). Why not the alternatives: timing the
strategies in the background after the first result needs the worker idle and slows
the calls it overlaps; a cache of verdicts on disk (`fastest.VerdictStore`) only helps
an architecture seen before. The price is the warm-up itself, at load: one explanation
of the probe per method (192 ms of CPU on the CRNN, 782 ms on the bundled ctc-reader,
integrated gradients most of it). What it cannot pay for is a new size class of line,
which starts its own strategy timings: every new line of another size pays that, in
the steady state too.

The warm-up changes no result: every cache it fills holds exact alternatives.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.io.images import load_image
from thulium_desktop.xai.saliency import CancelCheck, Cancelled, MapNote, SaliencyGenerator

log = logging.getLogger(__name__)

#: The bundled line explained to warm a model up: a short handwritten word, which most
#: models read as a few characters (the head's checks need two at least).
PROBE_SAMPLE = ("samples", "hello.png")
#: The methods explained on the probe, with the engine's own settings: the one-pass
#: default, and integrated gradients, whose batches of copies have one-off costs of
#: their own (warmed by the gradient alone, the CRNN's first integrated gradients still
#: took 283 ms against 189 steady; with both, 223 against about 180).
WARM_METHODS = ("gradient", "integrated")


@dataclass(frozen=True)
class WarmUp:
    """What a warm-up did: the methods explained, the characters the probe was read as
    (fewer than two: the head's checks still wait for a real line) and its seconds."""

    methods: tuple[str, ...]
    characters: int
    seconds: float


def probe_line() -> np.ndarray:
    """The bundled line `warm_up` explains (grayscale, as the app loads images)."""
    return load_image(bundled_path(*PROBE_SAMPLE))


def warm_up(
    engine: SaliencyGenerator,
    image: np.ndarray | None = None,
    methods: Sequence[str] = WARM_METHODS,
    cancel: CancelCheck | None = None,
) -> WarmUp | None:
    """Explain `image` (default `probe_line()`) once per method on `engine`, every
    character, discarding the maps: the one-off work of a first call is then done (see
    the module docs). `cancel()` is polled as in `explain` (`Cancelled` propagates).

    A model that cannot explain the probe (it fails on it, e.g. a model for another kind
    of image) is not an error: its first real call does the work instead, and None says
    so (logged). The faces call this right after loading a model, on the thread that
    owns it."""
    image = probe_line() if image is None else image
    start = time.perf_counter()
    characters = 0
    try:
        with warnings.catch_warnings():  # notes on the probe's maps are nobody's business
            warnings.simplefilter("ignore", MapNote)
            for method in methods:
                explained = engine.explain(image, method=method, tokens="all", cancel=cancel)
                characters = len(explained.reading)
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - a warm-up is a shortcut; the real call does the work
        name = getattr(engine.model, "name", "the model")
        log.info("no warm-up for %s: %s: %s", name, type(exc).__name__, exc)
        return None
    return WarmUp(tuple(methods), characters, time.perf_counter() - start)
