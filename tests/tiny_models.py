"""Small CTC models built in code for engine tests (the bundled readers are tested too)."""

from __future__ import annotations

import torch
from torch import nn

from thulium_desktop.models import CTCRecognizer

ALPHABET = "abcdefghijklmnopqrstuvwxyz"


class TinyCRNN(nn.Module):
    """CNN + BiLSTM + linear head: `[B, 1, 32, W]` -> `[B, W/4, 27]` CTC logits."""

    def __init__(self, classes: int = len(ALPHABET) + 1, rnn: bool = True, smooth: bool = False) -> None:
        super().__init__()
        act, pool = (nn.GELU, nn.AvgPool2d) if smooth else (nn.ReLU, nn.MaxPool2d)
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            act(),
            pool(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            act(),
            pool(2),
            nn.Conv2d(16, 16, 3, padding=1),
            act(),
        )
        self.rnn = nn.LSTM(16 * 8, 24, batch_first=True, bidirectional=True) if rnn else None
        self.head = nn.Linear(48 if rnn else 16 * 8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)  # [B, C, 8, W/4]
        b, c, h, w = f.shape
        seq = f.permute(0, 3, 1, 2).reshape(b, w, c * h)
        if self.rnn is not None:
            seq, _ = self.rnn(seq)
        return self.head(seq)


def tiny_crnn(seed: int = 0, rnn: bool = True, smooth: bool = False) -> TinyCRNN:
    """A seeded random CRNN; `smooth` swaps ReLU/max-pool for GELU/avg-pool (analytic in x)."""
    torch.manual_seed(seed)
    model = TinyCRNN(rnn=rnn, smooth=smooth)
    with torch.no_grad():  # sharpen the head so a random model reads many characters
        model.head.weight.mul_(12.0)
    return model.eval()


class LinearCTC(nn.Module):
    """Logits linear in the pixels: frame f, class c = Σ W[c, h, j] x[h, 4f + j] + b[c]."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.conv = nn.Conv2d(1, len(ALPHABET) + 1, kernel_size=(32, 4), stride=(1, 4))
        with torch.no_grad():
            self.conv.weight.mul_(40)

    def forward(self, x):
        return self.conv(x)[:, :, 0].transpose(1, 2)


class TrainModeScoring(CTCRecognizer):
    """A plugin-style recognizer that scores with its module in training mode (BatchNorm
    on batch statistics), which no shortcut of the engine may assume away."""

    def _log_probs(self, x, reading=True):
        self.module.train()
        return super()._log_probs(x, reading)
