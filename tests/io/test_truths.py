"""Where an image's truth comes from (the app and the CLI ask the same source)."""

from __future__ import annotations

import pytest
from page_builder import compose_page, page_xml, write_image

from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.io.corpus import collect_images
from thulium_desktop.io.transcriptions import MAX_TRUTH_CHARS
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


def test_a_folder_table_naming_an_image_twice_warns(tmp_path):
    (tmp_path / "ground_truth.tsv").write_text("a.png\tfirst\na.png\tsecond\n", encoding="utf-8")
    truth = TruthSource().lookup(tmp_path / "a.png")
    assert truth.text == "second"
    assert truth.notes == ("ground_truth.tsv names a.png on 2 lines (1, 2); the last one is used",)


def test_a_chosen_table_naming_an_image_twice_warns(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("a.png\tfirst\na.png\tsecond\n", encoding="utf-8")
    source = TruthSource()
    source.choose(table)
    assert source.lookup(tmp_path / "a.png").notes == ("t.tsv names a.png on 2 lines (1, 2); the last one is used",)


def test_a_truth_file_linking_outside_the_images_folder_is_not_followed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("private first line\n", encoding="utf-8")
    images = tmp_path / "images"
    images.mkdir()
    truth_path(images / "a.png").symlink_to(secret)
    (images / "ground_truth.tsv").write_text("a.png\tfrom the folder\n", encoding="utf-8")
    truth = TruthSource().lookup(images / "a.png")
    assert truth.text == "from the folder"  # as if the link were not there
    assert truth.notes == ("a.png.gt.txt is a link to a file outside the image's folder; it was not followed",)


def test_a_folder_table_linking_outside_the_folder_is_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere.tsv"
    elsewhere.write_text("a.png\tprivate\n", encoding="utf-8")
    images = tmp_path / "images"
    images.mkdir()
    (images / "ground_truth.tsv").symlink_to(elsewhere)
    truth = TruthSource().lookup(images / "a.png")
    assert truth.text is None and "private" not in str(truth)
    assert truth.notes == ("ground_truth.tsv is a link to a file outside the image's folder; it was not followed",)


def test_a_truth_file_linking_inside_the_folder_is_followed(tmp_path):
    (tmp_path / "shared.txt").write_text("minimum\n", encoding="utf-8")
    truth_path(tmp_path / "a.png").symlink_to(tmp_path / "shared.txt")
    assert TruthSource().lookup(tmp_path / "a.png") == Truth("minimum")


def test_a_huge_truth_line_is_refused_with_its_length(tmp_path):
    truth_path(tmp_path / "a.png").write_text("x" * (MAX_TRUTH_CHARS + 1) + "\n", encoding="utf-8")
    truth = TruthSource().lookup(tmp_path / "a.png")
    assert truth.text is None
    assert truth.problem == (f"the truth of a.png is {MAX_TRUTH_CHARS + 1:,} characters long; truths over "
                             f"{MAX_TRUTH_CHARS:,} characters are refused (not one line of text)")
    truth_path(tmp_path / "a.png").write_text("x" * MAX_TRUTH_CHARS, encoding="utf-8")
    assert TruthSource().lookup(tmp_path / "a.png").text == "x" * MAX_TRUTH_CHARS


@pytest.fixture(scope="module")
def page():
    return compose_page()


def test_a_page_lines_truth_comes_from_its_layout_and_nowhere_else(tmp_path, page):
    """The folder's table names the page's image: it is not a line's truth."""
    write_image(page, tmp_path / "page.png")
    (tmp_path / "page.xml").write_bytes(page_xml(page, "page.png"))
    (tmp_path / "ground_truth.tsv").write_text("page.png\tthe whole page\n", encoding="utf-8")
    items = collect_images([tmp_path / "page.xml"]).items
    source = TruthSource()
    assert [source.lookup(item) for item in items] == [Truth(line.truth) for line in page.lines]
    assert source.lookup(items[0].path).text == "the whole page"  # the image itself, as before
    untranscribed = page_xml(page, "page.png").replace(b"<Unicode>hello</Unicode>", b"<Unicode />")
    (tmp_path / "page.xml").write_bytes(untranscribed)
    assert source.lookup(collect_images([tmp_path / "page.xml"]).items[0]) == Truth()


def test_an_image_items_truth_is_its_files(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "a.png.gt.txt").write_text("minimum\n", encoding="utf-8")
    item = collect_images([tmp_path / "a.png"]).items[0]
    assert item.line is None and TruthSource().lookup(item) == Truth("minimum")


def test_a_huge_line_truth_in_a_layout_is_refused_with_the_lines_name(tmp_path, page):
    write_image(page, tmp_path / "page.png")
    huge = "x" * (MAX_TRUTH_CHARS + 1)
    (tmp_path / "page.xml").write_bytes(page_xml(page, "page.png").replace(b">hello<", f">{huge}<".encode()))
    truth = TruthSource().lookup(collect_images([tmp_path / "page.xml"]).items[0])
    assert truth.text is None and truth.problem.startswith(f"the truth of page/l1 is {MAX_TRUTH_CHARS + 1:,} characters")
