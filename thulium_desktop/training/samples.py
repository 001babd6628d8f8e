"""Write the sample images of `resources/samples/` and record what each bundled model reads.

`python -m thulium_desktop.training.samples [--out resources/samples]` renders a fixed
list of words and short lines (training fonts, the two unseen styles, real digits;
grayscale and colour PNGs, 64 px high), reads each with every bundled model and writes
`ground_truth.tsv`: the true text and each model's reading, so a sample counts as read
correctly by a model exactly when the two agree. Wrong readings are kept on purpose:
errors are what users open the app to inspect.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from thulium_desktop.io.atomic import write_text
from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.io.images import load_image
from thulium_desktop.models.registry import list_models, load_model_files
from thulium_desktop.training.digits import digit_string
from thulium_desktop.training.fonts import available_fonts
from thulium_desktop.training.synth import HERSHEY_FONTS, Sample, render

SAMPLES_DIR = bundled_path("samples")
#: The OpenCV that drew the committed samples. Another version draws its own Hershey
#: faces (date.png) with other strokes and rounds resampled pixels by a grey level here
#: and there (5.1.0: at most 1 level on under 0.01% of the pixels), so only this one
#: redraws them bit for bit.
DRAWN_WITH_OPENCV = "5.0.0"
GROUND_TRUTH = "ground_truth.tsv"
HEIGHT = 64


@dataclass(frozen=True)
class Spec:
    file: str
    text: str  # ignored for real digits: their labels decide the text
    style: str  # a font file stem, "hershey" or "digits"
    seed: int
    strength: float
    colour: tuple[tuple[int, int, int], tuple[int, int, int]] | None = None  # (ink, paper) BGR


BLUE_INK = ((140, 40, 20), (215, 240, 250))
BLACK_ON_GREY = ((30, 30, 30), (200, 205, 205))
RED_INK = ((40, 40, 170), (235, 245, 245))

SPECS = (
    Spec("hello.png", "hello", "dkg", 1, 0.4),
    Spec("thulium.png", "Thulium", "ComicNeue-Italic", 2, 0.5, BLUE_INK),
    Spec("recognition.png", "recognition", "KaushanScript-Regular", 3, 0.5),
    Spec("attention.png", "attention", "Rufscript010", 4, 0.6, RED_INK),
    Spec("price.png", "$42.50", "LeckerliOne-Regular", 5, 0.5),
    Spec("short-line.png", "see where it looked", "Ecolier-court", 6, 0.5),
    Spec("capitals.png", "HANDWRITING", "Humor-Sans", 7, 0.6, BLACK_ON_GREY),
    Spec("question.png", '"maybe?"', "dkgIt", 8, 0.6),
    Spec("real-digits.png", "", "digits", 9, 0.5),
    Spec("date.png", "12/03/2026", "hershey", 10, 0.5),
    Spec("unseen-breip.png", "gradient", "Breip", 11, 0.6, BLUE_INK),
    Spec("unseen-dancing.png", "Saliency", "DancingScript-Regular", 12, 0.6),
    Spec("unseen-dancing-bold.png", "minimum wage", "DancingScript-Bold", 13, 1.0, RED_INK),
)


def draw(spec: Spec) -> Sample:
    rng = np.random.default_rng(spec.seed)
    if spec.style == "digits":
        return digit_string("eval", rng, HEIGHT, spec.strength)
    if spec.style == "hershey":
        return render(spec.text, HERSHEY_FONTS[0], rng, HEIGHT, spec.strength)
    fonts = {f.name: f for f in available_fonts()}
    if spec.style not in fonts:
        raise RuntimeError(f"font {spec.style} is not installed (see resources/models/README.md)")
    return render(spec.text, fonts[spec.style], rng, HEIGHT, spec.strength)


def colourise(gray: np.ndarray, ink: tuple[int, int, int], paper: tuple[int, int, int]):
    """A BGR image: each pixel mixes paper and ink colour by its grey level."""
    g = (gray.astype(np.float32) / 255.0)[..., None]
    mixed = g * np.array(paper, np.float32) + (1 - g) * np.array(ink, np.float32)
    return mixed.round().clip(0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m thulium_desktop.training.samples",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR)
    parser.add_argument("--models", type=Path, default=None)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".samples-", dir=args.out))
    try:  # drawn and read in a staging folder, moved in only when all of it worked
        lines = record_samples(staging, args.models)
        for spec in SPECS:
            os.replace(staging / spec.file, args.out / spec.file)
        write_text(args.out / GROUND_TRUTH, "\n".join(lines) + "\n")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return 0


def record_samples(folder: Path, models_dir: Path | None) -> list[str]:
    """Draw every sample into `folder` and read each file back with every bundled model,
    as the app opens it; returns the ground-truth table's lines."""
    truths = []
    for spec in SPECS:
        sample = draw(spec)
        image = colourise(sample.image, *spec.colour) if spec.colour else sample.image
        if not cv2.imwrite(str(folder / spec.file), image):
            raise OSError(f"could not write {folder / spec.file}")
        truths.append((spec.file, sample.text))
    models = [load_model_files(i.weights_path, i.json_path) for i in list_models(models_dir)]
    lines = ["\t".join(["file", "text", *(m.name for m in models)])]
    for file, text in truths:
        image = load_image(folder / file)
        readings = [m.read(m.prepare(image).tensor).text for m in models]
        lines.append("\t".join([file, text, *readings]))
        print(f"{file:26s} {text!r:24s} " + "  ".join(repr(r) for r in readings))
    return lines


if __name__ == "__main__":
    sys.exit(main())
