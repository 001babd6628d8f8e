"""Export (Ctrl+E): every figure kind in every format, side files, failures leave no trace."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest
from gui_helpers import SAMPLES, WAIT_MS, open_settled, sample_copy
from PySide6.QtCore import QStandardPaths

from thulium_desktop.app.figure_export import ExportPlan
from thulium_desktop.app.export_dialog import ExportDialog


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def check_figure(path) -> None:
    """The file opens as its format and is not blank."""
    data = path.read_bytes()
    if path.suffix == ".png":
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.std() > 5
    elif path.suffix == ".svg":
        root = ET.fromstring(data)
        assert root.tag.endswith("svg") and len(list(root.iter("{http://www.w3.org/2000/svg}image"))) > 0
    else:
        assert data.startswith(b"%PDF") and b"/Image" in data and len(data) > 5000


def export_and_wait(qtbot, window, plan):
    with qtbot.waitSignal(window.export_flow.exported, timeout=WAIT_MS) as blocker:
        window.export_flow.export(plan)
    return blocker.args[0]


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
@pytest.mark.parametrize("kind", ["view", "grid", "compare"])
def test_each_figure_kind_exports_in_each_format(qtbot, window, out, kind, fmt):
    window.panel.num_steps.setValue(4)
    window.panel.num_samples.setValue(2)
    path = out / f"word.{kind}.{fmt}"
    written = export_and_wait(qtbot, window, ExportPlan(kind, path, dpi=80))
    assert written == [path]
    check_figure(path)
    assert sorted(p.name for p in out.iterdir()) == [path.name]  # no temporary left behind


def test_raw_maps_and_parameters_go_beside_the_figure(qtbot, window, out):
    plan = ExportPlan("grid", out / "word.png", dpi=60, with_maps=True, with_params=True)
    written = export_and_wait(qtbot, window, plan)
    assert [p.name for p in written] == ["word.png", "word.npz", "word.json"]
    with np.load(out / "word.npz") as npz:
        maps = npz["attention"]
        assert maps.shape == (window.timeline.count, *window.view_model.image.shape[:2])
        assert "".join(npz["tokens"]) == window.view_model.reading.reading.text
    record = json.loads((out / "word.json").read_text())
    assert record["reading"] == window.view_model.reading.reading.text
    assert record["methods"]["attention"]["meta"]["model"] == "tiny-crnn"


def test_a_failed_export_keeps_the_existing_file_and_says_why(qtbot, window, out, monkeypatch):
    path = out / "word.png"
    path.write_bytes(b"the old figure")
    monkeypatch.setattr("matplotlib.figure.Figure.savefig", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    window.export_flow.export(ExportPlan("view", path))
    assert "disk full" in window.message.text and str(path) in window.message.text
    assert path.read_bytes() == b"the old figure"
    assert sorted(p.name for p in out.iterdir()) == ["word.png"]


NAMES = {"view": "word.gradient.contrast", "grid": "word.attention", "compare": "word.compare.contrast"}


def test_the_dialog_builds_a_plan_with_the_formats_extension(qtbot, tmp_path):
    dialog = ExportDialog({k: tmp_path / name for k, name in NAMES.items()}, "svg", "grid")
    qtbot.addWidget(dialog)
    assert dialog.plan() == ExportPlan("grid", tmp_path / "word.attention.svg", 300)
    dialog.format.setCurrentText("PNG")
    dialog.path.setText(str(tmp_path / "other.pdf"))
    dialog.with_maps.setChecked(True)
    dialog.set_kind("compare")
    assert dialog.dpi.isEnabled()
    assert dialog.plan() == ExportPlan("compare", tmp_path / "other.png", 300, with_maps=True)


def test_the_dialogs_name_follows_the_figure_kind_until_the_user_types_one(qtbot, tmp_path):
    dialog = ExportDialog({k: tmp_path / name for k, name in NAMES.items()}, "png", "view")
    qtbot.addWidget(dialog)
    assert dialog.plan().path == tmp_path / "word.gradient.contrast.png"
    dialog.set_kind("compare")
    assert dialog.plan().path == tmp_path / "word.compare.contrast.png"
    dialog.path.setText(str(tmp_path / "mine"))
    dialog.set_kind("grid")
    assert dialog.plan().path == tmp_path / "mine.png"


def suggested_files(window, monkeypatch) -> dict[str, Path]:
    """What the Export dialog offers for each kind, as the user sees it (the dialog is not run)."""
    offered: dict[str, Path] = {}

    def look(dialog):
        for kind in dialog.kinds:
            dialog.set_kind(kind)
            offered[kind] = dialog.plan().path
        return ExportDialog.DialogCode.Rejected

    monkeypatch.setattr(ExportDialog, "exec", look)
    window.export_flow.export_dialog()
    return offered


def test_export_suggests_the_images_folder_and_a_name_per_figure_kind(qtbot, make_window, tmp_path, monkeypatch):
    image = sample_copy(tmp_path / "scans", "hello.png")
    window = make_window()
    open_settled(qtbot, window, [image])
    offered = suggested_files(window, monkeypatch)
    assert {path.parent for path in offered.values()} == {image.parent}
    assert offered["view"].name == "hello.attention.char1.png"
    assert offered["grid"].name == "hello.attention.png"
    assert set(offered) == {"view", "grid", "compare"}  # a plain image has no page figure
    assert len(set(offered.values())) == len(offered)


def test_export_suggests_the_last_export_folder_once_there_is_one(qtbot, make_window, tmp_path, out, monkeypatch):
    window = make_window()
    open_settled(qtbot, window, [sample_copy(tmp_path / "scans", "hello.png")])

    def save_in_out(dialog):
        dialog.path.setText(str(out / "mine"))
        return ExportDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportDialog, "exec", save_in_out)
    with qtbot.waitSignal(window.export_flow.exported, timeout=WAIT_MS):
        window.export_flow.export_dialog()
    assert {path.parent for path in suggested_files(window, monkeypatch).values()} == {out}


def test_export_never_suggests_the_installed_samples_folder(qtbot, make_window, monkeypatch):
    window = make_window()
    open_settled(qtbot, window, [SAMPLES / "hello.png"])
    folders = {path.parent for path in suggested_files(window, monkeypatch).values()}
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    assert folders in ({Path(pictures)}, {Path.home()})
    assert not folders & {SAMPLES, SAMPLES.resolve()}
