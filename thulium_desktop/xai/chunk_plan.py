"""How many copies (path points or noisy copies) go through the model at once on CUDA.

On the CPU the engine sizes a chunk by element counts measured there
(`saliency.AUTO_CHUNK_ELEMENTS`, `AUTO_GRADIENT_ELEMENTS`). A GPU wants the largest
chunk that fits: its T per-character backward passes then run as one batched launch.
What fits is the device's free memory (`torch.cuda.mem_get_info`) over what one more
copy costs, measured by running the chunk's own work on one and on two copies
(`torch.cuda.max_memory_allocated`): a chunk of n copies needs about
`fixed + n * per_copy` bytes.

A plan can still be wrong (another process allocates, the allocator fragments), so a
chunk that raises `torch.cuda.OutOfMemoryError` is halved and run again, and the size
that worked is remembered for that model and input shape. Chunking changes only how
copies are grouped, never which copies are summed or with which weights: a chunk that
failed contributed nothing (its work is a pure `compute`, its sum taken only after
it succeeded). So the maps differ from an unhurried run's only by float32 summation
order, and equal bit for bit those of a run at the smaller size when the first chunk
was the one that failed (`tests/xai/test_chunk_plan.py`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

import torch

__all__ = [
    "MEMORY_SHARE",
    "ChunkCost",
    "ChunkPlanner",
    "cuda_free_bytes",
    "cuda_peak_bytes",
    "run_in_chunks",
]

T = TypeVar("T")

#: The share of the free memory a planned chunk may take: the rest is for the
#: accumulators, the maps being finished and the caching allocator's fragmentation.
MEMORY_SHARE = 0.6
#: How many (model, input shape) sizes a planner remembers: one per image shape
#: explained with a model is plenty; the oldest is forgotten first.
REMEMBERED_SIZES = 256

#: `probe(n)`: the work of one chunk of n copies (its result is dropped).
Probe = Callable[[int], object]
#: Peak bytes `probe(n)` allocates beyond what was allocated before it, on a device.
PeakBytes = Callable[[Probe, int, torch.device], int]
#: Free bytes on a device.
FreeBytes = Callable[[torch.device], int]


@dataclass(frozen=True)
class ChunkCost:
    """Bytes a chunk of n copies needs: `fixed + n * per_copy`."""

    fixed: int
    per_copy: int

    @classmethod
    def fitted(cls, one: int, two: int) -> ChunkCost:
        """The line through the peaks of one and of two copies (a copy costs at least a
        byte; a plan too large for what it missed is the backoff's to correct)."""
        per_copy = max(two - one, 1)
        return cls(max(one - per_copy, 0), per_copy)

    def copies_within(self, budget: int) -> int:
        """The most copies whose chunk fits `budget` bytes (at least one: a chunk of one
        that does not fit is the backoff's to report)."""
        return max(1, (budget - self.fixed) // self.per_copy)


def cuda_free_bytes(device: torch.device) -> int:
    """Free bytes on a CUDA device as the driver reports them, plus what torch's caching
    allocator holds but does not use (the next chunk can have it)."""
    free, _ = torch.cuda.mem_get_info(device)
    return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)


def cuda_peak_bytes(probe: Probe, copies: int, device: torch.device) -> int:
    """The peak bytes `probe(copies)` allocated on a CUDA device above what was allocated
    before it ran."""
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    probe(copies)
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - before


def run_in_chunks(
    total: int,
    size: int,
    compute: Callable[[slice], T],
    accumulate: Callable[[slice, T], None],
    *,
    release: Callable[[], None] = torch.cuda.empty_cache,
) -> int:
    """`compute(chunk)` for the copies `0..total` in chunks of `size`, each result handed
    to `accumulate(chunk, result)` in order; returns the size the last chunk ran at.

    A chunk whose `compute` raises `torch.cuda.OutOfMemoryError` is run again at half its
    length (after `release()` hands the failed chunk's cached blocks back), and every
    later chunk at that length. `compute` must leave no trace (it is re-run), which is
    why `accumulate` is separate. A chunk of one copy that does not fit is re-raised
    with a message that says so.
    """
    if total < 1 or size < 1:
        raise ValueError(f"need at least one copy and a chunk of at least one, got {total} and {size}")
    start = 0
    while start < total:
        chunk = slice(start, min(start + size, total))
        try:
            result = compute(chunk)
        except torch.cuda.OutOfMemoryError as exc:
            length = chunk.stop - chunk.start
            if length == 1:
                raise torch.cuda.OutOfMemoryError(
                    "out of GPU memory with one copy per chunk: this image is too large for the "
                    "GPU's free memory (free some, or explain it on the CPU)"
                ) from exc
            size = length // 2
        else:
            accumulate(chunk, result)
            start = chunk.stop
            continue
        release()  # outside the handler: the failed chunk's tensors are unreachable now
    return size


class ChunkPlanner:
    """Chunk sizes for one engine: remembered per key (a model and an input shape),
    planned from free memory on CUDA, and halved on out-of-memory (`run`).

    `free_bytes` and `peak_bytes` default to the CUDA allocator's; tests pass their own.
    """

    def __init__(self, free_bytes: FreeBytes = cuda_free_bytes, peak_bytes: PeakBytes = cuda_peak_bytes,
                 share: float = MEMORY_SHARE) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], got {share}")
        self._free_bytes = free_bytes
        self._peak_bytes = peak_bytes
        self._share = share
        self._sizes: OrderedDict[Hashable, int] = OrderedDict()

    def remembered(self, key: Hashable) -> int | None:
        """The size that last worked for `key`, if any."""
        return self._sizes.get(key)

    def size(self, key: Hashable, total: int, fallback: int, device: torch.device, probe: Probe) -> int:
        """The chunk size for `total` copies: the remembered one for `key`; on CUDA the
        most copies the free memory holds, from `probe` run on one and two copies;
        elsewhere `fallback` (the CPU's measured heuristic). Never more than `total`."""
        known = self.remembered(key)
        if known is None:
            known = self._from_memory(probe, device) if device.type == "cuda" else fallback
            self._remember(key, known)
        return max(1, min(total, known))

    def run(self, key: Hashable, total: int, size: int, compute: Callable[[slice], T],
            accumulate: Callable[[slice, T], None]) -> int:
        """`run_in_chunks`, remembering for `key` a size smaller than planned that worked."""
        worked = run_in_chunks(total, size, compute, accumulate)
        if worked < size:
            self._remember(key, worked)
        return worked

    def _from_memory(self, probe: Probe, device: torch.device) -> int:
        """The copies the free memory holds, from probes of one and two copies; one copy
        (then halved no further: `run_in_chunks` says what does not fit) where the probe
        itself runs out of memory."""
        try:
            cost = ChunkCost.fitted(self._peak_bytes(probe, 1, device), self._peak_bytes(probe, 2, device))
        except torch.OutOfMemoryError:
            cost = None  # released below, once the failed probe's frames are gone
        if cost is None:
            torch.cuda.empty_cache()
            return 1
        return cost.copies_within(int(self._free_bytes(device) * self._share))

    def _remember(self, key: Hashable, size: int) -> None:
        self._sizes[key] = size
        self._sizes.move_to_end(key)
        while len(self._sizes) > REMEMBERED_SIZES:
            self._sizes.popitem(last=False)
