"""`explain --batch-images N`: lines of the same width explained per forward pass, with the
same maps as one by one, images per minute in the summary, and every image's record kept."""

import json
import os
import shutil
import signal
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_samples import tiny_model, write_line  # noqa: F401 (fixtures)

from thulium_desktop import cli
from thulium_desktop.cli import explain as explain_module
from thulium_desktop.models import CTCRecognizer
from thulium_desktop.xai import batched as batched_module
from thulium_desktop.xai.batched import MAP_TOLERANCE
from thulium_desktop.xai.precision import map_difference

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
#: Sample lines the ctc-reader reads at the same model widths (84 and 120 px), and one alone.
SAME_WIDTH = ("price", "unseen-breip", "real-digits", "recognition", "unseen-dancing-bold")
ALONE = "hello"


def run(*argv):
    return cli.main(["explain", *map(str, argv), "--quiet"])


def summary(out):
    return json.loads((out / "summary.json").read_text())


@pytest.fixture
def lines(tmp_path):
    """Sample lines (five batchable, one of its own width) and a corrupt file."""
    folder = tmp_path / "lines"
    folder.mkdir()
    for name in (*SAME_WIDTH, ALONE):
        shutil.copy(SAMPLES / f"{name}.png", folder / f"{name}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot the rest of a png")
    return folder


def test_a_batched_run_writes_the_maps_of_a_one_by_one_run(lines, tmp_path):
    batched, alone = tmp_path / "batched", tmp_path / "alone"
    common = ("--model", "ctc-reader", "--format", "json,npz")
    assert run(lines, "--out", batched, "--batch-images", "4", *common) == 1  # the broken file fails
    assert run(lines, "--out", alone, "--batch-images", "1", *common) == 1
    data, reference = summary(batched), summary(alone)
    assert data["batching"]["parity"]["passed"] is True and data["batching"]["images_batched"] == 5
    assert data["batching"]["parity"]["max_map_difference"] <= MAP_TOLERANCE
    assert reference["batching"] == {"batch_images": 1}
    assert data["images_per_minute"] > 0 and reference["images_per_minute"] > 0
    records = {r["name"]: r for r in data["images"]}
    assert [r["name"] for r in data["images"]] == [r["name"] for r in reference["images"]]  # corpus order
    assert records["broken"]["status"] == "failed" and "batch" not in records[ALONE]
    assert {name: records[name]["batch"]["images"] for name in SAME_WIDTH} == {
        "price": 2, "unseen-breip": 2, "real-digits": 3, "recognition": 3, "unseen-dancing-bold": 3}
    for name in (*SAME_WIDTH, ALONE):
        assert records[name]["status"] == "ok" and records[name]["seconds"] > 0
        with np.load(batched / f"{name}.npz") as mine, np.load(alone / f"{name}.npz") as theirs:
            assert list(mine["tokens"]) == list(theirs["tokens"])
            assert map_difference(mine["gradient"], theirs["gradient"]) <= MAP_TOLERANCE


def test_on_a_cpu_images_go_one_by_one_unless_asked(tiny_model, tmp_path):
    for i in range(2):
        write_line(tmp_path / "in" / f"{i}.png", i)
    assert run(tmp_path / "in", "--out", tmp_path / "out") == 0
    data = summary(tmp_path / "out")
    assert data["batching"] == {"batch_images": 1}
    assert all("batch" not in r for r in data["images"])


def test_methods_that_are_not_batched_run_alone_beside_the_batched_one(tiny_model, tmp_path):
    for i in range(3):
        write_line(tmp_path / "in" / f"{i}.png", i)
    out = tmp_path / "out"
    assert run(tmp_path / "in", "--out", out, "--method", "all", "--steps", "2", "--samples", "2",
               "--batch-images", "3", "--format", "json") == 0
    for record in summary(out)["images"]:
        assert record["batch"] == {"images": 3, "width": 96}
        assert set(record["methods"]) == set(summary(out)["methods"])


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_batch_size_that_is_not_a_positive_number_is_refused(value, tmp_path, capsys):
    assert run(tmp_path, "--batch-images", value) == 2
    assert f"--batch-images: expected a positive integer or auto, got {value!r}" in capsys.readouterr().err


def test_ctrl_c_in_a_batched_run_stops_after_the_current_image(tiny_model, tmp_path, monkeypatch, sigint_handler):
    for i in range(3):
        write_line(tmp_path / "in" / f"{i}.png", i)
    original = explain_module._explain_one

    def explain_then_press_ctrl_c(*args):
        record = original(*args)
        os.kill(os.getpid(), signal.SIGINT)
        return record

    monkeypatch.setattr(explain_module, "_explain_one", explain_then_press_ctrl_c)
    out = tmp_path / "out"
    assert run(tmp_path / "in", "--out", out, "--batch-images", "3", "--format", "json") == 130
    data = summary(out)
    assert data["interrupted"] is True and data["counts"]["done"] == 1
    assert data["images"][0]["batch"]["images"] == 3
    assert (out / "0.json").exists() and not (out / "1.json").exists()


def test_each_batched_image_records_only_the_warnings_raised_for_it(lines, tmp_path, monkeypatch):
    """A warning the model raises while reading one line is that line's alone, not every
    line's of the window its batch came from."""
    read = CTCRecognizer.read

    def read_and_warn(self, x):
        warnings.warn(f"read {x.shape[-1]} px, {float(x.sum()):.3f} ink")
        return read(self, x)

    monkeypatch.setattr(CTCRecognizer, "read", read_and_warn)
    out = tmp_path / "out"
    assert run(lines, "--out", out, "--model", "ctc-reader", "--batch-images", "4", "--format", "json") == 1
    records = {r["name"]: r for r in summary(out)["images"]}
    heard = {name: records[name]["methods"]["gradient"]["warnings"] for name in SAME_WIDTH}
    for name in SAME_WIDTH:
        assert [w.split(",")[0] for w in heard[name]] == [f"read {records[name]['batch']['width']} px"]
    assert len({w for ws in heard.values() for w in ws}) == len(SAME_WIDTH)  # each its own line's


def test_a_batch_out_of_memory_halves_the_batches_after_it_and_the_summary_says_so(tmp_path, monkeypatch):
    """Six copies of a line in batches of four: the first batch runs out of CUDA memory, its
    lines are explained alone with the reason, the last two in a batch of two."""
    folder = tmp_path / "lines"
    folder.mkdir()
    for i in range(6):
        shutil.copy(SAMPLES / "price.png", folder / f"p{i}.png")
    combined = batched_module.combined_reading
    failures = []

    def out_of_memory_once(readings):
        if not failures:
            failures.append(len(readings))
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return combined(readings)

    monkeypatch.setattr(batched_module, "combined_reading", out_of_memory_once)
    out = tmp_path / "out"
    assert run(folder, "--out", out, "--model", "ctc-reader", "--batch-images", "4", "--format", "json") == 0
    data = summary(out)
    assert failures == [4]
    assert {k: data["batching"][k] for k in ("batch_images", "out_of_memory", "batch_images_at_end",
                                             "images_batched")} == {
        "batch_images": 4, "out_of_memory": [4], "batch_images_at_end": 2, "images_batched": 2}
    assert data["batching"]["parity"]["passed"] is True
    for record in data["images"]:
        notes = record["methods"]["gradient"]["notes"]
        if record["name"] in ("p4", "p5"):
            assert record["batch"]["images"] == 2 and notes == []
        else:
            assert "batch" not in record and record["status"] == "ok"
            assert notes == ["explained alone: its batch failed (OutOfMemoryError: CUDA out of memory. "
                             "Tried to allocate 2.00 GiB)"]
