"""What the CLI says about how an input was taken: EXIF rotations and non-finite pixels
(`image_notes`), where a truth came from (`truth_notes`), truths too long to compare
(`truth_error`), and `read`'s truth and CER columns."""

import json

import cv2
import numpy as np
import pytest
from cli_samples import tiny_model, write_line  # noqa: F401 (fixtures)
from PIL import Image

from thulium_desktop import cli
from thulium_desktop.io.truths import FOLDER_TABLE


def explain(*argv) -> int:
    return cli.main(["explain", *map(str, argv), "--quiet", "--method", "gradient", "--format", "json"])


def records(out) -> dict[str, dict]:
    return {r["path"]: r for r in json.loads((out / "summary.json").read_text())["images"]}


def write_rotated_jpeg(path, upright: np.ndarray) -> None:
    """`upright` stored turned a quarter counter-clockwise, with EXIF orientation 6 (as
    a phone held sideways writes it), so a viewer turns it back upright."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1))).save(path, "JPEG", quality=95, exif=exif)


def write_float_tiff_with_inf(path) -> None:
    img = np.ones((32, 96), np.float32)
    img[8:24, 10:80] = 0.2
    img[0, 0] = np.inf
    assert cv2.imwrite(str(path), img)


def test_explain_records_image_notes(tiny_model, tmp_path, capsys):
    folder = tmp_path / "in"
    write_line(folder / "plain.png", 0)
    upright = cv2.imread(str(folder / "plain.png"), cv2.IMREAD_GRAYSCALE)
    write_rotated_jpeg(folder / "sideways.jpg", upright)
    write_float_tiff_with_inf(folder / "inf.tif")
    out = tmp_path / "out"
    assert explain(folder, "--out", out) == 0
    found = records(out)
    assert found[str(folder / "plain.png")]["image_notes"] == []
    assert found[str(folder / "sideways.jpg")]["image_notes"] == ["EXIF orientation 6 applied: rotated 90° clockwise"]
    assert found[str(folder / "sideways.jpg")]["status"] == "ok"
    [inf_note] = found[str(folder / "inf.tif")]["image_notes"]
    assert inf_note.startswith("1 of 3,072 pixel values are not finite")
    assert json.loads((out / "sideways.json").read_text())["image_notes"] == found[str(folder / "sideways.jpg")][
        "image_notes"]  # the image's own record has them too
    err = capsys.readouterr().err
    assert f"note: {folder / 'sideways.jpg'}: EXIF orientation 6 applied" in err


def test_explain_records_truth_notes_of_a_table_naming_an_image_twice(tiny_model, tmp_path):
    folder = tmp_path / "in"
    write_line(folder / "a.png", 0)
    write_line(folder / "b.png", 1)
    (folder / FOLDER_TABLE).write_text("a.png\tfirst\nb.png\tbee\na.png\tsecond\n")
    out = tmp_path / "out"
    assert explain(folder, "--out", out) == 0
    found = records(out)
    a, b = found[str(folder / "a.png")], found[str(folder / "b.png")]
    assert a["truth"] == "second"
    assert a["truth_notes"] == [f"{FOLDER_TABLE} names a.png on 2 lines (1, 3); the last one is used"]
    assert b["truth"] == "bee" and b["truth_notes"] == []


def test_a_truth_ten_times_the_reading_is_a_truth_error_not_a_cer(tiny_model, tmp_path):
    folder = tmp_path / "in"
    write_line(folder / "a.png", 0)
    (folder / "a.png.gt.txt").write_text("x" * 5000 + "\n")  # under the 10,000 refused outright
    out = tmp_path / "out"
    assert explain(folder, "--out", out) == 0
    record = records(out)[str(folder / "a.png")]
    assert len(record["reading"]) < 500
    assert "cer" not in record and "truth" not in record
    assert record["truth_error"].startswith("the truth is 5,000 characters long, more than ")
    assert record["truth_error"].endswith("; not compared")


@pytest.mark.timeout(60)
def test_read_adds_truth_and_cer_columns_and_notes(tiny_model, tmp_path, capsys):
    folder = tmp_path / "in"
    write_line(folder / "a.png", 0)
    write_line(folder / "b.png", 1)
    write_line(folder / "c.png", 2)
    upright = cv2.imread(str(folder / "a.png"), cv2.IMREAD_GRAYSCALE)
    write_rotated_jpeg(folder / "d.jpg", upright)
    assert cli.main(["read", str(folder)]) == 0
    readings = {line.split("\t")[0]: line.split("\t")[1] for line in capsys.readouterr().out.splitlines()[1:]}
    (folder / "a.png.gt.txt").write_text(readings[str(folder / "a.png")] + "\n")  # read exactly
    (folder / "b.png.gt.txt").write_text(readings[str(folder / "b.png")] + "zz\n")
    (folder / "c.png.gt.txt").write_text("y" * 5000 + "\n")
    assert cli.main(["read", str(folder)]) == 0
    captured = capsys.readouterr()
    header, *rows = [line.split("\t") for line in captured.out.splitlines()]
    assert header == ["path", "reading", "confidences", "truth", "cer"]
    by_path = {r[0]: r for r in rows}
    assert by_path[str(folder / "a.png")][3:] == [readings[str(folder / "a.png")], "0.0000"]
    b_reading = readings[str(folder / "b.png")]
    assert by_path[str(folder / "b.png")][3:] == [b_reading + "zz", f"{2 / (len(b_reading) + 2):.4f}"]
    assert by_path[str(folder / "c.png")][3:] == ["", ""]  # too long to compare: no numbers
    assert by_path[str(folder / "d.jpg")][3:] == ["", ""]  # no truth
    assert f"note: {folder / 'c.png'}: truth not used: the truth is 5,000 characters long" in captured.err
    assert f"note: {folder / 'd.jpg'}: EXIF orientation 6 applied: rotated 90° clockwise" in captured.err
    assert "failed" not in captured.err
