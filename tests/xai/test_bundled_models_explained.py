"""The engine explains both bundled readers on a real sample image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from thulium_desktop.io.images import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "thulium.png"


@pytest.mark.parametrize("name", ["attention-reader", "ctc-reader"])
@pytest.mark.parametrize("method", ["gradient", "gradcam", "attention"])
def test_saliency_generator_explains_bundled_models(name, method):
    image = load_image(SAMPLE)
    result = SaliencyGenerator(load_model(name)).explain(image, method=method)
    assert len(result.tokens) == len(result.reading) > 0
    assert result.maps.shape == (len(result.reading), *image.shape[:2])
    assert np.isfinite(result.maps).all()
    assert result.maps.reshape(len(result.tokens), -1).max(axis=1).min() > 0


@pytest.mark.parametrize("name", ["attention-reader", "ctc-reader"])
def test_both_bundled_readers_contrast_a_character_with_another(name):
    """Both can score a character they did not read (`label_of`), as contrast needs."""
    image = load_image(SAMPLE.with_name("real-digits.png"))
    gen = SaliencyGenerator(load_model(name))
    contrast = gen.explain_contrast(image, 1, "5", config=SaliencyConfig(method="gradient", absolute=False))
    assert contrast.signed and contrast.maps.shape == (1, *image.shape[:2])
    assert contrast.maps.min() < 0 < contrast.maps.max()



@pytest.mark.parametrize("name", ["attention-reader", "ctc-reader"])
def test_a_tensor_input_gets_maps_of_its_own_width_from_every_entry_point(name):
    """Both readers pad a width that is no multiple of 4; the maps of a tensor input
    still come back on its own pixels, for a contrast as for a plain explanation."""
    model = load_model(name)
    padded = model.prepare(load_image(SAMPLE.with_name("real-digits.png"))).tensor
    x = padded[..., : padded.shape[-1] - 2]  # a width the reader pads by 2 columns
    gen = SaliencyGenerator(model, SaliencyConfig(method="gradient"))
    plain, contrast = gen.explain(x), gen.explain_contrast(x, 0, "5")
    assert plain.maps.shape[1:] == contrast.maps.shape[1:] == tuple(x.shape[-2:])
