"""The CLI with the bundled readers (real weights) on the committed sample images."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest

from thulium_desktop import cli
from thulium_desktop.cli import outputs, recognizers
from thulium_desktop.cli.contrast import NO_SUBSTITUTION, NO_TRUTH
from thulium_desktop.io.images import load_image
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"
MODELS = ROOT / "resources" / "models"


@pytest.fixture(scope="module")
def few_samples(tmp_path_factory):
    """Three sample images (a word, a colour image, a line: whatever sorts first) in a folder."""
    folder = tmp_path_factory.mktemp("samples")
    for path in sorted(SAMPLES.glob("*.png"))[:3]:
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_models_lists_both_readers_with_their_metrics(capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("attention-reader  (attention-gru-bahdanau)")
    assert "ctc-reader  (crnn-ctc)" in out
    assert "held_out: cer=" in out and "pointing_game=" in out


def test_default_model_explains_samples_into_every_format(few_samples, tmp_path):
    out = tmp_path / "out"
    code = cli.main(["explain", str(few_samples), "--out", str(out), "--quiet",
                     "--format", "png,svg,pdf,npz,json", "--dpi", "60"])
    assert code == 0
    data = json.loads((out / "summary.json").read_text())
    assert data["model"] == "attention-reader" and data["counts"]["ok"] == 3
    for record in data["images"]:
        name = record["name"]
        assert record["reading"] and len(record["confidences"]) == len(record["reading"])
        assert cv2.imread(str(out / f"{name}.gradient.png")) is not None
        assert ET.parse(out / f"{name}.gradient.svg").getroot().tag.endswith("svg")
        assert (out / f"{name}.gradient.pdf").read_bytes().startswith(b"%PDF")
        image = cv2.imread(str(few_samples / Path(record["path"]).name), cv2.IMREAD_UNCHANGED)
        with np.load(out / f"{name}.npz") as npz:
            assert npz["gradient"].shape == (len(record["reading"]), *image.shape[:2])


def test_ctc_reader_by_file_path_with_all_methods_on_one_character(few_samples, tmp_path):
    image = sorted(few_samples.iterdir())[0]
    out = tmp_path / "out"
    code = cli.main(["explain", str(image), "--model", str(MODELS / "ctc-reader.safetensors"),
                     "--method", "all", "--token", "0", "--steps", "8", "--samples", "4",
                     "--out", str(out), "--quiet", "--format", "png,json", "--dpi", "60"])
    assert code == 0
    record = json.loads((out / f"{image.stem}.json").read_text())
    assert set(record["methods"]) == {"attention", "gradient", "integrated", "smoothgrad",
                                      "smoothgrad_sq", "vargrad", "gradcam"}
    assert all(m["token_indices"] == [0] for m in record["methods"].values())
    assert cv2.imread(str(out / f"{image.stem}.compare.png")) is not None


def test_read_prints_one_line_per_sample(few_samples, capsys):
    assert cli.main(["read", str(few_samples), "--model", "ctc-reader"]) == 0
    header, *rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert header == ["path", "reading", "confidences"]  # no truths beside these copies
    assert len(rows) == 3 and all(len(r) == 3 and r[1] for r in rows)


def test_unknown_model_is_a_usage_error_naming_the_bundled_ones(few_samples, capsys):
    assert cli.main(["read", str(few_samples), "--model", "no-such-reader"]) == 2
    err = capsys.readouterr().err
    assert "no-such-reader" in err and "attention-reader" in err and "Traceback" not in err


def test_diagnostics_sanity_and_ground_truth_in_the_record(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "hello.png").write_bytes((SAMPLES / "hello.png").read_bytes())
    (folder / "hello.png.gt.txt").write_text("hallo\n", encoding="utf-8")
    out = tmp_path / "out"
    code = cli.main(["explain", str(folder), "--model", "ctc-reader", "--method", "gradient",
                     "--diagnostics", "--sanity", "--out", str(out), "--quiet", "--format", "json"])
    assert code == 0
    record = json.loads((out / "hello.json").read_text())
    assert record["reading"] == "hello" and record["truth"] == "hallo"
    assert record["cer"] == pytest.approx(0.2)
    assert record["edits"] == {"match": 4, "substitution": 1, "insertion": 0, "deletion": 0}
    trust = record["methods"]["gradient"]["trust"]
    assert len(trust["diagnostics"]) == 5
    assert {d["label"] for d in trust["diagnostics"]} <= {"focused on strokes", "scattered", "background activation"}
    assert len(trust["deletion"]["auc"]) == 5 and len(trust["insertion"]["random_auc"]) == 5
    assert trust["sanity"]["layers"][0] == "classify" and isinstance(trust["sanity"]["flagged"], bool)


def test_captions_name_the_models_format_device_and_size(tmp_path):
    out = tmp_path / "out"
    code = cli.main(["explain", str(SAMPLES / "hello.png"), "--model", str(MODELS / "ctc-reader.safetensors"),
                     "--out", str(out), "--quiet", "--format", "json"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model_description"].startswith("ctc-reader · safetensors · cpu · ")
    assert summary["model_description"].endswith(" parameters")


def test_contrast_writes_each_substitutions_figure_map_and_record(tmp_path, monkeypatch):
    """hello.png read "hello" against the truth "hallo": character 1 ('e' for 'a') gets the
    app's contrast figure and the very map `explain_contrast` makes; an image without a
    truth and one read correctly say why they have none, and the run still succeeds."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("hello.png", "thulium.png", "attention.png", "price.png"):
        (folder / name).write_bytes((SAMPLES / name).read_bytes())
    (folder / "hello.png.gt.txt").write_text("hallo\n", encoding="utf-8")
    (folder / "price.png.gt.txt").write_bytes(b"$42\x00.50")  # unusable: binary
    (folder / "attention.png.gt.txt").write_text("attention\n", encoding="utf-8")
    captions, save = {}, outputs.save_figure

    def save_and_note_caption(fig, path, dpi):
        captions[Path(path).name] = fig.get_suptitle(), fig.axes[0].get_title()
        return save(fig, path, dpi)

    monkeypatch.setattr(outputs, "save_figure", save_and_note_caption)
    out = tmp_path / "out"
    code = cli.main(["explain", str(folder), "--method", "attention", "--contrast", "--out", str(out),
                     "--quiet", "--format", "png,npz,json", "--dpi", "40"])
    assert code == 0
    assert cv2.imread(str(out / "hello.gradient.contrast-1.png")) is not None
    caption, label = captions["hello.gradient.contrast-1.png"]
    assert label.startswith("\u2018e\u2019 #2 ")  # the second character, counted as people do
    assert "gradient" in caption and "\u2018e\u2019 rather than the true \u2018a\u2019" in caption
    record = json.loads((out / "hello.json").read_text())
    assert [(c["method"], c["token"], c["read"], c["truth"]) for c in record["contrasts"]] == [
        ("gradient", 1, "e", "a")]
    assert record["contrast_notes"] == []
    generator = SaliencyGenerator(recognizers.prepared_recognizer(None, "cpu").recognizer,
                                  SaliencyConfig(absolute=False))
    image = load_image(folder / "hello.png")
    expected = generator.explain_contrast(image, 1, "a", method="gradient")
    with np.load(out / "hello.gradient.contrast-1.npz") as npz:
        np.testing.assert_allclose(npz["gradient"], expected.maps, atol=1e-6)
        assert str(npz["gradient_contrast_with"]) == "a"
    assert record["contrasts"][0]["score_difference"] == pytest.approx(float(expected.scores[0]), rel=1e-5)
    summary = json.loads((out / "summary.json").read_text())
    notes = {r["name"]: r["contrast_notes"] for r in summary["images"]}
    price = notes.pop("price")
    assert notes == {"attention": [NO_SUBSTITUTION], "hello": [], "thulium": [NO_TRUTH]}
    assert len(price) == 1 and price[0].startswith("no contrast: the truth file could not be used (")
    assert summary["contrast"] is True and summary["counts"]["failed"] == 0
    assert not list(out.glob("thulium.*contrast*")) and not list(out.glob("attention.*contrast*"))


def test_contrast_finds_the_samples_ground_truth_table(tmp_path):
    """The bundled samples carry their truths in a folder table, as the app reads them: the
    CLI's --contrast finds them there too (the default reader reads unseen-breip.png as
    'upadient' for 'gradient')."""
    out = tmp_path / "out"
    code = cli.main(["explain", str(SAMPLES / "unseen-breip.png"), "--method", "gradient", "--contrast",
                     "--out", str(out), "--quiet", "--format", "json"])
    assert code == 0
    record = json.loads((out / "unseen-breip.json").read_text())
    assert record["truth"] == "gradient" and record["cer"] > 0
    assert [(c["read"], c["truth"]) for c in record["contrasts"]] == [
        (r, t) for r, t in zip(record["reading"], "gradient") if r != t]
    assert record["contrasts"] and record["contrast_notes"] == []
