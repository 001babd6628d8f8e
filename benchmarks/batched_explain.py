"""Images per minute of gradient maps explained in batches (`xai/batched.py`) against one
by one, and how far padding moves a line's maps.

The corpus: `--lines` lines of one width (`--width` pixels at the samples' 64-px height),
each the bundled sample words laid side by side from a different first word and cut to
that width, so every line is real handwriting and all share a model width (the batches
`group_by_width` forms from a corpus). Each batch size is warmed up on the first batch's
lines (its map check runs there, as in a run's first batch), one by one by the untimed
run whose maps are the reference; then the ways alternate for `--repeats` rounds, so a
machine slowing down affects all alike. The table gives the median images per minute
and the largest map difference from the reference (a share of each map's peak).

    PYTHONPATH=. python benchmarks/batched_explain.py [--model ctc-reader] [--lines 16]
        [--width 1200] [--batch 4 8] [--repeats 3] [--device cpu] [--threads 1]
    PYTHONPATH=. python benchmarks/batched_explain.py --padding   # the padding table only

`--padding` explains sample lines in a batch beside a copy of themselves with paper added
on the right, and prints how far each padded line's maps moved from its own (or that its
reading changed): why batches hold lines of one model width (`MAX_PADDING_FRACTION`).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from thulium_desktop.io.images import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai.batched import BatchExplainer, Explained
from thulium_desktop.xai.precision import map_difference
from thulium_desktop.xai.saliency import SaliencyGenerator

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
PADDED_SAMPLES = ("short-line", "date", "recognition", "capitals")
PADDINGS = (4, 8, 16, 32, 64)  # model pixels (the samples are read at half their height)


def sample_words() -> list[np.ndarray]:
    """The bundled sample images in gray (some are colour photographs), to lay side by side."""
    images = [load_image(path) for path in sorted(SAMPLES.glob("*.png"))]
    return [cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) if im.ndim == 3 else im for im in images]


def lines_of_width(count: int, width: int) -> list[np.ndarray]:
    """`count` lines `width` pixels wide, each the sample words side by side from the i-th on."""
    words = sample_words()
    lines = []
    for i in range(count):
        order = words[i % len(words):] + words[: i % len(words)]
        line = np.concatenate(order * (1 + width // sum(w.shape[1] for w in words)), axis=1)
        lines.append(np.ascontiguousarray(line[:, :width]))
    return lines


def one_by_one(generator: SaliencyGenerator, lines: list[np.ndarray]) -> list[np.ndarray]:
    return [generator.explain(line).maps for line in lines]


def batched(batcher: BatchExplainer, lines: list[np.ndarray]) -> list[np.ndarray]:
    outcomes = batcher.explain(lines)
    if not all(isinstance(o, Explained) for o in outcomes):
        raise SystemExit("a line was explained alone: the batched figure would not be a batch's")
    return [o.explanation.maps for o in outcomes]


def throughput(args: argparse.Namespace) -> None:
    generator = SaliencyGenerator(load_model(args.model))
    generator.model.module.to(args.device)
    lines = lines_of_width(args.lines, args.width)
    ways = {"one by one": lambda: one_by_one(generator, lines)}
    for size in args.batch:
        batcher = BatchExplainer(generator, size)
        batched(batcher, lines[:size])  # warm-up: the run's first batch, checked map by map
        ways[f"batches of {size}"] = lambda b=batcher: batched(b, lines)
    reference = one_by_one(generator, lines)
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    differences = dict.fromkeys(ways, 0.0)
    for _ in range(args.repeats):
        for name, way in ways.items():
            start = time.perf_counter()
            maps = way()
            seconds[name].append(time.perf_counter() - start)
            largest = max(map_difference(m, r) for m, r in zip(maps, reference))
            differences[name] = max(differences[name], largest)
            del maps  # one way's maps at a time beside the reference
    print(f"{args.model}, gradient maps of {args.lines} lines of {args.width}x64 px "
          f"({len(generator.read(lines[0]))} characters in the first), {args.device}, "
          f"{torch.get_num_threads()} thread(s), median of {args.repeats}\n")
    print("| way | images/min | s per image | largest map difference from one by one |")
    print("|---|---:|---:|---:|")
    for name, times in seconds.items():
        median = statistics.median(times)
        print(f"| {name} | {60 * len(lines) / median:.1f} | {median / len(lines):.3f} | {differences[name]:.1e} |")


def padding(args: argparse.Namespace) -> None:
    generator = SaliencyGenerator(load_model(args.model))
    print(f"{args.model}: a sample line's gradient maps in a batch, padded with paper after it "
          "(largest difference from its own maps, as a share of their peak)\n")
    print("| line | model width | " + " | ".join(f"+{p} px" for p in PADDINGS) + " |")
    print("|---|---:|" + "---:|" * len(PADDINGS))
    for name in PADDED_SAMPLES:
        line = load_image(SAMPLES / f"{name}.png")
        own = generator.explain(line)
        cells = []
        for pad in PADDINGS:
            wider = np.concatenate([line, np.full((line.shape[0], 2 * pad, *line.shape[2:]), 255, line.dtype)], 1)
            batcher = BatchExplainer(generator, 2, max_padding_fraction=0.9)
            batcher.parity.passed = True  # measure every line: no check may turn batching off
            outcome = batcher.explain([line, wider])[0]
            cells.append(f"{map_difference(outcome.explanation.maps, own.maps):.3f}"
                         if isinstance(outcome, Explained) else "read differently")
        print(f"| {name} ({own.reading.text}) | {generator.model.prepare(line).tensor.shape[-1]} | "
              + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ctc-reader")
    parser.add_argument("--lines", type=int, default=16)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--batch", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--padding", action="store_true", help="print the padding table only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    (padding if args.padding else throughput)(args)


if __name__ == "__main__":
    main()
