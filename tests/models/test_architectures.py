"""The bundled architectures themselves (random weights): shapes, padding and masking."""

from __future__ import annotations

import pytest
import torch

from thulium_desktop.models import CRNN, AttentionReader, AttentionRecognizer
from thulium_desktop.models.encoder import ColumnContext

SMALL = {"channels": (8, 8, 16, 16), "dim": 32}


@pytest.fixture
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    """A 40-px-wide image alone and padded with paper to 64 px in a batch of two."""
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 1, 32, 40, generator=g)
    other = torch.rand(1, 1, 32, 64, generator=g)
    padded = torch.cat([torch.nn.functional.pad(image, (0, 24), value=1.0), other])
    return image, padded


def test_padded_columns_never_reach_an_images_context():
    """The backward LSTM starts at each image's own last column, whatever follows it."""
    torch.manual_seed(0)
    context = ColumnContext(8, 6)
    seq = torch.randn(1, 10, 8)
    batch = torch.cat([torch.cat([seq, 100 * torch.randn(1, 6, 8)], 1), torch.randn(1, 16, 8)])
    out = context(batch, torch.tensor([10, 16]))
    torch.testing.assert_close(out[0, :10], context(seq)[0], atol=1e-6, rtol=1e-5)
    assert (out[0, 10:] == 0).all()


def test_attention_covers_only_an_images_own_columns(pair):
    torch.manual_seed(0)
    model = AttentionReader(5, hidden=16, decoder=32, attend=16, embed=8, **SMALL).eval()
    _, padded = pair
    targets = torch.tensor([[1, 2, 3], [1, 2, 3]])
    logits, alphas = model(padded, targets, torch.tensor([10, 16]))
    assert logits.shape == (2, 3, 6) and alphas.shape == (2, 3, 16)
    assert (alphas[0, :, 10:] == 0).all() and (alphas[0, :, :10] > 0).all()
    torch.testing.assert_close(alphas.sum(-1), torch.ones(2, 3))
    classes, probs = model.greedy(padded, torch.tensor([10, 16]))
    assert classes.shape == probs.shape and classes.shape[0] == 2
    assert ((probs > 0) & (probs <= 1)).all()


def test_crnn_gives_one_frame_per_four_columns(pair):
    model = CRNN(5, hidden=16, layers=1, **SMALL).eval()
    image, padded = pair
    assert model(image).shape == (1, 10, 6)
    assert model(padded, torch.tensor([10, 16])).shape == (2, 16, 6)


def test_attention_recognizer_pads_to_the_stride_and_crops_back():
    model = AttentionReader(3, hidden=16, decoder=32, attend=16, embed=8, **SMALL)
    rec = AttentionRecognizer(model, "abc")
    image = (torch.rand(48, 75) * 255).byte().numpy()
    prepared = rec.prepare(image)
    assert prepared.tensor.shape == (1, 1, 32, 52)  # 75 * 32 / 48 = 50 -> padded to 52
    assert prepared.content == (0, 0, 32, 50) and prepared.image_size == (48, 75)
    assert (prepared.tensor[..., 50:] == 1).all()
    assert prepared.to_image(torch.ones(2, 1, 13)).shape == (2, 48, 75)
    with pytest.raises(ValueError, match="alphabet needs"):
        AttentionRecognizer(model, "abcd")
