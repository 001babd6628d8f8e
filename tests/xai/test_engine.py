"""The engine's own guarantees: exactness, batching, determinism, progress, cancel, hygiene."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from thulium_desktop.models import CTCRecognizer
from thulium_desktop.xai.saliency import (
    METHODS,
    Cancelled,
    Contrast,
    SaliencyConfig,
    SaliencyGenerator,
)
from tiny_models import ALPHABET, LinearCTC, tiny_crnn

RAW = dict(absolute=False, normalize=False)


def test_integrated_gradients_are_complete_per_character(recognizer64, word_image):
    """Σ attr_t = s_t(x) − s_t(x′) within 1e-3 of the gap (Gauss-Legendre, 64 points, float64)."""
    cfg = SaliencyConfig(method="integrated", num_steps=64, baseline="zeros", **RAW)
    gen = SaliencyGenerator(recognizer64, cfg)
    exp = gen.explain(word_image)
    x = recognizer64.prepare(word_image).tensor
    ends = recognizer64.token_scores(torch.cat([x, torch.zeros_like(x)]), exp.reading).detach()
    gap = (ends[0] - ends[1]).numpy()
    assert len(exp.deltas) == len(exp.reading) >= 8
    np.testing.assert_allclose(exp.maps.reshape(len(gap), -1).sum(1), gap, rtol=1e-3)
    assert np.all(np.abs(exp.deltas) <= 1e-3 * np.abs(gap))


def test_few_integration_points_leave_a_visible_delta(recognizer64, word_image):
    """The delta is a real accuracy readout: it shrinks as points are added."""
    def worst(n):
        cfg = SaliencyConfig(method="integrated", num_steps=n, integration="riemann_right", **RAW)
        return np.abs(SaliencyGenerator(recognizer64, cfg).explain(word_image).deltas).max()

    assert worst(2) > 10 * worst(64)


@pytest.mark.parametrize("method", ["gradient", "integrated", "smoothgrad", "vargrad", "gradcam", "attention"])
def test_all_characters_at_once_equal_one_character_at_a_time(recognizer, word_image, method):
    cfg = SaliencyConfig(method=method, num_steps=8, num_samples=4, **RAW)
    gen = SaliencyGenerator(recognizer, cfg)
    together = gen.explain(word_image)
    for t in (0, 3, len(together.tokens) - 1):
        alone = gen.explain(word_image, tokens=[t])
        np.testing.assert_allclose(together.maps[t], alone.maps[0], rtol=1e-4, atol=1e-6)
        assert alone.tokens == (together.reading.tokens[t],)


def test_batched_backward_equals_the_retained_graph_loop(recognizer, word_image):
    cfg = SaliencyConfig(method="integrated", num_steps=6, **RAW)
    batched = SaliencyGenerator(recognizer, cfg)
    looped = SaliencyGenerator(recognizer, cfg)
    looped._vjp.batched_ok = False
    a, b = batched.explain(word_image), looped.explain(word_image)
    assert batched._vjp.batched_ok
    np.testing.assert_allclose(a.maps, b.maps, rtol=1e-4, atol=1e-6)


def test_whole_reading_is_the_sum_of_the_characters(recognizer, word_image):
    gen = SaliencyGenerator(recognizer, SaliencyConfig(method="gradient", **RAW))
    per_char = gen.explain(word_image)
    whole = gen.explain(word_image, tokens=None)
    assert whole.whole_reading and whole.tokens == (per_char.reading.text,)
    np.testing.assert_allclose(whole.maps[0], per_char.maps.sum(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gen.compute_gradient_saliency(word_image), whole.maps[0])


def test_linear_model_has_the_analytic_gradient_and_integrated_gradients(word_image):
    module = LinearCTC().double()
    rec = CTCRecognizer(module, ALPHABET, 32)
    x = rec.prepare(word_image).tensor
    reading = rec.read(x)
    assert len(reading) >= 3
    w = module.conv.weight.detach()[:, 0]  # [K, 32, 4]
    expected = torch.zeros(len(reading), *x.shape[-2:], dtype=x.dtype)
    for t, ((start, stop), cls) in enumerate(zip(reading.spans, reading.labels)):
        for f in range(start, stop):
            expected[t, :, 4 * f : 4 * f + 4] = w[cls]
    grad = SaliencyGenerator(rec, SaliencyConfig(method="gradient", score="logit", **RAW)).explain(word_image)
    np.testing.assert_allclose(grad.maps, expected.numpy(), atol=1e-9)
    cfg = SaliencyConfig(method="integrated", num_steps=3, score="logit", baseline="white", **RAW)
    ig = SaliencyGenerator(rec, cfg).explain(word_image)
    np.testing.assert_allclose(ig.maps, (expected * (x[0] - 1.0)).numpy(), atol=1e-9)
    np.testing.assert_allclose(ig.deltas, 0.0, atol=1e-9)


def test_same_seed_same_smoothgrad_other_seed_other_map(recognizer, word_image):
    def run(seed):
        cfg = SaliencyConfig(method="smoothgrad", num_samples=5, seed=seed)
        return SaliencyGenerator(recognizer, cfg).explain(word_image).maps

    first, again, other = run(3), run(3), run(4)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_smoothgrad_variants_relate_as_defined(recognizer, word_image):
    """VarGrad = SmoothGrad² − SmoothGrad², all from the same noisy copies."""
    def run(method):
        cfg = SaliencyConfig(method=method, num_samples=5, seed=2, **RAW)
        return SaliencyGenerator(recognizer, cfg).explain(word_image, tokens=[1]).maps[0]

    mean, sq, var = run("smoothgrad"), run("smoothgrad_sq"), run("vargrad")
    assert (sq >= 0).all() and (var >= -1e-6).all()
    np.testing.assert_allclose(var, sq - mean**2, rtol=1e-3, atol=1e-6)


def test_streaming_partials_refine_towards_the_final_map(recognizer, word_image):
    partials = []
    cfg = SaliencyConfig(method="integrated", num_steps=20, tolerance=0.0, batch_size=5)  # fixed steps
    gen = SaliencyGenerator(recognizer, cfg)
    final = gen.explain(word_image, on_partial=lambda m, d, n: partials.append((m.copy(), d, n)))
    assert [(d, n) for _, d, n in partials] == [(5, 20), (10, 20), (15, 20)]
    assert partials[0][0].shape == final.maps.shape
    errors = [np.abs(m - final.maps).mean() for m, _, _ in partials]
    assert errors[-1] < errors[0]


def test_cancel_raises_within_one_chunk(recognizer, word_image):
    polls, partials = [], []

    def cancel():
        polls.append(1)
        return len(polls) >= 3

    gen = SaliencyGenerator(recognizer, SaliencyConfig(method="smoothgrad", num_samples=40, batch_size=4))
    with pytest.raises(Cancelled):
        gen.explain(word_image, on_partial=lambda *a: partials.append(a[1]), cancel=cancel)
    assert partials == [4, 8]  # two chunks ran, the third never started


def test_the_users_module_is_left_untouched(word_image):
    module = tiny_crnn(seed=3)
    module.train()
    module.features[4].eval()  # a mixed state must come back exactly
    modes = [m.training for m in module.modules()]
    before = {k: v.clone() for k, v in module.state_dict().items()}
    rec = CTCRecognizer(module, ALPHABET, 32)
    for method in METHODS:
        SaliencyGenerator(rec, SaliencyConfig(method=method, num_steps=4, num_samples=3)).explain(word_image)
    assert [m.training for m in module.modules()] == modes
    assert all(p.grad is None for p in module.parameters())
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert all(not m._forward_hooks for m in module.modules())


def test_hooks_are_removed_when_a_computation_fails(word_image):
    module = tiny_crnn(seed=3)
    rec = CTCRecognizer(module, ALPHABET, 32)
    gen = SaliencyGenerator(rec, SaliencyConfig(method="gradcam"))
    gen.explain(word_image)  # resolves the default layer while the model works

    def explode(*_):
        raise RuntimeError("boom inside the model")

    handle = module.head.register_forward_hook(explode)
    with pytest.raises(RuntimeError, match="boom"):
        gen.explain(word_image)
    handle.remove()
    assert all(not m._forward_hooks for m in module.modules())
    assert all(p.grad is None for p in module.parameters())


def test_gradcam_on_a_sequence_layer(recognizer, word_image):
    cfg = SaliencyConfig(method="gradcam", layer="rnn")
    exp = SaliencyGenerator(recognizer, cfg).explain(word_image)
    assert exp.maps.shape == (len(exp.reading), *word_image.shape)
    assert (exp.maps >= 0).all() and np.isfinite(exp.maps).all()
    # a column profile: every row of the map is the same
    np.testing.assert_allclose(exp.maps[:, 0], exp.maps[:, -1], atol=1e-6)


def test_gradcam_layer_by_name_equals_by_module(recognizer, word_image):
    by_name = SaliencyGenerator(recognizer, SaliencyConfig(method="gradcam", layer="features.5"))
    by_module = SaliencyGenerator(recognizer, SaliencyConfig(method="gradcam", layer=recognizer.module.features[5]))
    np.testing.assert_array_equal(by_name.explain(word_image).maps, by_module.explain(word_image).maps)
    with pytest.raises(ValueError, match="no layer named 'features.99'"):
        SaliencyGenerator(recognizer, SaliencyConfig(method="gradcam", layer="features.99")).explain(word_image)


@pytest.mark.parametrize("baseline", ["zeros", "white", "blur"])
def test_named_baselines_give_complete_attributions(recognizer64, word_image, baseline):
    cfg = SaliencyConfig(method="integrated", num_steps=32, baseline=baseline, **RAW)
    exp = SaliencyGenerator(recognizer64, cfg).explain(word_image, tokens=[0, 5])
    assert exp.deltas.shape == (2,) and np.all(np.abs(exp.deltas) < 1e-4)


def test_array_baseline_equal_to_the_image_gives_zero_attribution(recognizer64, word_image):
    cfg = SaliencyConfig(method="integrated", num_steps=4, baseline=word_image.copy(), **RAW)
    with pytest.warns(UserWarning, match="all zero"):
        exp = SaliencyGenerator(recognizer64, cfg).explain(word_image, tokens=[0])
    assert np.count_nonzero(exp.maps) == 0


def test_normalize_and_absolute(recognizer, word_image):
    gen = SaliencyGenerator(recognizer)
    unsigned = gen.explain(word_image, config=SaliencyConfig(method="gradient"))
    signed = gen.explain(word_image, config=SaliencyConfig(method="gradient", absolute=False))
    assert not unsigned.signed and signed.signed
    assert unsigned.maps.min() >= 0 and np.allclose(unsigned.maps.max(axis=(1, 2)), 1.0)
    assert signed.maps.min() < 0 and np.allclose(np.abs(signed.maps).max(axis=(1, 2)), 1.0)
    ratio = np.abs(signed.maps).max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(np.abs(signed.maps) / ratio, unsigned.maps, atol=1e-6)


def test_constant_image_gives_finite_maps_and_a_warning(recognizer):
    blank = np.full((32, 120), 255, np.uint8)
    gen = SaliencyGenerator(recognizer, SaliencyConfig(method="smoothgrad", num_samples=3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exp = gen.explain(blank)
    assert np.isfinite(exp.maps).all()
    assert any("constant" in str(w.message) for w in caught)


def test_maps_come_back_in_the_original_image_pixels(recognizer):
    from word_images import render_word

    tall = render_word("minimum", height=57)
    for method in ("gradient", "gradcam", "attention"):
        exp = SaliencyGenerator(recognizer, SaliencyConfig(method=method)).explain(tall)
        assert exp.maps.shape == (len(exp.reading), *tall.shape)
        assert exp.maps.dtype == np.float32


def test_image_kinds_are_accepted(recognizer, word_image):
    gen = SaliencyGenerator(recognizer, SaliencyConfig(method="gradient"))
    reference = gen.explain(word_image).maps
    bgr = np.repeat(word_image[:, :, None], 3, axis=2)
    bgra = np.dstack([bgr, np.full(word_image.shape, 255, np.uint8)])
    wide = word_image.astype(np.uint16) * 257
    unit = word_image.astype(np.float32) / 255
    tensor = torch.from_numpy(unit)[None, None]
    for image in (bgr, bgra, wide, unit, tensor):
        np.testing.assert_allclose(gen.explain(image).maps, reference, atol=1e-5)


def test_explanation_records_what_made_it(recognizer, word_image):
    cfg = SaliencyConfig(method="smoothgrad", num_samples=3, noise_level=0.2, seed=9)
    exp = SaliencyGenerator(recognizer, cfg).explain(word_image)
    assert exp.method == "smoothgrad" and exp.model == "tiny-crnn"
    assert exp.params["num_samples"] == 3 and exp.params["noise_level"] == 0.2
    assert exp.seed == 9 and exp.device == "cpu"
    assert exp.timings.total_s > 0
    np.testing.assert_allclose(exp.confidences, exp.reading.confidences)


def test_token_selection_errors(recognizer, word_image):
    gen = SaliencyGenerator(recognizer)
    with pytest.raises(ValueError, match="out of range"):
        gen.explain(word_image, tokens=[99])
    with pytest.raises(ValueError, match="tokens must be"):
        gen.explain(word_image, tokens="first")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="lime"), "method must be one of"),
        (dict(num_steps=0), "num_steps must be a positive integer"),
        (dict(num_steps=2.5), "num_steps must be a positive integer"),
        (dict(num_samples=-1), "num_samples"),
        (dict(noise_level=-0.1), "noise_level must be finite"),
        (dict(noise_level=float("nan")), "noise_level must be finite"),
        (dict(absolute="yes"), "absolute must be True or False"),
        (dict(normalize=1), "normalize must be True or False"),
        (dict(baseline="grey"), "baseline must be one of"),
        (dict(baseline=3), "baseline must be None"),
        (dict(integration="simpson"), "integration must be one of"),
        (dict(integration="riemann_trapezoid", num_steps=1), "needs num_steps >= 2"),
        (dict(batch_size=0), "batch_size"),
        (dict(seed="x"), "seed must be an int"),
        (dict(layer=3), "layer must be"),
        (dict(score="loss"), "score must be one of"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SaliencyConfig(**kwargs)


def test_contrastive_map_is_the_difference_of_the_two_characters_maps(recognizer64, word_image):
    gen = SaliencyGenerator(recognizer64, SaliencyConfig(method="gradient", **RAW))
    reading = gen.read(word_image)
    t = 2
    other = "q" if reading.tokens[t] != "q" else "z"
    contrast = gen.explain_contrast(word_image, t, other)
    assert contrast.signed and contrast.contrast == Contrast(t, reading.tokens[t], other)
    alt = type(reading)(
        tokens=reading.tokens[:t] + (other,) + reading.tokens[t + 1 :],
        labels=reading.labels[:t] + (recognizer64.label_of(other),) + reading.labels[t + 1 :],
        confidences=reading.confidences, spans=reading.spans, n_frames=reading.n_frames,
    )
    read_map = gen.explain(word_image, tokens=[t]).maps[0]
    alt_map = gen.explain(word_image, tokens=[t], reading=alt).maps[0]
    np.testing.assert_allclose(contrast.maps[0], read_map - alt_map, atol=1e-9)
    assert contrast.scores[0] == pytest.approx(
        float(recognizer64.token_scores(recognizer64.prepare(word_image).tensor, reading)[0, t])
        - float(recognizer64.token_scores(recognizer64.prepare(word_image).tensor, alt)[0, t])
    )


def test_contrast_needs_a_known_character_and_a_gradient_method(recognizer, word_image):
    gen = SaliencyGenerator(recognizer)
    with pytest.raises(ValueError, match="not in the model's alphabet"):
        gen.explain_contrast(word_image, 0, "Ä")
    with pytest.raises(ValueError, match="gradient method"):
        gen.explain_contrast(word_image, 0, "a", method="attention")
    with pytest.raises(ValueError, match="out of range"):
        gen.explain_contrast(word_image, 99, "a")


@pytest.mark.parametrize("method", ["gradient", "gradcam"])
def test_one_pass_methods_read_and_score_in_a_single_forward(recognizer, word_image, method, monkeypatch):
    """No separate read: one forward reads and scores, and one more runs the head on a
    copy of the split layer's output per character (`batched_head.py`)."""
    recognizer.cam_layer()  # found once by a probe forward, before counting
    calls = []
    handle = recognizer.module.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        gen = SaliencyGenerator(recognizer, SaliencyConfig(method=method))
        with monkeypatch.context() as patch:
            patch.setattr(type(recognizer), "read", lambda *_: pytest.fail("read separately"))
            fresh = gen.explain(word_image)
        assert len(calls) == 2
        known = gen.explain(word_image, reading=fresh.reading)
    finally:
        handle.remove()
    assert (fresh.reading.text, fresh.reading.spans) == (known.reading.text, known.reading.spans)
    np.testing.assert_allclose(fresh.maps, known.maps, atol=1e-6)
    np.testing.assert_allclose(fresh.scores, known.scores, rtol=1e-6)


