"""Corpus discovery, output names and shards: pure functions of the command line."""

import os
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from fs_faults import refuse_listing
from page_builder import alto_xml, compose_page, page_xml, write_image

from thulium_desktop.io.corpus import collect_images, image_paths, list_images, load_item, shard, unique_names
from thulium_desktop.io.images import ImageLoadError
from thulium_desktop.io.truths import TruthSource
from thulium_desktop.models.registry import load_model


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folders_are_searched_recursively_in_sorted_order(tmp_path):
    for rel in ["b.png", "a.jpg", "sub/c.TIF", "notes.txt", ".hidden.png", ".cache/d.png", "sub/.x.png.tmp"]:
        touch(tmp_path / "in" / rel)
    corpus = collect_images([tmp_path / "in"])
    assert [i.name for i in corpus.items] == ["a", "b", "sub/c"]
    assert corpus.missing == ()


def test_the_app_opens_what_the_cli_explains_and_explicit_files_as_given(tmp_path):
    """One walk for both faces: hidden files and folders are skipped by the app too."""
    for rel in ["b.png", "a.jpg", "sub/c.TIF", "notes.txt", ".hidden.png", ".cache/d.png", "sub/.x.png.tmp"]:
        touch(tmp_path / "in" / rel)
    explicit = [tmp_path / "in" / ".hidden.png", tmp_path / "in" / "notes.txt", tmp_path / "missing.png"]
    opened = image_paths([tmp_path / "in", *explicit])
    assert opened == [i.path for i in collect_images([tmp_path / "in"]).items] + explicit
    assert [p.relative_to(tmp_path / "in").as_posix() for p in opened[:3]] == ["a.jpg", "b.png", "sub/c.TIF"]


def test_output_folder_inside_the_input_is_not_explained(tmp_path):
    touch(tmp_path / "a.png")
    touch(tmp_path / "out" / "a.gradient.png")
    assert [i.name for i in collect_images([tmp_path], exclude=[tmp_path / "out"]).items] == ["a"]


def test_explicit_files_missing_paths_and_duplicates(tmp_path):
    image = touch(tmp_path / "scan.data")  # an explicit file is tried whatever its suffix
    corpus = collect_images([image, tmp_path / "nope.png", image, tmp_path])
    assert [i.name for i in corpus.items] == ["scan"]
    assert corpus.missing == ((str(tmp_path / "nope.png"), "no such file or folder"),)


def test_clashing_names_keep_their_suffix_or_get_a_number():
    rel = [PurePosixPath(p) for p in ["a.png", "A.jpg", "b.png", "x/c.png", "x/c.png", "d.png"]]
    assert unique_names(rel) == ["a.png", "A.jpg", "b", "x/c.png", "x/c.png~2", "d"]


def test_shards_partition_the_corpus(tmp_path):
    for i in range(10):
        touch(tmp_path / f"{i:02d}.png")
    items = collect_images([tmp_path]).items
    parts = [shard(items, i, 3) for i in range(3)]
    names = [item.name for part in parts for item in part]
    assert sorted(names) == [item.name for item in items]
    assert [len(p) for p in parts] == [4, 3, 3]
    with pytest.raises(ValueError):
        shard(items, 3, 3)


@pytest.mark.timeout(20)
def test_a_pipe_in_a_folder_is_reported_not_opened(tmp_path):
    touch(tmp_path / "in" / "a.png")
    os.mkfifo(tmp_path / "in" / "pipe.png")
    corpus = collect_images([tmp_path / "in"])
    assert [i.name for i in corpus.items] == ["a"]
    assert corpus.missing == ((str(tmp_path / "in" / "pipe.png"), "not a regular file: it is a named pipe (FIFO)"),)
    listing = list_images([tmp_path / "in"])
    assert listing.paths == [tmp_path / "in" / "a.png"] and listing.problems == list(corpus.missing)


