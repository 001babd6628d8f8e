"""Hugging Face folders with broken or hostile configs (issue 26): each is one clear
`ModelLoadError` line before transformers allocates or imports anything for it, and a
folder asking for its own code is told what the app supports, not to trust the code."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile import GiB, memory_ceiling

pytest.importorskip("transformers", reason="Hugging Face folders need the optional 'hf' extra")

from tiny_trocr import save_tiny_trocr  # noqa: E402

from thulium_desktop import cli  # noqa: E402
from thulium_desktop.cli.errors import USAGE  # noqa: E402
from thulium_desktop.models import ModelLoadError, open_model  # noqa: E402
from thulium_desktop.models.registry import MODELS_DIR  # noqa: E402

SAMPLE = MODELS_DIR.parent / "samples" / "hello.png"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_tiny_trocr(tmp_path_factory.mktemp("tiny-trocr") / "tiny-trocr")


def edit_json(name: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        data = json.loads((folder / name).read_text(encoding="utf-8"))
        change(data)
        (folder / name).write_text(json.dumps(data), encoding="utf-8")
    return edit


def encoder(**values) -> Callable[[Path], None]:
    return edit_json("config.json", lambda config: config["encoder"].update(values))


def overwrite(name: str, text: str) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        (folder / name).write_text(text, encoding="utf-8")
    return write


def truncate_weights(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])


def pipe(name: str) -> Callable[[Path], None]:
    def replace_with_fifo(folder: Path) -> None:
        (folder / name).unlink()
        os.mkfifo(folder / name)
    return replace_with_fifo


BROKEN = {
    "patch size 0": (encoder(patch_size=0), r"encoder patch_size must be a whole number \(or two\) from 1"),
    "swin encoder": (encoder(model_type="swin"), r"encoder type 'swin' is not supported; supported: vit, deit"),
    "encoder 5": (edit_json("config.json", lambda c: c.update(encoder=5)), r"'encoder' must be an object, got 5"),
    "image size abc": (encoder(image_size="abc"), r"encoder image_size must be a whole number .* got 'abc'"),
    "patches larger than the image": (encoder(patch_size=64), r"patches of 64x64 in images of 32x96"),
    "heads as text": (encoder(num_attention_heads="2"), r"'num_attention_heads' must be a whole number"),
    "bitsandbytes": (edit_json("config.json", lambda c: c.update(quantization_config={
        "quant_method": "bitsandbytes", "load_in_8bit": True})), r"quantized checkpoints .* not supported"),
    "truncated weights": (truncate_weights, r"model\.safetensors: not a valid safetensors file \(corrupt or truncated\?\)"),
    "processor 20000x20000": (edit_json("preprocessor_config.json", lambda p: p.update(
        size={"height": 20000, "width": 20000})), r"resizes to 20000x20000, but the encoder reads 32x96"),
    "processor without resizing": (edit_json("preprocessor_config.json", lambda p: p.update(do_resize=False)),
                                   r"does not resize images, but the encoder reads 32x96"),
    "vocabulary far beyond the weights": (edit_json("config.json", lambda c: c["decoder"].update(
        vocab_size=20_000_000)), r"describes a network of [\d,.]+ MB but its weight files hold 0\.2 MB"),
    "a 10**20 position table": (edit_json("config.json", lambda c: c["decoder"].update(
        max_position_embeddings=10**20)), r"config\.json does not build a model: "),
    "generation_config.json unreadable": (overwrite("generation_config.json", "{num_beams: 4"),
                                          r"generation_config\.json: not a readable generation_config\.json"),
    "a million beams": (edit_json("generation_config.json", lambda g: g.update(num_beams=10**6)),
                        r"generation_config\.json: 'num_beams' must be a whole number from 1 to 64, got 1000000"),
    "max_new_tokens as text": (edit_json("generation_config.json", lambda g: g.update(max_new_tokens="many")),
                               r"'max_new_tokens' must be a whole number from 1 to 1,024, got 'many'"),
    "legacy max_length in config.json": (edit_json("config.json", lambda c: c.update(max_length=10**9)),
                                         r"config\.json's generation settings: 'max_length' must be a whole number"),
    "config.json a named pipe": (pipe("config.json"), r"config\.json: not a regular file: it is a named pipe"),
    "weights a named pipe": (pipe("model.safetensors"), r"model\.safetensors: not a regular file"),
    "tokenizer a named pipe": (pipe("tokenizer.json"), r"tokenizer\.json: not a regular file"),
}


@pytest.mark.timeout(20)
@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_folder_is_one_clear_line(checkpoint, tmp_path, case):
    break_it, message = BROKEN[case]
    folder = shutil.copytree(checkpoint, tmp_path / "broken")
    break_it(folder)
    with memory_ceiling(GiB), pytest.raises(ModelLoadError, match=message) as error:
        open_model(folder)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("config", ["config.json", "tokenizer_config.json", "preprocessor_config.json"])
def test_custom_code_is_refused_with_what_the_app_supports(checkpoint, tmp_path, capsys, config):
    folder = shutil.copytree(checkpoint, tmp_path / "custom")
    edit_json(config, lambda c: c.update(auto_map={"AutoConfig": "modeling_mine.MyConfig"}))(folder)
    (folder / "modeling_mine.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w')\n")
    with pytest.raises(ModelLoadError) as error:
        open_model(folder, trust=True)
    message = str(error.value)
    assert f"{config} asks to run code of its own (auto_map)" in message
    assert "never runs code from a model folder" in message and "adapter plugin" in message
    assert "trust_remote_code" not in message
    assert cli.main(["read", str(SAMPLE), "--model", str(folder), "--trust"]) == USAGE
    err = capsys.readouterr().err
    assert "never runs code" in err and "trust_remote_code" not in err and "Traceback" not in err
    assert not (tmp_path / "ran").exists()


@pytest.mark.timeout(20)
def test_a_broken_folder_is_a_usage_error_on_the_command_line(checkpoint, tmp_path, capsys):
    folder = shutil.copytree(checkpoint, tmp_path / "broken")
    encoder(patch_size=0)(folder)
    assert cli.main(["read", str(SAMPLE), "--model", str(folder)]) == USAGE
    err = capsys.readouterr().err.strip()
    assert "patch_size must be a whole number" in err and "\n" not in err and "Traceback" not in err


def test_an_intact_folder_still_opens_and_reads(checkpoint, capsys):
    assert cli.main(["read", str(SAMPLE), "--model", str(checkpoint)]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith(str(SAMPLE))  # after the header
