"""The README's "Bring your own model" worked example runs exactly as written."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import cv2
import torch
from word_images import render_word

from thulium_desktop import cli
from thulium_desktop.models import open_described
from thulium_desktop.models.registry import build_module
from thulium_desktop.models.weights import save_weights

README = Path(__file__).resolve().parents[2] / "README.md"


def section() -> str:
    """The README's "Bring your own model" section, up to the next top-level heading."""
    text = README.read_text(encoding="utf-8")
    start = text.index("## Bring your own model")
    end = text.find("\n## ", start + 3)
    return text[start : end if end != -1 else len(text)]


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", section(), flags=re.S)


def command_line() -> list[str]:
    """The arguments of the `thulium-desktop explain ...` line the docs show."""
    (line,) = re.findall(r"`thulium-desktop (explain [^`]*)`", section())
    return shlex.split(line)


def test_the_ctc_plugin_example_runs(tmp_path, monkeypatch, capsys):
    plugin, usage = python_blocks()
    (tmp_path / "my_reader.py").write_text(plugin)
    definitions: dict = {}
    exec(compile(plugin, "my_reader.py", "exec"), definitions)  # the user's own training run
    torch.manual_seed(0)
    torch.save(definitions["MyCRNN"]().state_dict(), tmp_path / "my_crnn.pt")
    image = render_word("minimum")
    cv2.imwrite(str(tmp_path / "line.png"), image)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(usage, "usage", "exec"), namespace)
    explanation = namespace["explanation"]
    assert namespace["recognizer"].name == "my-crnn" and len(explanation.reading) > 0
    assert explanation.maps.shape == (len(explanation.reading), *image.shape)
    assert capsys.readouterr().out.strip().endswith(str(explanation.maps.shape))
    assert cli.main([*command_line(), "--quiet"]) == 0
    assert (tmp_path / "thulium-out" / "summary.json").is_file()


def test_the_json_description_builds_the_network_its_weights_fill(tmp_path, word_image):
    (block,) = re.findall(r"```json\n(.*?)```", section(), flags=re.S)
    card = json.loads(block)
    (tmp_path / "mine.json").write_text(block)
    save_weights(build_module(card["architecture"], card["hparams"], card["alphabet"]), tmp_path / "mine.safetensors")
    opened = open_described(tmp_path / "mine.safetensors")
    assert opened.summary.name == card["name"]
    opened.recognizer.read(opened.recognizer.prepare(word_image).tensor)
