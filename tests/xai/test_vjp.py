"""BatchedVJP: the strategy trials, and the same gradients whichever strategy runs."""

from __future__ import annotations

import torch

from thulium_desktop.xai import vjp as vjp_module
from thulium_desktop.xai.vjp import BatchedVJP


def _graph():
    x = torch.linspace(-1, 1, 12, dtype=torch.float64).reshape(1, 3, 4).requires_grad_(True)
    weight = torch.arange(36, dtype=torch.float64).reshape(12, 3) / 10
    scores = torch.tanh(x.reshape(1, 12) @ weight)  # [1, 3]
    return x, scores, torch.eye(3, dtype=torch.float64)[:, None, :]


def test_vmap_warm_up_is_not_timed_and_the_faster_strategy_wins(monkeypatch):
    """Calls 1-2 vmapped (the first is its one-off set-up, untimed), 3 the loop; then
    the faster, here the vmapped one because the fake clock makes the loop slow."""
    clock = {"t": 0.0}
    monkeypatch.setattr(vjp_module, "synced_now", lambda _like: clock["t"])
    engine, used = BatchedVJP(), []
    batched, loop = engine._batched, engine._loop

    def timed_batched(*args):
        used.append("batched")
        clock["t"] += 1.0 if len(used) > 1 else 100.0  # a costly first call, as vmap's set-up
        return batched(*args)

    def timed_loop(*args):
        used.append("loop")
        clock["t"] += 5.0
        return loop(*args)

    monkeypatch.setattr(engine, "_batched", timed_batched)
    monkeypatch.setattr(engine, "_loop", timed_loop)
    results = []
    for _ in range(5):
        x, scores, cot = _graph()
        results.append(engine(scores, x, cot))
    assert used == ["batched", "batched", "loop", "batched", "batched"]
    for _ in range(2):  # a new shape: timed from its first call (vmap's set-up is paid)
        wider = torch.ones(1, 3, 5, dtype=torch.float64, requires_grad=True)
        engine(wider.reshape(1, 15)[:, :3] * 2, wider, torch.eye(3, dtype=torch.float64)[:, None, :])
    assert used[5:] == ["batched", "loop"]
    x, scores, _ = _graph()
    expected = torch.stack([torch.autograd.grad(scores[0, k], x, retain_graph=True)[0] for k in range(3)])
    for grads in results:  # vmapped and looped alike
        torch.testing.assert_close(grads, expected)
