"""Through the CLI: bombs are refused from their headers, pipes never block a run, and
unreadable folders and unusable truths are reported rather than skipped or trusted."""

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_samples import tiny_model, write_line  # noqa: F401 (fixtures)
from fs_faults import refuse_listing

from thulium_desktop import cli
from thulium_desktop.io.images import MAX_PIXELS
from thulium_desktop.io.transcriptions import MAX_TRUTH_CHARS

sys.path.insert(0, str(Path(__file__).parents[1] / "io"))  # the bomb builders live with the io tests
from image_bombs import BOMBS  # noqa: E402


def explain(*argv) -> int:
    return cli.main(["explain", *map(str, argv), "--quiet", "--method", "gradient", "--format", "json"])


def records(out: Path) -> dict[str, dict]:
    return {r["path"]: r for r in json.loads((out / "summary.json").read_text())["images"]}


@pytest.mark.timeout(20)
def test_read_refuses_every_bomb_from_its_header(tiny_model, tmp_path, capsys):
    paths = []
    for name, (file_name, make, _, _) in BOMBS.items():
        path = tmp_path / name.replace(" ", "_") / file_name
        path.parent.mkdir()
        path.write_bytes(make())
        paths.append(path)
    write_line(tmp_path / "good.png", 0)
    assert cli.main(["read", *map(str, paths), str(tmp_path / "good.png")]) == 1
    captured = capsys.readouterr()
    header, *rows = captured.out.splitlines()
    assert header.split("\t")[0] == "path"
    assert [line.split("\t")[0] for line in rows] == [str(tmp_path / "good.png")]
    for path, (_, _, width, height) in zip(paths, BOMBS.values()):
        assert (f"failed: {path}: {width}x{height} pixels (as its header declares) is more than the limit "
                f"of {MAX_PIXELS:,} pixels; set THULIUM_MAX_PIXELS to raise it") in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.timeout(20)
def test_explain_reports_a_pipe_in_the_folder_and_explains_the_rest(tiny_model, tmp_path, capsys):
    write_line(tmp_path / "in" / "a.png", 0)
    os.mkfifo(tmp_path / "in" / "b.png")
    out = tmp_path / "out"
    assert explain(tmp_path / "in", "--out", out) == 1
    found = records(out)
    assert found[str(tmp_path / "in" / "a.png")]["status"] == "ok"
    assert found[str(tmp_path / "in" / "b.png")]["error"] == "not a regular file: it is a named pipe (FIFO)"


@pytest.mark.timeout(20)
def test_a_pipe_named_directly_is_called_what_it_is(tiny_model, tmp_path, capsys):
    os.mkfifo(tmp_path / "fifo.png")
    assert cli.main(["read", str(tmp_path / "fifo.png")]) == 1
    err = capsys.readouterr().err
    assert f"failed: {tmp_path / 'fifo.png'}: not a regular file: it is a named pipe (FIFO)" in err
    assert "no such file" not in err


@pytest.mark.timeout(20)
def test_a_pipe_in_place_of_a_truth_file_does_not_block(tiny_model, tmp_path):
    write_line(tmp_path / "in" / "a.png", 0)
    os.mkfifo(tmp_path / "in" / "a.png.gt.txt")
    out = tmp_path / "out"
    assert explain(tmp_path / "in", "--out", out) == 0
    assert "not a regular file" in records(out)[str(tmp_path / "in" / "a.png")]["truth_error"]


def test_explain_reports_a_folder_it_cannot_list(tiny_model, tmp_path, monkeypatch):
    """Tests run as root, where permissions do not bite: the refusal is simulated."""
    write_line(tmp_path / "in" / "a.png", 0)
    write_line(tmp_path / "in" / "locked" / "b.png", 1)
    refuse_listing(monkeypatch, "locked")
    out = tmp_path / "out"
    assert explain(tmp_path / "in", "--out", out) == 1
    found = records(out)
    assert found[str(tmp_path / "in" / "locked")]["error"] == "cannot list the folder: permission denied"
    assert found[str(tmp_path / "in" / "a.png")]["status"] == "ok"


@pytest.mark.timeout(20)
def test_a_huge_truth_line_is_refused_in_the_record(tiny_model, tmp_path):
    write_line(tmp_path / "in" / "a.png", 0)
    (tmp_path / "in" / "a.png.gt.txt").write_text("x" * 1_000_000 + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert explain(tmp_path / "in", "--out", out) == 0
    record = records(out)[str(tmp_path / "in" / "a.png")]
    assert "cer" not in record
    assert record["truth_error"] == (f"the truth of a.png is 1,000,000 characters long; truths over "
                                     f"{MAX_TRUTH_CHARS:,} characters are refused (not one line of text)")


def test_read_and_explain_refuse_a_strip_no_model_reads(tiny_model, tmp_path, capsys):
    strip = tmp_path / "strip.png"
    assert cv2.imwrite(str(strip), np.full((1, 50000), 200, np.uint8))
    assert cli.main(["read", str(strip)]) == 1
    assert cli.main(["explain", str(strip), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("crop it or split it into lines") == 2 and "Traceback" not in err
