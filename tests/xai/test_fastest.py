"""FastestWay: ways timed in turns, the least time of each counts, and the choice stays."""

from __future__ import annotations

import json

import torch
from tiny_models import ALPHABET, tiny_crnn

from thulium_desktop.models import CTCRecognizer
from thulium_desktop.xai.batched_head import BatchedHead
from thulium_desktop.xai.fastest import (
    SAMPLES,
    FastestWay,
    VerdictStore,
    graph_signature,
    module_signature,
    remembered_verdicts,
    size_class,
    verdict_store,
)
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator
from thulium_desktop.xai.vjp import BatchedVJP


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


def test_a_known_verdict_is_used_at_once_without_timing():
    settled: list[str] = []
    chooser = FastestWay(("a", "b"), known="b", on_settled=settled.append)
    assert chooser.settled and [chooser.next() for _ in range(3)] == ["b"] * 3
    chooser.record("b", 9.0)
    assert chooser.next() == "b" and settled == []


def test_a_store_remembers_the_verdict_for_a_fresh_chooser(tmp_path):
    path = tmp_path / "cache" / "fastest.json"
    _run(VerdictStore(path).fastest("net/7", ("a", "b")), {"a": [2.0], "b": [1.0]}, 2 * SAMPLES)
    fresh = VerdictStore(path).fastest("net/7", ("a", "b"))  # another session
    assert fresh.settled and fresh.next() == "b"
    assert not VerdictStore(path).fastest("net/8", ("a", "b")).settled  # another key: timed


def test_an_unwritable_or_broken_cache_only_means_timing_again(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    unwritable = VerdictStore(blocker / "fastest.json")
    _run(unwritable.fastest("k", ("a", "b")), {"a": [1.0], "b": [2.0]}, 2 * SAMPLES)
    broken = tmp_path / "fastest.json"
    broken.write_text("{not json")
    assert not VerdictStore(broken).fastest("k", ("a", "b")).settled


def test_the_engine_keeps_nothing_unless_a_face_asks(tmp_path):
    assert verdict_store().path is None
    with remembered_verdicts(tmp_path / "v.json") as store:
        assert verdict_store() is store and store.path == tmp_path / "v.json"
    assert verdict_store().path is None


def test_batched_vjp_of_a_network_settled_before_decides_without_timing(tmp_path, monkeypatch):
    """A second engine (a new session) on a network of the same architecture takes the
    stored way from its first call: no vmap warm-up, no turns with the slower way."""
    net = torch.nn.Sequential(torch.nn.Conv1d(1, 4, 3, padding=1), torch.nn.Tanh(), torch.nn.Flatten())
    cot = torch.eye(3)[:, None, :]

    def call(engine):
        x = torch.randn(1, 1, 6, requires_grad=True)
        return engine(net(x)[:, :3], x, cot)

    with remembered_verdicts(tmp_path / "v.json"):
        first = BatchedVJP()
        for _ in range(2 * SAMPLES + 1):
            call(first)
        second = BatchedVJP()
        used = []
        monkeypatch.setattr(second, "_batched", lambda *a: used.append("batched") or first._batched(*a))
        monkeypatch.setattr(second, "_loop", lambda *a: used.append("loop") or BatchedVJP._loop(*a))
        call(second)
        call(second)
    ((key, way),) = json.loads((tmp_path / "v.json").read_text()).items()
    assert key.startswith("vjp/") and used == [way, way]


def test_signatures_follow_the_architecture_not_the_weights():
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    assert module_signature(a) == module_signature(b) != module_signature(torch.nn.Linear(3, 4))
    x = torch.ones(1, 3, requires_grad=True)
    assert graph_signature(a(x).tanh()) == graph_signature(b(x).tanh()) != graph_signature(a(x).relu())


def test_a_new_engine_on_a_known_architecture_skips_the_heads_double_check(tmp_path, monkeypatch, word_image):
    """The batched head's first call computes both ways to check they agree; a later
    session on a network of the same architecture takes the stored agreement."""
    checks: list[int] = []
    first = BatchedHead._first
    monkeypatch.setattr(BatchedHead, "_first", lambda self, *a: checks.append(1) or first(self, *a))
    config = SaliencyConfig(method="gradcam")
    with remembered_verdicts(tmp_path / "v.json"):
        SaliencyGenerator(CTCRecognizer(tiny_crnn(seed=1), ALPHABET, 32), config).explain(word_image)
        assert checks == [1]
        again = SaliencyGenerator(CTCRecognizer(tiny_crnn(seed=2), ALPHABET, 32), config).explain(word_image)
    assert checks == [1] and len(again.reading) > 1
    assert any(key.startswith("head/") for key in json.loads((tmp_path / "v.json").read_text()))
