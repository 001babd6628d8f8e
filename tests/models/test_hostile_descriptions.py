"""Hostile model files (issue 26; issue 23's file types): every field of a description is
checked before anything is built, nothing is allocated before the weights' shapes match,
decoding is bounded by the image, only regular files are opened, and a file is called
what its bytes say it is. Each refusal is one `ModelLoadError` line, in the library and
on the command line."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from hostile import GiB, bundled_copy, memory_ceiling, write_json
from safetensors.torch import load_file, save_file

from thulium_desktop import cli
from thulium_desktop.cli.errors import USAGE
from thulium_desktop.io.images import load_image
from thulium_desktop.models import ModelLoadError, UntrustedModelError, load_model_files, open_model
from thulium_desktop.models.descriptions import MAX_ALPHABET
from thulium_desktop.models.encoder import encoded_width
from thulium_desktop.models.files import SAFETENSORS, sniff
from thulium_desktop.models.registry import MODELS_DIR
from thulium_desktop.models.weights import TensorSpec, tensor_specs

SAMPLE = MODELS_DIR.parent / "samples" / "hello.png"


def refused_on_the_command_line(model: Path, capsys) -> str:
    """`read --model` fails as a usage error with one line on stderr; that line."""
    assert cli.main(["read", str(SAMPLE), "--model", str(model)]) == USAGE
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def _hparams(**values):
    return lambda card: card["hparams"].update(values)


# -- every field is checked before anything is built ------------------------------------
@pytest.mark.parametrize(("change", "message"), [
    (_hparams(hidden=10**400), r"'hidden' must be a whole number from 1 to 4,096, got 1000"),
    (_hparams(hidden=10**12), r"'hidden' must be a whole number from 1 to 4,096"),
    (_hparams(hidden=-3), r"'hidden' must be a whole number"),
    (_hparams(hidden=128.0), r"'hidden' must be a whole number"),
    (_hparams(dim="256"), r"'dim' must be a whole number"),
    (_hparams(channels=[32, 64, 96]), r"'channels' must be a list of 4 whole numbers"),
    (_hparams(channels=[32, 64, 96, True]), r"'channels' must be a whole number"),
    (_hparams(context_lstm=1), r"'context_lstm' must be true or false, got 1"),
    (_hparams(max_steps=5000), r"'max_steps' must be a whole number from 1 to 1,000, got 5000"),
    (_hparams(heads=8), r"unknown 'heads' \(known: channels, dim, hidden"),
    (lambda card: card.update(hparams=[1]), r"'hparams' must be an object, got \[1\]"),
    (lambda card: card.update(input_height=True), r"'input_height' must be a whole number"),
    (lambda card: card.update(input_height=64), r"input_height 64 is not 32"),
    (lambda card: card.update(alphabet=""), r"'alphabet' has 0 characters"),
    (lambda card: card.pop("alphabet"), r"needs text 'alphabet'"),
    (lambda card: card.update(name="\ud800"), r"'name' holds a character that is not valid Unicode"),
    (lambda card: card.update(metrics=[0.1]), r"'metrics' must be an object"),
    (lambda card: card.update(description=7), r"'description' must be text, got 7"),
])
def test_a_field_out_of_range_is_one_line_naming_it(tmp_path, change, message):
    weights, card, data = bundled_copy(tmp_path)
    write_json(card, data, change)
    with memory_ceiling(GiB), pytest.raises(ModelLoadError, match=message) as error:
        load_model_files(weights)
    assert one_line(error).startswith(f"cannot load model {card}:")


def test_a_huge_network_is_refused_by_shape_before_any_memory_is_taken(tmp_path):
    """Built in CPU memory, these hyper-parameters would take about 6 GB; on the meta
    device they cost nothing, and the weights' header refuses them."""
    weights, card, data = bundled_copy(tmp_path)
    write_json(card, data, _hparams(channels=[4096] * 4, dim=4096, hidden=4096, embed=4096,
                                    decoder=4096, attend=4096))
    with memory_ceiling(GiB), pytest.raises(ModelLoadError, match=r"tensor \S+ has shape") as error:
        load_model_files(weights)
    assert one_line(error).startswith(f"cannot load model {weights}:")


def test_hidden_4000_is_refused_on_the_command_line(tmp_path, capsys):
    weights, card, data = bundled_copy(tmp_path, "ctc-reader")
    write_json(card, data, _hparams(hidden=4000))
    with memory_ceiling(GiB):
        err = refused_on_the_command_line(weights, capsys)
    assert "the architecture needs (16000,)" in err  # 4 gates x 4000 hidden units


def test_hidden_beyond_any_integer_is_refused_on_the_command_line(tmp_path, capsys):
    weights, card, data = bundled_copy(tmp_path, "ctc-reader")
    write_json(card, data, _hparams(hidden=10**400))
    assert "'hidden' must be a whole number from 1 to 4,096" in refused_on_the_command_line(weights, capsys)


@pytest.mark.timeout(20)
def test_a_million_character_alphabet_is_refused_at_once(tmp_path, capsys):
    weights, card, data = bundled_copy(tmp_path)
    alphabet = "".join(map(chr, range(0x10000, 0x10000 + 1_000_000))) + "a" * 100_000
    write_json(card, data, lambda c: c.update(alphabet=alphabet))
    with pytest.raises(ModelLoadError, match=f"it may have 1 to {MAX_ALPHABET:,}"):
        load_model_files(weights)
    assert f"it may have 1 to {MAX_ALPHABET:,}" in refused_on_the_command_line(weights, capsys)


