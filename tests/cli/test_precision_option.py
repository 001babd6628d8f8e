"""`explain --precision`: bf16 where it keeps the maps, else float32 with the reason, and
the record names the arithmetic the maps were made in (issue 25)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from thulium_desktop import cli

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "hello.png"


def test_bf16_that_would_move_the_maps_falls_back_to_float32_and_the_record_says_so(tmp_path):
    shutil.copy(SAMPLE, tmp_path / "hello.png")
    out = tmp_path / "out"
    assert cli.main(["explain", str(tmp_path / "hello.png"), "--method", "gradient", "--model", "ctc-reader",
                     "--precision", "bf16", "--format", "json", "--out", str(out), "--quiet"]) == 0
    record = json.loads((out / "hello.json").read_text())
    method = record["methods"]["gradient"]
    assert method["precision"] == "float32" and method["tf32_policy"]
    assert any("bf16" in note or "bfloat16" in note for note in method["notes"])


def test_an_unknown_precision_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["explain", str(SAMPLE), "--precision", "fp8", "--out", str(tmp_path)]) == 2
    assert "--precision" in capsys.readouterr().err
