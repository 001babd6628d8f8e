"""Averaging a bundled reader with other runs' weights: the mean ships, checked first."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
import torch
from safetensors.torch import save_file

from thulium_desktop.models import load_model
from thulium_desktop.models.registry import MODELS_DIR
from thulium_desktop.models.weights import ModelLoadError, read_tensors
from thulium_desktop.training.average import average_with, main


@pytest.fixture()
def models(tmp_path):
    """A copy of the bundled ctc-reader as a training run leaves it (no average yet), so
    no test can touch the shipped files."""
    shutil.copy(MODELS_DIR / "ctc-reader.safetensors", tmp_path / "ctc-reader.safetensors")
    card = json.loads((MODELS_DIR / "ctc-reader.json").read_text())
    card["training"].pop("averaged_with", None)
    (tmp_path / "ctc-reader.json").write_text(json.dumps(card))
    return tmp_path


def _other_run(models, seed: int) -> dict[str, torch.Tensor]:
    """The copied weights with seeded noise on every float tensor: another run's weights."""
    generator = torch.Generator().manual_seed(seed)
    return {k: v + torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
            for k, v in read_tensors(models / "ctc-reader.safetensors").items()}


def test_the_mean_of_two_runs_replaces_the_weights_and_the_json_says_so(models, tmp_path):
    current = read_tensors(models / "ctc-reader.safetensors")
    # the other run's step counters differ too
    earlier = {k: v if v.is_floating_point() else v + 7 for k, v in _other_run(models, seed=0).items()}
    save_file(earlier, tmp_path / "earlier.safetensors")

    shipped_sha = hashlib.sha256((models / "ctc-reader.safetensors").read_bytes()).hexdigest()
    args = ["--model", "ctc-reader", "--with", str(tmp_path / "earlier.safetensors"), "--models", str(models)]
    assert main(args) == 0

    averaged = read_tensors(models / "ctc-reader.safetensors")
    for name, value in current.items():
        if value.is_floating_point():
            torch.testing.assert_close(averaged[name], (value + earlier[name]) / 2)
        else:
            assert torch.equal(averaged[name], value)  # step counters are not averaged
    card = json.loads((models / "ctc-reader.json").read_text())
    note = card["training"]["averaged_with"]
    assert note["replaced_sha256"] == shipped_sha
    assert note["files"] == [{"file": "earlier.safetensors",
                              "sha256": hashlib.sha256((tmp_path / "earlier.safetensors").read_bytes()).hexdigest()}]
    # the old numbers measured the replaced weights: kept as such, none claimed for the mean
    assert note["metrics_before"] == json.loads((MODELS_DIR / "ctc-reader.json").read_text())["metrics"]
    assert card["metrics"] == {}
    assert load_model("ctc-reader", models).read(torch.zeros(1, 1, 32, 64)) is not None

    after = (models / "ctc-reader.safetensors").read_bytes()
    assert main(args) == 1  # a second average would shift the mix: refused, nothing written
    assert (models / "ctc-reader.safetensors").read_bytes() == after


def test_three_runs_average_uniformly_and_the_json_names_each_input(models, tmp_path):
    """A soup of three runs: each weighs a third (not a half, then a quarter each)."""
    current = read_tensors(models / "ctc-reader.safetensors")
    others = []
    for seed in (1, 2):
        state = _other_run(models, seed)
        save_file(state, tmp_path / f"run{seed}.safetensors")
        others.append(state)

    assert main(["--model", "ctc-reader", "--with", str(tmp_path / "run1.safetensors"),
                 "--with", str(tmp_path / "run2.safetensors"), "--models", str(models)]) == 0

    averaged = read_tensors(models / "ctc-reader.safetensors")
    for name, value in current.items():
        if value.is_floating_point():
            torch.testing.assert_close(averaged[name], (value + others[0][name] + others[1][name]) / 3)
    note = json.loads((models / "ctc-reader.json").read_text())["training"]["averaged_with"]
    assert [entry["file"] for entry in note["files"]] == ["run1.safetensors", "run2.safetensors"]
    assert len({entry["sha256"] for entry in note["files"]} | {note["replaced_sha256"]}) == 3


def _pair(models) -> tuple[bytes, str]:
    return (models / "ctc-reader.safetensors").read_bytes(), (models / "ctc-reader.json").read_text()


def test_a_file_averaged_with_itself_is_refused(models):
    before = _pair(models)
    with pytest.raises(ModelLoadError, match="same weights"):
        average_with("ctc-reader", [models / "ctc-reader.safetensors"], models)
    assert _pair(models) == before


def test_the_same_weights_given_twice_are_refused_even_when_the_files_differ(models, tmp_path):
    """A copy re-saved with metadata has other bytes (another SHA-256) but the same tensors:
    it would still count twice, so it is compared by value."""
    state = _other_run(models, seed=3)
    save_file(state, tmp_path / "run.safetensors")
    save_file(state, tmp_path / "copy.safetensors", metadata={"note": "re-saved"})
    assert (tmp_path / "run.safetensors").read_bytes() != (tmp_path / "copy.safetensors").read_bytes()
    before = _pair(models)
    with pytest.raises(ModelLoadError, match="copy.safetensors.*same weights as .*run.safetensors"):
        average_with("ctc-reader", [tmp_path / "run.safetensors", tmp_path / "copy.safetensors"], models)
    assert _pair(models) == before


def test_nothing_to_average_and_a_bare_path_are_refused(models):
    with pytest.raises(ModelLoadError, match="no other weights"):
        average_with("ctc-reader", [], models)
    with pytest.raises(TypeError, match="list of weight files"):
        average_with("ctc-reader", str(models / "ctc-reader.safetensors"), models)


def test_a_failed_write_leaves_the_old_weights_and_json_together(models, tmp_path, monkeypatch):
    """If the json cannot be written, the weights must not be left averaged without it:
    a second call would then average the average."""
    import thulium_desktop.models.weights as weights

    state = _other_run(models, seed=3)
    save_file(state, tmp_path / "run.safetensors")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(weights, "save_json", disk_full)
    before, names = _pair(models), sorted(p.name for p in models.iterdir())
    with pytest.raises(OSError, match="No space"):
        average_with("ctc-reader", [tmp_path / "run.safetensors"], models)
    assert _pair(models) == before
    assert sorted(p.name for p in models.iterdir()) == names  # no half-written files left


def test_weights_of_another_architecture_are_refused_and_nothing_changes(models):
    before = _pair(models)
    with pytest.raises(ModelLoadError, match="attention-reader.safetensors"):
        average_with("ctc-reader", [MODELS_DIR / "attention-reader.safetensors"], models)
    assert _pair(models) == before


def test_an_unreadable_json_is_refused_with_its_name(models, tmp_path):
    (models / "ctc-reader.json").write_text("{ not json")
    save_file(_other_run(models, seed=4), tmp_path / "run.safetensors")
    assert main(["--model", "ctc-reader", "--with", str(tmp_path / "run.safetensors"),
                 "--models", str(models)]) == 1
    assert (models / "ctc-reader.json").read_text() == "{ not json"
