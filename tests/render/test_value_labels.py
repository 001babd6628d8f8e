"""Colour bars say what the value is, from the method registry, in every figure kind."""

import pytest
from figure_samples import explanation, word  # noqa: F401 (fixtures)

from thulium_desktop.render import explanation_figure
from thulium_desktop.render.colormaps import colorbar_label
from thulium_desktop.xai.methods import REGISTRY


def bar_label(fig) -> str:
    (bar,) = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    return bar.get_xlabel() or bar.get_ylabel()


@pytest.mark.parametrize(
    ("method", "signed", "normalize", "expected"),
    [
        ("gradient", False, True, "|\u2202 score/\u2202 pixel|, normalised per map"),
        ("gradient", True, True, "\u2202 score/\u2202 pixel, signed: > 0 raises the score, normalised per map"),
        ("gradient", False, False, "|\u2202 score/\u2202 pixel|"),
        ("attention", False, True, "attention weight, normalised per map"),
        ("gradcam", False, False, "GradCAM, ReLU"),
    ],
)
def test_a_views_colorbar_names_its_methods_value(word, method, signed, normalize, expected):
    exp = explanation(word, "ab", method, signed=signed,
                      params={"method": method, "absolute": not signed, "normalize": normalize})
    for kind in ("view", "grid"):
        assert bar_label(explanation_figure(kind, word, {method: exp}, 0, methods=REGISTRY)) == expected


def test_every_registered_method_has_a_value_label_for_each_sign():
    for method in REGISTRY.values():
        assert colorbar_label(method, False, False)
        if "absolute" in method.params:
            assert "signed" in colorbar_label(method, True, False)


def test_a_comparison_says_each_panel_shows_its_methods_value(word):
    params = {"absolute": True, "normalize": True}
    exps = {m: explanation(word, "ab", m, params={"method": m, **params}) for m in ("gradient", "attention")}
    fig = explanation_figure("compare", word, exps, 0, methods=REGISTRY)
    assert bar_label(fig) == "each panel's method's value, normalised per map"
    assert "each map normalised to peak at 1" in fig.get_suptitle()
    raw = {m: explanation(word, "ab", m, params={"method": m, "normalize": False}) for m in exps}
    fig = explanation_figure("compare", word, raw, 0, methods=REGISTRY)
    assert bar_label(fig) == "each panel's method's value" and "peak" not in fig.get_suptitle()
