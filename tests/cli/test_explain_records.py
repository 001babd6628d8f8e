"""`explain` keeps its records: odd file names, a full or read-only output folder, and the
temporaries a killed run left behind."""

import errno
import json
import os
import shutil
import subprocess
import time

import pytest
from cli_samples import tiny_model, write_line  # noqa: F401 (fixtures)

from thulium_desktop import cli
from thulium_desktop.cli import explain as explain_module
from thulium_desktop.cli import outputs
from thulium_desktop.io.atomic import STALE_AFTER_S, atomic_write


def run(*argv):
    return cli.main(["explain", *map(str, argv), "--quiet", "--method", "attention"])


def test_a_name_that_is_not_utf8_keeps_its_record_and_the_summary(tiny_model, tmp_path):
    folder = tmp_path / "in"
    write_line(folder / "plain.png", 0)
    odd = os.fsencode(folder) + b"/caf\xe9\xff.png"
    shutil.copy(folder / "plain.png", odd)
    out = tmp_path / "out"
    assert run(folder, "--out", out) == 0
    summary = json.loads((out / "summary.json").read_bytes())
    assert summary["counts"] == {"images": 2, "done": 2, "ok": 2, "failed": 0}
    paths = {os.fsencode(record["path"]) for record in summary["images"]}
    assert odd in paths  # the exact bytes of the name survive the JSON round trip
    record = json.loads((out / os.fsdecode(b"caf\xe9\xff.json")).read_bytes())
    assert record["status"] == "ok" and os.fsencode(record["path"]) == odd


def test_an_output_folder_that_takes_no_files_is_refused_before_any_image(tiny_model, tmp_path, capsys):
    write_line(tmp_path / "a.png", 0)
    assert run(tmp_path / "a.png", "--out", "/proc/self") == 2
    err = capsys.readouterr().err
    assert "cannot write to the output folder /proc/self" in err and "Traceback" not in err
    assert tiny_model == []  # refused before the model was even loaded
    assert not list(tmp_path.glob("*.json"))


def _refuse_writes_from(second_image: str):
    """`write_image_outputs` that fails, as a full disk does, from `second_image` on."""
    original = explain_module.write_image_outputs

    def write(plan, item, *args, **kwargs):
        if item.name >= second_image:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(plan, item, *args, **kwargs)

    return write


def test_a_full_disk_stops_the_run_and_the_summary_lists_what_was_done(tiny_model, tmp_path, monkeypatch, capsys):
    for i in range(4):
        write_line(tmp_path / "in" / f"{i}.png", i)
    monkeypatch.setattr(explain_module, "write_image_outputs", _refuse_writes_from("1"))
    out = tmp_path / "out"
    assert run(tmp_path / "in", "--out", out) == 1
    summary = json.loads((out / "summary.json").read_text())
    statuses = [record["status"] for record in summary["images"]]
    assert statuses == ["ok", "failed"]  # stopped at the first refusal: 2 and 3 were never computed
    assert "No space left on device" in summary["images"][1]["error"]
    assert summary["stopped"].endswith("No space left on device") and summary["interrupted"] is False
    assert "stopped after 2 of 4 images" in capsys.readouterr().err


def test_a_summary_the_output_folder_refuses_goes_to_the_temporary_folder(tiny_model, tmp_path, monkeypatch, capsys):
    write_line(tmp_path / "in" / "a.png", 0)
    out = tmp_path / "out"
    original = explain_module.write_json

    def refuse_in_out(path, obj):
        if str(path).startswith(str(out)):
            raise OSError(errno.ENOSPC, "No space left on device")
        original(path, obj)

    monkeypatch.setattr(explain_module, "write_json", refuse_in_out)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "spare"))
    (tmp_path / "spare").mkdir()
    explain_module.tempfile.tempdir = None  # re-read TMPDIR
    try:
        assert run(tmp_path / "in", "--out", out) == 0
    finally:
        explain_module.tempfile.tempdir = None
    err = capsys.readouterr().err
    fallback = next((tmp_path / "spare").glob("thulium-summary-*.json"))
    assert f"it was written to {fallback}" in err
    assert json.loads(fallback.read_text())["counts"]["done"] == 1


def test_a_rerun_removes_the_temporaries_a_killed_run_left_but_not_a_live_writers(tiny_model, tmp_path, capsys):
    write_line(tmp_path / "in" / "a.png", 0)
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    stale = [out / ".a.json.k3j9x_2q.tmp", out / "sub" / ".b.png.abcdefgh.tmp"]
    for path in stale:
        path.write_bytes(b"")
    old = time.time() - 2 * STALE_AFTER_S
    unrelated = out / ".notes.tmp"  # not a name atomic_write makes
    unrelated.write_bytes(b"mine")
    for path in [*stale, unrelated]:
        os.utime(path, (old, old))
    with atomic_write(out / "live.json", "w") as handle:  # a concurrent run mid-write
        live = next(out.glob(".live.json.*.tmp"))
        os.utime(live, (old, old))
        assert run(tmp_path / "in", "--out", out) == 0
        assert live.exists()
        handle.write("{}")
    assert not any(path.exists() for path in stale) and unrelated.exists()
    assert "removed 2 unfinished file(s)" in capsys.readouterr().err


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs: a real full disk (needs mount rights, as root in a container has)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root and mount rights)")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_really_full_disk_leaves_no_half_written_file_and_the_summary_says_where_it_went(
    tiny_model, tmp_path, tiny_disk, capsys
):
    for i in range(40):
        write_line(tmp_path / "in" / f"{i:02d}.png", i, width=400)
    assert run(tmp_path / "in", "--out", tiny_disk, "--format", "png,json,npz", "--dpi", "150") == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    leftovers = [p.name for p in tiny_disk.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    figures = {p.name.split(".")[0] for p in tiny_disk.glob("*.attention.png")}
    records = {p.stem for p in tiny_disk.glob("*.json") if p.name != "summary.json"}
    assert figures <= records  # no figure without its record
    assert (tiny_disk / "summary.json").exists() or "it was written to" in err


def test_a_write_that_fails_takes_the_images_other_files_with_it(tiny_model, tmp_path, monkeypatch, capsys):
    write_line(tmp_path / "in" / "a.png", 0)

    def full_disk(path, **arrays):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(outputs, "write_npz", full_disk)  # the figure is written first, then the maps fail
    out = tmp_path / "out"
    assert run(tmp_path / "in", "--out", out, "--format", "png,json,npz", "--dpi", "40") == 1
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]  # no figure without its record
    [record] = json.loads((out / "summary.json").read_text())["images"]
    assert record["status"] == "failed" and "No space left on device" in record["error"]
    assert "Traceback" not in capsys.readouterr().err
