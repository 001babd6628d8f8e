"""The gradient methods' BatchNorm-folded copy: the same maps, the user's module untouched,
and never stale after the module changes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_models import ALPHABET, TrainModeScoring, tiny_crnn
from torch import nn

from thulium_desktop.models import CTCRecognizer, load_model
from thulium_desktop.xai.folding import fold_batchnorm, foldable_pairs
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator

RAW = dict(tolerance=0.0, absolute=False, normalize=False, num_steps=8, num_samples=4)
#: The folded copy serves the many-pass methods.
IG = dict(method="integrated", **RAW)


def _with_running_statistics(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm statistics and an affine map far from the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g))
                m.running_var.copy_(torch.rand(n, generator=g) * 3 + 0.2)
                m.weight.copy_(torch.randn(n, generator=g))
                m.bias.copy_(torch.randn(n, generator=g))
    return module.eval()


def test_folding_keeps_the_function_and_the_names():
    module = _with_running_statistics(tiny_crnn(seed=3).double())
    folded = _with_running_statistics(tiny_crnn(seed=3).double())
    x = torch.rand(2, 1, 32, 40, dtype=torch.float64)
    assert fold_batchnorm(folded) == 1
    assert isinstance(folded.features[4], nn.Identity)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert [n for n, _ in folded.named_modules()] == [n for n, _ in module.named_modules()]
    with torch.no_grad():
        torch.testing.assert_close(folded(x), module(x), rtol=1e-12, atol=1e-12)


def test_only_a_convolution_feeding_its_batchnorm_in_a_plain_sequential_folds():
    class Branching(nn.Sequential):  # a subclass may use the convolution's output elsewhere
        pass

    module = nn.Module()
    module.plain = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    module.subclass = Branching(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    module.apart = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.BatchNorm2d(4))
    module.batch_statistics = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4, track_running_stats=False))
    module.mismatched = nn.Sequential(nn.Conv1d(1, 4, 3), nn.BatchNorm2d(4))
    module.hooked = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    module.hooked[0].register_forward_hook(lambda _m, _i, out: out)
    assert foldable_pairs(module) == [(module.plain, 0)]


def test_folded_maps_equal_the_models_own(word_image):
    rec = CTCRecognizer(_with_running_statistics(tiny_crnn(seed=3)), ALPHABET, 32)
    for method in ("integrated", "smoothgrad", "vargrad"):
        folded = SaliencyGenerator(rec, SaliencyConfig(method=method, **RAW)).explain(word_image)
        plain = SaliencyGenerator(rec, SaliencyConfig(method=method, fold_batchnorm=False, **RAW)).explain(word_image)
        assert folded.folded_batchnorms == 1 and plain.folded_batchnorms == 0
        scale = np.abs(plain.maps).max()
        np.testing.assert_allclose(folded.maps, plain.maps, rtol=0, atol=2e-5 * scale)
    gradient = SaliencyGenerator(rec, SaliencyConfig(method="gradient", **RAW)).explain(word_image)
    assert gradient.folded_batchnorms == 0  # one pass: the copy would not pay


def test_bundled_reader_maps_are_unchanged_by_the_fold():
    rec = load_model("ctc-reader")
    image = np.full((32, 120), 255, np.uint8)
    image[8:24, 20:100:6] = 30  # strokes the reader reads as something
    cfg = SaliencyConfig(method="integrated", **RAW)
    folded = SaliencyGenerator(rec, cfg).explain(image)
    plain = SaliencyGenerator(rec, SaliencyConfig(**{**RAW, "method": "integrated", "fold_batchnorm": False})).explain(image)
    assert folded.folded_batchnorms == 6
    assert folded.reading.tokens == plain.reading.tokens
    np.testing.assert_allclose(folded.maps, plain.maps, rtol=0, atol=1e-5 * np.abs(plain.maps).max())


def test_gradcam_runs_on_the_unfolded_model(word_image):
    """A fold would change what a convolution outputs, so GradCAM at that convolution
    must see the model as it is."""
    rec = CTCRecognizer(_with_running_statistics(tiny_crnn(seed=3)), ALPHABET, 32)
    cfg = SaliencyConfig(method="gradcam", layer="features.3", **RAW)
    folded = SaliencyGenerator(rec, cfg).explain(word_image)
    plain = SaliencyGenerator(rec, SaliencyConfig(**{**RAW, "method": "gradcam", "layer": "features.3",
                                                     "fold_batchnorm": False})).explain(word_image)
    np.testing.assert_array_equal(folded.maps, plain.maps)
    assert folded.folded_batchnorms == 0


def test_the_users_module_keeps_its_batchnorm(word_image):
    module = _with_running_statistics(tiny_crnn(seed=3))
    before = {k: v.clone() for k, v in module.state_dict().items()}
    gen = SaliencyGenerator(CTCRecognizer(module, ALPHABET, 32), SaliencyConfig(**IG))
    gen.explain(word_image)
    assert isinstance(module.features[4], nn.BatchNorm2d)
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert gen.network() is not gen.model and gen.network().module is not module


def _assert_same_maps_in_float64(got: np.ndarray, expected: np.ndarray) -> None:
    """Maps of a float64 model, folded copy against the model itself.

    Why float64: in float32 the fold's rounding (~1e-7 relative) can break a near-tie
    differently from the model's, e.g. which of two max-pool inputs 1 ulp apart wins at
    a low-contrast integration point; the gradient then flows through another pixel
    and the maps differ by far more than rounding (measured: 3e-4 of the peak, with
    oneDNN limited to AVX2 via ONEDNN_MAX_CPU_ISA; none with AVX-512), and no
    tolerance derived from float32 bounds that. In float64 the two computations
    differ by ~1e-15 relative, far below a float32 near-tie's gap, and the engine
    hands back float32 maps: each value may differ by one rounding to float32 (at
    most one float32 epsilon of the peak), so 4 epsilons leave room and stay ~5
    orders of magnitude below what a stale copy would give (a changed reading, or
    maps moved by over 0.2 of their peak)."""
    assert got.shape == expected.shape
    atol = 4 * np.finfo(np.float32).eps * np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol)


class Scaled(nn.Module):
    """An activation with a plain Python setting (no tensor of its own)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return torch.relu(x) * self.scale


