"""BatchedVJP: the strategy trials, and the same gradients whichever strategy runs."""

from __future__ import annotations

import pytest
import torch

from thulium_desktop.xai import vjp as vjp_module
from thulium_desktop.xai.vjp import BatchedVJP


def _graph():
    x = torch.linspace(-1, 1, 12, dtype=torch.float64).reshape(1, 3, 4).requires_grad_(True)
    weight = torch.arange(36, dtype=torch.float64).reshape(12, 3) / 10
    scores = torch.tanh(x.reshape(1, 12) @ weight)  # [1, 3]
    return x, scores, torch.eye(3, dtype=torch.float64)[:, None, :]


def _engine_on_a_fake_clock(monkeypatch, batched_seconds, loop_seconds):
    """A BatchedVJP whose n-th vmapped call (from 0) takes `batched_seconds(n)` on a fake
    clock and n-th looped call `loop_seconds(n)`; returns it and the list of ways used."""
    clock = {"t": 0.0}
    monkeypatch.setattr(vjp_module, "synced_now", lambda _like: clock["t"])
    engine, used = BatchedVJP(), []
    batched, loop = engine._batched, engine._loop

    def timed_batched(*args):
        clock["t"] += batched_seconds(used.count("batched"))
        used.append("batched")
        return batched(*args)

    def timed_loop(*args):
        clock["t"] += loop_seconds(used.count("loop"))
        used.append("loop")
        return loop(*args)

    monkeypatch.setattr(engine, "_batched", timed_batched)
    monkeypatch.setattr(engine, "_loop", timed_loop)
    return engine, used


def test_vmap_warm_up_is_not_timed_and_the_faster_strategy_wins(monkeypatch):
    """Call 1 vmapped (its one-off set-up, untimed), then vmapped and looped calls in
    turns, three timed of each; then the faster, here the vmapped one because the fake
    clock makes the loop slow (and vmap's set-up slower still)."""
    engine, used = _engine_on_a_fake_clock(monkeypatch, lambda n: 100.0 if n == 0 else 1.0, lambda n: 5.0)
    results = []
    for _ in range(9):
        x, scores, cot = _graph()
        results.append(engine(scores, x, cot))
    assert used == ["batched"] + ["batched", "loop"] * 3 + ["batched"] * 2
    for _ in range(2):  # a little wider: the same size class, so the choice stands
        wider = torch.ones(1, 3, 5, dtype=torch.float64, requires_grad=True)
        engine(wider.reshape(1, 15)[:, :3] * 2, wider, torch.eye(3, dtype=torch.float64)[:, None, :])
    assert used[9:] == ["batched"] * 2
    for _ in range(7):  # three times as wide: timed afresh from its first call (vmap's set-up is paid)
        wide = torch.ones(1, 3, 12, dtype=torch.float64, requires_grad=True)
        engine(wide.reshape(1, 36)[:, :3] * 2, wide, torch.eye(3, dtype=torch.float64)[:, None, :])
    assert used[11:] == ["batched", "loop"] * 3 + ["batched"]
    x, scores, _ = _graph()
    expected = torch.stack([torch.autograd.grad(scores[0, k], x, retain_graph=True)[0] for k in range(3)])
    for grads in results:  # vmapped and looped alike
        torch.testing.assert_close(grads, expected)


def test_one_disturbed_timing_does_not_decide(monkeypatch):
    """The vmapped way costs 1 s a call, the loop 3 s, but the first timed vmapped call
    is disturbed (50 s: another process took the core). Each way's least time counts,
    so the vmapped way is still kept; with one timing per way the loop would be."""
    engine, used = _engine_on_a_fake_clock(monkeypatch, lambda n: 50.0 if n == 1 else 1.0, lambda n: 3.0)
    for _ in range(10):
        x, scores, cot = _graph()
        engine(scores, x, cot)
    assert used[7:] == ["batched"] * 3


def test_the_vmapped_backward_takes_its_cotangents_in_blocks_of_bounded_memory(monkeypatch):
    """A long line's hundreds of characters: vmap holds one copy of the activation
    gradients per cotangent, so they go in blocks (here of 2 for an input of 12
    elements), every block over the same retained graph, and give the gradients of one
    vmapped call."""
    x, scores, cot = _graph()
    expected = torch.stack([torch.autograd.grad(scores[0, k], x, retain_graph=True)[0] for k in range(3)])
    blocks: list[int] = []
    block = BatchedVJP._batched_block

    def counted(outputs, inputs, cotangents):
        blocks.append(cotangents.shape[0])
        return block(outputs, inputs, cotangents)

    monkeypatch.setattr(vjp_module, "BATCHED_GRADIENT_ELEMENTS", 2 * x.numel())
    monkeypatch.setattr(BatchedVJP, "_batched_block", staticmethod(counted))
    grads = BatchedVJP()._batched(scores, x, cot)
    assert blocks == [2, 1]
    torch.testing.assert_close(grads, expected)


def test_once_the_choice_is_settled_no_call_waits_for_the_device(monkeypatch):
    """Each timing is a device synchronise (`synced_now`): while the two ways are timed
    every call takes two, and once the faster way is chosen none, so that on a GPU the
    worker queues the next chunk's kernels without waiting for the last."""
    engine, used = _engine_on_a_fake_clock(monkeypatch, lambda n: 1.0, lambda n: 5.0)
    clock_reads = []
    timed = vjp_module.synced_now
    monkeypatch.setattr(vjp_module, "synced_now", lambda like: clock_reads.append(len(used)) or timed(like))
    for _ in range(7):  # the untimed vmap set-up, then three timings of each way
        x, scores, cot = _graph()
        engine(scores, x, cot)
    reads_while_choosing = len(clock_reads)
    for _ in range(5):
        x, scores, cot = _graph()
        engine(scores, x, cot)
    assert used[7:] == ["batched"] * 5
    assert reads_while_choosing == 2 * 7 - 1  # the set-up call is not timed at its end
    assert len(clock_reads) == reads_while_choosing


def test_running_out_of_memory_in_the_vmapped_backward_is_raised_and_vmap_stays_usable(monkeypatch):
    """CUDA's out-of-memory error is a RuntimeError, but not vmap failing on an operator:
    it goes up to the engine, which halves the chunk, and the next call vmaps again."""
    engine = BatchedVJP()

    def out_of_memory(*args):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(engine, "_batched_block", out_of_memory)
    x, scores, cot = _graph()
    with pytest.raises(torch.cuda.OutOfMemoryError):
        engine._batched(scores, x, cot)
    assert engine.batched_ok
