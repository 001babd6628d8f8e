"""How a TrOCR folder is read (issue 22): the plain greedy argmax whatever the folder's
generation settings say, or, asked for, those settings (beam search) with the tokens of
that fixed reading explained by their teacher-forced scores, and the records say which."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("transformers", reason="the TrOCR recognizer needs the optional 'hf' extra")

from tiny_trocr import save_tiny_trocr  # noqa: E402

from thulium_desktop.models import open_model  # noqa: E402
from thulium_desktop.models.trocr import TrOCRRecognizer, open_trocr  # noqa: E402
from thulium_desktop.xai.saliency import MapNote, SaliencyGenerator  # noqa: E402

#: As fine-tuned checkpoints ship them; 13 = the start token and 12 read.
BEAMS = {"num_beams": 4, "no_repeat_ngram_size": 3, "max_length": 13}
STEPS = 12


def with_legacy_fields(folder: Path) -> Path:
    """The settings where older checkpoints keep them: config.json, no generation_config.json."""
    (folder / "generation_config.json").unlink()
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps(config | BEAMS), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """The same random network saved three ways: no settings, settings in
    generation_config.json, settings in config.json."""
    root = tmp_path_factory.mktemp("decoding")
    return {
        "plain": save_tiny_trocr(root / "plain"),
        "generation_config.json": save_tiny_trocr(root / "beams", generation=BEAMS),
        "config.json": with_legacy_fields(save_tiny_trocr(root / "legacy", generation=BEAMS)),
    }


def opened(folder: Path, decoding: str = "greedy") -> TrOCRRecognizer:
    recognizer = open_trocr(folder, decoding=decoding)
    recognizer.max_new_tokens = STEPS
    return recognizer


def teacher_forced_argmax(recognizer: TrOCRRecognizer, x: torch.Tensor, ids) -> tuple[int, ...]:
    with torch.no_grad():
        logits = recognizer.module(x, torch.tensor([[recognizer.start_id, *ids[:-1]]])).logits[0]
    return tuple(logits.argmax(-1).tolist())


def repeats_a_trigram(ids) -> bool:
    trigrams = [tuple(ids[i:i + 3]) for i in range(len(ids) - 2)]
    return len(set(trigrams)) < len(trigrams)


@pytest.mark.parametrize("source", ["generation_config.json", "config.json"])
def test_greedy_reading_ignores_the_folders_generation_settings(folders, word_image, source):
    plain = opened(folders["plain"])
    x = plain.prepare(word_image).tensor
    expected = plain.read(x).extra["token_ids"]
    # no_repeat_ngram_size=3 would forbid this reading: the settings could leak into it
    assert len(expected) == STEPS and repeats_a_trigram(expected)

    recognizer = open_model(folders[source])
    recognizer.max_new_tokens = STEPS
    reading = recognizer.read(x)
    assert reading.extra["token_ids"] == expected == teacher_forced_argmax(recognizer, x, expected)
    assert reading.extra["decoding"] == recognizer.decoding_description == "greedy"
    (note,) = recognizer.notes
    assert note.startswith("read greedily, not with the folder's generation settings")
    assert all(f"{name}={value}" in note for name, value in BEAMS.items())
    assert plain.notes == ()


@pytest.mark.parametrize("source", ["generation_config.json", "config.json"])
def test_folder_decoding_reads_what_generate_reads(folders, word_image, source):
    recognizer = opened(folders[source], decoding="folder")
    x = recognizer.prepare(word_image).tensor
    reading = recognizer.read(x)
    model = recognizer.module.model
    with torch.no_grad():
        generated = model.generate(pixel_values=x, generation_config=model.generation_config)[0, 1:]
    assert reading.extra["token_ids"] == tuple(generated.tolist())
    assert not repeats_a_trigram(reading.extra["token_ids"])
    assert reading.extra["token_ids"] != opened(folders["plain"]).read(x).extra["token_ids"]
    described = reading.extra["decoding"]
    assert described == recognizer.decoding_description
    assert described.startswith("the folder's generation settings: ")
    assert sorted(described.split(": ", 1)[1].split(", ")) == sorted(f"{k}={v}" for k, v in BEAMS.items())


def test_a_folder_reading_is_explained_by_its_teacher_forced_scores(folders, word_image):
    recognizer = opened(folders["generation_config.json"], decoding="folder")
    x = recognizer.prepare(word_image).tensor
    reading = recognizer.read(x)
    # beam search chose tokens the argmax would not: the scores are of this fixed reading
    assert teacher_forced_argmax(recognizer, x, reading.extra["token_ids"]) != reading.extra["token_ids"]
    batch = x.clone().requires_grad_(True)
    scores = recognizer.token_scores(batch, reading)
    np.testing.assert_allclose(scores.detach()[0].numpy(), np.log(reading.confidences), rtol=1e-5)
    (grad,) = torch.autograd.grad(scores[0, -1], batch)
    assert grad.abs().sum() > 0

    with pytest.warns(MapNote, match="read with the folder's generation settings: "):
        explanation = SaliencyGenerator(recognizer).explain(word_image, method="gradient")
    assert explanation.reading.text == reading.text
    assert explanation.maps.shape == (len(reading), *word_image.shape)
    (note,) = [n for n in explanation.record()["notes"] if n.startswith("read with")]
    assert note == recognizer.notes[0] and "num_beams=4" in note


def test_folder_decoding_without_settings_says_so_and_reads_up_to_max_new_tokens(folders, word_image):
    recognizer = opened(folders["plain"], decoding="folder")
    assert recognizer.decoding_description == (
        f"the folder's generation settings: none; at most {STEPS} new tokens, as the folder sets no length")
    x = recognizer.prepare(word_image).tensor
    assert len(recognizer.read(x).extra["token_ids"]) == STEPS  # not transformers' default of 20


def test_decoding_may_change_after_loading_but_only_to_a_known_one(folders, word_image):
    """As the command line's --decoding sets it on whatever model --model opened."""
    with pytest.raises(ValueError, match="decoding must be one of greedy, folder, got 'beam'"):
        open_trocr(folders["plain"], decoding="beam")
    recognizer = opened(folders["generation_config.json"])
    x = recognizer.prepare(word_image).tensor
    recognizer.decoding = "folder"
    expected = opened(folders["generation_config.json"], decoding="folder").read(x)
    assert recognizer.read(x).extra == expected.extra
    with pytest.raises(ValueError, match="got 'beam'"):
        recognizer.decoding = "beam"
    assert recognizer.decoding == "folder"
