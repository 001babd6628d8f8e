"""Atomic writes: a failure mid-write leaves no partial file and never damages an existing one."""

import json
import os
import stat

import numpy as np
import pytest

from thulium_desktop.io.atomic import atomic_write, write_bytes, write_json, write_npz, write_text


class Boom(RuntimeError):
    pass


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_failure_mid_write_leaves_no_file(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(Boom):
        with atomic_write(target) as handle:
            handle.write(b"half of it")
            raise Boom
    assert leftovers(tmp_path) == []


def test_failure_mid_write_keeps_the_existing_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old and good")
    with pytest.raises(Boom):
        with atomic_write(target, "w") as handle:
            handle.write("new but bro")
            raise Boom
    assert target.read_text() == "old and good"
    assert leftovers(tmp_path) == ["out.txt"]


def test_interrupt_mid_write_also_cleans_up(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(target, "w") as handle:
            handle.write("x")
            raise KeyboardInterrupt
    assert leftovers(tmp_path) == []


def test_unencodable_json_never_touches_the_target(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("{}")
    with pytest.raises(TypeError):
        write_json(target, {"bad": object()})
    assert target.read_text() == "{}"
    assert leftovers(tmp_path) == ["summary.json"]


def test_helpers_round_trip(tmp_path):
    write_bytes(tmp_path / "a.bin", b"\x00\x01")
    write_text(tmp_path / "b.txt", "héllo")
    write_json(tmp_path / "c.json", {"x": np.float32(0.5), "m": np.arange(3), "p": tmp_path})
    write_npz(tmp_path / "d.maps", maps=np.ones((2, 3, 4), np.float32))
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "héllo"
    assert json.loads((tmp_path / "c.json").read_text()) == {"x": 0.5, "m": [0, 1, 2], "p": str(tmp_path)}
    with np.load(tmp_path / "d.maps") as npz:  # the name is kept exactly, no ".npz" appended
        assert npz["maps"].shape == (2, 3, 4)
    assert leftovers(tmp_path) == ["a.bin", "b.txt", "c.json", "d.maps"]


def test_replacing_keeps_the_existing_permissions(tmp_path):
    target = tmp_path / "shared.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    write_text(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_text() == "new"


def test_new_files_get_plain_open_permissions_not_temp_file_ones(tmp_path):
    write_text(tmp_path / "new.txt", "x")
    (tmp_path / "plain.txt").write_text("x")
    mode = stat.S_IMODE((tmp_path / "new.txt").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)


def test_text_mode_only_w_or_wb(tmp_path):
    with pytest.raises(ValueError):
        with atomic_write(tmp_path / "x", "a"):
            pass
