"""The model card's trust table: which characters count, and the command on a bundled reader."""

from __future__ import annotations

import json

import cv2
import pytest

from thulium_desktop.training.trust_measures import LABELS, TABLE_METHODS, correct_characters
from thulium_desktop.training.trust_table import main


def test_only_matched_non_space_characters_count_evenly_spaced():
    # "hallo yo" against "hello yo": 'a' is a substitution, index 5 a space.
    assert correct_characters("hallo yo", "hello yo", 10) == [0, 2, 3, 4, 6, 7]
    assert correct_characters("hallo yo", "hello yo", 3) == [0, 3, 7]
    assert correct_characters("xyz", "abc", 3) == []


@pytest.mark.filterwarnings("ignore:gradcam. the map of")
@pytest.mark.usefixtures("handwriting_fonts")
def test_table_on_the_ctc_reader_is_complete_and_tells_maps_from_random(tmp_path, capsys):
    out = tmp_path / "trust.json"
    argv = ["--model", "ctc-reader", "--images", "2", "--chars", "3", "--steps", "4", "--samples", "4",
            "--curve-steps", "5", "--sanity-images", "1", "--json", str(out)]
    assert main(argv) == 0
    record = json.loads(out.read_text(encoding="utf-8"))
    methods = record["models"]["ctc-reader"]
    assert tuple(methods) == TABLE_METHODS
    for name, m in methods.items():
        assert m["characters"] >= 3
        for key in ("stroke_focus", "spread", "background"):
            assert 0.0 <= m[key] <= 1.0
        assert sum(m["labels"][label] for label in LABELS) == pytest.approx(1.0)
        assert ("sanity" in m) == (name != "attention")
    # Issue 7's claims: gradient maps rank pixels better than random, and do not survive
    # the destruction of the model.
    gradient = methods["gradient"]
    assert gradient["deletion"]["auc"] < gradient["deletion"]["random_auc"]
    assert gradient["insertion"]["auc"] > gradient["insertion"]["random_auc"]
    assert abs(gradient["sanity"]["final"]) < 0.3 and not gradient["sanity"]["flagged"]

    # the held-out images depend on OpenCV's major version, so the record says which drew them
    printed = capsys.readouterr().out
    assert record["opencv"] == cv2.__version__ and f"OpenCV {cv2.__version__}, CPU" in printed
    table = [line for line in printed.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(TABLE_METHODS)
    assert len({line.count("|") for line in table}) == 1
    assert all(line.startswith("| ctc-reader | ") for line in table[2:])


@pytest.mark.usefixtures("handwriting_fonts")
def test_a_model_without_attention_has_no_row_but_a_broken_attention_is_raised():
    from thulium_desktop.models import load_model
    from thulium_desktop.training.evaluate import held_out_samples
    from thulium_desktop.training.trust_measures import TrustSettings, image_reports
    from thulium_desktop.xai.saliency import SaliencyGenerator

    sample = next(s for s in held_out_samples(8) if len(s.text) > 2)
    model, settings = load_model("ctc-reader"), TrustSettings(chars_per_image=1, curve_steps=3)
    engines = {"attention": SaliencyGenerator(model, settings.config("attention"))}
    assert set(image_reports(model, sample, settings, False, engines)) == {"attention"}

    model.attention = lambda x, reading: None  # a model that has none
    assert image_reports(model, sample, settings, False, engines) == {}

    def broken(x, reading):
        raise ValueError("attention rows of the wrong length")

    model.attention = broken
    with pytest.raises(ValueError, match="wrong length"):
        image_reports(model, sample, settings, False, engines)
