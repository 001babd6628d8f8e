"""Where an image's truth comes from (the app and the CLI ask the same source)."""

from __future__ import annotations

from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.io.truths import Truth, TruthSource, truth_path


def test_truth_file_beside_the_image(tmp_path):
    image = tmp_path / "word.png"
    assert truth_path(image).name == "word.png.gt.txt"
    assert TruthSource().lookup(image) == Truth()
    truth_path(image).write_text("minimum\nsecond line ignored\n", encoding="utf-8")
    assert TruthSource().lookup(image).text == "minimum"
    truth_path(image).write_bytes(b"\x00binary")
    truth = TruthSource().lookup(image)
    assert truth.text is None and "a binary file" in truth.problem


def test_a_chosen_table_comes_before_the_file_beside_the_image(tmp_path):
    image = tmp_path / "sub" / "a.png"
    image.parent.mkdir()
    (tmp_path / "sub" / "a.png.gt.txt").write_text("beside", encoding="utf-8")
    source = TruthSource()
    assert source.lookup(image).text == "beside"
    table = tmp_path / "t.tsv"
    table.write_text("sub/a.png\tfrom the table\n", encoding="utf-8")
    assert source.choose(table) == 1
    assert source.lookup(image).text == "from the table"  # by path relative to the table
    assert source.lookup(None).text is None


def test_a_folders_ground_truth_table_is_used_unless_the_image_has_its_own(tmp_path):
    (tmp_path / "ground_truth.tsv").write_text("file\ttext\tsome-model\na.png\tfrom the folder\tx\n",
                                                encoding="utf-8")
    (tmp_path / "b.png.gt.txt").write_text("beside", encoding="utf-8")
    source = TruthSource()
    assert source.lookup(tmp_path / "a.png").text == "from the folder"
    assert source.lookup(tmp_path / "b.png").text == "beside"
    assert source.lookup(tmp_path / "c.png") == Truth()  # not in the table: no truth
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "ground_truth.tsv").write_bytes(b"\x00\x01binary")
    truth = source.lookup(bad / "a.png")
    assert truth.text is None and "ground_truth.tsv" in truth.problem


def test_an_edited_folder_table_is_read_again_once_forgotten(tmp_path):
    table = tmp_path / "ground_truth.tsv"
    table.write_text("a.png\tfirst\n", encoding="utf-8")
    source = TruthSource()
    assert source.lookup(tmp_path / "a.png").text == "first"
    table.write_text("a.png\tedited\n", encoding="utf-8")
    assert source.lookup(tmp_path / "a.png").text == "first"  # read once per folder
    source.forget_folders()
    assert source.lookup(tmp_path / "a.png").text == "edited"


def test_the_bundled_samples_open_with_their_truth():
    assert TruthSource().lookup(bundled_path("samples", "hello.png")).text == "hello"
