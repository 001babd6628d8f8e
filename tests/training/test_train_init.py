"""`--init`: fine-tuning starts from the shipped weights and keeps their training record."""

from __future__ import annotations

import json
import logging
import shutil

import cv2
import pytest
import torch

from thulium_desktop.models.registry import MODELS_DIR
from thulium_desktop.models.weights import ModelLoadError, read_tensors
from thulium_desktop.training.train import train


def test_init_starts_from_the_shipped_weights_and_records_the_earlier_run(tmp_path, caplog):
    shipped = MODELS_DIR / "ctc-reader.safetensors"
    with caplog.at_level(logging.INFO, logger="thulium_desktop.training"):
        out = train("ctc", minutes=0.0, seed=0, out=tmp_path, batch_size=4, lr=1e-4,
                    resume=False, command="test", init=shipped)
    written, original = read_tensors(out), read_tensors(shipped)
    assert written.keys() == original.keys()
    for name, tensor in original.items():  # no step ran: the weights are the shipped ones
        assert torch.equal(written[name], tensor), name
    card = json.loads((tmp_path / "ctc-reader.json").read_text())
    earlier = json.loads((MODELS_DIR / "ctc-reader.json").read_text())["training"]
    assert card["training"]["started_from"] == earlier
    assert card["training"]["steps"] == 0
    # the training images depend on OpenCV's major version, so the record names it
    assert (card["training"]["opencv"], card["training"]["torch"]) == (cv2.__version__, torch.__version__)
    assert "starting ctc-reader from the weights" in caplog.text


def test_init_weights_described_for_another_alphabet_are_refused(tmp_path):
    """Same tensor shapes, other meaning: a permuted alphabet must not load silently."""
    shutil.copy(MODELS_DIR / "ctc-reader.safetensors", tmp_path / "other.safetensors")
    card = json.loads((MODELS_DIR / "ctc-reader.json").read_text())
    card["alphabet"] = card["alphabet"][::-1]
    (tmp_path / "other.json").write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="its alphabet is not the one this command trains"):
        train("ctc", minutes=0.0, seed=0, out=tmp_path / "out", batch_size=4, lr=1e-4,
              resume=False, command="test", init=tmp_path / "other.safetensors")
    assert not (tmp_path / "out" / "ctc-reader.safetensors").exists()
