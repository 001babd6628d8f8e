"""The bundled readers, with their real weights, on the committed sample images."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from thulium_desktop.io.images import load_image
from thulium_desktop.models import (
    DEFAULT_MODEL,
    AttentionRecognizer,
    CTCRecognizer,
    Recognizer,
    list_models,
    load_model,
)
from thulium_desktop.training.degrade import inverted_ink, uneven_light, vignette
from word_images import render_word

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"
NAMES = ("attention-reader", "ctc-reader")


def _ground_truth() -> list[dict[str, str]]:
    with open(SAMPLES / "ground_truth.tsv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.fixture(scope="module")
def models() -> dict[str, Recognizer]:
    return {name: load_model(name) for name in NAMES}


def test_list_models_describes_both_readers():
    infos = list_models()
    assert [i.name for i in infos][:1] == [DEFAULT_MODEL]
    assert {i.name for i in infos} == set(NAMES)
    for info in infos:
        assert info.weights_path.is_file() and info.json_path.is_file()
        assert info.description
        for key in ("held_out", "real_digits", "unseen_styles"):
            assert 0 <= info.metrics[key]["cer"] <= 1
        assert 0 <= info.metrics["pointing_game"] <= 1
    assert sum(i.weights_path.stat().st_size for i in infos) < 20_000_000


def test_load_model_gives_ready_recognizers(models):
    default = load_model()
    assert isinstance(default, AttentionRecognizer) and default.name == DEFAULT_MODEL
    assert isinstance(models["ctc-reader"], CTCRecognizer)
    for model in models.values():
        assert isinstance(model, Recognizer)
        assert not model.module.training


@pytest.mark.parametrize("name", NAMES)
def test_reads_the_samples_marked_correct(models, name):
    rows = _ground_truth()
    correct = [r for r in rows if r[name] == r["text"]]
    assert len(correct) >= len(rows) // 2, "most samples should be read correctly"
    model = models[name]
    for row in correct:
        image = load_image(SAMPLES / row["file"])
        assert model.read(model.prepare(image).tensor).text == row["text"], row["file"]


def test_samples_include_errors_and_colour():
    rows = _ground_truth()
    assert any(r[n] != r["text"] for r in rows for n in NAMES), "no wrong readings to inspect"
    shapes = [load_image(SAMPLES / r["file"]).ndim for r in rows]
    assert 2 in shapes and 3 in shapes


@pytest.fixture(scope="module")
def colour_sample() -> np.ndarray:
    image = load_image(SAMPLES / "thulium.png")
    assert image.ndim == 3
    return image


def test_attention_rows_are_distributions_over_encoder_positions(models, colour_sample):
    model = models["attention-reader"]
    prepared = model.prepare(colour_sample)
    reading = model.read(prepared.tensor)
    assert len(reading) > 0
    rows = model.attention(prepared.tensor, reading)
    assert rows.shape == (len(reading), 1, prepared.tensor.shape[-1] // 4)
    assert (rows >= 0).all()
    torch.testing.assert_close(rows.sum(dim=(1, 2)), torch.ones(len(reading)), atol=1e-5, rtol=0)
    assert prepared.to_image(rows).shape == (len(reading), *colour_sample.shape[:2])


def test_ctc_attention_maps_to_image_pixels(models, colour_sample):
    model = models["ctc-reader"]
    prepared = model.prepare(colour_sample)
    reading = model.read(prepared.tensor)
    rows = model.attention(prepared.tensor, reading)
    assert (rows >= 0).all() and (rows <= 1).all()
    assert prepared.to_image(rows).shape == (len(reading), *colour_sample.shape[:2])


@pytest.mark.parametrize("name", ["attention-reader", "ctc-reader"])
def test_both_readers_read_every_column_as_in_training(models, name):
    """Both bundled readers pool 4 columns into a position and trained on batches padded
    with paper: a width that is no multiple of 4 is padded with paper, not cut."""
    prepared = models[name].prepare(np.full((32, 223), 255, np.uint8))
    assert prepared.tensor.shape[-1] == 224 and prepared.content == (0, 0, 32, 223)


def test_get_attention_is_per_character_in_image_pixels(models, colour_sample):
    model = models["attention-reader"]
    maps = model.get_attention(colour_sample)
    reading = model.read(model.prepare(colour_sample).tensor)
    assert maps.shape == (len(reading), *colour_sample.shape[:2])
    assert np.isfinite(maps).all() and (maps >= 0).all()
    # each character looks at its own place: the peaks move left to right
    peaks = maps.max(axis=1).argmax(axis=1)
    assert (np.diff(peaks) >= 0).mean() > 0.8


@pytest.mark.parametrize("name", NAMES)
def test_token_scores_are_batched_differentiable_and_match_the_reading(models, name):
    model = models[name]
    image = load_image(SAMPLES / "hello.png")
    prepared = model.prepare(image)
    reading = model.read(prepared.tensor)
    noisy = prepared.tensor + 0.05 * torch.randn(5, *prepared.tensor.shape[1:],
                                                  generator=torch.Generator().manual_seed(0))
    batch = torch.cat([prepared.tensor, noisy]).requires_grad_()
    scores = model.token_scores(batch, reading)
    assert scores.shape == (6, len(reading))
    (grad,) = torch.autograd.grad(scores[:, 0].sum(), batch)
    assert grad.abs().sum() > 0 and torch.isfinite(grad).all()
    if name == "attention-reader":  # one step per character: the score is its confidence
        probs = model.token_scores(prepared.tensor, reading, score="prob")[0]
        np.testing.assert_allclose(probs.detach().numpy(), reading.confidences, rtol=1e-4)
    assert not any(p.grad is not None for p in model.module.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_cam_layer_is_the_last_feature_map_after_relu(models, name):
    model = models[name]
    layer = model.cam_layer()
    assert isinstance(layer, torch.nn.ReLU)
    assert layer is model.module.encoder.features


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("degrade", [vignette, uneven_light, inverted_ink],
                         ids=lambda f: f.__name__)
def test_the_readers_read_a_photographed_word_and_map_it_on_its_pixels(models, name, degrade):
    """Issue 23: a photographed word (vignette, light from one side) and light ink on
    dark paper are flattened to dark ink on white paper before reading, and the
    maps still cover the photograph pixel for pixel."""
    model = models[name]
    assert model.flatten_paper
    word = cv2.resize(render_word("minimum"), None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    photo = degrade(word, np.random.default_rng(0))
    prepared = model.prepare(photo)
    reading = model.read(prepared.tensor)
    assert reading.text.strip() == "minimum"
    maps = prepared.to_image(model.attention(prepared.tensor, reading).float())
    assert maps.shape == (len(reading), *photo.shape[:2])


def test_gradient_maps_of_a_flattened_photograph_are_the_clean_words_maps(models):
    """The flattening moves no pixel: each character's gradient map of a vignetted
    photograph covers the photograph and matches, pixel for pixel, the map of the same
    word on clean paper."""
    from thulium_desktop.xai.saliency import SaliencyGenerator

    engine = SaliencyGenerator(models["attention-reader"])
    word = cv2.resize(render_word("minimum"), None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    photo = vignette(word, np.random.default_rng(0))
    clean, shaded = (np.abs(engine.explain(x, method="gradient").maps) for x in (word, photo))
    assert shaded.shape == clean.shape == (len("minimum"), *photo.shape)
    for a, b in zip(clean, shaded):
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.85
