"""`explain` and `read` with the bundled readers: images the model cannot read well are
said and still read, and every record says what made it (versions, the model's SHA-256)
beside the truth and CER."""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from thulium_desktop import __version__, cli
from thulium_desktop.cli import recognizers

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"
MODELS = ROOT / "resources" / "models"
UPSCALED = "3×2 pixels: upscaled 16× to the model's 32-pixel height; the reading is a guess"


@pytest.fixture
def degraded(tmp_path) -> Path:
    """A bundled sample with its truth, a 3×2 crop of it, and a blank page."""
    folder = tmp_path / "in"
    folder.mkdir()
    hello = cv2.imread(str(SAMPLES / "hello.png"), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(folder / "hello.png"), hello)
    (folder / "hello.png.gt.txt").write_text("hallo\n")  # one character off what it reads
    cv2.imwrite(str(folder / "crop.png"), hello[20:22, 40:43])
    cv2.imwrite(str(folder / "blank.png"), np.full((64, 200), 250, np.uint8))
    return folder


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def explain(*argv) -> dict:
    *inputs, out = argv
    code = cli.main(["explain", *map(str, inputs), "--out", str(out), "--quiet",
                     "--method", "gradient", "--format", "json"])
    assert code in (0, 1)
    return json.loads((out / "summary.json").read_text())


def made_by(model: Path) -> dict:
    return {"tool": f"thulium-desktop {__version__}", "torch": torch.__version__,
            "python": platform.python_version(), "model_sha256": sha256(model)}


def test_images_the_model_cannot_read_well_are_noted_and_read_anyway(degraded, tmp_path, capsys):
    data = explain(degraded, tmp_path / "out")
    records = {r["name"]: r for r in data["images"]}
    assert records["crop"]["status"] == "ok" and records["crop"]["reading"] is not None
    assert records["crop"]["image_notes"][0] == UPSCALED
    assert records["blank"]["status"] == "ok" and records["blank"]["image_notes"][0].startswith("blank: no ink")
    assert records["hello"]["image_notes"] == []
    assert f"note: {degraded / 'crop.png'}: {UPSCALED}" in capsys.readouterr().err
    on_disk = json.loads((tmp_path / "out" / "crop.json").read_text())
    assert on_disk["image_notes"] == records["crop"]["image_notes"]


def test_the_summary_and_every_record_say_what_made_them(degraded, tmp_path):
    out = tmp_path / "out"
    data = explain(degraded, tmp_path / "missing.png", out)
    expected = made_by(MODELS / "attention-reader.safetensors")
    assert data.items() >= expected.items()
    assert Path(data["model_file"]).resolve() == (MODELS / "attention-reader.safetensors").resolve()
    assert len(data["images"]) == 4  # the three images and the missing file
    for record in data["images"]:
        assert record.items() >= expected.items(), record["path"]
    assert json.loads((out / "hello.json").read_text()).items() >= expected.items()


def test_records_keep_the_truth_and_cer_when_a_truth_exists(degraded, tmp_path):
    records = {r["name"]: r for r in explain(degraded, tmp_path / "out")["images"]}
    hello = records["hello"]
    assert hello["reading"] == "hello" and hello["truth"] == "hallo"
    assert hello["cer"] == pytest.approx(1 / 5)
    assert "truth" not in records["crop"] and "cer" not in records["crop"]


def test_a_model_given_by_file_is_the_file_whose_digest_is_recorded(degraded, tmp_path):
    model = tmp_path / "mine.safetensors"
    model.write_bytes((MODELS / "ctc-reader.safetensors").read_bytes())
    (tmp_path / "mine.json").write_bytes((MODELS / "ctc-reader.json").read_bytes())
    out = tmp_path / "out"
    code = cli.main(["explain", str(degraded / "hello.png"), "--model", str(model), "--out", str(out),
                     "--quiet", "--method", "gradient", "--format", "json"])
    assert code == 0
    data = json.loads((out / "summary.json").read_text())
    assert data["model_file"] == str(model) and data["model_sha256"] == sha256(model)
    assert data["images"][0]["model_sha256"] == sha256(model)


def test_read_prints_the_notes_and_still_reads(degraded, capsys):
    assert cli.main(["read", str(degraded)]) == 0
    captured = capsys.readouterr()
    rows = {line.split("\t")[0]: line for line in captured.out.splitlines()[1:]}
    assert set(rows) == {str(degraded / n) for n in ("blank.png", "crop.png", "hello.png")}
    assert f"note: {degraded / 'crop.png'}: {UPSCALED}" in captured.err
    assert f"note: {degraded / 'blank.png'}: blank: no ink" in captured.err
    assert f"note: {degraded / 'hello.png'}" not in captured.err


def test_a_model_file_that_cannot_be_read_for_its_digest_is_a_usage_error(degraded, tmp_path, monkeypatch,
                                                                          capsys):
    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(recognizers, "sha256_of", refuse)
    code = cli.main(["explain", str(degraded / "hello.png"), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "attention-reader.safetensors to record the model's SHA-256: Permission denied" in err
