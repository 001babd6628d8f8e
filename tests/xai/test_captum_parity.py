"""Every gradient method agrees with Captum, character by character, to 1e-5."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Saliency

from thulium_desktop.xai.perturb import smoothgrad_noise
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator

RAW = dict(absolute=False, normalize=False)


def _char_score(rec, reading, t):
    return lambda inp: rec.token_scores(inp, reading)[:, t]


@pytest.fixture
def setup(recognizer64, word_image):
    x = recognizer64.prepare(word_image).tensor
    reading = recognizer64.read(x)
    assert len(reading) >= 8
    return recognizer64, x, reading


def test_gradient_matches_captum_saliency(setup, word_image):
    rec, x, reading = setup
    ours = SaliencyGenerator(rec, SaliencyConfig(method="gradient", **RAW)).explain(word_image)
    for t in range(len(reading)):
        theirs = Saliency(_char_score(rec, reading, t)).attribute(x.clone(), abs=False)
        np.testing.assert_allclose(ours.maps[t], theirs[0, 0].numpy(), atol=1e-5)


@pytest.mark.parametrize("rule", ["gausslegendre", "riemann_right", "riemann_middle"])
def test_integrated_gradients_match_captum(setup, word_image, rule):
    rec, x, reading = setup
    cfg = SaliencyConfig(method="integrated", num_steps=16, integration=rule, baseline="zeros", **RAW)
    ours = SaliencyGenerator(rec, cfg).explain(word_image)
    for t in (0, len(reading) // 2, len(reading) - 1):
        ig = IntegratedGradients(_char_score(rec, reading, t))
        theirs = ig.attribute(x.clone(), baselines=torch.zeros_like(x), n_steps=16, method=rule)
        np.testing.assert_allclose(ours.maps[t], theirs[0, 0].numpy(), atol=1e-5)


def test_trapezoid_differs_from_captum_only_by_its_weight_sum(setup, word_image):
    """Captum's trapezoid weights sum to (n-1)/n; ours sum to 1 (REFERENCES.md)."""
    rec, x, reading = setup
    n = 10
    cfg = SaliencyConfig(method="integrated", num_steps=n, integration="riemann_trapezoid", baseline="zeros", **RAW)
    ours = SaliencyGenerator(rec, cfg).explain(word_image, tokens=[1])
    ig = IntegratedGradients(_char_score(rec, reading, 1))
    theirs = ig.attribute(x.clone(), baselines=torch.zeros_like(x), n_steps=n, method="riemann_trapezoid")
    np.testing.assert_allclose(ours.maps[0] * (n - 1) / n, theirs[0, 0].numpy(), atol=1e-5)
    assert not np.allclose(ours.maps[0], theirs[0, 0].numpy(), atol=1e-5)


def test_smoothgrad_is_the_mean_of_captum_saliency_over_the_same_noise(setup, word_image):
    rec, x, reading = setup
    cfg = SaliencyConfig(method="smoothgrad", num_samples=6, noise_level=0.15, seed=7, **RAW)
    ours = SaliencyGenerator(rec, cfg).explain(word_image)
    noise = smoothgrad_noise(x, 6, 0.15, 7)
    for t in (0, len(reading) - 1):
        sal = Saliency(_char_score(rec, reading, t))
        maps = [sal.attribute((x + n[None]).clone(), abs=False)[0, 0] for n in noise]
        np.testing.assert_allclose(ours.maps[t], torch.stack(maps).mean(0).numpy(), atol=1e-5)


def test_gradcam_matches_captum_layer_gradcam_with_bilinear_upsampling(setup, word_image):
    rec, x, reading = setup
    layer = rec.cam_layer()
    assert isinstance(layer, torch.nn.GELU)  # the last conv's nonlinearity
    ours = SaliencyGenerator(rec, SaliencyConfig(method="gradcam", **RAW)).explain(word_image)
    for t in range(len(reading)):
        cam = LayerGradCam(_char_score(rec, reading, t), layer).attribute(x.clone(), relu_attributions=True)
        up = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), "bilinear")
        np.testing.assert_allclose(ours.maps[t], up[0, 0].detach().numpy(), atol=1e-5)
