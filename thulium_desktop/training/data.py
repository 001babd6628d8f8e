"""Training batches: a seeded stream of synthetic and real-digit samples.

Samples are drawn in pools of several batches and grouped by width, so a batch pads
little and the CPU spends its time on ink, not on paper.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from thulium_desktop.models.encoder import INPUT_HEIGHT, WIDTH_STRIDE, encoded_width
from thulium_desktop.training.digits import digit_string
from thulium_desktop.training.fonts import Font
from thulium_desktop.training.synth import Sample, random_sample

#: Share of training samples that are real handwritten digit strings.
DIGIT_SHARE = 0.15

#: Packages drawn more often than the rest in training (eighth run on). After the seventh
#: run, Ecolier's thin-hairline school cursive made half the held-out set's character
#: errors (CER ~21% against ~2% over the other fonts), Kristi and dkg's italics most of
#: the rest (`python -m thulium_desktop.training.evaluate --by-style`, output in
#: resources/models/logs/by-style.seventh-run.log). dkg is weighted as a package, so its
#: upright fonts, which err little, are drawn twice as often too. Ecolier went from 3x
#: (eighth run) to 4x (ninth): at 3x it still made 53-55% of held-out errors
#: (logs/by-style.eighth-run.log); 6x in the eleventh, which trained the ctc reader only
#: (at 4x, about half the held-out errors were still Ecolier's, logs/by-style.tenth-mean.log).
EMPHASIS = {"fonts-ecolier-court": 6.0, "fonts-kristi": 2.0, "fonts-dkg-handwriting": 2.0}


def draw_sample(fonts: tuple[Font, ...], split: str, rng: np.random.Generator,
                digit_share: float = DIGIT_SHARE) -> Sample:
    """One sample of the training mix; augmentation strength varies so clean scans occur too.
    On the training split only, letters vary in size, rise and spacing, 40% of the font
    texts have pen gaps, and the packages in `EMPHASIS` are drawn more often."""
    strength = rng.uniform(0.3, 1.0)
    if rng.random() < digit_share:
        return digit_string(split, rng, INPUT_HEIGHT, strength)
    training = split == "train"
    return random_sample(fonts, split, rng, INPUT_HEIGHT, strength=strength,
                         vary_letters=training, pen_skips=training,
                         package_weights=EMPHASIS if training else None)


@dataclass
class Batch:
    images: torch.Tensor  # [B, 1, 32, W] float in [0, 1], padded with paper
    widths: torch.Tensor  # [B] real image widths in pixels
    positions: torch.Tensor  # [B] encoder positions per image (ceil(width / 4))
    texts: list[str]


def collate(samples: list[Sample]) -> Batch:
    """Images padded with paper to a common width; each image's positions cover its last
    partial 4-column strip too, as the app reads it (padded to the stride, see
    `models.protocol.pad_width`). Runs before the twelfth cut that strip off."""
    widths = [s.image.shape[1] for s in samples]
    width = encoded_width(max(widths)) * WIDTH_STRIDE
    images = np.ones((len(samples), 1, INPUT_HEIGHT, width), np.float32)
    for i, s in enumerate(samples):
        images[i, 0, :, : s.image.shape[1]] = s.image / 255.0
    w = torch.tensor(widths)
    return Batch(torch.from_numpy(images), w, torch.tensor([max(1, encoded_width(x)) for x in widths]),
                 [s.text for s in samples])


def batches(fonts: tuple[Font, ...], rng: np.random.Generator, batch_size: int,
            pool: int = 8) -> Iterator[Batch]:
    """An endless stream of width-grouped training batches."""
    while True:
        samples = [draw_sample(fonts, "train", rng) for _ in range(batch_size * pool)]
        samples.sort(key=lambda s: s.image.shape[1])
        groups = [samples[i : i + batch_size] for i in range(0, len(samples), batch_size)]
        for k in rng.permutation(len(groups)):
            yield collate(groups[k])
