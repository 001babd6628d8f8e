"""Opening a user's model: data formats open, code formats need consent, bad files say why."""

from __future__ import annotations

import builtins
import json
import pickle
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from tiny_models import ALPHABET, tiny_crnn

from thulium_desktop.models import CRNN, CTCRecognizer, ModelLoadError
from thulium_desktop.models.user_models import (
    MODEL_SUFFIXES,
    ModelFormat,
    UntrustedModelError,
    detect_format,
    open_described,
    open_model,
)
from thulium_desktop.models.weights import save_json, save_weights

HPARAMS = {"channels": [4, 8, 8, 8], "dim": 16, "hidden": 8, "layers": 1}


class MarkerOnUnpickle:
    """A pickle payload: unpickling it calls `open(marker, "w")`, creating the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


def user_crnn(seed: int = 0) -> CRNN:
    """A bundled-architecture network with the user's own (here random) weights."""
    torch.manual_seed(seed)
    return CRNN(len(ALPHABET), **HPARAMS).eval()


def write_card(path: Path, name: str = "my-crnn") -> Path:
    save_json({"name": name, "architecture": "crnn-ctc", "hparams": HPARAMS, "alphabet": ALPHABET,
               "input_height": 32}, path)
    return path


def as_bundled(net: CRNN) -> CTCRecognizer:
    """How a bundled-architecture network reads: padded with paper to its 4-column stride,
    as the bundled ctc reader (a word image 150 px wide reads 152 columns, 38 frames)."""
    return CTCRecognizer(net, ALPHABET, 32, width_stride=4)


def readings_match(a, b, image) -> None:
    ra, rb = a.read(a.prepare(image).tensor), b.read(b.prepare(image).tensor)
    assert ra.text == rb.text and ra.spans == rb.spans
    np.testing.assert_allclose(ra.confidences, rb.confidences, rtol=1e-6)


# -- code never runs without consent -------------------------------------------------------
WRITERS = {
    "torch.save": torch.save,
    "torch.save, legacy format": lambda obj, path: torch.save(obj, path, _use_new_zipfile_serialization=False),
    "plain pickle": lambda obj, path: path.write_bytes(pickle.dumps(obj)),
}


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's own note on legacy files
@pytest.mark.parametrize(("suffix", "writer"), [(s, "torch.save") for s in (".pt", ".pth", ".bin", ".ckpt")]
                         + [(".pt", "torch.save, legacy format"), (".pt", "plain pickle")])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, suffix, writer):
    marker = tmp_path / "pwned"
    evil = tmp_path / f"evil{suffix}"
    WRITERS[writer]({"weight": torch.zeros(3), "payload": MarkerOnUnpickle(marker)}, evil)
    write_card(evil.with_suffix(".json"))
    with pytest.raises(UntrustedModelError) as info:
        open_model(evil)
    message = str(info.value)
    assert str(evil) in message and "can run any code" in message and "safetensors" in message
    assert "weights_only" not in message  # torch's hint to turn the check off is not passed on
    assert not marker.exists()


def test_pickle_disguised_as_safetensors_is_a_clear_error_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    fake = tmp_path / "model.safetensors"
    fake.write_bytes(pickle.dumps(MarkerOnUnpickle(marker)))
    write_card(fake.with_suffix(".json"))
    with pytest.raises(ModelLoadError, match="not a valid safetensors file"):
        open_model(fake, trust=True)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # TorchScript is deprecated in torch 2.13
def test_torchscript_needs_consent_and_opens_with_its_ctc_description(tmp_path, word_image):
    net = tiny_crnn(seed=3, rnn=False).eval()
    path = tmp_path / "scripted.pt"
    torch.jit.trace(net, torch.rand(1, 1, 32, 64)).save(str(path))
    assert detect_format(path) is ModelFormat.TORCHSCRIPT
    with pytest.raises(UntrustedModelError, match="TorchScript"):
        open_model(path)
    with pytest.raises(ModelLoadError, match='"decoder": "ctc"'):
        open_model(path, trust=True)
    (tmp_path / "scripted.json").write_text(json.dumps(
        {"decoder": "ctc", "alphabet": ALPHABET, "input_height": 32}))
    opened = open_described(path, trust=True)
    assert opened.summary.format is ModelFormat.TORCHSCRIPT
    readings_match(opened.recognizer, CTCRecognizer(net, ALPHABET, 32), word_image)
    # the network pools 4 columns a frame: the json may say so, and the last ones are read
    (tmp_path / "scripted.json").write_text(json.dumps(
        {"decoder": "ctc", "alphabet": ALPHABET, "input_height": 32, "width_stride": 4}))
    padded = open_described(path, trust=True).recognizer
    readings_match(padded, CTCRecognizer(net, ALPHABET, 32, width_stride=4), word_image)
    assert padded.prepare(word_image[:, :149]).tensor.shape[-1] == 152
    for bad, message in (({"width_stride": 0}, "width_stride"), ({"name": 7}, "'name' must be text")):
        (tmp_path / "scripted.json").write_text(json.dumps(
            {"decoder": "ctc", "alphabet": ALPHABET, "input_height": 32, **bad}))
        with pytest.raises(ModelLoadError, match=message):
            open_described(path, trust=True)


