"""Chunk sizes from memory and the out-of-memory backoff (`xai/chunk_plan.py`), on the
CPU: CUDA's out-of-memory error is injected by the chunk's own work, and its memory
readings by the planner's `free_bytes` / `peak_bytes`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from thulium_desktop.io import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai.chunk_plan import ChunkCost, ChunkPlanner, run_in_chunks
from thulium_desktop.xai.quadrature import integration_points

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "hello.png"
CUDA = torch.device("cuda")
STEPS = 12


class PathGradients:
    """The work of integrated gradients' chunks on a bundled reader: for a chunk of path
    points, the weighted gradients of every read character's score, summed over the
    chunk. Chunks longer than `fits` raise CUDA's out-of-memory error, as a GPU would."""

    def __init__(self, fits: int | None = None) -> None:
        self.rec = load_model("ctc-reader")
        self.x = self.rec.prepare(load_image(SAMPLE)).tensor
        self.reading = self.rec.read(self.x)
        alphas, weights = integration_points(STEPS, "gausslegendre")
        self.alphas = torch.as_tensor(alphas, dtype=self.x.dtype)
        self.weights = torch.as_tensor(weights, dtype=self.x.dtype)
        self.fits = fits
        self.tried: list[int] = []

    def compute(self, chunk: slice) -> torch.Tensor:
        length = chunk.stop - chunk.start
        self.tried.append(length)
        if self.fits is not None and length > self.fits:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (a chunk of {length})")
        path = (self.alphas[chunk, None, None, None] * self.x).requires_grad_(True)
        scores = self.rec.token_scores(path, self.reading, "logprob")  # [B, T]
        grads = [torch.autograd.grad(scores[:, t], path, self.weights[chunk], retain_graph=True)[0]
                 for t in range(scores.shape[1])]
        return torch.stack(grads).sum(dim=1)  # [T, C, H, W]

    def integrate(self, size: int, planner: ChunkPlanner | None = None) -> tuple[torch.Tensor, int]:
        """The summed gradients of all path points in chunks of `size`, and the size that worked."""
        total: list[torch.Tensor] = []

        def add(chunk: slice, grads: torch.Tensor) -> None:
            total.append(grads if not total else total.pop() + grads)

        if planner is None:
            worked = run_in_chunks(STEPS, size, self.compute, add, release=lambda: None)
        else:
            worked = planner.run("ctc-reader", STEPS, size, self.compute, add)
        return total[0], worked


def test_an_out_of_memory_chunk_is_halved_and_the_maps_equal_a_run_at_that_size():
    hurried = PathGradients(fits=3)
    grads, worked = hurried.integrate(size=STEPS)
    assert worked == 3
    assert hurried.tried == [12, 6, 3, 3, 3, 3]  # halved twice, then every chunk at 3
    unhurried, _ = PathGradients().integrate(size=3)
    assert torch.equal(grads, unhurried)  # the same copies, grouped the same: bit for bit
    whole, _ = PathGradients().integrate(size=STEPS)
    np.testing.assert_allclose(grads.numpy(), whole.numpy(), rtol=1e-5, atol=1e-6)  # grouping only


def test_a_failure_after_chunks_succeeded_keeps_their_sums_and_counts_each_copy_once():
    """Chunks 0-3 and 4-7 fit; the last is made to fail once, so only it is halved."""
    work = PathGradients()
    compute = work.compute
    failures = iter([True])

    def last_fails_once(chunk: slice) -> torch.Tensor:
        if chunk.start == 8 and next(failures, False):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return compute(chunk)

    work.compute = last_fails_once
    grads, worked = work.integrate(size=4)
    assert worked == 2
    whole, _ = PathGradients().integrate(size=STEPS)
    np.testing.assert_allclose(grads.numpy(), whole.numpy(), rtol=1e-5, atol=1e-6)


def test_a_chunk_of_one_that_does_not_fit_is_one_clear_error():
    with pytest.raises(torch.cuda.OutOfMemoryError, match="out of GPU memory with one copy per chunk"):
        PathGradients(fits=0).integrate(size=4)


def test_the_planner_remembers_the_size_that_worked_for_that_model_and_shape():
    planner = ChunkPlanner(free_bytes=lambda d: 0, peak_bytes=lambda p, n, d: 0)
    work = PathGradients(fits=5)
    _, worked = work.integrate(size=STEPS, planner=planner)
    assert worked == 3 and planner.remembered("ctc-reader") == 3
    again = PathGradients(fits=5)
    size = planner.size("ctc-reader", STEPS, fallback=STEPS, device=CUDA, probe=again.compute)
    assert size == 3
    again.integrate(size=size, planner=planner)
    assert again.tried == [3, 3, 3, 3]  # no failed attempt the second time
    assert planner.remembered("another shape") is None


def test_on_cuda_the_size_comes_from_free_memory_and_the_measured_cost_of_a_chunk():
    """Peaks of 1 and 2 copies (fixed 100 MB + 30 MB a copy) against 1 GB free."""
    mb = 1 << 20
    probed: list[int] = []

    def peak(probe, copies, device):
        probe(copies)
        return 100 * mb + 30 * mb * copies

    planner = ChunkPlanner(free_bytes=lambda d: 1000 * mb, peak_bytes=peak, share=0.6)
    size = planner.size(("m", (1, 1, 32, 400)), 50, fallback=7, device=CUDA, probe=probed.append)
    assert probed == [1, 2]
    assert size == (600 - 100) // 30  # 16 copies fit in 60 % of the free memory
    assert planner.size(("m", (1, 1, 32, 400)), 50, fallback=7, device=CUDA, probe=probed.append) == 16
    assert probed == [1, 2]  # remembered: not probed again
    assert planner.size(("m", (1, 1, 32, 400)), 10, fallback=7, device=CUDA, probe=probed.append) == 10


def test_on_cuda_a_probe_that_runs_out_of_memory_plans_one_copy_at_a_time(monkeypatch):
    """An image where two copies do not fit: the probe's own out-of-memory error is no
    failure of the explanation, the planner starts at one copy (its cache handed back)."""
    released = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: released.append(True))

    def peak(probe, copies, device):
        if copies == 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (two copies)")
        return 1 << 30

    planner = ChunkPlanner(free_bytes=lambda d: 1 << 31, peak_bytes=peak)
    assert planner.size(("m", (1, 1, 32, 4000)), 50, fallback=7, device=CUDA, probe=lambda copies: None) == 1
    assert released == [True]


def test_off_cuda_the_planner_keeps_the_cpu_heuristic_and_probes_nothing():
    planner = ChunkPlanner(free_bytes=pytest.fail, peak_bytes=pytest.fail)
    assert planner.size("k", 50, fallback=7, device=torch.device("cpu"), probe=pytest.fail) == 7


def test_a_chunk_cost_fits_a_line_and_never_plans_less_than_one_copy():
    cost = ChunkCost.fitted(130, 160)
    assert cost == ChunkCost(100, 30)
    assert cost.copies_within(400) == 10
    assert cost.copies_within(50) == 1
    assert ChunkCost.fitted(100, 100) == ChunkCost(99, 1)  # no visible growth: the backoff corrects it
