"""Maps from the device to numpy without the worker waiting on the device (issue 25).

A plain `.cpu()` of a partial map on CUDA is a synchronous copy: the worker thread
waits until the GPU has run everything queued before it, and only then queues the
next chunk's kernels, so the GPU idles while a partial map is handed over.
`HostCopier` instead copies into a pinned host buffer with `non_blocking=True`,
records a CUDA event behind the copy and hands the map over one report later: by
then the next chunk's kernels are queued behind the copy, so waiting for the event
(on the worker thread) waits for the copy alone and the GPU stays busy. Whoever
receives a map gets a numpy array and never touches CUDA.

Why each map is copied out of one pinned buffer into a fresh array, rather than two
pinned buffers alternating and handed over as they are: a receiver may keep a map as
long as it likes (the view model keeps each spec's newest partial map, a cancelled
job's stays on screen, a caller may collect them), so a buffer handed over would be
overwritten two reports later while still in use. The copy out (a host memcpy of the
K x H x W float32 maps, far cheaper than a chunk of backward passes) makes each map
its receiver's own, as `.cpu().numpy()` did. And since a map is copied out before
the next one is queued into the buffer, one buffer is enough.

On any other device the maps take the plain synchronous conversion, handed over at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, Protocol

import numpy as np
import torch

__all__ = ["CudaTransfers", "HostCopier", "MapBlocks", "Transfers", "device_transfers"]


class MapBlocks(NamedTuple):
    """A `[K, ...]` result still on the device, made a block of rows at a time so its
    working copies there stay bounded: its `shape`, and `(first row, block)` pairs
    produced as they are iterated."""

    shape: tuple[int, ...]
    blocks: Iterable[tuple[int, torch.Tensor]]


class Event(Protocol):
    """A point in the device's queue the host can wait for (`torch.cuda.Event`)."""

    def synchronize(self) -> None: ...


class Transfers(Protocol):
    """What `HostCopier` needs of CUDA: pinned host memory, and an event recorded behind
    the copies queued so far. A recording fake stands in for it in tests without a GPU."""

    def pinned(self, shape: tuple[int, ...]) -> torch.Tensor: ...

    def recorded_event(self) -> Event: ...


class CudaTransfers:
    """`Transfers` of one CUDA device: the event goes on that device's current stream,
    the one its copies were queued on (not the current device's, which may differ)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def pinned(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.empty(shape, dtype=torch.float32, pin_memory=True)

    def recorded_event(self) -> Event:
        event = torch.cuda.Event()
        event.record(torch.cuda.current_stream(self.device))
        return event


def device_transfers(device: torch.device) -> Transfers | None:
    """The asynchronous transfers of a CUDA `device`; None (the plain conversion) elsewhere."""
    return CudaTransfers(device) if device.type == "cuda" else None


class _InFlight(NamedTuple):
    """Maps whose copy to the pinned buffer is queued: landed once `event` has passed."""

    event: Event
    maps: torch.Tensor  # a view of the pinned buffer
    args: tuple[Any, ...]


class HostCopier:
    """float32 maps from `device` to numpy: `hand_over` for a stream of partial maps
    (each passed to `deliver(array, *args)`), `now` for a result needed at once.

    On CUDA a map handed over reaches `deliver` at the next `hand_over`, once its copy
    has landed; the last one is dropped by `now` (the result supersedes it). Elsewhere
    each is delivered at once. One copier serves one job on one worker thread."""

    def __init__(self, device: torch.device, deliver: Callable[..., None]) -> None:
        self.transfers = device_transfers(device)
        self.deliver = deliver
        self._buffer: torch.Tensor | None = None
        self._in_flight: _InFlight | None = None

    def hand_over(self, maps: MapBlocks, *args: Any) -> None:
        """Deliver `maps` (with `args`): at once on the plain path; on CUDA the previous
        maps, copied out once their copy has landed, after these are queued behind it."""
        if self.transfers is None:
            self.deliver(_plain(maps), *args)
            return
        landed = self._land()
        self._queue(maps, args)
        if landed is not None:
            self.deliver(*landed)

    def now(self, maps: MapBlocks) -> np.ndarray:
        """`maps` as a numpy array, waited for. Maps still in flight are dropped: these
        supersede them (the stream orders their copy before this one's)."""
        if self.transfers is None:
            return _plain(maps)
        self._in_flight = None
        self._queue(maps, ())
        return self._land()[0]

    def _queue(self, maps: MapBlocks, args: tuple[Any, ...]) -> None:
        """Queue the copies of `maps`' blocks into the pinned buffer and an event behind them."""
        buffer = self._pinned(maps.shape)
        for start, block in maps.blocks:
            buffer[start : start + len(block)].copy_(block, non_blocking=True)
        self._in_flight = _InFlight(self.transfers.recorded_event(), buffer, args)

    def _land(self) -> tuple[Any, ...] | None:
        """`(array, *args)` of the maps in flight, once their copy has landed; None if none."""
        if self._in_flight is None:
            return None
        event, maps, args = self._in_flight
        self._in_flight = None
        event.synchronize()
        return (maps.numpy().copy(), *args)

    def _pinned(self, shape: tuple[int, ...]) -> torch.Tensor:
        """The pinned buffer viewed as `shape`, grown when it is too small."""
        count = int(np.prod(shape))
        if self._buffer is None or self._buffer.numel() < count:
            self._buffer = self.transfers.pinned((count,))
        return self._buffer[:count].view(shape)


def _plain(maps: MapBlocks) -> np.ndarray:
    """`maps` converted block by block, each a synchronous copy."""
    out = np.empty(maps.shape, np.float32)
    for start, block in maps.blocks:
        out[start : start + len(block)] = block.cpu().numpy()
    return out
