"""`explanation_figure`: every figure kind both faces export, from engine `Explanation`s,
on the shared colour-scale rule, with a caption that says how the scale was clipped."""

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from figure_samples import explanation, word  # noqa: F401 (fixtures)

from thulium_desktop.render import OUTLIER_PERC, explanation_figure, shared_scale
from thulium_desktop.models.notes import Note
from thulium_desktop.render.captions import comparison_caption, scale_phrase
from thulium_desktop.xai.saliency import Contrast

CLIPPED = "colour scale ends at the 99th percentile"


def panels(fig):
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def bar_range(fig):
    (bar,) = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    box = bar.get_position()
    return bar.get_xlim() if box.width > box.height else bar.get_ylim()


def with_hot_pixel(exp):
    """The explanation with one extreme pixel, as gradient maps have: the scale must end below it."""
    maps = exp.maps.copy()
    maps[0, 0, 0] = 50.0
    return replace(exp, maps=maps)


@pytest.mark.parametrize("kind", ["view", "grid", "compare"])
def test_every_kind_ends_its_scale_at_the_shared_percentile_and_says_so(word, kind):
    exp = with_hot_pixel(explanation(word, "hello"))
    exps = {"integrated": exp, "gradient": replace(exp, method="gradient")} if kind == "compare" else {"integrated": exp}
    fig = explanation_figure(kind, word, exps, 0 if kind == "view" else None)
    fig.draw_without_rendering()
    drawn = exp.maps[:1] if kind == "view" else list(exp.maps) * len(exps)
    expected = shared_scale(drawn, False, outlier_perc=OUTLIER_PERC)
    assert expected.vmax < 50.0 and expected.extend == "max"
    assert bar_range(fig) == pytest.approx((expected.vmin, expected.vmax))
    assert fig.get_suptitle().endswith(CLIPPED)


def test_scale_phrases_name_the_percentile_as_people_write_it():
    assert (scale_phrase(1.0), scale_phrase(2.5), scale_phrase(9), scale_phrase(0.0)) == (
        "colour scale ends at the 99th percentile", "colour scale ends at the 97.5th percentile",
        "colour scale ends at the 91st percentile", None)


def test_a_view_of_one_explained_character_is_the_view_of_that_character_among_all(word):
    every = explanation(word, "hello")
    one = replace(every, maps=every.maps[2:3], tokens=("l",), token_indices=(2,), confidences=every.confidences[2:3],
                  scores=every.scores[2:3])
    figures = [explanation_figure("view", word, {"integrated": e}, 2) for e in (every, one)]
    for fig in figures:
        fig.draw_without_rendering()
    (a,), (b,) = (panels(f) for f in figures)
    assert a.get_title() == b.get_title() == "\u2018l\u2019 #3 p=0.70"
    np.testing.assert_array_equal(a.images[0].get_array(), b.images[0].get_array())
    assert figures[0].get_suptitle() == figures[1].get_suptitle()
    with pytest.raises(ValueError, match="character 4 .* was not explained"):
        explanation_figure("view", word, {"integrated": one}, 4)
    with pytest.raises(ValueError, match="say which"):
        explanation_figure("view", word, {"integrated": one})


def test_a_comparison_has_a_row_per_method_and_a_column_per_character(word):
    exp = explanation(word, "hello")
    exps = {"integrated": exp, "gradient": replace(exp, method="gradient", signed=True)}
    every = explanation_figure("compare", word, exps)
    selected = explanation_figure("compare", word, exps, 1)
    for fig in (every, selected):
        fig.draw_without_rendering()
    assert [ax.get_title() for ax in panels(every) if ax.get_title()] == [
        "\u2018h\u2019 #1 p=0.50", "\u2018e\u2019 #2 p=0.60", "\u2018l\u2019 #3 p=0.70", "\u2018l\u2019 #4 p=0.80",
        "\u2018o\u2019 #5 p=0.90"]
    assert [ax.get_ylabel() for ax in panels(every) if ax.get_ylabel()] == ["Integrated gradients", "Gradient"]
    assert [ax.get_ylabel() for ax in panels(selected)] == ["Integrated gradients", "Gradient"]
    assert [ax.get_title() for ax in panels(selected) if ax.get_title()] == ["\u2018e\u2019 #2 p=0.60"]
    lo, hi = bar_range(selected)
    assert lo == pytest.approx(-hi)  # one signed method makes the shared scale diverging
    assert "crnn \u00b7 methods on one scale" in every.get_suptitle() and "read \u201chello\u201d" in every.get_suptitle()
    with pytest.raises(ValueError, match="same characters"):
        explanation_figure("compare", word, {"integrated": exp, "gradient": replace(exp, token_indices=(0, 1, 2, 3, 5))})


