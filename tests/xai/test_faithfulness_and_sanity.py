"""Deletion/insertion and randomisation checks on models whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from thulium_desktop.models import CTCRecognizer
from thulium_desktop.xai.faithfulness import RANDOM_ORDERS, perturbation_curves
from thulium_desktop.xai.sanity import parameter_layers, randomisation_check, spearman
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator
from tiny_models import ALPHABET, LinearCTC, tiny_crnn


@pytest.fixture
def linear():
    return CTCRecognizer(LinearCTC(), ALPHABET, 32, name="linear")


def test_exact_attributions_delete_faster_than_random(linear, word_image):
    """For a linear model, IG from white paper is each pixel's exact share of the logit."""
    cfg = SaliencyConfig(method="integrated", num_steps=2, baseline="white", score="logit", absolute=False)
    exp = SaliencyGenerator(linear, cfg).explain(word_image)
    positive = np.clip(exp.maps, 0, None)  # pixels whose ink raised the character's logit
    curves = perturbation_curves(linear, word_image, positive, exp.token_indices, exp.reading, steps=10)
    assert curves.scores.shape == (len(exp.reading), 11)
    np.testing.assert_allclose(curves.scores[:, 0], 1.0, rtol=1e-5)
    assert curves.beats_random().mean() >= 0.8


def test_insertion_mirrors_deletion(linear, word_image):
    cfg = SaliencyConfig(method="integrated", num_steps=2, baseline="white", score="logit", absolute=False)
    exp = SaliencyGenerator(linear, cfg).explain(word_image, tokens=[0, 1])
    curves = perturbation_curves(
        linear, word_image, np.clip(exp.maps, 0, None), [0, 1], exp.reading, mode="insertion", steps=8, batch_size=5
    )
    np.testing.assert_allclose(curves.scores[:, -1], 1.0, rtol=1e-5)
    np.testing.assert_allclose(curves.random_scores[..., -1], 1.0, rtol=1e-5)  # every random order
    assert curves.auc.shape == (2,) and np.isfinite(curves.auc).all()


def test_a_random_map_rarely_beats_random(linear, word_image):
    """A map that is itself a random order is no better than chance: outside all eight
    random orders' spread on the better side only about 1 time in 9 (the old rule, below
    one random order, passed about half of them)."""
    exp = SaliencyGenerator(linear, SaliencyConfig(method="gradient")).explain(word_image)
    noise = np.random.default_rng(7).random(exp.maps.shape).astype(np.float32)
    curves = perturbation_curves(linear, word_image, noise, exp.token_indices, exp.reading, steps=10)
    assert curves.orders == RANDOM_ORDERS and curves.random_auc.shape == (len(exp.reading), RANDOM_ORDERS)
    assert curves.random_scores.shape == (len(exp.reading), RANDOM_ORDERS, 11)
    assert curves.beats_random().mean() <= 0.3
    single = curves.auc < curves.random_auc[:, 0]
    assert single.mean() > curves.beats_random().mean()  # one draw is a weaker test than eight


def test_random_orders_are_shared_by_every_character(linear, word_image):
    """A random order does not depend on the character: each of its images is scored once
    for all characters, so the cost is (characters + orders) curves."""
    exp = SaliencyGenerator(linear, SaliencyConfig(method="gradient")).explain(word_image, tokens=[0, 1, 2])
    scored: list[int] = []
    score = linear.token_scores

    def counting(x, reading, kind="logprob"):
        scored.append(x.shape[0])
        return score(x, reading, kind)

    linear.token_scores = counting
    curves = perturbation_curves(linear, word_image, exp.maps, [0, 1, 2], exp.reading, steps=4, orders=5, batch_size=7)
    assert sum(scored) == 1 + (3 + 5) * 5  # the intact image, then every curve's five steps
    assert max(scored) <= 7
    again = perturbation_curves(linear, word_image, exp.maps, [0, 1, 2], exp.reading, steps=4, orders=5)
    np.testing.assert_array_equal(curves.random_auc, again.random_auc)  # seeded


def test_curve_arguments_are_checked(linear, word_image):
    maps = np.ones((1, *word_image.shape), np.float32)
    with pytest.raises(ValueError, match="mode must be"):
        perturbation_curves(linear, word_image, maps, [0], mode="erase")
    with pytest.raises(ValueError, match="1 maps for 2 characters"):
        perturbation_curves(linear, word_image, maps, [0, 1])
    with pytest.raises(ValueError, match="orders must be positive"):
        perturbation_curves(linear, word_image, maps, [0], orders=0)


class DenseLinearCTC(nn.Module):
    """Every frame's logits depend linearly on every pixel: gradients are the dense weights."""

    def __init__(self, width: int, frames: int = 12) -> None:
        super().__init__()
        torch.manual_seed(2)
        self.frames = frames
        self.proj = nn.Linear(32 * width, frames * (len(ALPHABET) + 1))
        with torch.no_grad():
            self.proj.weight.mul_(300)

    def forward(self, x):
        return self.proj(x.flatten(1)).view(x.shape[0], self.frames, -1)


def test_randomising_a_model_decorrelates_its_gradient(word_image):
    rec = CTCRecognizer(DenseLinearCTC(word_image.shape[1]), ALPHABET, 32)
    before = {k: v.clone() for k, v in rec.module.state_dict().items()}
    result = randomisation_check(rec, word_image, SaliencyConfig(method="gradient", score="logit"))
    assert result.layers == ("proj",)
    assert result.correlations.shape == (1, len(rec.read(rec.prepare(word_image).tensor))) and result.correlations.size >= 3
    assert result.final < 0.3 and not result.flagged
    assert all(torch.equal(before[k], v) for k, v in rec.module.state_dict().items())


class FixedFilter(nn.Module):
    """Logits from a fixed (non-learned) filter, plus a learned bias: maps can't depend on weights."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.register_buffer("filter", torch.randn(len(ALPHABET) + 1, 1, 32, 4) * 40)
        self.bias = nn.Parameter(torch.zeros(len(ALPHABET) + 1))

    def forward(self, x):
        out = nn.functional.conv2d(x, self.filter, stride=(1, 4))[:, :, 0].transpose(1, 2)
        return out + self.bias


def test_a_map_that_ignores_the_weights_is_flagged(word_image):
    rec = CTCRecognizer(FixedFilter(), ALPHABET, 32)
    result = randomisation_check(rec, word_image, SaliencyConfig(method="gradient", score="logit"))
    assert result.flagged and result.final > 0.99


def test_layers_are_listed_top_down():
    assert parameter_layers(tiny_crnn())[:3] == ["head", "rnn", "features.7"]


def test_spearman_matches_definitions():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman(a, a * 10 + 3) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, np.ones(4)) == 0.0
    # ties get average ranks: [1, 1, 2] vs [1, 2, 3] -> ranks [0.5, 0.5, 2] vs [0, 1, 2]
    assert spearman(np.array([1.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0])) == pytest.approx(0.8660254, rel=1e-6)
