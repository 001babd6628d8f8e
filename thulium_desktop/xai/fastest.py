"""Picking the faster of exact ways of computing the same thing, by timing real calls.

The engine has such choices (a vmapped backward or a loop of backwards; a batched pass
of a reader's head or the plain way), and which wins depends on the model, the size
and the device, so each is timed on the user's own calls. Why each way is timed more
than once: with one timing per way, a single call disturbed by other work on a shared
machine (another process, a collector pause) decided for good. That happened on the
attention reader, whose gradient settled at 1.26x-1.39x of its floor in two benchmark
runs after 1.07x in the one before. The least of `SAMPLES` timings per way, taken in
turns so a burst of load falls on both ways alike, is what each costs undisturbed.
"""

from __future__ import annotations

#: Timings taken of each way before the faster is kept.
SAMPLES = 3


class FastestWay:
    """Hands out the way to use for the next call and learns from the time it took."""

    def __init__(self, ways: tuple[str, ...]) -> None:
        self.ways = ways
        self._seconds: dict[str, list[float]] = {way: [] for way in ways}

    @property
    def settled(self) -> bool:
        """Whether every way has been timed `SAMPLES` times (the choice is now fixed)."""
        return all(len(times) >= SAMPLES for times in self._seconds.values())

    def next(self) -> str:
        """The least-timed way while any still needs timing (ties: the earlier in
        `ways`), else the one whose best time is least."""
        if not self.settled:
            return min(self.ways, key=lambda way: len(self._seconds[way]))
        return min(self.ways, key=lambda way: min(self._seconds[way]))

    def record(self, way: str, seconds: float) -> None:
        """One timing of `way`; timings beyond `SAMPLES` are not needed and dropped."""
        times = self._seconds[way]
        if len(times) < SAMPLES:
            times.append(seconds)


def size_class(copies: int, tensor) -> int:
    """The power of two of `copies` times the tensor's size: which way is faster can flip
    with an image's width and its number of characters, so each class is timed on its
    own, while lines of similar size (most lines differ by a few pixels) share timings."""
    return (copies * tensor.numel()).bit_length()