@pytest.mark.timeout(20)
def test_a_repeat_in_the_largest_alphabet_allowed_is_found(tmp_path):
    alphabet = "".join(map(chr, range(0x10000, 0x10000 + MAX_ALPHABET - 1))) + "\U00010000"
    weights, card, data = bundled_copy(tmp_path)
    write_json(card, data, lambda c: c.update(alphabet=alphabet))
    with pytest.raises(ModelLoadError, match="the alphabet repeats '\U00010000'"):
        load_model_files(weights)


# -- decoding is bounded by the image ------------------------------------------------------
def never_ending_copy(folder: Path) -> Path:
    """The attention reader allowed 1000 steps, with weights that never emit the end token."""
    weights, card, data = bundled_copy(folder)
    write_json(card, data, _hparams(max_steps=1000))
    tensors = load_file(weights)
    tensors["out.2.bias"][0] = -1e4  # class 0 is the end token
    save_file(tensors, weights)
    return weights


@pytest.mark.timeout(20)
def test_a_reader_that_never_stops_reads_at_most_one_character_per_column(tmp_path):
    model = load_model_files(never_ending_copy(tmp_path))
    x = model.prepare(load_image(SAMPLE)).tensor
    reading = model.read(x)
    columns = encoded_width(x.shape[-1])
    assert columns + 1 < 1000
    assert len(reading) == columns + 1  # the image's bound, not max_steps, stopped it


@pytest.mark.timeout(20)
def test_a_reader_that_never_stops_finishes_on_the_command_line(tmp_path, capsys):
    weights = never_ending_copy(tmp_path)
    assert cli.main(["read", str(SAMPLE), "--model", str(weights)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(str(SAMPLE)))
    model = load_model_files(weights)
    columns = encoded_width(model.prepare(load_image(SAMPLE)).tensor.shape[-1])
    assert len(row.split("\t")[1]) == columns + 1  # path, reading, ...


# -- only regular files are opened ----------------------------------------------------------
@pytest.mark.timeout(20)
@pytest.mark.parametrize("piped", ["weights", "card"])
def test_a_named_pipe_is_refused_not_waited_on(tmp_path, capsys, piped):
    weights, card, _ = bundled_copy(tmp_path, "ctc-reader")
    fifo = {"weights": weights, "card": card}[piped]
    fifo.unlink()
    os.mkfifo(fifo)
    with pytest.raises(ModelLoadError, match="not a regular file") as error:
        open_model(weights)
    assert str(fifo) in one_line(error)
    assert "not a regular file: it is a named pipe" in refused_on_the_command_line(weights, capsys)


@pytest.mark.timeout(20)
def test_a_named_pipe_with_a_pytorch_name_is_refused(tmp_path):
    os.mkfifo(tmp_path / "model.pt")
    with pytest.raises(ModelLoadError, match="not a regular file"):
        open_model(tmp_path / "model.pt", trust=True)


# -- a file is what its bytes say ------------------------------------------------------------
def test_a_png_named_pth_is_called_a_png_and_no_consent_is_asked(tmp_path, capsys):
    fake = tmp_path / "model.pth"
    shutil.copy(SAMPLE, fake)
    for trust in (False, True):
        with pytest.raises(ModelLoadError, match="it is a PNG image, not a PyTorch file") as error:
            open_model(fake, trust=trust)
        assert not isinstance(error.value, UntrustedModelError)
    assert "it is a PNG image" in refused_on_the_command_line(fake, capsys)


def test_text_named_pt_is_no_pytorch_file(tmp_path, capsys):
    fake = tmp_path / "fake.pt"
    fake.write_text("not a model, just some words\n" * 4)
    with pytest.raises(ModelLoadError, match="not a PyTorch file: it starts neither as a zip archive nor as a pickle"):
        open_model(fake)
    assert "not a PyTorch file" in refused_on_the_command_line(fake, capsys)


@pytest.mark.parametrize(("content", "kind"), [
    (b"\xff\xd8\xff\xe0" + bytes(60), "a JPEG image"),
    (b"", "an empty file"),
    (None, "a safetensors file"),
])
def test_other_files_named_pt_are_called_what_they_are(tmp_path, content, kind):
    fake = tmp_path / "model.pt"
    if content is None:
        shutil.copy(MODELS_DIR / "ctc-reader.safetensors", fake)
    else:
        fake.write_bytes(content)
    with pytest.raises(ModelLoadError, match=f"it is {kind}"):
        open_model(fake)


def test_an_image_named_safetensors_is_called_an_image(tmp_path):
    weights, card, _ = bundled_copy(tmp_path, "ctc-reader")
    shutil.copy(SAMPLE, weights)
    with pytest.raises(ModelLoadError, match="not a valid safetensors file: it is a PNG image"):
        open_model(weights)


def test_a_state_dict_saved_by_torch_still_opens_memory_mapped(tmp_path):
    """A zip is memory-mapped; its tensors are checked against the meta-built network."""
    weights, card, _ = bundled_copy(tmp_path, "ctc-reader")
    state = tmp_path / "ctc-reader.pt"
    torch.save(load_file(weights), state)
    model = open_model(state)
    reference = load_model_files(weights)
    x = model.prepare(load_image(SAMPLE)).tensor
    assert model.read(x).text == reference.read(x).text


def test_a_safetensors_header_that_starts_like_a_pickle_is_still_safetensors(tmp_path):
    """A 640-byte header's length begins with b"\\x80\\x02", a pickle's first bytes."""
    path = tmp_path / "odd.safetensors"
    for pad in range(700):
        save_file({"w": torch.zeros(2)}, path, metadata={"pad": "x" * pad})
        if path.read_bytes()[:2] == b"\x80\x02":
            break
    else:
        pytest.fail("no padding gave a 640-byte header")
    assert sniff(path) == SAFETENSORS
    assert tensor_specs(path) == {"w": TensorSpec((2,), torch.float32)}