def test_a_contrast_is_captioned_with_both_characters_and_the_methods_it_leaves_out(word):
    exp = replace(explanation(word, "hello"), signed=True, contrast=Contrast(1, "e", "a"))
    one = replace(exp, maps=exp.maps[1:2], tokens=("e",), token_indices=(1,), confidences=exp.confidences[1:2])
    view = explanation_figure("view", word, {"integrated": one}, 1)
    assert "\u2018e\u2019 rather than the true \u2018a\u2019 (score(read) \u2212 score(true))" in view.get_suptitle()
    compared = explanation_figure("compare", word, {"integrated": one}, 1, no_contrast=["Attention"])
    assert "; Attention has no contrast map" in compared.get_suptitle()
    plain = explanation_figure("compare", word, {"integrated": replace(one, contrast=None)}, 1, no_contrast=["Attention"])
    assert "no contrast map" not in plain.get_suptitle()


CAM_NOTE = Note("GradCAM layer features.8 feeds a recurrent or attention head, which reads each character "
                "from its neighbours too: the map can sit on the wrong character",
                short="GradCAM layer before a recurrent head: may misplace characters")
IG_NOTE = Note("integrated gradients did not converge: a completeness gap of 22% of |f(x) - f(baseline)| "
               "remains after 400 steps (tolerance 5%)", short="IG gap 22% after 400 steps")
MODEL_NOTE = "the model outputs probabilities: taken as they are, not re-normalised"  # a plain str: its own short form


@pytest.mark.parametrize("kind", ["view", "grid"])
def test_a_figure_caption_ends_with_its_explanations_notes_in_short(word, kind):
    exp = explanation(word, "hello", method="gradcam", notes=(MODEL_NOTE, CAM_NOTE))
    fig = explanation_figure(kind, word, {"gradcam": exp}, 0 if kind == "view" else None)
    title = fig.get_suptitle()
    assert title.endswith(f"{CLIPPED} \u00b7 \u26a0 {MODEL_NOTE} \u00b7 \u26a0 {CAM_NOTE.short}")
    assert "the map can sit on the wrong character" not in title


def test_a_comparison_caption_carries_every_compared_methods_notes_once(word):
    cam = explanation(word, "hello", method="gradcam", notes=(MODEL_NOTE, CAM_NOTE))
    ig = explanation(word, "hello", notes=(MODEL_NOTE, IG_NOTE))
    text = comparison_caption(cam, "reads \u2018hello\u2019", OUTLIER_PERC, compared=[cam, ig])
    assert text.endswith(f"\u26a0 {MODEL_NOTE} \u00b7 \u26a0 {CAM_NOTE.short} \u00b7 \u26a0 IG gap 22% after 400 steps")
    assert text.count(MODEL_NOTE) == 1
    assert "\u26a0" not in comparison_caption(explanation(word, "hello"), "reads \u2018hello\u2019", OUTLIER_PERC)


def test_unknown_kinds_and_misfits_are_refused(word):
    exp = explanation(word, "hello")
    with pytest.raises(ValueError, match="view, grid, compare"):
        explanation_figure("poster", word, {"integrated": exp})
    with pytest.raises(ValueError, match="one method"):
        explanation_figure("grid", word, {"integrated": exp, "gradient": exp})
    with pytest.raises(ValueError, match="no explanations"):
        explanation_figure("compare", word, {})


def test_the_colour_rules_load_without_matplotlibs_figures():
    """The app takes its screen colours from `render.colormaps` at launch; the figure
    machinery (about 0.3 s) waits for an export."""
    code = ("import sys, thulium_desktop.render.colormaps, thulium_desktop.render; "
            "print('matplotlib.figure' in sys.modules, callable(thulium_desktop.render.explanation_figure))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
