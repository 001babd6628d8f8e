"""`models`, `read`, and the entry point's choice between the CLI and the app."""

import json
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from cli_samples import corpus, tiny_model, write_line  # noqa: F401 (fixtures)

from thulium_desktop import __main__ as entry
from thulium_desktop import cli, models


@dataclass
class Info:
    name: str
    architecture: str
    description: str = ""
    metrics: dict = field(default_factory=dict)
    json_path: Path | None = None


def test_models_lists_names_architectures_and_metrics(monkeypatch, capsys):
    bundled = {info.name: info for info in models.list_models()}
    infos = [
        Info("crnn-words", "crnn-ctc", "CNN+BiLSTM, CTC",
             {"held_out": {"cer": 0.0412, "images": 1000}, "pointing_game": 0.91}, bundled["ctc-reader"].json_path),
        Info("tiny", "cnn", json_path=bundled["attention-reader"].json_path),
    ]
    monkeypatch.setattr(models, "list_models", lambda: infos, raising=False)
    assert cli.main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    inputs = [i for i, line in enumerate(lines) if line.startswith("    input height 32 px;  alphabet of ")]
    assert inputs == [1, 5]  # under each model's name, before its metrics
    assert [line for i, line in enumerate(lines) if i not in inputs] == [
        "crnn-words  (crnn-ctc)  CNN+BiLSTM, CTC",
        "    pointing_game=0.91",
        "    held_out: cer=0.0412  images=1000",
        "tiny  (cnn)",
    ]


def test_models_shows_each_models_input_height_and_alphabet(capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    for info in models.list_models():
        card = json.loads(info.json_path.read_text())
        alphabet = card["alphabet"]
        line = out[out.index(next(o for o in out if o.startswith(f"{info.name}  "))) + 1]
        assert line.startswith(f"    input height {card['input_height']} px;  alphabet of {len(alphabet)} characters: ")
        shown = line.split("characters: ", 1)[1]
        assert len(alphabet) > 60 and len(shown) == 61 and "…" in shown  # shortened in the middle
        assert shown.startswith(alphabet[:40].replace(" ", "␣")) and shown.endswith(alphabet[-10:])


def test_read_prints_reading_and_confidences_and_reports_failures(tiny_model, corpus, capsys):
    assert cli.main(["read", str(corpus), "--model", "x"]) == 1
    captured = capsys.readouterr()
    header, *rows = [line.split("\t") for line in captured.out.splitlines()]
    assert header == ["path", "reading", "confidences"]  # no truths: no truth columns
    assert [r[0] for r in rows] == [str(corpus / "a.png"), str(corpus / "sub" / "b.png")]
    for _, text, confidences in rows:
        assert len(confidences.split()) == len(text)
    assert f"failed: {corpus / 'empty.png'}: the file is empty" in captured.err
    assert "Traceback" not in captured.err


def test_read_of_good_images_exits_0(tiny_model, tmp_path):
    write_line(tmp_path / "a.png", 0)
    assert cli.main(["read", str(tmp_path / "a.png")]) == 0


def test_help_lists_the_commands(capsys):
    assert entry.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(command in out for command in ("explain", "models", "read"))


def test_commands_go_to_the_cli(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "main", lambda argv: calls.append(argv) or 0)
    assert entry.main(["models"]) == 0
    assert calls == [["models"]]


def test_no_command_or_image_paths_start_the_app(monkeypatch):
    calls = []
    fake_app = types.ModuleType("thulium_desktop.app")
    fake_app.main = lambda argv: calls.append(argv) or 0
    monkeypatch.setitem(sys.modules, "thulium_desktop.app", fake_app)
    assert entry.main([]) == 0
    assert entry.main(["line.png", "word.jpg"]) == 0
    assert calls == [[], ["line.png", "word.jpg"]]


def test_without_an_app_the_entry_point_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "thulium_desktop.app", types.ModuleType("thulium_desktop.app"))
    assert entry.main(["line.png"]) == 2
    assert "use a command: explain, models, read" in capsys.readouterr().err
