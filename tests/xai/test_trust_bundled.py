"""Issue 7's claims on the bundled readers and the committed samples they read correctly."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from thulium_desktop.io import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai.faithfulness import perturbation_curves
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator
from thulium_desktop.xai.sanity import randomisation_check

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def _correct(model: str, limit: int) -> list[Path]:
    with open(SAMPLES / "ground_truth.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [SAMPLES / r["file"] for r in rows if r[model] == r["text"]][:limit]


@pytest.mark.parametrize("model", ["ctc-reader", "attention-reader"])
def test_gradient_maps_delete_faster_than_random_on_most_characters(model):
    rec = load_model(model)
    wins = total = 0
    for path in _correct(model, 3):
        image = load_image(path)
        exp = SaliencyGenerator(rec, SaliencyConfig(method="gradient")).explain(image)
        curves = perturbation_curves(rec, image, exp.maps, exp.token_indices, exp.reading, steps=10)
        wins += int(curves.beats_random().sum())
        total += len(curves.auc)
    # "most": outside all 8 random orders, measured 21/23 (ctc), 15/23 (attention); against
    # the first random order alone (the rule before issue 23) 22/23 and 19/23
    assert total >= 10 and wins / total >= 0.6


@pytest.mark.parametrize("method", ["gradient", "integrated"])
def test_randomising_every_layer_decorrelates_gradient_maps(method):
    rec = load_model("ctc-reader")
    image = load_image(SAMPLES / "hello.png")
    result = randomisation_check(rec, image, SaliencyConfig(method=method, num_steps=8))
    assert len(result.layers) > 5 and result.layers[0] == "classify"
    assert abs(result.final) < 0.3 and not result.flagged
    assert np.isfinite(result.correlations).all()
