"""bfloat16 only where it agrees with float32 on the image explained, and the TF32
policy in words (`xai/precision.py`), on the CPU (whose autocast does bfloat16)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from thulium_desktop.io import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai import precision, saliency
from thulium_desktop.xai.precision import (
    BF16_TOLERANCE,
    map_difference,
    precision_scope,
    tf32_policy,
    tf32_record,
)
from thulium_desktop.xai.saliency import Run, SaliencyConfig, SaliencyGenerator

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "hello.png"
CPU = torch.device("cpu")


class GradientProbe:
    """Every read character's gradient map of a bundled reader on a sample, the reading
    held fixed; records whether autocast was on at each call."""

    def __init__(self, name: str) -> None:
        self.rec = load_model(name)
        self.x = self.rec.prepare(load_image(SAMPLE)).tensor
        self.reading = self.rec.read(self.x)
        self.autocast: list[bool] = []

    def __call__(self) -> torch.Tensor:
        self.autocast.append(torch.is_autocast_enabled("cpu"))
        x = self.x.clone().requires_grad_(True)
        scores = self.rec.token_scores(x, self.reading)
        return torch.stack([torch.autograd.grad(scores[0, t], x, retain_graph=True)[0][0, 0]
                            for t in range(scores.shape[1])])


@pytest.mark.parametrize("name", ["ctc-reader", "attention-reader"])
def test_bf16_that_moves_the_maps_beyond_the_tolerance_falls_back_to_float32_and_says_so(name):
    probe = GradientProbe(name)
    choice = precision_scope("bf16", CPU, probe)
    assert probe.autocast == [False, True]  # float32 first, then under autocast
    assert choice.precision == "float32"
    assert choice.difference > BF16_TOLERANCE
    assert choice.note.startswith("computed in float32: in bfloat16 this image's gradient maps differ")
    assert choice.note.short.startswith("bf16 off")
    with choice.scope(CPU):
        assert not torch.is_autocast_enabled("cpu")


def test_bf16_within_the_tolerance_runs_the_method_under_autocast():
    probe = GradientProbe("ctc-reader")
    choice = precision_scope("bf16", CPU, probe, tolerance=1.0)
    assert choice.precision == "bf16" and 0 < choice.difference <= 1.0
    assert choice.note.startswith("computed in bfloat16 (autocast)")
    with choice.scope(CPU):
        maps = probe()
    assert probe.autocast[-1]
    assert maps.shape == (len(probe.reading), *probe.x.shape[-2:])


def test_float32_is_the_default_and_runs_no_probe():
    choice = precision_scope("float32", CPU, pytest.fail)
    assert choice.precision == "float32" and choice.note is None and choice.difference is None


def test_an_unknown_precision_is_one_clear_error():
    with pytest.raises(ValueError, match="^precision must be one of float32, bf16, got 'fp8'$"):
        precision_scope("fp8", CPU, pytest.fail)


def test_map_difference_is_relative_to_each_float32_maps_peak():
    reference = np.stack([np.full((2, 3), 10.0), np.zeros((2, 3))])
    candidate = reference.copy()
    candidate[0, 0, 0] = 9.0  # 10 % of that map's peak
    assert map_difference(candidate, reference) == pytest.approx(0.1)
    candidate[1, 1, 1] = 0.5  # an all-zero map: the difference taken as it is
    assert map_difference(candidate, reference) == pytest.approx(0.5)
    assert map_difference(candidate[:1], reference) == float("inf")  # another reading


@pytest.fixture
def tf32_flags():
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
             torch.get_float32_matmul_precision())
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[:2]
    torch.set_float32_matmul_precision(saved[2])


def test_the_tf32_policy_says_what_the_switches_are(tf32_flags):
    torch.set_float32_matmul_precision("highest")
    torch.backends.cudnn.allow_tf32 = True
    assert tf32_record() == {"matmul_allow_tf32": False, "cudnn_allow_tf32": True,
                             "float32_matmul_precision": "highest"}
    assert tf32_policy() == ("float32 on CUDA: matmuls in full float32 (float32 matmul precision 'highest'), "
                             "cuDNN convolutions in TF32")
    torch.set_float32_matmul_precision("high")
    torch.backends.cudnn.allow_tf32 = False
    assert tf32_policy() == ("float32 on CUDA: matmuls in TF32 (float32 matmul precision 'high'), "
                             "cuDNN convolutions in full float32")


# -- through the engine: SaliencyConfig.precision ----------------------------------------

def test_an_unknown_precision_in_the_config_is_one_clear_error():
    with pytest.raises(ValueError, match="^precision must be one of float32, bf16; got 'fp16'$"):
        SaliencyConfig(precision="fp16")


ENGINE_METHODS = ["gradient", "integrated", "smoothgrad"]


def explained(method: str, precision: str, name: str = "ctc-reader"):
    cfg = SaliencyConfig(method=method, precision=precision, num_steps=8, tolerance=0.0, num_samples=8)
    return SaliencyGenerator(load_model(name), cfg).explain(load_image(SAMPLE))


@pytest.mark.parametrize("name", ["ctc-reader", "attention-reader"])
@pytest.mark.parametrize("method", ENGINE_METHODS)
def test_bf16_on_a_bundled_reader_falls_back_to_float32_and_the_explanation_says_so(name, method):
    """bfloat16 moves the bundled readers' maps by far more than the tolerance."""
    with pytest.warns(saliency.MapNote, match="computed in float32: in bfloat16"):
        fell_back = explained(method, "bf16", name)
    plain = explained(method, "float32", name)
    assert fell_back.precision == "float32" and fell_back.record()["precision"] == "float32"
    (note,) = [n for n in fell_back.notes if n.startswith("computed in float32: in bfloat16")]
    measured = float(re.search(r"differ from float32 by ([\d.]+)%", note).group(1)) / 100
    assert BF16_TOLERANCE < measured < 1  # the maps compared as maps: tens of percent, not millions
    assert not [n for n in plain.notes if "bfloat16" in n]
    # float32 it was (a one-pass method scores the reading it read first instead of
    # reading in its own forward: an attention reader's teacher-forced scores, to ~1e-6)
    np.testing.assert_allclose(fell_back.maps, plain.maps, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", ENGINE_METHODS)
def test_bf16_within_tolerance_runs_the_passes_under_autocast(method, monkeypatch):
    """With a tolerance bfloat16 meets, the method's passes run under autocast."""
    monkeypatch.setattr(saliency, "precision_scope",
                        lambda choice, device, probe: precision.precision_scope(choice, device, probe, tolerance=1.0))
    autocast: list[bool] = []
    for name in ("grads", "backward"):
        original = getattr(Run, name)

        def recorded(run, *args, _original=original, **kwargs):
            autocast.append(torch.is_autocast_enabled("cpu"))
            return _original(run, *args, **kwargs)

        monkeypatch.setattr(Run, name, recorded)
    fast = explained(method, "bf16")
    plain = explained(method, "float32")
    assert autocast and all(autocast[: len(autocast) // 2]) and not any(autocast[len(autocast) // 2:])
    assert fast.precision == "bf16" and fast.record()["precision"] == "bf16"
    assert [n for n in fast.notes if n.startswith("computed in bfloat16 (autocast)")]
    assert fast.maps.dtype == np.float32 and fast.scores.dtype == np.float32
    assert fast.maps.shape == plain.maps.shape and not np.array_equal(fast.maps, plain.maps)
    assert map_difference(fast.maps, plain.maps) <= 1.0


def test_the_record_names_the_tf32_policy_the_maps_were_made_under(tf32_flags):
    torch.set_float32_matmul_precision("high")
    record = explained("gradient", "float32").record()
    assert record["tf32_policy"] == tf32_policy() and "matmuls in TF32" in record["tf32_policy"]
    assert record["precision"] == "float32"


def test_the_noise_family_checks_bf16_once_and_every_explanation_says_so():
    cfg = SaliencyConfig(precision="bf16", num_samples=6)
    with pytest.warns(saliency.MapNote, match="computed in float32: in bfloat16"):
        family = SaliencyGenerator(load_model("ctc-reader"), cfg).explain_noise_family(load_image(SAMPLE))
    for exp in family.values():
        assert exp.precision == "float32"
        assert [n for n in exp.notes if n.startswith("computed in float32: in bfloat16")]


def test_attention_maps_have_no_backward_to_speed_up_and_ignore_bf16():
    exp = explained("attention", "bf16", "attention-reader")
    assert exp.precision == "float32" and not [n for n in exp.notes if "bfloat16" in n]


def test_the_tf32_policy_is_read_when_the_process_set_torchs_new_precision_api():
    """A process that set `torch.backends.*.fp32_precision` (torch's new API) makes the
    legacy readers raise "mix of the legacy and new APIs"; the record still says what
    the switches are, so explaining does not fail. In a child process: the new API's
    state cannot be undone for the rest of this one."""
    import subprocess
    import sys

    code = (
        "import torch\n"
        "torch.backends.cuda.matmul.fp32_precision = 'tf32'\n"
        "from thulium_desktop.xai.precision import tf32_policy, tf32_record\n"
        "record = tf32_record()\n"
        "assert record['matmul_allow_tf32'] is True, record\n"
        "assert record['float32_matmul_precision'] == 'tf32', record\n"
        "print(tf32_policy())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=str(Path(__file__).resolve().parents[2]))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("float32 on CUDA: matmuls in TF32 (float32 matmul precision 'tf32')")