@pytest.mark.timeout(20)
def test_a_pipe_named_directly_is_not_called_missing(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    corpus = collect_images([tmp_path / "pipe.png"])
    assert corpus.items == ()
    assert corpus.missing == ((str(tmp_path / "pipe.png"), "not a regular file: it is a named pipe (FIFO)"),)


def test_a_folder_that_cannot_be_listed_is_reported(tmp_path, monkeypatch):
    """Tests run as root, where permissions do not bite: the refusal is simulated."""
    touch(tmp_path / "in" / "a.png")
    touch(tmp_path / "in" / "locked" / "b.png")
    refuse_listing(monkeypatch, "locked")
    expected = [(str(tmp_path / "in" / "locked"), "cannot list the folder: permission denied")]
    corpus = collect_images([tmp_path / "in"])
    assert [i.name for i in corpus.items] == ["a"] and list(corpus.missing) == expected
    listing = list_images([tmp_path / "in"])
    assert listing.paths == [tmp_path / "in" / "a.png"] and listing.problems == expected


# --- pages with a layout: their lines are the corpus -------------------------------------


@pytest.fixture(scope="module")
def page():
    return compose_page()


def test_a_page_xml_file_is_its_lines_with_their_truths(tmp_path, page):
    image = write_image(page, tmp_path / "page.png")
    (tmp_path / "page.xml").write_bytes(page_xml(page, "page.png", reading_order=("r2", "r1")))
    corpus = collect_images([tmp_path / "page.xml"])
    assert [i.name for i in corpus.items] == ["page/l3", "page/l4", "page/l1", "page/l2"]
    assert corpus.missing == ()
    assert all(i.path == image for i in corpus.items)
    assert corpus.items[0].label == f"{image}#l3"
    source = TruthSource()
    assert [source.lookup(i).text for i in corpus.items] == [page.line(n).truth for n in ("l3", "l4", "l1", "l2")]
    loaded = load_item(corpus.items[2])  # l1, cut out of the page
    placed = page.line("l1")
    ys, xs = np.nonzero(placed.ink)
    assert loaded.notes == ()
    assert loaded.image.shape[0] < 70 and loaded.image.shape[1] < 110
    assert loaded.image.shape[0] >= ys.max() - ys.min() + 1 and loaded.image.shape[1] >= xs.max() - xs.min() + 1


def test_a_folder_of_pages_gives_their_lines_not_the_whole_scans(tmp_path, page):
    """A Transkribus export (images, page/IMAGE.xml) beside a METS file and a plain image."""
    doc = tmp_path / "doc"
    write_image(page, doc / "0001.png")
    (doc / "page").mkdir()
    (doc / "page" / "0001.xml").write_bytes(page_xml(page, "0001.png"))
    (doc / "mets.xml").write_text('<mets xmlns="http://www.loc.gov/METS/"/>', encoding="utf-8")
    write_image(page, doc / "cover.png")
    corpus = collect_images([doc])
    assert [i.name for i in corpus.items] == ["0001/l1", "0001/l2", "0001/l3", "0001/l4", "cover"]
    assert corpus.missing == ()  # the METS file is not a layout, and not an image either
    assert [i.line is None for i in corpus.items] == [False] * 4 + [True]
    assert load_item(corpus.items[-1]).image.shape == page.image.shape  # taken whole


def test_an_image_named_explicitly_brings_its_alto_lines(tmp_path, page):
    image = write_image(page, tmp_path / "scan.png")
    (tmp_path / "alto").mkdir()
    (tmp_path / "alto" / "scan.xml").write_bytes(alto_xml(page, "scan.tif"))  # named .tif, converted to .png
    corpus = collect_images([image])
    assert [i.name for i in corpus.items] == ["scan/l1", "scan/l2", "scan/l3", "scan/l4"]
    assert TruthSource().lookup(corpus.items[2]).text == "see where it looked"


def test_unusable_layouts_are_reported_and_their_pages_not_taken_whole(tmp_path, page):
    write_image(page, tmp_path / "a.png")
    (tmp_path / "a.xml").write_text("<PcGts", encoding="utf-8")
    (tmp_path / "b.xml").write_bytes(page_xml(page, "gone.png"))
    corpus = collect_images([tmp_path])
    assert corpus.items == ()
    assert corpus.missing == (
        (str(tmp_path / "a.xml"), "not well-formed XML (line 1, column 1): unclosed token"),
        (str(tmp_path / "b.xml"), f"the image it names, 'gone.png', is neither in {tmp_path} nor in {tmp_path.parent}"),
    )


def test_a_page_line_that_no_longer_fits_its_scan_fails_to_load_in_one_line(tmp_path, page):
    write_image(page, tmp_path / "page.png")
    (tmp_path / "page.xml").write_bytes(page_xml(page, "page.png"))
    item = collect_images([tmp_path / "page.xml"]).items[0]
    write_image(page, tmp_path / "page.png", scale=0.5)  # same shape: scaled, with a note
    assert "a scaled copy" in load_item(item).notes[0]
    write_image(compose_page_cropped(page), tmp_path / "page.png")
    with pytest.raises(ImageLoadError) as caught:
        load_item(item)
    width, height = page.size
    assert caught.value.reason == (f"layout page.xml: the image page.png is {width}x{height // 2} pixels "
                                   f"but the layout describes a page of {width}x{height} pixels")


def compose_page_cropped(page):
    """The page with its lower half cut off: another aspect ratio."""
    return type(page)(page.image[: page.size[1] // 2], page.lines)


def test_shards_keep_each_pages_lines_together(tmp_path, page):
    for name in ("p1", "p2", "p3"):
        write_image(page, tmp_path / f"{name}.png")
        (tmp_path / f"{name}.xml").write_bytes(page_xml(page, f"{name}.png"))
    write_image(page, tmp_path / "plain.png", scale=0.25)
    items = collect_images([tmp_path]).items
    parts = [shard(items, i, 2) for i in range(2)]
    assert [[item.name for item in part] for part in parts] == [
        ["p1/l1", "p1/l2", "p1/l3", "p1/l4", "p3/l1", "p3/l2", "p3/l3", "p3/l4"],
        ["p2/l1", "p2/l2", "p2/l3", "p2/l4", "plain"],
    ]


def test_the_bundled_reader_reads_each_cut_line_as_its_truth(tmp_path, page):
    """The cut lines are what a recogniser needs: yellowed, vignetted paper and all."""
    write_image(page, tmp_path / "page.png")
    (tmp_path / "page.xml").write_bytes(alto_xml(page, "page.png"))
    reader = load_model("ctc-reader")
    source = TruthSource()
    for item in collect_images([tmp_path / "page.xml"]).items:
        image = load_item(item).image
        assert reader.read(reader.prepare(image).tensor).text == source.lookup(item).text
