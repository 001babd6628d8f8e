"""Adaptive integrated gradients against fixed step counts, on the bundled readers.

For each bundled reader and sample: seconds, the largest completeness gap relative to
|f(x) - f(baseline)| over the line's characters, and the steps used (the largest per
character), for fixed 50 and 200 steps and for the adaptive default (50 steps doubled
for the characters above a 5% gap, up to 400). One run, side by side.

Models nobody here trained run beside them with `--plugin` (an adapter plugin, opened
with consent), e.g. EasyOCR's english_g2 with its real weights:

    PYTHONPATH=. python benchmarks/adaptive_ig.py [--threads 2] [--samples hello.png date.png]
        [--plugin examples/easyocr_english_g2.py]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.io.images import load_image
from thulium_desktop.models import list_models, load_model, open_described
from thulium_desktop.xai.saliency import MapNote, SaliencyConfig, SaliencyGenerator

SETTINGS = {"fixed 50": dict(num_steps=50, tolerance=0.0), "fixed 200": dict(num_steps=200, tolerance=0.0),
            "adaptive 5%": dict(num_steps=50, tolerance=0.05)}


def measure(generator: SaliencyGenerator, image: np.ndarray, params: dict) -> tuple[float, float, int]:
    """Seconds, the largest relative gap and the most steps of one explanation of every character."""
    config = SaliencyConfig(method="integrated", **params)
    started = time.perf_counter()
    exp = generator.explain(image, config=config, tokens="all")
    seconds = time.perf_counter() - started
    return seconds, float(np.max(exp.relative_gaps)), int(np.max(exp.steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", nargs="+", default=["hello.png", "date.png", "attention.png"])
    parser.add_argument("--plugin", action="append", default=[], metavar="PATH",
                        help="also an adapter plugin's model (runs its code: only plugins you trust)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", MapNote)
    print("| reader | sample | " + " | ".join(f"{name}: s, max gap, steps" for name in SETTINGS) + " |")
    print("|---|---|" + "---|" * len(SETTINGS))
    readers = [load_model(info.name) for info in list_models()]
    readers += [open_described(path, trust=True).recognizer for path in args.plugin]
    for reader in readers:
        generator = SaliencyGenerator(reader)
        for sample in args.samples:
            image = load_image(bundled_path("samples", sample))
            measure(generator, image, SETTINGS["fixed 50"])  # warm-up: strategies timed, copy folded
            cells = [measure(generator, image, params) for params in SETTINGS.values()]
            print(f"| {reader.name} | {sample} | "
                  + " | ".join(f"{s:.1f}, {gap:.1%}, {steps}" for s, gap, steps in cells) + " |")


if __name__ == "__main__":
    main()
