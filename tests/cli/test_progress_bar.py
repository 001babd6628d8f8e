"""`explain`'s progress within an image: a bar of the engine's backward chunks under the
images' bar, named after the image and the methods running, the SmoothGrad family as one."""

from __future__ import annotations

import json
import shutil

import pytest

from thulium_desktop import cli
from thulium_desktop.io.bundled import bundled_path


@pytest.fixture
def hello(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(bundled_path("samples", "hello.png"), folder / "hello.png")
    return folder


def explain(folder, out, *options) -> int:
    return cli.main(["explain", str(folder), "--out", str(out), "--model", "ctc-reader", "--format", "json",
                     *options])


def test_the_chunk_bar_counts_a_method_s_chunks_within_the_image(hello, tmp_path, capsys):
    # 100 path points on hello.png go through the model in two chunks (sized from the input)
    assert explain(hello, tmp_path / "out", "--method", "integrated", "--steps", "100", "--tolerance", "0") == 0
    err = capsys.readouterr().err
    assert "hello: integrated" in err
    assert "1/2 [" in err and "2/2 [" in err, "each chunk moves the bar"
    assert "chunk" in err


def test_the_smoothgrad_family_runs_as_one_with_one_bar(hello, tmp_path, capsys):
    out = tmp_path / "out"
    assert explain(hello, out, "--method", "all", "--samples", "6") == 0
    err = capsys.readouterr().err
    assert "hello: smoothgrad, smoothgrad_sq, vargrad" in err
    assert "hello: smoothgrad_sq" not in err and "hello: vargrad" not in err, "no separate runs"
    record = json.loads((out / "hello.json").read_text())
    assert record["status"] == "ok"
    for method in ("smoothgrad", "smoothgrad_sq", "vargrad"):
        assert record["methods"][method]["params"]["num_samples"] == 6


def test_quiet_shows_no_chunk_bar(hello, tmp_path, capsys):
    assert explain(hello, tmp_path / "out", "--method", "integrated", "--quiet") == 0
    assert "chunk" not in capsys.readouterr().err
