"""What the GUI asks the worker for, and the cache of what it already got.

Plain Python (no Qt), so the request/caching logic is testable alone. A request
names its explanations by `MethodSpec` (from the engine's method registry).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from thulium_desktop.io.corpus import CorpusItem, load_item
from thulium_desktop.io.images import ImageLoadError, read_image
from thulium_desktop.xai.spec import MethodSpec


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

    A job may carry a file `path` instead of its `image` (a folder survey), or a page's
    line `item` to cut out of the page at `path`: the worker decodes it, off the GUI thread, and fills in `image` and `image_key` (or, when the
    file cannot be decoded, `load_error`) before it reports a reading or a failure,
    and `notes` on how it was decoded (an EXIF rotation applied, ...) for the lane
    to pass on."""

    id: int
    image: np.ndarray | None
    image_key: str
    specs: tuple[MethodSpec, ...]
    want_reading: bool
    reading: Any = None
    cancel: threading.Event = field(default_factory=threading.Event)
    path: Path | None = None
    item: CorpusItem | None = None
    load_error: str | None = None
    notes: tuple[str, ...] = ()

    def load(self) -> None:
        """Decode the image from `path` if the job came without one (on the worker).
        Raises ImageLoadError, whose message (also kept in `load_error`) names the file
        and the problem."""
        if self.image is None:
            try:
                loaded = read_image(self.path) if self.item is None else load_item(self.item)
            except ImageLoadError as exc:
                self.load_error = str(exc)
                raise
            self.image, self.notes = loaded.image, loaded.notes
            self.image_key = image_key(self.image)


class Focus:
    """The character the user looks at, read by the worker as a job's per-character maps
    start: it computes that character's first and posts it at once, so on a long line
    the map asked for appears long before the line's others. Read when the work starts,
    not when the job was sent: clicking through characters keeps a running job
    (`MapsLane._covers`), and its next method starts where the user looks then. What it
    reads is one int the GUI thread sets (`follow`), read whole (atomic under the GIL)
    and never written here."""

    def __init__(self) -> None:
        self._selected: Callable[[], int] = lambda: -1

    def follow(self, selected: Callable[[], int]) -> None:
        """Take the focused character from `selected()` (< 0: none, or the whole reading)."""
        self._selected = selected

    def within(self, count: int) -> int | None:
        """The focused character among `count`, kept inside them as the view model keeps
        its selection (a new image's reading may be shorter); None without one."""
        index = self._selected()
        if index < 0 or count < 1:
            return None
        return min(index, count - 1)


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
