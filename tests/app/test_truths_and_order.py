"""The plain logic under errors first: per-token marks, lookup order, file orders, specs."""

from __future__ import annotations

from pathlib import Path

from thulium_desktop.app.files import ImageStats, sorted_paths
from thulium_desktop.app.jobs import MethodSpec
from thulium_desktop.app.truths import Truth, TruthSource, describe_edits
from thulium_desktop.xai.ground_truth import compare


def test_marks_follow_the_hand_worked_alignment():
    c = compare(tuple("hamdwritng"), "handwriting")
    assert [i for i, k in enumerate(c.kinds) if k != "match"] == [2]
    assert c.substituted(2) == "n" and c.substituted(0) is None
    assert c.missed == {8: "i"}  # the skipped i sits before the read "n" (index 8)
    assert abs(c.cer - 2 / 11) < 1e-12
    assert describe_edits(c.counts) == "1 substitution, 1 deletion"


def test_a_multi_character_token_takes_its_first_error():
    c = compare(("he", "llo"), "hallo")
    assert c.kinds == ("substitution", "match") and c.truth_chars == ("ha", "llo")


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
    samples = Path(__file__).resolve().parents[2] / "resources" / "samples"
    assert TruthSource().lookup(samples / "hello.png").text == "hello"


def test_errors_first_orders_with_unknowns_last():
    a, b, c, d = (Path(n) for n in "abcd")
    stats = {a: ImageStats(0.1, 0.9), b: ImageStats(0.5, 0.2), c: ImageStats(None, 0.05)}
    assert sorted_paths([d, c, b, a], "name", stats) == [a, b, c, d]
    assert sorted_paths([a, b, c, d], "error", stats) == [b, a, c, d]
    assert sorted_paths([a, b, c, d], "confidence", stats) == [c, b, a, d]


def test_a_contrast_spec_is_signed_and_takes_gradients_for_attention():
    spec = MethodSpec.build("attention", {"absolute": True}, whole_reading=True, contrast=(2, "o"))
    assert spec.method == "gradient" and spec.signed and not spec.whole_reading
    assert spec != MethodSpec.build("gradient", {"absolute": False})
    assert "contrast with 'o'" in spec.describe()
