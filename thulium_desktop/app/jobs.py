"""What the GUI asks the worker for, and the cache of what it already got.

Plain Python (no Qt, no torch), so the request/caching logic is testable alone.
A `MethodSpec` keeps only the parameters its method actually uses: changing the
SmoothGrad noise level must not invalidate a cached gradient map.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from thulium_desktop.io.images import ImageLoadError, load_image
from thulium_desktop.xai.config import PAPER_BASELINE
from thulium_desktop.xai.ground_truth import CONTRAST_FALLBACK

#: The SaliencyConfig fields each method reads; everything else is irrelevant to it.
METHOD_FIELDS: dict[str, tuple[str, ...]] = {
    "attention": ("normalize",),
    "gradient": ("absolute", "normalize", "score"),
    "integrated": ("num_steps", "baseline", "integration", "absolute", "normalize", "score"),
    "smoothgrad": ("num_samples", "noise_level", "seed", "absolute", "normalize", "score"),
    "smoothgrad_sq": ("num_samples", "noise_level", "seed", "normalize", "score"),
    "vargrad": ("num_samples", "noise_level", "seed", "normalize", "score"),
    "gradcam": ("layer", "normalize", "score"),
}

#: Methods in the order the panel lists them, with their labels and a one-line "what".
METHOD_INFO: dict[str, tuple[str, str]] = {
    "attention": ("Attention", "Where the model looked for the character (no gradients)."),
    "gradient": ("Gradient", "Which pixels change the character's score most, locally."),
    "integrated": ("Integrated gradients", "Gradients summed along a path from blank paper (or another baseline) to the image."),
    "smoothgrad": ("SmoothGrad", "Gradient averaged over noisy copies of the image."),
    "smoothgrad_sq": ("SmoothGrad²", "Mean squared gradient over noisy copies."),
    "vargrad": ("VarGrad", "Variance of the gradient over noisy copies."),
    "gradcam": ("GradCAM", "Feature-map evidence at a convolutional layer, upsampled."),
}

#: Defaults of the parameters the panel offers: SaliencyConfig's own, except the
#: integrated-gradients baseline, blank paper (`PAPER_BASELINE`, see there why).
DEFAULT_PARAMS: dict[str, Any] = {
    "num_steps": 50,
    "num_samples": 25,
    "noise_level": 0.1,
    "absolute": True,
    "normalize": True,
    "baseline": PAPER_BASELINE,
    "integration": "gausslegendre",
    "seed": 0,
    "layer": None,
    "score": "logprob",
}


@dataclass(frozen=True)
class MethodSpec:
    """One explanation request: a method, the parameters it uses, and which maps.

    `whole_reading=True` asks for a single map of the whole reading (the timeline's
    "all" cell) instead of one map per character. `contrast=(t, c)` asks for the one
    signed map of score(read character t) − score(c) at that position: why the model
    read its character rather than the true one.
    """

    method: str
    params: tuple[tuple[str, Any], ...]
    whole_reading: bool = False
    contrast: tuple[int, str] | None = None

    @classmethod
    def build(
        cls,
        method: str,
        params: Mapping[str, Any],
        whole_reading: bool = False,
        contrast: tuple[int, str] | None = None,
    ) -> MethodSpec:
        """A contrast is a difference of gradients, so it takes gradients where the method
        has none (attention), and keeps its sign: which pixels favour which character."""
        if method not in METHOD_FIELDS:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHOD_FIELDS)}")
        merged = {**DEFAULT_PARAMS, **params}
        if contrast is not None:
            method = CONTRAST_FALLBACK.get(method, method)
            merged["absolute"] = False
        kept = tuple((name, merged[name]) for name in METHOD_FIELDS[method])
        return cls(method, kept, whole_reading and contrast is None, contrast)

    @property
    def signed(self) -> bool:
        """Whether the maps keep their sign (as the engine decides), known before any arrive."""
        params = dict(self.params)
        return "absolute" in params and not params["absolute"]

    def config_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `SaliencyConfig`, method included."""
        return {"method": self.method, **dict(self.params)}

    def describe(self) -> str:
        """A short human caption, e.g. ``integrated · num_steps=50 · baseline=zeros``."""
        shown = [f"{k}={v}" for k, v in self.params if k not in ("normalize", "score")]
        if self.contrast is not None:
            shown.append(f"contrast with {self.contrast[1]!r}")
        return " · ".join([self.method, *shown])


