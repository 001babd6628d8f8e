"""The bundled CTC reader's network: CNN columns, a BiLSTM, one class distribution per column.

Wrapped by `CTCRecognizer` (class 0 is the blank), which handles reading and scoring.
"""

from __future__ import annotations

import torch
from torch import nn

from thulium_desktop.models.encoder import ColumnContext, ConvEncoder


class CRNN(nn.Module):
    """`[B, 1, 32, W]` -> CTC logits `[B, W/4, n_chars + 1]` (blank first)."""

    def __init__(
        self,
        n_chars: int,
        channels: tuple[int, int, int, int] = (32, 64, 128, 192),
        dim: int = 256,
        hidden: int = 192,
        layers: int = 2,
    ):
        super().__init__()
        self.encoder = ConvEncoder(tuple(channels), dim)
        self.context = ColumnContext(dim, hidden, layers)
        self.classify = nn.Linear(self.context.out_dim, n_chars + 1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """`lengths`: encoder positions of each image in a padded batch (training only)."""
        return self.classify(self.context(self.encoder(x), lengths))
