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

import pytest
import torch

from thulium_desktop.io import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai.methods import METHODS
from thulium_desktop.xai.precision import map_difference
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: torch.cuda.is_available() is False"),
]

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "recognition.png"
#: float32 on two devices, summed in other orders, as a share of each map's peak.
MAP_TOLERANCE = 1e-3


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
