"""FastestWay: ways timed in turns, the least time of each counts, and the choice stays."""

from __future__ import annotations

import torch

from thulium_desktop.xai.fastest import SAMPLES, FastestWay, size_class


def _run(chooser: FastestWay, seconds: dict[str, list[float]], calls: int) -> list[str]:
    """`calls` calls, the n-th use of a way taking `seconds[way][n]` (the last repeats)."""
    used: list[str] = []
    for _ in range(calls):
        way = chooser.next()
        times = seconds[way]
        chooser.record(way, times[min(used.count(way), len(times) - 1)])
        used.append(way)
    return used


def test_ways_are_timed_in_turns_then_the_faster_is_kept():
    chooser = FastestWay(("a", "b"))
    used = _run(chooser, {"a": [2.0], "b": [1.0]}, 2 * SAMPLES + 3)
    assert used == ["a", "b"] * SAMPLES + ["b"] * 3
    assert chooser.settled


def test_the_least_time_counts_not_the_first_or_the_mean():
    """"a" is faster (1 s) but its first timing was disturbed (9 s): its mean (3.7 s)
    and its first time lose to "b" (2 s), its least time wins."""
    used = _run(FastestWay(("a", "b")), {"a": [9.0, 1.0, 1.0], "b": [2.0]}, 2 * SAMPLES + 2)
    assert used[2 * SAMPLES:] == ["a", "a"]


def test_timings_after_the_choice_do_not_change_it():
    """Once settled, a way that later turns slow is kept: the timings are full."""
    chooser = FastestWay(("a", "b"))
    _run(chooser, {"a": [1.0], "b": [2.0]}, 2 * SAMPLES)
    for _ in range(5):
        chooser.record("a", 50.0)
    assert chooser.next() == "a"


def test_size_classes_group_similar_sizes_and_part_doubled_ones():
    line = torch.zeros(1, 1, 32, 300)
    assert size_class(10, line) == size_class(10, torch.zeros(1, 1, 32, 310))
    assert size_class(10, line) != size_class(20, line)
    assert size_class(10, line) != size_class(10, torch.zeros(1, 1, 32, 600))