def image_key(image: np.ndarray) -> str:
    """A content hash of an image array: the same pixels give the same key wherever they
    came from, so reopening a file (or a copy of it) finds its cached maps."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{image.dtype.str}{image.shape}".encode())
    digest.update(np.ascontiguousarray(image).data)
    return digest.hexdigest()


@dataclass
class Job:
    """A unit of work for the worker: read the image (optionally) and explain it under
    each spec in turn. `cancel` is set by the GUI thread, polled by the engine.
    `reading`, when the GUI already has it, spares the engine a forward pass per spec.

    A job may carry a file `path` instead of its `image` (a folder survey): the worker
    decodes it, off the GUI thread, and fills in `image` and `image_key` (or, when the
    file cannot be decoded, `load_error`) before it reports a reading or a failure."""

    id: int
    image: np.ndarray | None
    image_key: str
    specs: tuple[MethodSpec, ...]
    want_reading: bool
    reading: Any = None
    cancel: threading.Event = field(default_factory=threading.Event)
    path: Path | None = None
    load_error: str | None = None

    def load(self) -> None:
        """Decode the image from `path` if the job came without one (on the worker).
        Raises ImageLoadError, whose message (also kept in `load_error`) names the file
        and the problem."""
        if self.image is None:
            try:
                self.image = load_image(self.path)
            except ImageLoadError as exc:
                self.load_error = str(exc)
                raise
            self.image_key = image_key(self.image)


@dataclass
class TrustJob:
    """Check the explanation the GUI shows under `spec`: its diagnostics (cheap) and,
    when `full`, its deletion/insertion curves and model-randomisation sanity check
    (seconds to minutes). The explanation is sent back so that what is checked is
    exactly the map on screen."""

    id: int
    image: np.ndarray
    image_key: str
    spec: MethodSpec
    explanation: Any
    full: bool
    cancel: threading.Event = field(default_factory=threading.Event)


def map_bytes(explanation: Any) -> int:
    """What an explanation costs to keep: its map stack."""
    return int(explanation.maps.nbytes)


def report_bytes(report: Any) -> int:
    """What a trust report costs to keep: its curves and correlations, plus a little
    for the per-character diagnostics."""
    arrays = [a for c in (report.deletion, report.insertion) if c is not None for a in (c.scores, c.random_scores)]
    if report.sanity is not None:
        arrays.append(report.sanity.correlations)
    return 256 * (1 + len(report.diagnostics)) + sum(int(a.nbytes) for a in arrays)


class ResultCache:
    """Least-recently-used store of finished results, bounded by their bytes.

    Keys are ``(image_key, model_name, spec, ...)``; a per-character map stack of a
    long line image can be tens of megabytes, so the bound is in bytes, not entries.
    `size_of` says what one item costs (explanations by default).
    """

    def __init__(self, max_bytes: int = 256 * 2**20, size_of: Callable[[Any], int] = map_bytes) -> None:
        self.max_bytes = max_bytes
        self.size_of = size_of
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._bytes = 0

    def keys(self) -> list[tuple]:
        """What is cached, least recently used first."""
        return list(self._items)

    def get(self, key: tuple) -> Any | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: tuple, item: Any) -> None:
        self.pop(key)
        size = self.size_of(item)
        if size > self.max_bytes:
            return
        self._items[key] = item
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, old = self._items.popitem(last=False)
            self._bytes -= self.size_of(old)

    def pop(self, key: tuple) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= self.size_of(old)

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes
