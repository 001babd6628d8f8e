"""The engine on CUDA gives the CPU's maps: every registered method on both bundled
readers. Marked `cuda` (`pytest -m cuda`, run by benchmarks/gpu_check.sh) and skipped
where torch sees no GPU.

TF32 is turned off for these comparisons (it rounds float32 products to a 10-bit
mantissa), so the only differences left are float32 summation orders: a map may
differ from the CPU's by `MAP_TOLERANCE` of its peak. The RNN heads' backward in eval
mode runs here too: cuDNN's would refuse it (`models/module_state.py`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from thulium_desktop.io import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai import host_copy
from thulium_desktop.xai.methods import METHODS
from thulium_desktop.xai.precision import map_difference
from thulium_desktop.xai.saliency import Run, SaliencyConfig, SaliencyGenerator

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: torch.cuda.is_available() is False"),
]

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "recognition.png"
#: float32 on two devices, summed in other orders, as a share of each map's peak.
MAP_TOLERANCE = 1e-3
#: float32 on one device, two runs: atomics may add in other orders, and the backward
#: strategy (vmap or a loop, `BatchedVJP`) alternates while it is being timed.
SAME_DEVICE_TOLERANCE = 1e-4


@pytest.fixture
def full_float32():
    saved = (torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision())
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    yield
    torch.backends.cudnn.allow_tf32 = saved[0]
    torch.set_float32_matmul_precision(saved[1])


@pytest.fixture(scope="module")
def image():
    return load_image(SAMPLE)


@pytest.mark.parametrize("name", ["ctc-reader", "attention-reader"])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_cuda_maps_equal_cpu_maps(name, method, image, full_float32):
    cfg = SaliencyConfig(method=method, tolerance=0.0)  # fixed steps: the same path on both
    on_cpu = SaliencyGenerator(load_model(name), cfg)
    gpu_model = load_model(name)
    gpu_model.module.to("cuda")
    on_gpu = SaliencyGenerator(gpu_model, cfg)
    expected = on_cpu.explain(image)
    got = on_gpu.explain(image, reading=expected.reading)
    assert got.device.startswith("cuda")
    assert on_gpu.read(image).tokens == expected.reading.tokens
    assert got.maps.shape == expected.maps.shape
    assert map_difference(got.maps, expected.maps) <= MAP_TOLERANCE
    torch.testing.assert_close(torch.as_tensor(got.scores), torch.as_tensor(expected.scores), rtol=1e-4, atol=1e-4)


def test_streamed_partial_maps_reach_the_host_as_numpy_equal_to_a_synchronous_copy(image, full_float32, monkeypatch):
    """Partial maps come through the pinned buffer (`host_copy`), one chunk late, and
    `Run.report` makes no synchronising CUDA call (`set_sync_debug_mode("error")` turns
    an implicit one, a `.cpu()` or `.item()`, into an error; it does not see the event's
    wait nor `torch.cuda.synchronize`, which is watched apart). They are numpy arrays
    equal to the plain `.cpu()` copies of the same run (the same kernels on the same GPU:
    only float32 atomics may add in another order)."""
    model = load_model("ctc-reader")
    model.module.to("cuda")
    engine = SaliencyGenerator(model, SaliencyConfig(method="integrated", num_steps=16, tolerance=0.0, batch_size=4))
    reading = engine.read(image)

    def streamed():
        partials = []
        exp = engine.explain(image, reading=reading, on_partial=lambda maps, done, total: partials.append((maps, done)))
        return exp, partials

    reporting = [False]
    report, synchronize = Run.report, torch.cuda.synchronize

    def report_without_syncs(*args):
        reporting[0] = True
        torch.cuda.set_sync_debug_mode("error")
        try:
            report(*args)
        finally:
            torch.cuda.set_sync_debug_mode("default")
            reporting[0] = False

    def watched_synchronize(*args, **kwargs):
        assert not reporting[0], "torch.cuda.synchronize in the partial path"
        synchronize(*args, **kwargs)

    with monkeypatch.context() as watch:
        watch.setattr(Run, "report", report_without_syncs)
        watch.setattr(torch.cuda, "synchronize", watched_synchronize)
        exp, partials = streamed()
    monkeypatch.setattr(host_copy, "device_transfers", lambda device: None)  # the plain, synchronous copies
    expected, expected_partials = streamed()
    assert [done for _, done in expected_partials] == [4, 8, 12]
    assert [done for _, done in partials] == [4, 8]  # the last superseded by the result
    for (maps, _), (copied, _) in zip(partials, expected_partials):
        assert type(maps) is np.ndarray and maps.dtype == np.float32
        assert map_difference(maps, copied) <= SAME_DEVICE_TOLERANCE
    assert map_difference(exp.maps, expected.maps) <= SAME_DEVICE_TOLERANCE