def test_parameters_are_described_in_words():
    assert SaliencyConfig(method="gradcam").describe()["layer"] == "default"
    assert SaliencyConfig(method="integrated").describe()["baseline"] == "white"
    assert SaliencyConfig(method="integrated", baseline=None).describe()["baseline"] == "zeros"
    assert SaliencyConfig(method="integrated", baseline=np.ones((2, 2))).describe()["baseline"] == "array"
    assert "num_steps" not in SaliencyConfig(method="gradient").describe()


def test_a_strip_no_model_reads_is_refused_before_any_map_is_computed(recognizer):
    """A 1x50000 image scaled to the model's height would be 1.6 million pixels wide
    (issue 26: 13 GB and still running at 5 minutes)."""
    strip = np.full((1, 50000), 200, np.uint8)
    gen = SaliencyGenerator(recognizer, SaliencyConfig(method="integrated"))
    for call in (gen.read, gen.explain):
        with pytest.raises(ValueError, match=r"more than 400 times as wide as high: crop it or split it into lines"):
            call(strip)
    line = np.full((32, 32 * 300), 255, np.uint8)  # a long but real line is read
    assert gen.read(line) is not None


def test_progress_within_the_image_counts_backward_chunks_as_planned(recognizer, word_image):
    """`on_progress(done, total)`: one pass for the gradient; a chunk per batch of path
    points, with the chunks adaptive integrated gradients adds counted as it plans them."""
    gen = SaliencyGenerator(recognizer)
    seen: list[tuple[int, int]] = []
    gen.explain(word_image, method="gradient", on_progress=lambda *p: seen.append(p))
    assert seen == [(1, 1)]
    seen.clear()
    fixed = SaliencyConfig(method="integrated", num_steps=8, batch_size=2, tolerance=0.0)
    gen.explain(word_image, config=fixed, on_progress=lambda *p: seen.append(p))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    seen.clear()
    adaptive = SaliencyConfig(method="integrated", num_steps=2, batch_size=2, tolerance=1e-6)
    exp = gen.explain(word_image, config=adaptive, on_progress=lambda *p: seen.append(p))
    done = [d for d, _ in seen]
    assert done == list(range(1, len(seen) + 1)) and all(d <= t for d, t in seen)
    assert seen[-1][0] == seen[-1][1] > 1 and int(exp.steps.max()) > 2, "the added chunks are counted"
