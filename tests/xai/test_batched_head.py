"""One batched pass of the head for all characters (gradient, GradCAM): the same maps as
one character at a time, and the plain way wherever the head cannot be batched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import ALPHABET, TrainModeScoring
from torch import nn

from thulium_desktop.io import load_image
from thulium_desktop.models import CTCRecognizer, load_model
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
RAW = dict(absolute=False, normalize=False)
CLASSES = len(ALPHABET) + 1


class Stem(nn.Module):
    """Two convolutions down to `[B, 8, 8, W/4]`; `act` is the split (GradCAM) layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, stride=2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, stride=2)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.conv2(torch.tanh(self.conv1(x))))


class InputBatchHead(nn.Module):
    """Its head reshapes with the input's batch size, as many hand-written models do."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(4)
        self.stem, self.head = Stem(), nn.Linear(64, CLASSES)
        with torch.no_grad():
            self.head.weight.mul_(8)

    def forward(self, x):
        f = self.stem(x)
        return self.head(f.permute(0, 3, 1, 2).reshape(x.shape[0], f.shape[-1], -1))


class SkipToHead(InputBatchHead):
    """The input reaches the head around the split layer too (a skip connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = nn.Linear(8, CLASSES)
        with torch.no_grad():
            self.skip.weight.mul_(4)

    def forward(self, x):
        f = self.stem(x)
        columns = nn.functional.adaptive_avg_pool2d(x, (8, f.shape[-1]))[:, 0].transpose(1, 2)
        return self.head(f.permute(0, 3, 1, 2).flatten(2)) + self.skip(columns)


class AssertingHead(InputBatchHead):
    """Checks its batch against the input's, as careful hand-written models do."""

    def forward(self, x):
        f = self.stem(x)
        assert f.shape[0] == x.shape[0]
        return self.head(f.permute(0, 3, 1, 2).flatten(2))


class SharedActivation(InputBatchHead):
    """One ReLU module used twice: the split layer runs twice per forward."""

    def forward(self, x):
        f = self.stem.act(self.stem.conv2(self.stem.act(self.stem.conv1(x))))
        return self.head(f.permute(0, 3, 1, 2).flatten(2))


def _explain_counting(gen: SaliencyGenerator, image: np.ndarray, method: str, **kwargs):
    """The explanation and how many forwards of the model it took."""
    calls: list[int] = []
    handle = gen.model.module.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        return gen.explain(image, method=method, **kwargs), len(calls)
    finally:
        handle.remove()


def _assert_each_character_as_alone(gen: SaliencyGenerator, image: np.ndarray, method: str, together):
    assert len(together.tokens) >= 3
    for t in range(len(together.tokens)):
        alone = gen.explain(image, method=method, tokens=[t])  # one character: the plain way
        scale = np.abs(alone.maps).max()
        np.testing.assert_allclose(together.maps[t], alone.maps[0], rtol=0, atol=1e-5 * scale)


def _forwards_of_calls(gen: SaliencyGenerator, image: np.ndarray, method: str, calls: int = 3):
    """The first explanation, and the forwards each of `calls` explanations took: the
    first call compares both ways (two forwards where the batched way was tried), the
    second times the plain way (one), the third the batched way if it agreed (two)."""
    together, first = _explain_counting(gen, image, method)
    rest = [_explain_counting(gen, image, method, reading=together.reading)[1] for _ in range(calls - 1)]
    return together, [first, *rest]


@pytest.mark.parametrize("name", ["attention-reader", "ctc-reader"])
@pytest.mark.parametrize("method", ["gradient", "gradcam"])
def test_bundled_readers_batch_their_head_with_the_same_maps(name, method):
    rec = load_model(name)
    image = load_image(SAMPLES / "recognition.png")
    gen = SaliencyGenerator(rec, SaliencyConfig(**RAW))
    together, forwards = _forwards_of_calls(gen, image, method)
    assert forwards == [2, 1, 2]  # the batched way agreed, and was timed on the third call
    _assert_each_character_as_alone(gen, image, method, together)


class BatchStatisticsHead(InputBatchHead):
    """Normalises with the statistics of the batch it is given, even in eval mode."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(64, track_running_stats=False)

    def forward(self, x):
        seq = self.stem(x).permute(0, 3, 1, 2).flatten(2)  # [B, W', 64]
        return self.head(self.norm(seq.transpose(1, 2)).transpose(1, 2))


class MixingHead(InputBatchHead):
    """Attention fed batch-first into a sequence-first layer: it attends across the batch."""

    def __init__(self) -> None:
        super().__init__()
        self.attend = nn.MultiheadAttention(64, 4)  # expects [T, B, D]; given [B, T, D]
        with torch.no_grad():  # a small correction, so the model still reads many characters
            self.attend.out_proj.weight.mul_(0.2)

    def forward(self, x):
        seq = self.stem(x).permute(0, 3, 1, 2).flatten(2)  # [B, W', 64]
        return self.head(seq + self.attend(seq, seq, seq, need_weights=False)[0])


@pytest.mark.parametrize(
    "model", [InputBatchHead, AssertingHead, SkipToHead, SharedActivation, BatchStatisticsHead, MixingHead]
)
@pytest.mark.parametrize("method", ["gradient", "gradcam"])
def test_a_head_that_cannot_be_batched_is_run_the_plain_way(word_image, model, method):
    rec = CTCRecognizer(model().eval(), ALPHABET, 32, cam_layer="stem.act")
    gen = SaliencyGenerator(rec, SaliencyConfig(**RAW))
    together, forwards = _forwards_of_calls(gen, word_image, method)
    _assert_each_character_as_alone(gen, word_image, method, together)
    batched = model is SkipToHead and method == "gradcam"  # the skip is not GradCAM's path
    assert forwards[2] == (2 if batched else 1)


@pytest.mark.parametrize("copies_allowed, forwards", [(3, 1), (100, 2)])
def test_copies_beyond_the_bound_take_the_plain_way(recognizer, word_image, monkeypatch,
                                                    copies_allowed, forwards):
    """A long line with many characters would spend more on copies than it saves."""
    from thulium_desktop.xai import batched_head

    size = recognizer.module.features(recognizer.prepare(word_image).tensor).numel()
    monkeypatch.setattr(batched_head, "COPY_ELEMENTS", copies_allowed * size)
    recognizer.cam_layer()  # found once by a probe forward, before counting
    gen = SaliencyGenerator(recognizer, SaliencyConfig(method="gradcam", **RAW))
    together, counted = _explain_counting(gen, word_image, "gradcam")
    assert counted == forwards
    _assert_each_character_as_alone(gen, word_image, "gradcam", together)


def test_under_autocast_the_head_is_run_the_plain_way_and_judged_not(recognizer, word_image, monkeypatch):
    """bfloat16 rounds the batched way's scores beyond the float32 tolerance: that is
    no verdict on the head's structure, so under autocast the head is not tried (a
    "differed" verdict would be stored, and float32 would lose the shortcut for good)."""
    from thulium_desktop.xai import batched_head

    size = recognizer.module.features(recognizer.prepare(word_image).tensor).numel()
    monkeypatch.setattr(batched_head, "COPY_ELEMENTS", 100 * size)
    recognizer.cam_layer()
    gen = SaliencyGenerator(recognizer, SaliencyConfig(method="gradcam", **RAW))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, counted = _explain_counting(gen, word_image, "gradcam")
    assert counted == 1
    _, counted = _explain_counting(gen, word_image, "gradcam")
    assert counted == 2  # in float32 the first call still tries (and checks) the batched way


@pytest.mark.parametrize("batched_cost, winner", [(10.0, 1), (-10.0, 2)])
def test_the_faster_way_is_kept_once_both_are_timed(recognizer, word_image, monkeypatch,
                                                    batched_cost, winner):
    """The first call takes both ways (its checks untimed), then the plain way (one
    forward) and the batched way (two) are timed in turns, three times each, and the
    faster is kept."""
    from thulium_desktop.xai import batched_head

    recognizer.cam_layer()  # found once by a probe forward, before counting
    calls: list[int] = []
    recognizer.module.register_forward_pre_hook(lambda *_: calls.append(1))
    # A clock on which every forward inside the timed part (the batched head pass) costs
    # `batched_cost` seconds and nothing else takes time.
    monkeypatch.setattr(batched_head, "synced_now", lambda _like: batched_cost * len(calls))
    gen = SaliencyGenerator(recognizer, SaliencyConfig(method="gradcam", **RAW))
    assert _forwards_per_call(gen, word_image, calls, 9) == [2] + [1, 2] * 3 + [winner] * 2
    # A line twice as wide (twice the characters) is another size class: timed afresh.
    line = np.hstack([word_image, word_image])
    assert _forwards_per_call(gen, line, calls, 7) == [1, 2] * 3 + [winner]


def _forwards_per_call(gen, image, calls, n):
    seen = []
    for _ in range(n):
        before = len(calls)
        gen.explain(image)
        seen.append(len(calls) - before)
    return seen


@pytest.mark.parametrize("method", ["gradient", "gradcam"])
def test_a_caller_without_autograd_gets_the_same_maps(recognizer, word_image, method):
    gen = SaliencyGenerator(recognizer, SaliencyConfig(method=method, **RAW))
    expected = gen.explain(word_image).maps
    for _ in range(7):  # both ways timed in turns, then the faster: under no_grad
        with torch.no_grad():
            maps = gen.explain(word_image).maps
        np.testing.assert_allclose(maps, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


class WideOnly(InputBatchHead):
    """Refuses inputs narrower than 200 px, so the probe that finds a GradCAM layer fails."""

    def forward(self, x):
        assert x.shape[-1] >= 200, "too narrow"
        return super().forward(x)


def test_a_model_whose_layer_probe_fails_still_gets_gradients():
    rec = CTCRecognizer(WideOnly().eval(), ALPHABET, 32)
    image = np.full((32, 240), 255, np.uint8)
    image[8:24, 20:220:9] = 0
    exp = SaliencyGenerator(rec, SaliencyConfig(method="gradient", **RAW)).explain(image)
    assert exp.maps.shape == (len(exp.tokens), 32, 240) and np.abs(exp.maps).max() > 0


class NormalisedHead(InputBatchHead):
    """A batch-agnostic head with a BatchNorm: in training mode it couples the copies."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(64)

    def forward(self, x):
        seq = self.stem(x).permute(0, 3, 1, 2).flatten(2)  # [B, W', 64]
        return self.head(self.norm(seq.transpose(1, 2)).transpose(1, 2))


def test_a_head_in_training_mode_is_run_the_plain_way(word_image):
    rec = TrainModeScoring(NormalisedHead(), ALPHABET, 32, cam_layer="stem.act")
    gen = SaliencyGenerator(rec, SaliencyConfig(method="gradcam", **RAW))
    together, _ = _explain_counting(gen, word_image, "gradcam")
    _assert_each_character_as_alone(gen, word_image, "gradcam", together)
    _, forwards = _explain_counting(gen, word_image, "gradcam", reading=together.reading)
    assert forwards == 1
