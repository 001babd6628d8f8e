"""The Trust panel: what it shows for the selected character, and its jobs' life."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import WAIT_MS, GatedTrust, close_during_a_gated_job
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QBoxLayout

from thulium_desktop.app.canvas import MIN_HEIGHT
from thulium_desktop.app.trust_view import FLAG_STYLE, PLOT_HEIGHT, SmallPlot, TrustView, diagnostic_rows
from thulium_desktop.xai.config import SaliencyConfig
from thulium_desktop.xai.diagnostics import LABELS, find_ink, map_diagnostics
from thulium_desktop.xai.faithfulness import Curves
from thulium_desktop.xai.sanity import SanityResult
from thulium_desktop.xai.spec import MethodSpec
from thulium_desktop.xai.trust import TrustReport, trust_report

SIDE_BY_SIDE, STACKED = QBoxLayout.Direction.LeftToRight, QBoxLayout.Direction.TopToBottom
CHECK = (Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)


@pytest.fixture
def gated(monkeypatch) -> GatedTrust:
    gate = GatedTrust()
    monkeypatch.setattr("thulium_desktop.app.worker.trust_report", gate)
    return gate


def show_gradient(qtbot, window, index: int):
    """Gradient maps on screen, character `index` selected, its diagnostics in."""
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["gradient"].click()
    window.timeline.select(index)
    qtbot.waitUntil(lambda: window.trust.report is not None, timeout=WAIT_MS)
    spec = window.view_model.current_spec()
    return spec, window.view_model.results[spec]


def engine_report(window, models, spec: MethodSpec, explanation, **checks) -> TrustReport:
    """What the engine says about these maps, computed here, outside the app."""
    config = SaliencyConfig(**spec.config_kwargs())
    return trust_report(models.built[0], window.view_model.image, explanation, config, **checks)


def test_the_selected_characters_label_and_numbers_are_the_engines(qtbot, window, models):
    spec, exp = show_gradient(qtbot, window, 2)
    expected = engine_report(window, models, spec, exp, curves=False).diagnostics
    assert diagnostic_rows(expected[2]) != diagnostic_rows(expected[0]), "characters alike: nothing tested"
    view = window.trust.view
    assert view.isVisible() and expected[2].label in view.label.text()
    assert {name: field.text() for name, field in view.fields.items()} == {
        name: value for name, value, _ in diagnostic_rows(expected[2])
    }
    assert f"{expected[2].stroke_focus:.0%} of the map on ink" == view.fields["Stroke focus"].text()
    assert "character 3 of" in view.title.text()
    assert view.curves.isHidden() and view.sanity.isHidden()


def test_check_trust_draws_that_characters_curves_and_sanity_check(qtbot, window, models):
    k = 1
    spec, exp = show_gradient(qtbot, window, k)
    with qtbot.waitSignal(window.client.trust.finished, timeout=WAIT_MS):
        qtbot.keyClick(window, *CHECK)
    expected = engine_report(window, models, spec, exp, curves=True, sanity=True)
    plots = window.trust.view
    for curves in (expected.deletion, expected.insertion):
        x, y = plots.curves.lines[curves.mode].getData()
        np.testing.assert_allclose(x, curves.fractions)
        np.testing.assert_allclose(y, curves.scores[k], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(plots.curves.lines[f"{curves.mode} random"].getData()[1],
                                   np.median(curves.random_scores[k], axis=0), rtol=1e-5, atol=1e-7)
        low, high, _ = plots.curves.bands[curves.mode]
        np.testing.assert_allclose(low.getData()[1], curves.random_scores[k].min(axis=0), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(high.getData()[1], curves.random_scores[k].max(axis=0), rtol=1e-5, atol=1e-7)
        spread = f"{curves.random_auc[k].min():.2f}–{curves.random_auc[k].max():.2f}"
        assert f"AUC <b>{curves.auc[k]:.2f}</b>, random {spread}" in plots.curves.summary.text()
    assert f"{expected.deletion.orders} random orders" in plots.curves.title.text()
    assert f"all {expected.deletion.orders} random pixel orders" in plots.curves.summary.toolTip()
    for curves in (expected.deletion, expected.insertion):
        side = "below" if curves.mode == "deletion" else "above"
        outcome = f"{'✓' if curves.beats_random()[k] else '✗ not'} {side} all {curves.orders}"
        assert outcome in plots.curves.summary.text()
    layers, correlations = plots.sanity.character.getData()
    np.testing.assert_array_equal(layers, np.arange(1, len(expected.sanity.layers) + 1))
    np.testing.assert_allclose(correlations, expected.sanity.correlations[:, k], atol=1e-6)
    assert plots.curves.isVisible() and plots.sanity.isVisible()
    assert plots.sanity.verdict.text().startswith("⚠" if expected.sanity.flagged else "✓")
    assert not window.trust.check_action.isEnabled()  # checked: nothing left to ask
    window.timeline.select(k + 1)  # another character of the same maps: drawn from the same report
    np.testing.assert_allclose(plots.curves.lines["deletion"].getData()[1], expected.deletion.scores[k + 1],
                               rtol=1e-5, atol=1e-7)


def test_a_checked_method_is_served_from_the_cache(qtbot, window):
    show_gradient(qtbot, window, 1)
    with qtbot.waitSignal(window.client.trust.finished, timeout=WAIT_MS):
        window.trust.check_action.trigger()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["attention"].click()
    qtbot.waitUntil(lambda: window.trust.report is not None, timeout=WAIT_MS)
    assert window.trust.report.deletion is None  # attention: not checked yet
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["gradient"].click()
    assert not window.client.trust.busy
    assert window.trust.report.sanity is not None and window.trust.view.sanity.isVisible()


def flagged_report(image: np.ndarray, maps: np.ndarray) -> TrustReport:
    """A report whose sanity check says the maps ignored the destroyed model."""
    ink = find_ink(image)
    fractions = np.linspace(0, 1, 5)
    scores = np.tile(1 - fractions, (len(maps), 1))
    random = np.repeat(scores[:, None], 3, axis=1)
    curves = Curves("deletion", fractions, scores, random, scores.mean(1), random.mean(2))
    sanity = SanityResult("gradient", ("head", "rnn", "conv"), np.full((3, len(maps)), 0.9))
    return TrustReport([map_diagnostics(m, ink) for m in maps], curves, None, sanity)


def test_a_flagged_sanity_result_warns_in_plain_words(qtbot, word_image):
    view = TrustView()
    qtbot.addWidget(view)
    view.show()
    report = flagged_report(word_image, np.random.default_rng(0).random((2, *word_image.shape[:2])))
    assert report.sanity.flagged
    view.show_report("test", report, 1)
    assert view.sanity.verdict.isVisible()
    assert "don't trust this method here" in view.sanity.verdict.text()
    assert view.sanity.verdict.text().startswith("⚠") and view.sanity.verdict.styleSheet() == FLAG_STYLE
    np.testing.assert_array_equal(view.sanity.character.getData()[1], [0.9, 0.9, 0.9])


def test_a_flagged_result_for_the_shown_maps_is_flagged_in_the_window(qtbot, window):
    _, exp = show_gradient(qtbot, window, 0)
    window.client.trust.ready.emit(exp, flagged_report(window.view_model.image, exp.maps), True)
    assert "don't trust this method here" in window.trust.view.sanity.verdict.text()
    assert window.trust.view.sanity.isVisible()


def test_changing_the_image_drops_a_stale_trust_check(qtbot, window, monkeypatch):
    stale = GatedTrust(honour_cancel=False)  # it finishes after the user moved on
    monkeypatch.setattr("thulium_desktop.app.worker.trust_report", stale)
    show_gradient(qtbot, window, 0)
    window.trust.check()
    qtbot.waitUntil(stale.entered.is_set, timeout=WAIT_MS)
    seen: list[object] = []
    window.client.trust.ready.connect(lambda exp, report, complete: seen.append(exp))
    window.show_image(window.view_model.image[:, ::-1].copy(), "mirrored")  # its jobs queue behind the check
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        stale.gate.set()
    qtbot.waitUntil(lambda: window.client.pending_jobs == 0 and window.trust.report is not None, timeout=WAIT_MS)
    current = window.view_model.results[window.view_model.current_spec()]
    assert seen and all(exp is current for exp in seen)
    assert window.trust.report.deletion is None and window.trust.view.curves.isHidden()
    assert window.trust.check_action.isEnabled()


def test_cancel_stops_a_check_and_the_next_one_runs(qtbot, window, gated):
    show_gradient(qtbot, window, 0)
    window.trust.check()
    qtbot.waitUntil(gated.entered.is_set, timeout=WAIT_MS)
    assert window.trust.view.cancel.isVisible() and "Checking" in window.trust.view.status.text()
    with qtbot.waitSignal(window.client.trust.cancelled, timeout=WAIT_MS):
        window.trust.view.cancel.click()
    qtbot.waitUntil(lambda: window.client.pending_jobs == 0, timeout=WAIT_MS)
    assert window.trust.view.status.text() == "Check cancelled." and window.trust.view.cancel.isHidden()
    assert window.trust.report.deletion is None and window.message.text == ""
    gated.gate.set()
    with qtbot.waitSignal(window.client.trust.finished, timeout=WAIT_MS):
        window.trust.check()
    assert window.trust.report.sanity is not None and window.trust.view.status.text() == ""


def test_closing_during_a_trust_check_cancels_it_and_stops_the_thread(qtbot, window, gated):
    show_gradient(qtbot, window, 0)
    window.trust.check()
    qtbot.waitUntil(gated.entered.is_set, timeout=WAIT_MS)
    assert close_during_a_gated_job(window.close, gated.gate)
    assert not window.client._thread.isRunning()
    assert gated.completed == []  # cancelled, not waited for


def test_a_failing_check_is_named_in_the_message_bar(qtbot, window, monkeypatch):
    def broken(*args, **kwargs):
        if kwargs.get("curves"):
            raise RuntimeError("curves exploded")
        return trust_report(*args, **kwargs)

    monkeypatch.setattr("thulium_desktop.app.worker.trust_report", broken)
    show_gradient(qtbot, window, 0)
    with qtbot.waitSignal(window.client.trust.failed, timeout=WAIT_MS):
        window.trust.check()
    assert "Checking trust failed" in window.message.text and "curves exploded" in window.message.text
    assert window.trust.view.status.text() != "" and window.trust.check_action.isEnabled()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["gradcam"].click()
    assert window.canvas.view.map is not None


def test_the_panel_toggles_from_the_view_menu_and_is_remembered(qtbot, window, make_window):
    action = window.trust.toggle_action
    assert action in window.menuBar().actions()[1].menu().actions()
    assert window.trust.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.trust.isHidden() and not action.isChecked()
    window.close()
    again = make_window()
    assert again.trust.isHidden()
    with qtbot.waitSignal(again.settled, timeout=WAIT_MS):
        again.show_image(window.view_model.image, "hidden panel")
    assert not again.client.trust.busy and len(again.client.trust.cache) == 0  # nobody looking: no work
    again.trust.toggle_action.trigger()
    qtbot.waitUntil(lambda: again.trust.report is not None, timeout=WAIT_MS)


def labels_inside(plot: SmallPlot) -> bool:
    """Whether both axis labels' text (their box less the text item's margin) is drawn
    whole within the plot widget."""
    inside = QRectF(plot.rect())
    for side in ("bottom", "left"):
        label = plot.getAxis(side).label
        m = label.document().documentMargin()
        text = label.mapRectToScene(label.boundingRect().adjusted(m, m, -m, -m))
        if not inside.contains(QRectF(plot.mapFromScene(text).boundingRect())):
            return False
    return True


@pytest.mark.parametrize("size", [(1280, 760), (1400, 800)])
def test_a_fresh_window_reads_the_whole_check_side_by_side_under_the_canvas(qtbot, window, size):
    window.review.dock.show()  # the Images dock, as with a folder open
    window.resize(*size)
    show_gradient(qtbot, window, 1)
    with qtbot.waitSignal(window.client.trust.finished, timeout=WAIT_MS):
        window.trust.check()
    view, scroll = window.trust.view, window.trust.widget()

    def laid_out():
        assert window.dockWidgetArea(window.trust) == Qt.DockWidgetArea.BottomDockWidgetArea
        assert view.columns.direction() == SIDE_BY_SIDE
        assert view.curves.isVisible() and view.sanity.isVisible()
        curves_at, sanity_at = (w.plot.mapTo(view, w.plot.rect().topLeft()) for w in (view.curves, view.sanity))
        assert curves_at.x() < sanity_at.x() and curves_at.y() == sanity_at.y()  # side by side, lined up
        assert not scroll.verticalScrollBar().isVisible() and not scroll.horizontalScrollBar().isVisible()
        assert labels_inside(view.curves.plot) and labels_inside(view.sanity.plot)
        assert window.canvas.height() >= MIN_HEIGHT
        side = window.side_dock.widget()  # the method panel beside the canvas keeps all its lines
        assert not side.verticalScrollBar().isVisible()

    # Until the last layout pass has run (not a fixed 50 ms: a loaded machine can stall
    # the event loop past it between two passes); a layout that never gets there fails.
    qtbot.waitUntil(laid_out, timeout=WAIT_MS)


def test_docked_beside_the_canvas_the_columns_stack_and_the_place_is_remembered(qtbot, window, make_window):
    view = window.trust.view
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, window.trust)
    assert view.columns.direction() == STACKED
    assert view.curves.plot.minimumHeight() == view.curves.plot.maximumHeight() == PLOT_HEIGHT
    window.close()
    again = make_window()
    assert again.dockWidgetArea(again.trust) == Qt.DockWidgetArea.RightDockWidgetArea
    assert again.trust.view.columns.direction() == STACKED
    again.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, again.trust)
    assert again.trust.view.columns.direction() == SIDE_BY_SIDE


def test_a_plot_too_narrow_for_its_labels_scrolls_instead_of_cutting_them(qtbot):
    plot = SmallPlot("fraction of pixels deleted / inserted", "score ratio")
    qtbot.addWidget(plot)
    plot.resize(plot.minimumSize())
    plot.show()
    qtbot.waitUntil(lambda: labels_inside(plot), timeout=WAIT_MS)  # laid out (no fixed wait: see above)


def dense_hatch(width: int) -> np.ndarray:
    """A 32-px line (the tiny reader's height) of dark bars on 40% of it: ink that cannot
    be told from background."""
    hatch = np.full((32, width), 235, np.uint8)
    for x in range(0, width, 5):
        hatch[:, x : x + 2] = 25
    return hatch


def test_a_withheld_verdict_is_shown_with_its_reason(qtbot, window):
    """The engine gives no verdict where it cannot support one; the panel says why, and
    the ink measures say they were not judged."""
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.show_image(dense_hatch(window.view_model.image.shape[1]), "hatch")
    spec, exp = show_gradient(qtbot, window, 0)
    d = window.trust.report.diagnostics[0]
    assert d.label is None and "more than a third" in d.withheld
    view = window.trust.view
    assert view.label.isVisible() and "No verdict" in view.label.text() and "more than a third" in view.label.text()
    assert "focused" not in view.label.text()
    assert view.fields["Stroke focus"].text().endswith("(ink not understood: not judged)")


def test_attention_gets_its_own_verdict_from_its_place(qtbot, window):
    """An attention row is judged by its localisation and its mass in the character's
    columns, never by stroke focus."""
    assert window.view_model.current_spec().method == "attention"  # the first map every image gets
    window.timeline.select(1)
    qtbot.waitUntil(lambda: window.trust.report is not None, timeout=WAIT_MS)
    d = window.trust.report.diagnostics[1]
    assert d.family == "attention" and d.label in LABELS["attention"] and d.column_mass is not None
    view = window.trust.view
    assert d.label in view.label.text()
    assert view.fields["Column mass"].text() == f"{d.column_mass:.0%} in its columns"
    assert "never by stroke focus" in view.fields["Column mass"].toolTip()


def test_the_random_orders_spread_is_drawn_as_a_band(qtbot, word_image):
    """The band covers every random order's curve; the summary names the rule's outcome."""
    view = TrustView()
    qtbot.addWidget(view)
    view.show()
    fractions = np.linspace(0, 1, 5)
    scores = np.array([[1.0, 0.5, 0.3, 0.2, 0.1]])
    random = np.array([[[1.0, 0.9, 0.6, 0.3, 0.1], [1.0, 0.7, 0.4, 0.25, 0.1], [1.0, 0.8, 0.5, 0.2, 0.1]]])
    auc = np.trapezoid(scores, fractions, axis=1)
    random_auc = np.trapezoid(random, fractions, axis=2)
    inside = Curves("deletion", fractions, random[:, 1], random, random_auc[:, 1], random_auc)  # one of the orders
    below = Curves("insertion", fractions, scores, random, auc, random_auc)
    diagnostics = [map_diagnostics(np.ones(word_image.shape, np.float32), find_ink(word_image))]
    view.show_report("test", TrustReport(diagnostics, inside, below, None), 0)
    low, high, fill = view.curves.bands["deletion"]
    np.testing.assert_array_equal(low.getData()[1], random[0].min(axis=0))
    np.testing.assert_array_equal(high.getData()[1], random[0].max(axis=0))
    assert fill.isVisible() and "band: 3 random orders" in view.curves.title.text()
    lines = view.curves.summary.text().split("<br>")
    assert lines[0].endswith("✗ not below all 3")  # as good as one random order: not better than chance
    assert lines[1].endswith("✗ not above all 3")  # insertion: lower than every random order, the wrong side
    assert "only when its AUC lies outside the range of all 3" in view.curves.summary.toolTip()
