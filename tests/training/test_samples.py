"""The committed sample images and their ground truth are what the script draws and reads."""

from __future__ import annotations

import pytest


import cv2
import numpy as np

from thulium_desktop.io.images import load_image
from thulium_desktop.models import ModelLoadError
from thulium_desktop.training import samples

pytestmark = pytest.mark.usefixtures("handwriting_fonts")


@pytest.mark.skipif(int(cv2.__version__.split(".")[0]) < 5,
                    reason="the samples were drawn under OpenCV 5 (4.x draws date.png's Hershey script cursive)")
def test_the_script_redraws_the_committed_samples_and_their_readings(tmp_path):
    assert samples.main(["--out", str(tmp_path)]) == 0
    for spec in samples.SPECS:
        drawn, committed = load_image(tmp_path / spec.file), load_image(samples.SAMPLES_DIR / spec.file)
        assert np.array_equal(drawn, committed), spec.file
    table = (tmp_path / samples.GROUND_TRUTH).read_text(encoding="utf-8")
    assert table == (samples.SAMPLES_DIR / samples.GROUND_TRUTH).read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [spec.file for spec in samples.SPECS] + [samples.GROUND_TRUTH])


def test_a_failure_leaves_the_old_samples_in_place(tmp_path, monkeypatch):
    old = {spec.file: b"old image" for spec in samples.SPECS} | {samples.GROUND_TRUTH: b"old table"}
    for name, data in old.items():
        (tmp_path / name).write_bytes(data)

    def damaged(_folder):
        raise ModelLoadError(tmp_path / "ctc-reader.json", "not a readable json description")

    monkeypatch.setattr(samples, "list_models", damaged)
    with pytest.raises(ModelLoadError):
        samples.main(["--out", str(tmp_path)])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old  # and no staging left
