"""A plugin for a CTC network exported the way many are (e.g. to ONNX and rebuilt in
torch): it outputs softmax probabilities, time first, and was trained on word images
with paper margins. Open it with `--model examples/margins_and_probabilities.py --trust`.

Two things a model trained elsewhere may need (README, "Bring your own model"):
- probabilities instead of logits: `CTCRecognizer` sees rows that sum to 1 and takes
  them as they are (their log), rather than log-softmaxing them again, which would
  flatten every confidence towards 1/K; `time_major=True` says `[T, B, K]`;
- the model's own preprocessing, reproduced by overriding `prepare`: here 16 px of
  paper around the word and upscaling capped at 2x, as the network was trained. The
  `Prepared` it returns says where the word lies in the model's input (`content`), so
  every map lands back on the image's own pixels, margins cropped.

The network here is a small stand-in on seeded random weights; put yours in its place.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from thulium_desktop.io.images import to_unit_gray
from thulium_desktop.models import CTCRecognizer
from thulium_desktop.models.protocol import Prepared, model_device, model_dtype

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
HEIGHT = 64
MARGIN = 16  # paper, in model pixels, on every side
MAX_UPSCALE = 2.0


class ProbabilityCTC(nn.Module):
    """`[B, 1, 64, W]` -> softmax probabilities `[W/4, B, 1 + len(ALPHABET)]` (time first)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.rnn = nn.GRU(32 * 16, 32, bidirectional=True)
        self.classify = nn.Linear(64, 1 + len(ALPHABET))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)  # [B, C, 16, W/4]
        seq, _ = self.rnn(f.flatten(1, 2).permute(2, 0, 1))  # [T, B, 64]
        return self.classify(seq).softmax(-1)


class MarginReader(CTCRecognizer):
    """Prepares a word as the network was trained: on paper, with margins."""

    def prepare(self, image: np.ndarray | torch.Tensor) -> Prepared:
        if isinstance(image, torch.Tensor):  # a tensor is taken as already prepared
            return super().prepare(image)
        gray = to_unit_gray(image)  # [0, 1], ink dark
        h, w = gray.shape
        scale = min((HEIGHT - 2 * MARGIN) / h, MAX_UPSCALE)
        height, width = max(1, round(h * scale)), max(1, round(w * scale))
        word = cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        page = np.ones((HEIGHT, width + 2 * MARGIN), np.float32)  # paper
        top = (HEIGHT - height) // 2
        page[top : top + height, MARGIN : MARGIN + width] = word
        tensor = torch.from_numpy(page)[None, None].to(model_device(self.module), model_dtype(self.module))
        return Prepared(self._pad(tensor), (h, w), (top, MARGIN, height, width))


def load_recognizer() -> MarginReader:
    torch.manual_seed(0)
    net = ProbabilityCTC().eval()  # yours: net.load_state_dict(torch.load(..., weights_only=True))
    return MarginReader(net, ALPHABET, height=HEIGHT, time_major=True, name="margins-and-probabilities", width_stride=4)
