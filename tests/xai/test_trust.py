"""The trust report gathers every measure, and is JSON-able."""

from __future__ import annotations

import json

import pytest

from thulium_desktop.xai.saliency import Cancelled, SaliencyConfig, SaliencyGenerator
from thulium_desktop.xai.sanity import parameter_layers
from thulium_desktop.xai.trust import trust_report


def test_report_has_every_measure_for_every_character(recognizer, word_image):
    cfg = SaliencyConfig(method="gradient")
    exp = SaliencyGenerator(recognizer, cfg).explain(word_image, tokens=[0, 3])
    stages = []
    report = trust_report(recognizer, word_image, exp, cfg, sanity=True, steps=5, progress=stages.append)
    layers = len(parameter_layers(recognizer.module))
    sanity = [f"randomisation check: layer {i} of {layers}" for i in range(1, layers + 1)]
    assert stages == ["diagnostics", "deletion curve", "insertion curve", *sanity]
    assert len(report.diagnostics) == 2 and report.diagnostics[0].localisation_px is not None
    assert report.deletion.scores.shape == (2, 6) and report.insertion.mode == "insertion"
    assert report.sanity.correlations.shape[1] == 2
    data = json.loads(json.dumps(report.as_dict()))
    assert set(data) == {"diagnostics", "deletion", "insertion", "sanity"}
    assert data["diagnostics"][0]["label"] in {"focused on strokes", "scattered", "background activation"}


def test_whole_reading_gets_diagnostics_only(recognizer, word_image):
    cfg = SaliencyConfig(method="gradcam")
    exp = SaliencyGenerator(recognizer, cfg).explain(word_image, tokens=None)
    report = trust_report(recognizer, word_image, exp, cfg, sanity=True)
    assert len(report.diagnostics) == 1 and report.deletion is None and report.sanity is None
    assert report.diagnostics[0].localisation_px is None


@pytest.mark.parametrize("stop_at", ["deletion curve", "randomisation check: layer 2"])
def test_a_cancelled_check_stops_at_its_next_stage(recognizer, word_image, stop_at):
    """The app cancels a check the user left; it must stop within the stage it is in."""
    cfg = SaliencyConfig(method="gradient")
    exp = SaliencyGenerator(recognizer, cfg).explain(word_image, tokens=[0, 3])
    stages: list[str] = []
    with pytest.raises(Cancelled):
        trust_report(recognizer, word_image, exp, cfg, sanity=True, steps=5, progress=stages.append,
                     cancel=lambda: any(s.startswith(stop_at) for s in stages))
    assert stages[-1].startswith(stop_at)
