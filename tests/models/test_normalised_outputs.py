"""Scores checked at the door (issue 24): a wrapped CTC model whose outputs are already
probabilities or log-probabilities is taken as it is, not log-softmaxed again (which
flattens every confidence towards 1/K), and every explanation says so."""

import warnings

import numpy as np
import pytest
import torch
from random_lines import random_stroke_line
from tiny_models import ALPHABET, tiny_crnn
from torch import nn

from thulium_desktop.models import CTCRecognizer
from thulium_desktop.xai.saliency import MapNote, SaliencyConfig, SaliencyGenerator

class Normalised(nn.Module):
    """The tiny CRNN's logits turned into what some exported models give: probabilities
    (or log-probabilities), time-major `[T, B, K]`."""

    def __init__(self, log: bool) -> None:
        super().__init__()
        self.inner = _network()
        self.log = log

    def forward(self, x):
        logits = self.inner(x).transpose(0, 1)
        return logits.log_softmax(-1) if self.log else logits.softmax(-1)


def _network() -> nn.Module:
    """A tiny CRNN sure enough of five characters of `image` (confidences 0.2-0.4), so
    confidences re-normalised towards 1/K (under 0.1) cannot pass for them."""
    model = tiny_crnn(seed=2)
    with torch.no_grad():
        model.head.weight.mul_(4.0)
    return model


@pytest.fixture(scope="module")
def image():
    return random_stroke_line()


@pytest.fixture(scope="module")
def reference():
    """The same network giving logits: what the normalised ones must read and score alike."""
    return CTCRecognizer(_network(), ALPHABET, height=32)


def _normalised(log: bool) -> CTCRecognizer:
    return CTCRecognizer(Normalised(log), ALPHABET, height=32, time_major=True)


@pytest.mark.parametrize("log, kind", [(False, "probabilities"), (True, "log-probabilities")])
def test_normalised_outputs_give_the_models_own_confidences(reference, image, log, kind):
    recognizer = _normalised(log)
    ours = recognizer.read(recognizer.prepare(image).tensor)
    theirs = reference.read(reference.prepare(image).tensor)
    assert len(ours) >= 3 and ours.tokens == theirs.tokens and ours.spans == theirs.spans
    np.testing.assert_allclose(ours.confidences, theirs.confidences, rtol=1e-4)
    assert ours.confidences.min() > 0.15  # not re-normalised towards 1/K
    assert recognizer.output_kind == kind
    assert recognizer.notes == (f"the model outputs {kind}: taken as they are, not re-normalised",)


def test_logits_are_log_softmaxed_with_no_note(reference, image):
    reference.read(reference.prepare(image).tensor)
    assert reference.output_kind is None and reference.notes == ()


@pytest.mark.parametrize("method", ["gradient", "integrated"])
def test_every_explanation_of_a_probability_model_says_so_and_scores_as_the_logits_do(reference, image, method):
    config = SaliencyConfig(method=method, num_steps=4, tolerance=0.0, normalize=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exp = SaliencyGenerator(_normalised(False), config).explain(image)
    expected = SaliencyGenerator(reference, config).explain(image)
    note = "the model outputs probabilities: taken as they are, not re-normalised"
    assert exp.notes == (note,) and exp.record()["notes"] == [note]
    assert exp.notes[0].short == "model outputs probabilities: not re-normalised"
    assert [str(w.message) for w in caught if w.category is MapNote] == [note]
    np.testing.assert_allclose(exp.scores, expected.scores, rtol=1e-4)
    np.testing.assert_allclose(exp.maps, expected.maps, rtol=1e-3, atol=1e-3 * np.abs(expected.maps).max())
