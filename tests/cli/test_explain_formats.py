"""`explain --format`: figures are drawn only when a figure format is asked for.

Through the public CLI, with the bundled default reader on the bundled hello.png
(given the wrong truth "hallo", so `--contrast` has a substitution to map). Every
matplotlib Figure made during a run is counted, whoever makes it, so a figure
drawn and thrown away fails the test however the drawing code is later arranged.
"""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from matplotlib.figure import Figure

from thulium_desktop import cli
from thulium_desktop.render import FIGURE_FORMATS

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
FAST = ["--steps", "2", "--samples", "2", "--dpi", "40"]  # the formats are under test, not the maps
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RUNS = {"one method": [], "all methods and contrasts": ["--method", "all", "--contrast"]}


@pytest.fixture
def hello(tmp_path):
    """A folder with hello.png (read "hello") and a truth that substitutes its second character."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "hello.png").write_bytes((SAMPLES / "hello.png").read_bytes())
    (folder / "hello.png.gt.txt").write_text("hallo\n", encoding="utf-8")
    return folder


@pytest.fixture
def figures_built(monkeypatch):
    """Every matplotlib Figure constructed while the test runs."""
    built = []
    construct = Figure.__init__

    def counted(self, *args, **kwargs):
        built.append(self)
        construct(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "__init__", counted)
    return built


def explain(folder: Path, out: Path, formats: str, extra: list[str]) -> dict:
    """Run `explain` on `folder`; hello.png's record."""
    code = cli.main(["explain", str(folder), "--out", str(out), "--format", formats, "--quiet", *FAST, *extra])
    assert code == 0
    record = json.loads((out / "hello.json").read_text())
    assert record["status"] == "ok" and record["reading"] == "hello"
    if "--contrast" in extra:  # the premise: there is a contrast figure to draw or skip
        assert {(c["token"], c["read"], c["truth"]) for c in record["contrasts"]} == {(1, "e", "a")}
    return record


def written_files(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir())


@pytest.mark.parametrize("extra", RUNS.values(), ids=RUNS)
def test_json_npz_draws_no_figure_and_writes_the_record_and_maps(hello, tmp_path, figures_built, extra):
    out = tmp_path / "out"
    record = explain(hello, out, "json,npz", extra)
    assert figures_built == []
    assert written_files(out) == sorted([*record["outputs"], "summary.json"])
    assert not [name for name in record["outputs"] if name.endswith(tuple(f".{f}" for f in FIGURE_FORMATS))]
    with np.load(out / "hello.npz") as npz:
        assert "".join(npz["tokens"]) == record["reading"]
        for method in record["methods"]:
            assert npz[method].shape[0] == len(record["tokens"])
            assert np.isfinite(npz[method]).all()
    for contrast in record.get("contrasts", []):
        with np.load(out / f"hello.{contrast['method']}.contrast-{contrast['token']}.npz") as npz:
            assert npz[contrast["method"]].shape[0] == 1
            assert str(npz[f"{contrast['method']}_contrast_with"]) == contrast["truth"]


@pytest.mark.parametrize("extra", RUNS.values(), ids=RUNS)
def test_png_json_draws_each_figure_once_and_writes_it(hello, tmp_path, figures_built, extra):
    out = tmp_path / "out"
    record = explain(hello, out, "png,json", extra)
    methods = list(record["methods"])
    stems = methods + (["compare"] if len(methods) > 1 else [])
    stems += [f"{c['method']}.contrast-{c['token']}" for c in record.get("contrasts", [])]
    pngs = sorted(f"hello.{stem}.png" for stem in stems)
    assert written_files(out) == sorted([*pngs, "hello.json", "summary.json"])
    assert sorted(record["outputs"]) == sorted([*pngs, "hello.json"])
    assert len(figures_built) == len(pngs)
    for name in pngs:
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE)
        assert cv2.imread(str(out / name)) is not None


def test_each_methods_record_carries_its_notes_once_and_integrated_gradients_its_gaps(hello, tmp_path):
    record = explain(hello, tmp_path / "out", "json", ["--method", "all"])
    methods = record["methods"]
    [cam_note] = [n for n in methods["gradcam"]["notes"] if "GradCAM layer" in n]
    assert "feeds a recurrent or attention head" in cam_note
    for method in methods.values():  # a note is a note, not also a warning
        assert not set(method["notes"]) & set(method["warnings"])
    ig = methods["integrated"]
    assert len(ig["relative_gaps"]) == len(ig["steps"]) == len(record["tokens"])
    assert all(gap >= 0 for gap in ig["relative_gaps"]) and all(steps >= 2 for steps in ig["steps"])
    assert "relative_gaps" not in methods["gradient"]
