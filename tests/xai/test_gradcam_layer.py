"""GradCAM's default layer on sequence models nobody here trained (issue 24): the last
feature map whose width follows the line, before the recurrent head; never a permuted
sequence or a per-class map; and a note that a recurrent head can misplace the map."""

import warnings

import numpy as np
import pytest
import torch
from tiny_models import ALPHABET, tiny_crnn
from torch import nn

from thulium_desktop.models import CTCRecognizer
from thulium_desktop.models.layers import cam_layers, default_cam_layer
from thulium_desktop.xai.saliency import MapNote, SaliencyGenerator

CLASSES = len(ALPHABET) + 1


def _vgg(channels: int = 16) -> nn.Sequential:
    """32-pixel-high input -> `[B, C, 1, W/4]`, as VGG feature extractors of CRNNs end."""
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d((8, 1)),
    )


class PermutedPoolCRNN(nn.Module):
    """EasyOCR's layout: VGG, then the map permuted to `[B, T, C, 1]` and pooled over C."""

    def __init__(self) -> None:
        super().__init__()
        self.features = _vgg()
        self.pool = nn.AdaptiveAvgPool2d((None, 1))
        self.rnn = nn.LSTM(16, 12, batch_first=True, bidirectional=True)
        self.head = nn.Linear(24, CLASSES)

    def forward(self, x):
        seq = self.pool(self.features(x).permute(0, 3, 1, 2)).squeeze(3)  # [B, T, C]
        return self.head(self.rnn(seq)[0])


class ConvClassifierAfterRNN(nn.Module):
    """easyhtr's layout: VGG, a BiLSTM, then a 1x1 conv as the per-class classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.features = _vgg()
        self.rnn = nn.LSTM(16, 12, batch_first=True, bidirectional=True)
        self.classifier = nn.Conv2d(24, CLASSES, 1)

    def forward(self, x):
        seq = self.rnn(self.features(x)[:, :, 0].transpose(1, 2))[0]  # [B, T, 24]
        return self.classifier(seq.transpose(1, 2)[:, :, None])[:, :, 0].transpose(1, 2)


def _recognizer(module: nn.Module) -> CTCRecognizer:
    torch.manual_seed(0)
    for p in module.parameters():
        nn.init.normal_(p, std=0.3)
    return CTCRecognizer(module.eval(), ALPHABET, height=32, name=type(module).__name__)


@pytest.mark.parametrize("module", [PermutedPoolCRNN, ConvClassifierAfterRNN])
def test_the_default_is_the_last_feature_map_before_the_recurrent_head(module):
    model = module()
    layers = cam_layers(model, 32)
    names = [layer.name for layer in layers]
    assert "pool" not in names and "classifier" not in names  # permuted sequence / per-class map
    assert all(layer.feeds_sequence_head for layer in layers)
    chosen = default_cam_layer(model, 32)
    assert chosen.name == "features.8" and chosen.shape == (1, 16, 1, 64)  # the last pool


def test_a_model_without_a_sequence_head_uses_its_last_feature_map_with_no_note():
    model = tiny_crnn(rnn=False)
    chosen = default_cam_layer(model, 32)
    assert chosen.name == "features.8" and not chosen.feeds_sequence_head


@pytest.mark.parametrize("module", [PermutedPoolCRNN, ConvClassifierAfterRNN])
def test_gradcam_maps_follow_the_line_and_carry_the_sequence_head_note(module):
    recognizer = _recognizer(module())
    image = np.full((32, 96), 255, np.uint8)
    image[8:24, 10:86] = np.random.default_rng(0).integers(0, 120, (16, 76))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exp = SaliencyGenerator(recognizer).explain(image, method="gradcam", tokens="all")
    assert len(exp.maps)
    # a `[1, C, 1, T]` map varies along the line only: vertical bands, not the
    # horizontal stripes a permuted `[B, T, C, 1]` layer gave
    assert np.allclose(exp.maps.std(axis=1), 0.0, atol=1e-6)
    assert exp.maps.std(axis=2).max() > 0
    [note] = [n for n in exp.notes if "GradCAM layer" in n]
    assert "features.8 feeds a recurrent or attention head" in note
    assert note.short == "GradCAM layer before a recurrent head: may misplace characters"
    assert [str(w.message) for w in caught if w.category is MapNote] == [note]  # warned once, for bare-map callers
    assert exp.record()["notes"] == [note]


def test_a_layer_after_every_sequence_module_gets_no_note():
    recognizer = CTCRecognizer(tiny_crnn(rnn=False), ALPHABET, height=32)
    image = np.full((32, 64), 255, np.uint8)
    image[10:22, 8:56] = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exp = SaliencyGenerator(recognizer).explain(image, method="gradcam", tokens="all")
    assert not [w for w in caught if "GradCAM layer" in str(w.message)]
    assert not [n for n in exp.notes if "GradCAM layer" in n]
