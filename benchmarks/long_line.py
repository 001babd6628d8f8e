"""A long line (about 2000 px): the time to the selected character's map against the
whole line, and the SmoothGrad family computed separately against shared, in one run.

Before / after side by side: "all at once" is `explain(tokens="all")` (as the app ran a
method before: no map shows until every character's is done), "selected first" is
`explain_selected_first` (the app's order now: the selected character's map is posted
as soon as it is final, then the line's others follow). "separate" runs SmoothGrad,
SmoothGrad² and VarGrad one after the other (three sets of noisy copies), "shared"
`explain_noise_family` (one set, one backward per chunk for all three). Each row also
counts the backward chunks the engine reported (`on_progress`).

Integrated gradients runs its `--steps` fixed (`--tolerance 0` by default): the adaptive
doublings would add the same work to both columns and take many minutes on a shared CPU.

    PYTHONPATH=. python benchmarks/long_line.py [--threads 1] [--model ctc-reader] [--width 2000]
        [--steps 50] [--tolerance 0] [--samples 25]
"""

from __future__ import annotations

import argparse
import time
import warnings

import cv2
import numpy as np
import torch

from thulium_desktop.models import load_model
from thulium_desktop.xai.saliency import NOISE_FAMILY, MapNote, SaliencyConfig, SaliencyGenerator

TEXT = "the quick brown fox jumps over the lazy dog while five boxing wizards"


def long_line(width: int, height: int = 112, text: str = TEXT) -> np.ndarray:
    """Dark ink on white paper: `text` drawn by OpenCV, scaled to `width` x `height`."""
    (text_w, text_h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)
    drawn = np.full((text_h + base + 16, text_w + 16), 255, np.uint8)
    cv2.putText(drawn, text, (8, text_h + 8), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2, cv2.LINE_AA)
    return cv2.resize(drawn, (width, height), interpolation=cv2.INTER_AREA)


class Chunks:
    """Counts the backward chunks the engine reports through `on_progress`."""

    def __init__(self) -> None:
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        self.done += 1


def all_at_once(generator: SaliencyGenerator, image: np.ndarray, method: str, selected: int) -> tuple[float, float]:
    """Seconds to the selected map and to the whole line: the same, both at the end."""
    started = time.perf_counter()
    generator.explain(image, method=method, tokens="all")
    seconds = time.perf_counter() - started
    return seconds, seconds


def selected_first(generator: SaliencyGenerator, image: np.ndarray, method: str, selected: int) -> tuple[float, float]:
    """Seconds to the selected character's final map (`on_first`) and to the whole line."""
    first = []
    started = time.perf_counter()
    generator.explain_selected_first(image, selected, on_first=lambda *_: first.append(time.perf_counter()),
                                     method=method)
    return first[0] - started, time.perf_counter() - started


def family_separate(generator: SaliencyGenerator, image: np.ndarray, chunks: Chunks) -> float:
    started = time.perf_counter()
    for method in NOISE_FAMILY:
        generator.explain(image, method=method, tokens="all", on_progress=chunks)
    return time.perf_counter() - started


def family_shared(generator: SaliencyGenerator, image: np.ndarray, chunks: Chunks) -> float:
    started = time.perf_counter()
    generator.explain_noise_family(image, NOISE_FAMILY, tokens="all", on_progress=chunks)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default="ctc-reader")
    parser.add_argument("--width", type=int, default=2000)
    parser.add_argument("--methods", nargs="+", default=["gradient", "integrated"])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--tolerance", type=float, default=0.0)
    parser.add_argument("--samples", type=int, default=25)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", MapNote)
    image = long_line(args.width)
    config = SaliencyConfig(num_steps=args.steps, tolerance=args.tolerance, num_samples=args.samples)
    generator = SaliencyGenerator(load_model(args.model), config)
    reading = generator.read(image)
    selected = len(reading) // 2  # a character in the middle of the line
    print(f"{args.model}, {image.shape[1]}x{image.shape[0]} line, {len(reading)} characters read "
          f"({reading.text!r}), selected character {selected}, {args.threads} thread(s); "
          f"{args.steps} steps (tolerance {args.tolerance}), {args.samples} noisy copies\n")
    print("| method | all at once: first map s | all at once: whole line s "
          "| selected first: first map s | selected first: whole line s |")
    print("|---|---|---|---|---|")
    for method in args.methods:
        before = all_at_once(generator, image, method, selected)
        after = selected_first(generator, image, method, selected)
        print(f"| {method} | {before[0]:.1f} | {before[1]:.1f} | {after[0]:.1f} | {after[1]:.1f} |", flush=True)
    print("\n| SmoothGrad family (3 methods) | seconds | backward chunks |\n|---|---|---|")
    for name, measure in (("separate", family_separate), ("shared", family_shared)):
        chunks = Chunks()
        seconds = measure(generator, image, chunks)
        print(f"| {name} | {seconds:.1f} | {chunks.done} |", flush=True)


if __name__ == "__main__":
    main()
