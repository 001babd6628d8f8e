"""Render the synthetic lines `tiny-latin.mlmodel` was trained on, in ketos's `path` format.

Each line is `NNNN.png` with its truth in `NNNN.gt.txt`, drawn by the project's own
generator (`thulium_desktop.training.synth.render`) in OpenCV's Hershey faces, so the
lines need no fonts and are the same on every machine for a given seed. The texts use
a small alphabet and few distortions: the model only has to read well enough, after a
few minutes of training on a laptop, for the kraken parity tests to compare real,
non-empty readings. See README.md for the training command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from thulium_desktop.training.synth import HERSHEY_FONTS, render

#: The characters the lines are written in (the space included).
ALPHABET = "abcdehlmnorstu "
HEIGHT = 48


def random_text(rng: np.random.Generator) -> str:
    """Two or three short words of `ALPHABET`."""
    letters = ALPHABET.strip()
    words = ["".join(rng.choice(list(letters), rng.integers(2, 6))) for _ in range(rng.integers(2, 4))]
    return " ".join(words)


def write_lines(folder: Path, count: int, seed: int) -> None:
    """`count` line images with their truths in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for n in range(count):
        text = random_text(rng)
        face = HERSHEY_FONTS[rng.integers(2, len(HERSHEY_FONTS))]  # the two upright-ish faces
        sample = render(text, face, rng, height=HEIGHT, strength=0.2)
        padded = cv2.copyMakeBorder(sample.image, 0, 0, 8, 8, cv2.BORDER_CONSTANT, value=255)
        cv2.imwrite(str(folder / f"{n:04d}.png"), padded)
        (folder / f"{n:04d}.gt.txt").write_text(text + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--count", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    write_lines(args.folder, args.count, args.seed)


if __name__ == "__main__":
    main()
