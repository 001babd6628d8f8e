"""The out-of-memory backoff through the real engine (`Run.in_chunks`), on the CPU: CUDA's
out-of-memory error is injected by `Run.grads` for chunks longer than a limit, as a GPU
short of memory would raise it. A retried chunk must be counted once: the maps equal
those of a run that never ran out of memory."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from thulium_desktop.io import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai.chunk_plan import ChunkPlanner
from thulium_desktop.xai.saliency import Run, SaliencyConfig, SaliencyGenerator

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "hello.png"
FITS = 4  # the longest chunk that "fits in GPU memory"


@pytest.fixture(scope="module")
def reader():
    return load_model("ctc-reader")


@pytest.fixture(scope="module")
def image():
    return load_image(SAMPLE)


class ShortOfMemory:
    """`Run.grads` as on a GPU short of memory: chunks longer than `fits` (None: any
    length fits) raise CUDA's out-of-memory error. `tried`: every chunk length asked for."""

    def __init__(self, monkeypatch) -> None:
        self.fits: int | None = None
        self.tried: list[int] = []
        grads = Run.grads

        def short_of_memory(run, inputs, sample_weights, rows=None):
            self.tried.append(inputs.shape[0])
            if self.fits is not None and inputs.shape[0] > self.fits:
                raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (a chunk of {inputs.shape[0]})")
            return grads(run, inputs, sample_weights, rows)

        monkeypatch.setattr(Run, "grads", short_of_memory)


@pytest.fixture
def gpu(monkeypatch) -> ShortOfMemory:
    return ShortOfMemory(monkeypatch)


CONFIGS = {
    "integrated": SaliencyConfig(method="integrated", num_steps=16, tolerance=0.0),
    "smoothgrad": SaliencyConfig(method="smoothgrad", num_samples=16),
}


def explained(reader, image, cfg: SaliencyConfig, **changes):
    return SaliencyGenerator(reader, cfg).explain(image, config=replace(cfg, **changes))


@pytest.mark.parametrize("method", sorted(CONFIGS))
def test_an_out_of_memory_chunk_is_halved_and_the_maps_equal_an_unhurried_run(reader, image, gpu, method):
    cfg = CONFIGS[method]
    whole = explained(reader, image, cfg)  # every copy in one chunk
    assert whole.batch_size > 2 * FITS
    at_fits = explained(reader, image, cfg, batch_size=FITS)
    gpu.fits, gpu.tried = FITS, []
    hurried = explained(reader, image, cfg)
    first_fit = gpu.tried.index(FITS)
    assert gpu.tried[0] == whole.batch_size and first_fit > 1  # halved more than once...
    assert set(gpu.tried[first_fit:]) == {FITS}  # ...then every chunk at the size that worked
    assert hurried.batch_size == FITS
    assert sum(gpu.tried[first_fit:]) == whole.batch_size  # every copy computed exactly once
    np.testing.assert_array_equal(hurried.maps, at_fits.maps)  # the same chunks: bit for bit
    np.testing.assert_allclose(hurried.maps, whole.maps, rtol=1e-4, atol=1e-6)  # grouping only
    np.testing.assert_allclose(hurried.scores, whole.scores, rtol=1e-6)


def test_the_size_that_worked_is_remembered_for_the_next_image_of_that_shape(reader, image, gpu):
    gen = SaliencyGenerator(reader, CONFIGS["integrated"])
    gpu.fits = FITS
    gen.explain(image)
    assert gpu.tried[0] > FITS
    gpu.tried = []
    again = gen.explain(image)
    assert set(gpu.tried) == {FITS} and again.batch_size == FITS  # no chunk failed this time


def test_a_failure_after_chunks_succeeded_counts_each_copy_once(reader, image, monkeypatch):
    """Chunks of 4 fit, until the third fails once: only it and the rest are halved."""
    cfg = replace(CONFIGS["integrated"], batch_size=4)
    expected = SaliencyGenerator(reader, cfg).explain(image)
    calls = []
    grads = Run.grads

    def third_fails_once(run, inputs, sample_weights, rows=None):
        calls.append(inputs.shape[0])
        if len(calls) == 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return grads(run, inputs, sample_weights, rows)

    monkeypatch.setattr(Run, "grads", third_fails_once)
    progress = []
    got = SaliencyGenerator(reader, cfg).explain(image, on_progress=lambda done, total: progress.append(done))
    assert calls == [4, 4, 4, 2, 2, 2, 2]
    assert progress == list(range(1, 7))  # a failed chunk is not a pass done
    np.testing.assert_allclose(got.maps, expected.maps, rtol=1e-5, atol=1e-7)


def test_one_copy_that_does_not_fit_is_one_clear_error(reader, image, monkeypatch):
    def never_fits(run, inputs, sample_weights, rows=None):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(Run, "grads", never_fits)
    with pytest.raises(torch.cuda.OutOfMemoryError, match="too large for the GPU's free memory"):
        SaliencyGenerator(reader, CONFIGS["smoothgrad"]).explain(image)


class PlannerOnCuda(ChunkPlanner):
    """The real planner, told the input is on a GPU with room for `copies` copies of a
    chunk that costs 1000 bytes plus 100 a copy; the probe it measures by is run."""

    def __init__(self, copies: int) -> None:
        super().__init__(free_bytes=lambda device: 1000 + 100 * copies, peak_bytes=self.peak, share=1.0)
        self.probed: list[int] = []

    def peak(self, probe, copies: int, device: torch.device) -> int:
        probe(copies)
        self.probed.append(copies)
        return 1000 + 100 * copies

    def size(self, key, total, fallback, device, probe):
        return super().size(key, total, fallback, torch.device("cuda"), probe)


@pytest.mark.parametrize("method", sorted(CONFIGS))
def test_on_cuda_the_chunk_is_sized_from_free_memory(reader, image, method):
    cfg = CONFIGS[method]
    whole = explained(reader, image, cfg)
    gen = SaliencyGenerator(reader, cfg)
    gen._chunks = planner = PlannerOnCuda(copies=5)
    sized = gen.explain(image)
    assert planner.probed == [1, 2]  # the chunk's own work, measured on one and two copies
    assert sized.batch_size == 5 < whole.batch_size
    np.testing.assert_allclose(sized.maps, whole.maps, rtol=1e-4, atol=1e-6)
    gen.explain(image)
    assert planner.probed == [1, 2]  # remembered: measured once per model and input shape
