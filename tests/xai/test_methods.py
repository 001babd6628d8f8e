"""The method registry and `MethodSpec`: one set of facts per method, one rule for signs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from thulium_desktop.xai.methods import (
    BUILT_IN,
    PARAMETERS,
    REGISTRY,
    Method,
    Passes,
    compare_methods,
    register,
)
from thulium_desktop.xai.saliency import METHODS, SaliencyConfig, SaliencyGenerator
from thulium_desktop.xai.spec import MethodSpec


def test_every_method_reads_real_config_fields_whose_defaults_are_the_registrys():
    fields = {f.name: f.default for f in dataclasses.fields(SaliencyConfig)}
    assert list(METHODS) == [m.name for m in BUILT_IN] == list(REGISTRY)
    for name, param in PARAMETERS.items():
        assert fields[name] == param.default, name  # one default, shown alike by app and CLI
    for method in REGISTRY.values():
        assert set(method.params) <= set(PARAMETERS), method.name
        SaliencyConfig(**MethodSpec.build(method.name, {}).config_kwargs())  # validates


def test_the_default_baseline_is_blank_paper_everywhere():
    assert SaliencyConfig().baseline == PARAMETERS["baseline"].default == "white"
    assert dict(MethodSpec.build("integrated", {}).params)["baseline"] == "white"


def test_a_method_without_gradients_names_a_gradient_method_for_its_contrasts():
    for method in REGISTRY.values():
        contrasted = REGISTRY[method.contrast_method]
        assert contrasted.gradients, method.name
    assert REGISTRY["attention"].contrast_method == "gradient"
    assert compare_methods() == ("attention", "gradient", "integrated", "smoothgrad", "gradcam")


def test_streaming_methods_stream_over_the_copies_they_count():
    streams = {m.name: m.streams_over for m in REGISTRY.values() if m.streams_over}
    assert streams == {"integrated": "num_steps", "smoothgrad": "num_samples",
                       "smoothgrad_sq": "num_samples", "vargrad": "num_samples"}
    assert {m.name for m in REGISTRY.values() if m.passes is Passes.FOLDED} == set(streams)


def test_a_record_must_read_what_it_streams_over_and_a_name_is_registered_once():
    with pytest.raises(ValueError, match="unknown parameters"):
        Method("x", "X", "x", ("steps",))
    with pytest.raises(ValueError, match="does not read"):
        Method("x", "X", "x", ("normalize",), streams_over="num_samples")
    with pytest.raises(ValueError, match="already registered"):
        register(REGISTRY["gradient"], lambda run: None)


def test_a_spec_ignores_parameters_its_method_does_not_use():
    base = MethodSpec.build("gradient", {"noise_level": 0.1})
    assert MethodSpec.build("gradient", {"noise_level": 0.3}) == base
    assert MethodSpec.build("gradient", {"absolute": False}) != base
    assert MethodSpec.build("smoothgrad", {"noise_level": 0.3}) != MethodSpec.build("smoothgrad", {})
    assert MethodSpec.build("gradient", {}, whole_reading=True) != base
    with pytest.raises(ValueError, match="unknown method"):
        MethodSpec.build("lime", {})


@pytest.mark.parametrize("absolute", [True, False])
def test_a_spec_knows_in_advance_whether_the_engine_signs_its_maps(recognizer, word_image, absolute):
    """The one rule (`Method.signed`), asked by the app before any map exists and by the
    engine when it makes one, for every method, plain and as a contrast."""
    engine = SaliencyGenerator(recognizer)
    image = word_image[:, :48]
    for method in REGISTRY:
        spec = MethodSpec.build(method, {"absolute": absolute, "num_steps": 2, "num_samples": 2})
        exp = engine.explain(image, tokens=[0], config=SaliencyConfig(**spec.config_kwargs()))
        assert spec.signed == exp.signed, method
        contrast = MethodSpec.build(method, {"absolute": absolute, "num_steps": 2, "num_samples": 2},
                                    contrast=(0, "q"))
        exp = engine.explain_contrast(image, 0, "q", config=SaliencyConfig(**contrast.config_kwargs()))
        assert contrast.signed == exp.signed, method


def test_seed_documentation_calls_equal_explain_for_one_token(recognizer, word_image):
    """`compute_integrated_gradients` and `compute_smoothgrad` are `explain` for one
    character under the registry's defaults: the same code on the same inputs, so the
    same floats."""
    gen = SaliencyGenerator(recognizer)
    token = 2
    np.testing.assert_array_equal(
        gen.compute_integrated_gradients(word_image, token=token),
        gen.explain(word_image, method="integrated", tokens=[token]).maps[0],
    )
    np.testing.assert_array_equal(
        gen.compute_smoothgrad(word_image, token=token),
        gen.explain(word_image, method="smoothgrad", tokens=[token]).maps[0],
    )
