"""Contrast with truth beyond the single view: Export, Compare, the method panel's word
on which method draws it, the note when a character has no contrast, and the title's
position after an errors-first re-sort.

The bundled attention reader reads "hello" in hello.png; a `.gt.txt` of "hallo"
makes its second character a substitution ('e' read, 'a' true) and the others correct.
"""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import pytest
from gui_helpers import WAIT_MS, open_settled, sample_copy
from PySide6.QtWidgets import QLabel

from thulium_desktop.app import figure_export as app_export
from thulium_desktop.app.figure_export import ExportPlan
from thulium_desktop.app.export_dialog import ExportDialog
from thulium_desktop.app.trust_panel import CONTRAST_NOTE
from thulium_desktop.models import load_model
from thulium_desktop.render import OUTLIER_PERC, composite, shared_scale
from thulium_desktop.xai.methods import REGISTRY, compare_methods
from thulium_desktop.xai.spec import MethodSpec

SUBSTITUTED = 1  # 'e' read where the truth has 'a'
CONTRAST_CAPTION = "\u2018e\u2019 rather than the true \u2018a\u2019 (score(read) \u2212 score(true))"


@pytest.fixture
def models():
    """The windows here read with the bundled attention reader (overrides the tiny CRNN)."""
    return partial(load_model, "attention-reader")


@pytest.fixture
def contrasted(qtbot, make_window, tmp_path):
    """hello.png read against the truth "hallo", its substitution selected, contrast on,
    and the cheapest parameters (Compare and Export compute every method)."""
    window = make_window()
    window.panel.num_steps.setValue(4)
    window.panel.num_samples.setValue(2)
    open_settled(qtbot, window, [sample_copy(tmp_path / "images", "hello.png", "hallo")])
    assert window.view_model.reading.reading.text == "hello"
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.timeline.select(SUBSTITUTED)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.contrast.setChecked(True)
    return window


@pytest.fixture
def saved_figures(monkeypatch):
    """Every figure Export saves, kept for inspection (and still written)."""
    figures = []
    save = app_export.save_figure

    def keep(fig, path, dpi=300):
        figures.append(fig)
        return save(fig, path, dpi=dpi)

    monkeypatch.setattr(app_export, "save_figure", keep)
    return figures


def contrast_spec(window, method: str) -> MethodSpec:
    return MethodSpec.build(method, window.panel.params(), contrast=(SUBSTITUTED, "a"))


def export_and_wait(qtbot, window, plan):
    with qtbot.waitSignal(window.export_flow.exported, timeout=WAIT_MS):
        window.export_flow.export(plan)


def drawn_panels(fig):
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def test_export_of_the_view_draws_the_contrast_map_with_its_caption(qtbot, contrasted, tmp_path, saved_figures):
    window = contrasted
    plan = ExportPlan("view", tmp_path / "out" / "hello.png", dpi=60, with_maps=True, with_params=True)
    (tmp_path / "out").mkdir()
    export_and_wait(qtbot, window, plan)
    contrast = window.view_model.results[contrast_spec(window, "gradient")].maps[0]  # attention's contrast is gradient's
    with np.load(plan.path.with_suffix(".npz")) as npz:
        np.testing.assert_array_equal(npz["gradient"], contrast[None])
        assert str(npz["gradient_contrast_with"]) == "a"
    record = json.loads(plan.path.with_suffix(".json").read_text())
    assert record["methods"]["gradient"]["meta"]["contrast"] == {"token": SUBSTITUTED, "read": "e", "alternative": "a"}
    (fig,) = saved_figures
    assert CONTRAST_CAPTION in fig.get_suptitle() and "gradient" in fig.get_suptitle()
    assert "attention-reader" in fig.get_suptitle()
    (panel,) = drawn_panels(fig)
    assert panel.get_title().startswith("\u2018e\u2019 #2 ")  # 1-based, as the details line:
    assert "(character 2)" in window.details.text()
    scale = shared_scale([contrast], True, window.display.cmap(True), outlier_perc=OUTLIER_PERC)
    expected = composite(window.view_model.image, contrast, scale, window.display.alpha)  # as on screen
    np.testing.assert_array_equal(np.asarray(panel.images[0].get_array()), expected)
    assert scale.vmin == -scale.vmax  # the diverging, signed scale


def test_export_of_the_comparison_shows_each_gradient_methods_contrast(qtbot, contrasted, tmp_path, saved_figures):
    window = contrasted
    export_and_wait(qtbot, window, ExportPlan("compare", tmp_path / "hello.png", dpi=60))
    (fig,) = saved_figures
    rows = [ax.get_ylabel() for ax in drawn_panels(fig)]
    assert rows == ["Gradient", "Integrated gradients", "SmoothGrad", "GradCAM"]
    assert CONTRAST_CAPTION in fig.get_suptitle() and "Attention has no contrast map" in fig.get_suptitle()
    maps = [window.view_model.results[contrast_spec(window, m)].maps[0] for m in compare_methods()[1:]]
    scale = shared_scale(maps, True, window.display.cmap(True), outlier_perc=OUTLIER_PERC)
    for ax, values in zip(drawn_panels(fig), maps):
        np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), composite(window.view_model.image, values, scale, window.display.alpha))