@pytest.mark.parametrize(
    "change", ["in place", "through .data", "new parameter", "hook", "swapped activation", "eps", "setting"]
)
def test_a_changed_module_is_explained_as_it_is_now(word_image, change):
    module = _with_running_statistics(tiny_crnn(seed=3).double())  # see _assert_same_maps_in_float64
    module.features[8] = Scaled(1.0)
    rec = CTCRecognizer(module, ALPHABET, 32)
    gen = SaliencyGenerator(rec, SaliencyConfig(**IG))
    first = gen.explain(word_image).maps
    norm = module.features[4]
    if change == "in place":
        with torch.no_grad():
            norm.running_mean.add_(0.5)
    elif change == "through .data":
        norm.weight.data.mul_(1.5)
    elif change == "new parameter":
        module.features[3].weight = nn.Parameter(module.features[3].weight.detach() * 1.5)
    elif change == "hook":
        module.features[3].register_forward_hook(lambda _m, _i, out: out * 1.5)
    elif change == "swapped activation":
        module.features[5] = nn.Tanh()  # no tensors of its own
    elif change == "eps":
        norm.eps = 0.5
    else:
        module.features[8].scale = 3.0
    explained = gen.explain(word_image)
    assert explained.folded_batchnorms == (0 if change == "hook" else 1)  # the copy served it
    now = explained.maps
    fresh = SaliencyGenerator(rec, SaliencyConfig(**IG, fold_batchnorm=False)).explain(word_image).maps
    assert now.shape != first.shape or not np.allclose(now, first)
    _assert_same_maps_in_float64(now, fresh)


def test_an_unchanged_module_is_folded_once(word_image):
    gen = SaliencyGenerator(CTCRecognizer(_with_running_statistics(tiny_crnn(seed=3)), ALPHABET, 32),
                            SaliencyConfig(**IG))
    gen.explain(word_image)
    copy = gen.network()
    gen.explain(word_image)
    assert gen.network() is copy


def test_another_model_or_alphabet_is_explained_as_it_is_now(word_image):
    # float64 for the same reason as above: folded and plain maps are compared
    rec = CTCRecognizer(_with_running_statistics(tiny_crnn(seed=3).double()), ALPHABET, 32)
    gen = SaliencyGenerator(rec, SaliencyConfig(**IG))
    gen.explain(word_image)
    rec.alphabet = ALPHABET[::-1]
    assert gen.explain(word_image).tokens == rec.read(rec.prepare(word_image).tensor).tokens
    other = CTCRecognizer(_with_running_statistics(tiny_crnn(seed=4).double(), seed=1), ALPHABET, 32)
    gen.model = other
    expected = SaliencyGenerator(other, SaliencyConfig(**IG, fold_batchnorm=False)).explain(word_image)
    now = gen.explain(word_image)
    assert now.tokens == expected.tokens
    assert now.folded_batchnorms == 1
    _assert_same_maps_in_float64(now.maps, expected.maps)


