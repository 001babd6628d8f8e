"""Safe loading: a bad weight file raises a clear error and never leaves a half-loaded model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from thulium_desktop.models import ModelLoadError, list_models, load_model, load_model_files
from thulium_desktop.models.registry import MODELS_DIR, build_module, read_card
from thulium_desktop.models.weights import load_into


@pytest.fixture(scope="module")
def bundled():
    return {i.name: i for i in list_models()}


@pytest.fixture
def ctc_copy(tmp_path, bundled) -> tuple[Path, Path]:
    """A writable copy of the CTC reader's two files."""
    info = bundled["ctc-reader"]
    weights = tmp_path / "mine.safetensors"
    card = tmp_path / "mine.json"
    shutil.copy(info.weights_path, weights)
    shutil.copy(info.json_path, card)
    return weights, card


def test_a_users_copy_of_a_bundled_architecture_loads(ctc_copy):
    weights, _ = ctc_copy
    model = load_model_files(weights)
    assert model.name == "ctc-reader"
    assert model.read(model.prepare(torch.ones(1, 1, 32, 64)).tensor).n_frames == 16


def test_corrupt_file_names_the_problem(ctc_copy):
    weights, card = ctc_copy
    weights.write_bytes(b"\x00\x01 this is not a safetensors file" * 10)
    with pytest.raises(ModelLoadError, match="not a valid safetensors file"):
        load_model_files(weights, card)


def test_truncated_file_names_the_problem(ctc_copy):
    weights, card = ctc_copy
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="corrupt or truncated"):
        load_model_files(weights, card)


def test_missing_and_unexpected_tensors_are_named(ctc_copy):
    weights, card = ctc_copy
    tensors = load_file(weights)
    gone = sorted(tensors)[0]
    del tensors[gone]
    tensors["extra.weight"] = torch.zeros(3)
    save_file(tensors, weights)
    with pytest.raises(ModelLoadError) as err:
        load_model_files(weights, card)
    assert f"missing tensors: {gone}" in str(err.value)
    assert "unexpected tensors: extra.weight" in str(err.value)


def test_wrong_shape_and_dtype_are_named(ctc_copy):
    weights, card = ctc_copy
    tensors = load_file(weights)
    tensors["classify.weight"] = tensors["classify.weight"][:-1]
    tensors["classify.bias"] = tensors["classify.bias"].double()
    save_file(tensors, weights)
    with pytest.raises(ModelLoadError) as err:
        load_model_files(weights, card)
    assert "tensor classify.weight has shape" in str(err.value)
    assert "tensor classify.bias has dtype torch.float64" in str(err.value)


def test_weights_of_another_architecture_are_refused(bundled, tmp_path):
    card = tmp_path / "swapped.json"
    shutil.copy(bundled["attention-reader"].json_path, card)
    with pytest.raises(ModelLoadError, match="missing tensors"):
        load_model_files(bundled["ctc-reader"].weights_path, card)


def test_bad_json_is_named(ctc_copy):
    weights, card = ctc_copy
    data = json.loads(card.read_text())
    data["architecture"] = "transformer-9000"
    card.write_text(json.dumps(data))
    with pytest.raises(ModelLoadError, match="unknown architecture 'transformer-9000'"):
        load_model_files(weights, card)
    card.write_text("{ not json")
    with pytest.raises(ModelLoadError, match="not a readable json"):
        load_model_files(weights, card)
    data["architecture"] = "crnn-ctc"
    for change, message in ((dict(alphabet="ab" + data["alphabet"][2:-2] + "ba"), "repeats 'ab'"),
                            (dict(name=7), "'name' must be text, got 7")):
        card.write_text(json.dumps({**data, **change}))
        with pytest.raises(ModelLoadError, match=message):
            load_model_files(weights, card)
    card.write_text(json.dumps({**data, "name": None}))  # no name: the file's stem
    assert load_model_files(weights, card).name == "mine"


def test_a_failed_load_leaves_the_module_untouched(ctc_copy):
    weights, card = ctc_copy
    tensors = load_file(weights)
    tensors["classify.bias"] = tensors["classify.bias"][:-1]
    save_file(tensors, weights)
    spec = read_card(card)
    module = build_module(spec["architecture"], spec["hparams"], spec["alphabet"])
    before = {k: v.clone() for k, v in module.state_dict().items()}
    with pytest.raises(ModelLoadError, match="classify.bias"):
        load_into(weights, module)
    after = module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_unknown_model_name_lists_the_bundled_ones():
    with pytest.raises(ModelLoadError, match="bundled: attention-reader, ctc-reader"):
        load_model("no-such-model")


def test_an_unknown_name_is_reported_even_when_a_bundled_json_is_broken(tmp_path):
    (tmp_path / "broken.json").write_text("{ not json")
    (tmp_path / "broken.safetensors").write_bytes(b"")
    shutil.copy(MODELS_DIR / "ctc-reader.json", tmp_path / "ctc-reader.json")
    shutil.copy(MODELS_DIR / "ctc-reader.safetensors", tmp_path / "ctc-reader.safetensors")
    with pytest.raises(ModelLoadError, match="no bundled model named 'nope'.*bundled: ctc-reader; unreadable: .*broken.json"):
        load_model("nope", tmp_path)
    with pytest.raises(ModelLoadError, match="broken.json"):  # measuring tools want all or nothing
        list_models(tmp_path)