def test_export_suggests_files_named_after_what_each_figure_draws(qtbot, contrasted, monkeypatch):
    """Attention is the panel's method, but under contrast the view draws gradient."""
    window = contrasted
    assert window.panel.method == "attention"
    shown = []
    monkeypatch.setattr(ExportDialog, "exec", lambda dialog: shown.append(dialog.plan()) or ExportDialog.DialogCode.Rejected)
    window.export_flow.export_dialog()
    assert shown[0].kind == "view" and shown[0].path.name == "hello.gradient.contrast.char2.png"
    names = {kind: path.name for kind, path in window.export_flow.export_names().items()}
    assert names == {"view": "hello.gradient.contrast.char2", "grid": "hello.attention", "compare": "hello.compare.contrast"}
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.contrast.setChecked(False)
    assert window.export_flow.export_names()["view"].name == "hello.attention.char2"  # the view is of one character


def test_compare_shows_contrast_maps_and_says_attention_has_none(qtbot, contrasted):
    window = contrasted
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.compare.setChecked(True)
    view = window.compare_view
    assert view.views["attention"].map is None
    assert view.views["attention"].note.isVisible() and view.views["attention"].note.toPlainText() == "No contrast map:\nAttention has\nno gradients"
    for method in compare_methods()[1:]:
        np.testing.assert_array_equal(view.views[method].map, window.view_model.results[contrast_spec(window, method)].maps[0])
        assert view.titles[method].text == REGISTRY[method].label
    assert view.views["gradient"].map.min() < 0 < view.views["gradient"].map.max()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.timeline.select(0)  # read correctly: every method's own map, attention's too
    assert view.views["attention"].map is not None and not view.views["attention"].note.isVisible()


def test_a_correct_character_under_contrast_says_why_its_own_map_shows(qtbot, contrasted):
    window = contrasted
    assert "Contrast applies" not in window.details.text()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.timeline.select(0)
    assert window.view_model.view_spec().contrast is None
    assert "Contrast applies to substituted characters only: ‘h’ was read correctly" in window.details.text()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.contrast.setChecked(False)
    assert "Contrast applies" not in window.details.text()


def test_without_a_truth_contrast_says_there_is_none(qtbot, make_window, tmp_path):
    window = make_window()
    open_settled(qtbot, window, [sample_copy(tmp_path / "images", "hello.png")])
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.contrast.setChecked(True)
    assert "no truth to contrast with" in window.details.text()


def test_the_method_panel_names_the_method_a_contrast_uses(qtbot, contrasted):
    panel = contrasted.panel
    assert panel.method == "attention" and contrasted.view_model.view_spec().method == "gradient"
    assert not panel.contrast_method.isHidden()
    assert panel.contrast_method.text().startswith("Contrast maps use Gradient: Attention has no gradients")
    panel.set_method("integrated")
    assert panel.contrast_method.isHidden()
    panel.set_method("attention")
    panel.contrast.setChecked(False)
    assert panel.contrast_method.isHidden()


def test_the_title_follows_the_open_image_when_the_list_is_resorted(qtbot, make_window, tmp_path):
    folder = tmp_path / "ranked"
    sample_copy(folder, "hello.png", "hello", as_name="a.png")  # right
    sample_copy(folder, "recognition.png", "xyz", as_name="b.png")  # nearly all wrong
    window = make_window()
    open_settled(qtbot, window, [folder])
    assert window.windowTitle().endswith("a.png (1/2)")
    panel = window.review.files
    with qtbot.waitSignal(window.client.survey.finished, timeout=WAIT_MS):
        panel.order.setCurrentIndex(panel.order.findData("error"))
    assert [p.name for p in window.browser.files.paths] == ["b.png", "a.png"]
    assert window.windowTitle().endswith("a.png (2/2)")


def test_the_trust_panel_does_not_measure_a_contrast_as_the_characters_own_map(qtbot, contrasted):
    """The canvas shows score(read) − score(true); the trust measures are of a character's
    own score, so the panel says so instead of describing another map."""
    window = contrasted
    window.trust.show()
    qtbot.waitUntil(lambda: CONTRAST_NOTE in _shown_text(window.trust.view), timeout=WAIT_MS)
    assert not window.trust.check_action.isEnabled()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.timeline.select(0)  # read correctly: its own map is shown, and measured
    qtbot.waitUntil(lambda: window.trust.report is not None, timeout=WAIT_MS)
    assert CONTRAST_NOTE not in _shown_text(window.trust.view)


def _shown_text(view) -> str:
    return " ".join(label.text() for label in view.findChildren(QLabel) if label.isVisible())


def test_a_true_character_outside_the_alphabet_gets_a_reason_not_a_failed_job(qtbot, make_window, tmp_path):
    window = make_window()
    open_settled(qtbot, window, [sample_copy(tmp_path / "images", "hello.png", "h\u00e6llo")])
    failures = []
    window.client.maps.failed.connect(failures.append)
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.timeline.select(SUBSTITUTED)
    window.panel.contrast.setChecked(True)
    qtbot.wait(300)
    assert window.view_model.view_spec().contrast is None
    assert "cannot score the true ‘æ’ (not in its alphabet)" in window.details.text()
    assert failures == [] and "failed" not in window.message.label.text()
