"""Picking the faster of exact ways of computing the same thing, by timing real calls.

The engine has such choices (a vmapped backward or a loop of backwards; a batched pass
of a reader's head or the plain way), and which wins depends on the model, the size
and the device, so each is timed on the user's own calls. Why each way is timed more
than once: with one timing per way, a single call disturbed by other work on a shared
machine (another process, a collector pause) decided for good. That happened on the
attention reader, whose gradient settled at 1.26x-1.39x of its floor in two benchmark
runs after 1.07x in the one before. The least of `SAMPLES` timings per way, taken in
turns so a burst of load falls on both ways alike, is what each costs undisturbed.

Timing costs the first calls on a model: they run the slower way half of the time, and
the batched head's first call also runs its way to check it agrees (now on two copies
only: `batched_head.CHECK_COPIES`). A user's first click paid 2.5-4x the steady time.
So the verdicts are kept on disk (`VerdictStore`),
keyed by the architecture (a hash of the module tree, its classes' forward code, or the
autograd graph), the device, torch's version and thread count, and the size class: a
model of an architecture already settled once, in any session, starts at its steady
pace. Why a cache rather than the alternatives: timing a small probe first pays the
same one-off set-ups and cannot stand in for the real size class (the winner flips
with the line's width); timing in the background after the first result would need
the worker idle and would still slow the calls it overlaps. An architecture never seen
has the one-off set-ups of its first call paid by a warm-up on a probe line when a face
loads it (`xai/warm.py`); its strategies are still timed on the user's calls. The
store is off unless a face turns it on (`remembered_verdicts`), so tests and library
users get the old, self-contained behaviour; the disk is never required: an unreadable or unwritable cache only means
timing again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from thulium_desktop.io.atomic import write_json

log = logging.getLogger(__name__)

#: Timings taken of each way before the faster is kept.
SAMPLES = 3
#: Verdicts kept on disk at most (the oldest go first): a few bytes each.
MAX_VERDICTS = 2048


class FastestWay:
    """Hands out the way to use for the next call and learns from the time it took.

    `known` is a verdict found earlier (on disk): it is used at once, without timing.
    `on_settled(way)` is told the faster way once the timings are complete.
    """

    def __init__(
        self,
        ways: tuple[str, ...],
        known: str | None = None,
        on_settled: Callable[[str], None] | None = None,
    ) -> None:
        self.ways = ways
        self._known = known if known in ways else None
        self._seconds: dict[str, list[float]] = {way: [] for way in ways}
        self._on_settled = on_settled

    @property
    def settled(self) -> bool:
        """Whether the choice is fixed: known beforehand, or every way timed `SAMPLES` times."""
        return self._known is not None or all(len(t) >= SAMPLES for t in self._seconds.values())

    def next(self) -> str:
        """The known way; else the least-timed way while any still needs timing (ties:
        the earlier in `ways`), else the one whose best time is least."""
        if self._known is not None:
            return self._known
        if not self.settled:
            return min(self.ways, key=lambda way: len(self._seconds[way]))
        return min(self.ways, key=lambda way: min(self._seconds[way]))

    def record(self, way: str, seconds: float) -> None:
        """One timing of `way`; timings beyond `SAMPLES` are not needed and dropped."""
        times = self._seconds[way]
        if self._known is not None or len(times) >= SAMPLES:
            return
        times.append(seconds)
        if self.settled and self._on_settled is not None:
            self._on_settled(self.next())


class VerdictStore:
    """Verdicts (short strings) by key, in one small JSON file; `path=None`: none kept.

    Read once, on first use; each new verdict is merged into the file as it is now and
    written atomically (two sessions at once lose at most a verdict, to be timed again).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._verdicts: dict[str, str] | None = None
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        if self.path is None:
            return None
        with self._lock:
            return self._loaded().get(key)

    def put(self, key: str, verdict: str) -> None:
        if self.path is None:
            return
        with self._lock:
            verdicts = self._loaded()
            verdicts.pop(key, None)
            verdicts[key] = verdict
            merged = {**self._read(), **verdicts}
            while len(merged) > MAX_VERDICTS:
                del merged[next(iter(merged))]
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_json(self.path, merged)
            except OSError as exc:
                log.info("not keeping strategy verdicts in %s: %s", self.path, exc)

    def fastest(self, key: str, ways: tuple[str, ...]) -> FastestWay:
        """A chooser for `key`: the stored verdict if there is one, else timed and stored."""
        return FastestWay(ways, known=self.get(key), on_settled=lambda way: self.put(key, way))

    def _loaded(self) -> dict[str, str]:
        if self._verdicts is None:
            self._verdicts = self._read()
        return self._verdicts

    def _read(self) -> dict[str, str]:
        """The file's verdicts; {} when it is missing, unreadable or not ours."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


_store = VerdictStore(None)


def verdict_store() -> VerdictStore:
    """The store the engine's strategy choosers use now (by default one that keeps nothing)."""
    return _store


@contextmanager
def remembered_verdicts(path: Path | None = None) -> Iterator[VerdictStore]:
    """Keep strategy verdicts in `path` (default `default_cache_file()`) while inside;
    the faces (app, CLI) run in this so a known architecture's first call is steady."""
    global _store
    previous, _store = _store, VerdictStore(path or default_cache_file())
    try:
        yield _store
    finally:
        _store = previous


def default_cache_file() -> Path:
    """`$XDG_CACHE_HOME/thulium-desktop/fastest.json` (default `~/.cache/...`)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "thulium-desktop" / "fastest.json"


def where(tensor: torch.Tensor) -> str:
    """The device a timing holds for: its kind and name, torch's version, CPU threads."""
    name = torch.cuda.get_device_name(tensor.device) if tensor.is_cuda else "cpu"
    return f"{name}/torch {torch.__version__}/{torch.get_num_threads()} threads"


def module_signature(module: nn.Module) -> str:
    """A hash of the module tree (every layer and its settings, as `repr` shows them) and
    of each class's forward code: modules that compute the same way share it, weights aside."""
    digest = hashlib.sha256(repr(module).encode())
    for cls in sorted({type(m) for m in module.modules()}, key=lambda c: f"{c.__module__}.{c.__qualname__}"):
        digest.update(f"{cls.__module__}.{cls.__qualname__}".encode())
        code = getattr(cls.forward, "__code__", None)
        if code is not None:
            digest.update(code.co_code)
    return digest.hexdigest()[:16]


def graph_signature(outputs: torch.Tensor) -> str:
    """A hash of the operations in `outputs`'s autograd graph, in the order a walk meets
    them (a backward's cost follows them: the same network gives the same hash)."""
    digest = hashlib.sha256()
    seen: set[int] = set()
    stack = [outputs.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        digest.update(node.name().encode())
        stack.extend(next_node for next_node, _ in reversed(node.next_functions))
    return digest.hexdigest()[:16]


def size_class(copies: int, tensor) -> int:
    """The power of two of `copies` times the tensor's size: which way is faster can flip
    with an image's width and its number of characters, so each class is timed on its
    own, while lines of similar size (most lines differ by a few pixels) share timings."""
    return (copies * tensor.numel()).bit_length()