def test_full_pickle_opens_with_consent(tmp_path, word_image):
    original = CTCRecognizer(tiny_crnn(seed=3).eval(), ALPHABET, 32, name="pickled")
    path = tmp_path / "whole.pt"
    torch.save(original, path)
    with pytest.raises(UntrustedModelError, match="full pickle"):
        open_model(path)
    opened = open_described(path, trust=True)
    assert opened.summary.format is ModelFormat.PICKLE
    readings_match(opened.recognizer, original, word_image)


PLUGIN = """
    from pathlib import Path
    Path(__file__).with_name("plugin-ran").touch()
    from tiny_models import ALPHABET, tiny_crnn
    from thulium_desktop.models import CTCRecognizer

    def load_recognizer():
        return CTCRecognizer(tiny_crnn(seed=3), ALPHABET, 32, name="from-plugin")
"""


def test_plugin_runs_only_with_consent(tmp_path, word_image):
    plugin = tmp_path / "reader.py"
    plugin.write_text(textwrap.dedent(PLUGIN))
    with pytest.raises(UntrustedModelError) as info:
        open_model(plugin)
    assert str(plugin) in str(info.value) and "Python program" in str(info.value)
    assert not (tmp_path / "plugin-ran").exists()
    opened = open_described(plugin, trust=True)
    assert (tmp_path / "plugin-ran").exists()
    assert opened.summary.format is ModelFormat.PLUGIN and opened.summary.name == "from-plugin"
    readings_match(opened.recognizer, CTCRecognizer(tiny_crnn(seed=3), ALPHABET, 32), word_image)


def test_plugins_in_different_folders_import_their_own_siblings(tmp_path):
    for which in ("a", "b"):
        folder = tmp_path / which
        folder.mkdir()
        (folder / "net.py").write_text(f"NAME = {which!r}\n")
        (folder / "reader.py").write_text(textwrap.dedent("""
            from net import NAME
            from tiny_models import ALPHABET, tiny_crnn
            from thulium_desktop.models import CTCRecognizer

            def load_recognizer():
                return CTCRecognizer(tiny_crnn(), ALPHABET, 32, name=NAME)
        """))
    names = [open_model(tmp_path / which / "reader.py", trust=True).name for which in ("a", "b")]
    assert names == ["a", "b"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("x = 1\n", "defines no load_recognizer"),
        ("def load_recognizer():\n    return 42\n", "not a Recognizer"),
        ("def load_recognizer():\n    raise RuntimeError('no weights here')\n", "no weights here"),
    ],
)
def test_broken_plugin_says_what_is_wrong(tmp_path, body, message):
    plugin = tmp_path / "broken.py"
    plugin.write_text(body)
    with pytest.raises(ModelLoadError, match=message):
        open_model(plugin, trust=True)


# -- a user-trained bundled architecture round-trips -----------------------------------------
def test_safetensors_with_json_round_trips(tmp_path, word_image):
    net = user_crnn()
    save_weights(net, tmp_path / "mine.safetensors")
    write_card(tmp_path / "mine.json")
    opened = open_described(tmp_path / "mine.safetensors")
    assert opened.summary.format is ModelFormat.SAFETENSORS
    readings_match(opened.recognizer, as_bundled(net), word_image)


@pytest.mark.parametrize("wrap", [lambda sd: sd, lambda sd: {"state_dict": sd, "epoch": 7}])
def test_state_dict_round_trips(tmp_path, word_image, wrap):
    net = user_crnn(seed=1)
    path = tmp_path / "mine.pth"
    torch.save(wrap(net.state_dict()), path)
    card = write_card(tmp_path / "described-elsewhere.json")
    opened = open_described(path, card=card)
    assert opened.summary.format is ModelFormat.STATE_DICT and opened.summary.name == "my-crnn"
    readings_match(opened.recognizer, as_bundled(net), word_image)