class TappedConvolution(nn.Module):
    """Walks its Sequential by hand and keeps a convolution's raw output (a skip)."""

    def __init__(self) -> None:
        super().__init__()
        self.crnn = tiny_crnn(seed=3)

    def forward(self, x):
        tap = None
        for i, layer in enumerate(self.crnn.features):
            x = layer(x)
            if i == 3:
                tap = x
        x = x + 0.5 * nn.functional.adaptive_avg_pool2d(tap, x.shape[-2:])
        b, c, h, w = x.shape
        seq, _ = self.crnn.rnn(x.permute(0, 3, 1, 2).reshape(b, w, c * h))
        return self.crnn.head(seq)


def test_a_copy_that_scores_otherwise_is_not_used(word_image):
    module = TappedConvolution()
    _with_running_statistics(module)
    rec = CTCRecognizer(module, ALPHABET, 32)
    assert foldable_pairs(module)  # it looks foldable ...
    folded = SaliencyGenerator(rec, SaliencyConfig(**IG)).explain(word_image)
    plain = SaliencyGenerator(rec, SaliencyConfig(**IG, fold_batchnorm=False)).explain(word_image)
    assert folded.folded_batchnorms == 0  # ... but the copy's scores gave it away
    np.testing.assert_array_equal(folded.maps, plain.maps)


class Recorder:
    def __init__(self) -> None:
        self.calls = 0

    def hook(self, _module, _inputs, _output) -> None:
        self.calls += 1


def test_a_hooked_module_is_explained_as_it_is_and_its_hooks_report_home(word_image):
    module = _with_running_statistics(tiny_crnn(seed=3))
    recorder = Recorder()
    module.features[3].register_forward_hook(recorder.hook)
    exp = SaliencyGenerator(CTCRecognizer(module, ALPHABET, 32), SaliencyConfig(**IG)).explain(word_image)
    assert exp.folded_batchnorms == 0
    assert recorder.calls >= 1


def test_a_scoring_in_training_mode_is_not_folded(word_image):
    """A plugin may score with BatchNorm on batch statistics: the fold would change that."""

    rec = TrainModeScoring(_with_running_statistics(tiny_crnn(seed=3)), ALPHABET, 32)
    folded = SaliencyGenerator(rec, SaliencyConfig(**IG)).explain(word_image)
    plain = SaliencyGenerator(rec, SaliencyConfig(**IG, fold_batchnorm=False)).explain(word_image)
    assert folded.folded_batchnorms == 0
    np.testing.assert_allclose(folded.maps, plain.maps, rtol=0, atol=1e-6 * np.abs(plain.maps).max())


def test_a_model_with_nothing_to_fold_is_not_copied_nor_summed(word_image, monkeypatch):
    from thulium_desktop.xai import folding

    module = tiny_crnn(seed=3)
    module.features[4] = nn.Identity()  # no BatchNorm left
    monkeypatch.setattr(folding, "_tensor_key", lambda _m: pytest.fail("summed a model that cannot fold"))
    gen = SaliencyGenerator(CTCRecognizer(module, ALPHABET, 32), SaliencyConfig(**IG))
    assert gen.explain(word_image).folded_batchnorms == 0
    assert gen.network() is gen.model


def test_a_nan_in_a_buffer_does_not_rebuild_the_copy(word_image):
    module = _with_running_statistics(tiny_crnn(seed=3))
    module.register_buffer("unused", torch.tensor([float("nan")]))
    gen = SaliencyGenerator(CTCRecognizer(module, ALPHABET, 32), SaliencyConfig(**IG))
    gen.explain(word_image)
    copy = gen.network()
    gen.explain(word_image)
    assert copy is not gen.model and gen.network() is copy


def test_a_copy_no_longer_used_is_freed(word_image):
    import gc
    import weakref

    module = _with_running_statistics(tiny_crnn(seed=3))
    gen = SaliencyGenerator(CTCRecognizer(module, ALPHABET, 32), SaliencyConfig(**IG))
    gen.explain(word_image)
    old = weakref.ref(gen.network())
    with torch.no_grad():
        module.features[4].running_mean.add_(0.1)  # a new copy on the next call
    gen.explain(word_image)
    module.features[3].register_forward_hook(lambda *_: None)  # a hooked module: no copy at all
    gen.explain(word_image)
    gc.collect()
    assert old() is None and gen.network() is gen.model


def test_a_recognizer_that_cannot_be_copied_is_explained_as_it_is(word_image):
    import threading

    rec = CTCRecognizer(_with_running_statistics(tiny_crnn(seed=3)), ALPHABET, 32)
    rec.lock = threading.Lock()  # deepcopy refuses locks
    gen = SaliencyGenerator(rec, SaliencyConfig(**IG))
    folded = gen.explain(word_image)
    plain = SaliencyGenerator(rec, SaliencyConfig(**IG, fold_batchnorm=False)).explain(word_image)
    assert folded.folded_batchnorms == 0 and gen.network() is rec
    np.testing.assert_array_equal(folded.maps, plain.maps)
