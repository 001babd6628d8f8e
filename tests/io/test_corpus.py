"""Corpus discovery, output names and shards: pure functions of the command line."""

import os
from pathlib import Path, PurePosixPath

import pytest

from thulium_desktop.io.corpus import collect_images, image_paths, list_images, shard, unique_names


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
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    expected = [(str(tmp_path / "in" / "locked"), "cannot list the folder: permission denied")]
    corpus = collect_images([tmp_path / "in"])
    assert [i.name for i in corpus.items] == ["a"] and list(corpus.missing) == expected
    listing = list_images([tmp_path / "in"])
    assert listing.paths == [tmp_path / "in" / "a.png"] and listing.problems == expected