# -- broken and mismatched files give clear messages -------------------------------------------
def test_a_state_dict_keyed_by_numbers_is_refused_with_a_message(tmp_path):
    """A PyTorch file may hold a dict keyed by anything: refused by name, not a TypeError."""
    tensors = dict(user_crnn().state_dict())
    tensors[7] = torch.zeros(1)
    torch.save(tensors, tmp_path / "odd.pth")
    with pytest.raises(ModelLoadError, match="tensor names must be text, got 7"):
        open_described(tmp_path / "odd.pth", card=write_card(tmp_path / "odd.json"))


def test_truncated_files_say_so(tmp_path):
    net = user_crnn()
    save_weights(net, tmp_path / "cut.safetensors")
    torch.save(net.state_dict(), tmp_path / "cut.pt")
    for name in ("cut.safetensors", "cut.pt"):
        path = tmp_path / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        write_card(path.with_suffix(".json"))
        with pytest.raises(ModelLoadError, match="truncated") as info:
            open_model(path)
        assert not isinstance(info.value, UntrustedModelError)


def test_mismatched_weights_name_the_tensor(tmp_path):
    net = user_crnn()
    tensors = dict(net.state_dict())
    tensors["classify.weight"] = torch.zeros(5, 5)
    save_file({k: v.contiguous() for k, v in tensors.items()}, tmp_path / "odd.safetensors")
    torch.save({"weights": [1, 2, 3]}, tmp_path / "odd.pt")
    write_card(tmp_path / "odd.json")
    with pytest.raises(ModelLoadError, match=r"classify\.weight has shape \(5, 5\)"):
        open_model(tmp_path / "odd.safetensors")
    with pytest.raises(ModelLoadError, match="not a state dict"):
        open_model(tmp_path / "odd.pt")


def test_every_listed_suffix_is_recognised_without_reading_the_file(tmp_path):
    for suffix in MODEL_SUFFIXES:
        path = tmp_path / f"model{suffix}"
        path.write_bytes(b"\x80 not read beyond the zip check")
        assert isinstance(detect_format(path), ModelFormat)


def test_missing_description_and_unknown_types_are_explained(tmp_path):
    save_weights(user_crnn(), tmp_path / "lonely.safetensors")
    with pytest.raises(ModelLoadError, match=r"need their description lonely\.json.*crnn-ctc.*plugin"):
        open_model(tmp_path / "lonely.safetensors")
    assert ".onnx" not in MODEL_SUFFIXES
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    with pytest.raises(ModelLoadError, match="unknown model file type '.onnx'"):
        open_model(tmp_path / "model.onnx")
    with pytest.raises(ModelLoadError, match="Hugging Face"):
        open_model(tmp_path)
    with pytest.raises(ModelLoadError, match="no such file"):
        open_model(tmp_path / "absent.pt")
    with pytest.raises(ModelLoadError, match="no bundled model named 'no-such-model'"):
        open_model("no-such-model")


def test_none_and_bundled_names_open_the_bundled_models(tmp_path, monkeypatch):
    from thulium_desktop.models import registry

    save_weights(user_crnn(), tmp_path / f"{registry.DEFAULT_MODEL}.safetensors")
    write_card(tmp_path / f"{registry.DEFAULT_MODEL}.json", name=registry.DEFAULT_MODEL)
    monkeypatch.setattr(registry, "MODELS_DIR", tmp_path)
    for spec in (None, registry.DEFAULT_MODEL):
        summary = open_described(spec).summary
        assert (summary.name, summary.format, summary.path) == (registry.DEFAULT_MODEL, ModelFormat.BUNDLED, None)


def test_summary_names_format_device_and_size(tmp_path):
    net = user_crnn()
    save_weights(net, tmp_path / "mine.safetensors")
    write_card(tmp_path / "mine.json", name="handwriting-v2")
    summary = open_described(tmp_path / "mine.safetensors").summary
    n = sum(p.numel() for p in net.parameters())
    assert (summary.name, summary.device, summary.parameters) == ("handwriting-v2", "cpu", n)
    assert summary.caption() == f"handwriting-v2 \u00b7 safetensors \u00b7 cpu \u00b7 {n / 1e3:.3g}k parameters"


def test_a_hugging_face_folder_without_transformers_says_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "vision-encoder-decoder"}))
    assert detect_format(tmp_path) is ModelFormat.HUGGING_FACE
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` fail
    with pytest.raises(ModelLoadError, match=r"pip install 'thulium-desktop\[hf\]'"):
        open_model(tmp_path)
