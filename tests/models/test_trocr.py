"""A tiny random TrOCR-style checkpoint on disk: opened, read, explained per character."""

from __future__ import annotations

import builtins
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

pytest.importorskip("transformers", reason="the TrOCR recognizer needs the optional 'hf' extra")

from tiny_trocr import GRID, save_tiny_trocr, tiny_tokenizer  # noqa: E402

from thulium_desktop.models import ModelLoadError  # noqa: E402
from thulium_desktop.models.trocr import _patch_grid, token_characters  # noqa: E402
from thulium_desktop.models.user_models import ModelFormat, open_described, open_model  # noqa: E402
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_trocr(tmp_path_factory.mktemp("tiny-trocr") / "tiny-trocr")


@pytest.fixture(scope="module")
def opened(checkpoint):
    opened = open_described(checkpoint)
    opened.recognizer.max_new_tokens = 6
    return opened


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def split_e_acute(tokenizer) -> list[int]:
    """"hello wé" as tokens he|ll|o|Ġw|Ã|© : 'é' split across its two UTF-8 bytes."""
    ids = tokenizer.convert_tokens_to_ids(["he", "ll", "o", "Ġw", "Ã", "©"])
    assert tokenizer.decode(ids) == "hello wé"
    return ids


def test_bpe_tokens_map_to_the_characters_they_cover(tokenizer):
    def decode(ids):
        return tokenizer.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False)

    ids = split_e_acute(tokenizer)
    assert token_characters(decode, ids) == [
        ("h", 0, 1), ("e", 0, 1), ("l", 1, 2), ("l", 1, 2), ("o", 2, 3),
        (" ", 3, 4), ("w", 3, 4), ("é", 4, 6),
    ]
    with_specials = [tokenizer.bos_token_id, *tokenizer.convert_tokens_to_ids(["Ġw", "Ã©"])]
    assert token_characters(decode, with_specials) == [("w", 1, 2), ("é", 2, 3)]


def test_opens_the_folder_and_reads_characters(opened, word_image):
    recognizer, summary = opened
    assert summary.format is ModelFormat.HUGGING_FACE and summary.name == "tiny-trocr"
    assert summary.parameters == sum(p.numel() for p in recognizer.module.parameters())
    x = recognizer.prepare(word_image).tensor
    reading = recognizer.read(x)
    ids = reading.extra["token_ids"]
    assert len(ids) == 6 and len(reading) > 0
    assert reading.text == recognizer.tokenizer.decode(list(ids), skip_special_tokens=True).strip()
    # greedy generation reads the argmax of the very distribution the scores differentiate
    with torch.no_grad():
        logits = recognizer.module(x, torch.tensor([[recognizer.start_id, *ids[:-1]]])).logits[0]
    assert tuple(logits.argmax(-1).tolist()) == ids
    np.testing.assert_allclose(
        recognizer.token_scores(x, reading).detach()[0].numpy(), np.log(reading.confidences), rtol=1e-5
    )


def test_cross_attention_per_character_sums_to_one(opened, tokenizer, word_image):
    recognizer = opened.recognizer
    x = recognizer.prepare(word_image).tensor
    reading = recognizer.reading_for(x, split_e_acute(tokenizer))
    assert reading.text == "hello wé"
    att = recognizer.attention(x, reading)
    assert att.shape == (8, *GRID)
    torch.testing.assert_close(att.sum((1, 2)), torch.ones(8))
    torch.testing.assert_close(att[0], att[1])  # 'h' and 'e' share the token "he"
    assert not torch.allclose(att[4], att[0])
    recognizer.heads = [0]
    first = recognizer.attention(x, reading)
    recognizer.heads = [1]
    second = recognizer.attention(x, reading)
    recognizer.heads = None
    assert not torch.allclose(first, second)
    torch.testing.assert_close(att.sum((1, 2)), first.sum((1, 2)))


def test_token_scores_are_teacher_forced_and_differentiable(opened, tokenizer, word_image):
    recognizer = opened.recognizer
    x = recognizer.prepare(word_image).tensor
    reading = recognizer.reading_for(x, split_e_acute(tokenizer))
    batch = torch.cat([x, x.flip(-1)]).requires_grad_(True)
    scores = recognizer.token_scores(batch, reading)
    assert scores.shape == (2, 8)
    assert scores[0, 0] == scores[0, 1] and not torch.allclose(scores[0], scores[1])
    (grad,) = torch.autograd.grad(scores[:, 7].sum(), batch)
    assert grad[0].abs().sum() > 0 and grad[1].abs().sum() > 0


@pytest.mark.parametrize("method", ["attention", "gradient", "gradcam"])
def test_the_engine_explains_it_in_image_pixels(opened, word_image, method):
    explanation = SaliencyGenerator(opened.recognizer, SaliencyConfig()).explain(word_image, method=method)
    assert explanation.maps.shape == (len(explanation.reading), *word_image.shape[:2])
    assert np.isfinite(explanation.maps).all() and (explanation.maps != 0).any(axis=(1, 2)).all()


def test_a_deit_encoder_as_in_trocr_small_reads_and_explains_in_image_pixels(tmp_path, word_image):
    recognizer = open_model(save_tiny_trocr(tmp_path / "tiny-deit", encoder_type="deit"))
    assert type(recognizer.module.model.encoder).__name__ == "DeiTModel"
    recognizer.max_new_tokens = 3
    x = recognizer.prepare(word_image).tensor
    reading = recognizer.read(x)
    assert len(reading) > 0
    with torch.no_grad():
        hidden = recognizer.module.model.encoder(pixel_values=x).last_hidden_state
    assert hidden.shape[1] == GRID[0] * GRID[1] + 2
    att = recognizer.attention(x, reading)
    assert att.shape == (len(reading), *GRID)
    torch.testing.assert_close(att.sum((1, 2)), torch.ones(len(reading)))
    for method in ("gradient", "gradcam"):
        explanation = SaliencyGenerator(recognizer).explain(word_image, method=method)
        assert explanation.reading.text == reading.text
        assert explanation.maps.shape == (len(reading), *word_image.shape)
        assert np.isfinite(explanation.maps).all() and (explanation.maps != 0).any(axis=(1, 2)).all()


def test_pickled_weights_in_the_folder_never_run(checkpoint, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (builtins.open, (str(marker), "w"))

    folder = tmp_path / "evil-trocr"
    shutil.copytree(checkpoint, folder)
    (folder / "model.safetensors").unlink()
    torch.save({"payload": Payload()}, folder / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="could run code"):
        open_model(folder, trust=True)
    assert not marker.exists()


def test_an_incomplete_folder_says_so(checkpoint, tmp_path):
    folder = tmp_path / "no-tokenizer"
    shutil.copytree(checkpoint, folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()
    with pytest.raises(ModelLoadError, match="not a complete VisionEncoderDecoderModel folder"):
        open_model(folder)


def test_encoders_that_merge_patches_are_refused_by_name(tmp_path):
    assert _patch_grid(tmp_path, SimpleNamespace(model_type="deit", image_size=[384, 384], patch_size=16)) == (24, 24)
    swin = SimpleNamespace(model_type="donut-swin", image_size=[2560, 1920], patch_size=4)
    with pytest.raises(ModelLoadError, match="encoder type 'donut-swin' is not supported"):
        _patch_grid(tmp_path, swin)
