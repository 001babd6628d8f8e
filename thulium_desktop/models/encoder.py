"""The convolutional encoder both bundled readers share: a line image to a column sequence.

Input `[B, 1, 32, W]` in [0, 1] (1 = paper). Three pooling stages leave a
`[B, C, 4, W/4]` map (`features`, after its ReLU: the GradCAM layer), whose four
rows are folded into one vector per column, so each encoder position covers a
4-pixel-wide strip of the image.
"""

from __future__ import annotations

import torch
from torch import nn

#: Input height of the bundled readers; widths are free.
INPUT_HEIGHT = 32
#: Image columns per encoder position.
WIDTH_STRIDE = 4


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class ConvEncoder(nn.Module):
    """CNN over a fixed-height image, returning one feature vector per 4-pixel column.

    `channels` are the widths of the four stages. `forward` returns `[B, W/4, dim]`.
    """

    def __init__(self, channels: tuple[int, int, int, int] = (32, 64, 128, 192), dim: int = 256):
        super().__init__()
        c1, c2, c3, c4 = channels
        self.conv = nn.Sequential(
            *_block(1, c1),
            nn.MaxPool2d(2),  # 16 x W/2
            *_block(c1, c2),
            nn.MaxPool2d(2),  # 8 x W/4
            *_block(c2, c3),
            *_block(c3, c3),
            nn.MaxPool2d((2, 1)),  # 4 x W/4
            *_block(c3, c4),
            nn.Conv2d(c4, c4, 3, padding=1, bias=False),
            nn.BatchNorm2d(c4),
        )
        self.features = nn.ReLU()
        self.project = nn.Linear(c4 * (INPUT_HEIGHT // 8), dim)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] != INPUT_HEIGHT:
            raise ValueError(f"the encoder reads images {INPUT_HEIGHT} px high, got {x.shape[-2]}")
        f = self.features(self.conv(x - 0.5))  # [B, C, 4, W/4]
        b, c, h, w = f.shape
        return torch.relu(self.project(f.permute(0, 3, 1, 2).reshape(b, w, c * h)))


def encoded_width(width: int) -> int:
    """Encoder positions for an image `width` pixels wide, read padded with paper to a
    multiple of the stride (`models.protocol.pad_width`): a last partial strip counts."""
    return -(-width // WIDTH_STRIDE)


class ColumnContext(nn.Module):
    """A bidirectional LSTM over the encoder columns, so each position sees its neighbours.

    With `lengths` (training batches padded to a common width) the sequences are
    packed, so the backward direction starts at each image's own last column, exactly
    as it does when one image is read alone.
    """

    def __init__(self, dim: int, hidden: int, layers: int = 1):
        super().__init__()
        self.lstm = nn.LSTM(dim, hidden, num_layers=layers, bidirectional=True, batch_first=True)
        self.out_dim = 2 * hidden

    def forward(self, seq: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is None:
            return self.lstm(seq)[0]
        packed = nn.utils.rnn.pack_padded_sequence(
            seq, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out = self.lstm(packed)[0]
        return nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=seq.shape[1])[0]
