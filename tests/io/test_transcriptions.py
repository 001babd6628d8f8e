"""Transcription files: `.gt.txt` and tables of file → text, and their failures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from thulium_desktop.io.transcriptions import TranscriptionError, load_transcriptions, load_truth

SAMPLES = Path(__file__).parents[2] / "resources" / "samples"


def test_a_truth_is_the_first_line_without_bom_or_spaces(tmp_path):
    path = tmp_path / "w.png.gt.txt"
    path.write_bytes("\ufeff  minimum wage \nsecond line\n".encode())
    assert load_truth(path) == "minimum wage"


@pytest.mark.parametrize(
    "content, reason",
    [
        (None, "no such file"),
        (b"", "empty"),
        (b" \n\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("caf\u00e9".encode("latin-1"), "not UTF-8"),
    ],
)
def test_a_bad_truth_file_says_why(tmp_path, content, reason):
    path = tmp_path / "w.png.gt.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TranscriptionError, match=reason) as caught:
        load_truth(path)
    assert str(path) in str(caught.value)


def test_the_bundled_table_reads_its_text_column():
    table = load_transcriptions(SAMPLES / "ground_truth.tsv")
    assert table["short-line.png"] == "see where it looked"
    assert table["question.png"] == '"maybe?"'  # quotes are text, not CSV quoting
    assert len(table) == len(list(SAMPLES.glob("*.png")))


def test_a_headerless_table_is_name_then_text(tmp_path):
    path = tmp_path / "truths.tsv"
    path.write_text("a.png\tfirst word\n\nb.png\tsecond\n", encoding="utf-8")
    assert load_transcriptions(path) == {"a.png": "first word", "b.png": "second"}


def test_a_line_without_text_is_named(tmp_path):
    path = tmp_path / "truths.tsv"
    path.write_text("a.png\tfirst\nb.png second\n", encoding="utf-8")
    with pytest.raises(TranscriptionError, match="line 2"):
        load_transcriptions(path)


def test_a_spreadsheets_utf16_export_and_blank_lines_are_read(tmp_path):
    path = tmp_path / "truths.tsv"
    path.write_bytes("file\ttext\na.png\tcafé\n   \nb.png\tsecond\n".encode("utf-16"))  # with its BOM
    assert load_transcriptions(path) == {"a.png": "café", "b.png": "second"}


def test_a_field_too_long_for_csv_is_a_transcription_error(tmp_path):
    path = tmp_path / "truths.tsv"
    path.write_text("a.png\t" + "x" * 200_000 + "\n", encoding="utf-8")
    with pytest.raises(TranscriptionError, match="not a readable table"):
        load_transcriptions(path)


@pytest.mark.timeout(20)
def test_a_pipe_in_place_of_a_truth_file_is_refused_without_waiting(tmp_path):
    path = tmp_path / "w.png.gt.txt"
    os.mkfifo(path)
    with pytest.raises(TranscriptionError, match="not a regular file: it is a named pipe"):
        load_truth(path)


def test_a_table_naming_a_file_twice_keeps_the_last_and_says_where(tmp_path):
    path = tmp_path / "ground_truth.tsv"
    path.write_text("file\ttext\na.png\tfirst\nb.png\tother\na.png\tsecond\n", encoding="utf-8")
    table = load_transcriptions(path)
    assert table == {"a.png": "second", "b.png": "other"}
    assert table.repeated == {"a.png": (2, 4)}
    assert table.repeat_note("a.png") == "ground_truth.tsv names a.png on 2 lines (2, 4); the last one is used"
    assert table.repeat_note("b.png") is None
