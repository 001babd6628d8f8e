"""How well glyph boxes (`xai.glyph_boxes`, what PAGE/ALTO write-back writes) agree with
the true character boxes of the synthetic evaluation images.

`python benchmarks/glyph_boxes.py [--images N] [--threads T]` (with `PYTHONPATH=.`)
draws the held-out synthetic set (`training.evaluate.held_out_samples`: the fonts of
the model cards, each image with one true box per character), reads each image with
both bundled readers and, for the images read exactly (so that character t is the true
character t), compares each non-space character's glyph box with its true box, for the
boxes made from gradient maps (`explain --method gradient`: the mass rule) and from the
reader's own attention (a line read without explaining: tiled between attention
centres); see `xai/glyph_boxes.py` for both rules. Prints, per reader and source, the mean IoU
and the share of glyph boxes that contain the true box's centre.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from thulium_desktop.models import list_models, load_model
from thulium_desktop.training.evaluate import held_out_samples
from thulium_desktop.xai.glyph_boxes import reading_glyph_boxes
from thulium_desktop.xai.saliency import SaliencyGenerator


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of boxes `[N, 4]` `(x0, y0, x1, y1)`."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    return w * h / (area(a) + area(b) - w * h)


def contains_centre(boxes: np.ndarray, truth: np.ndarray) -> np.ndarray:
    cx, cy = (truth[:, 0] + truth[:, 2]) / 2, (truth[:, 1] + truth[:, 3]) / 2
    return (boxes[:, 0] <= cx) & (cx < boxes[:, 2]) & (boxes[:, 1] <= cy) & (cy < boxes[:, 3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    samples = held_out_samples(args.images)
    print(f"{args.images} held-out synthetic images, torch {torch.__version__}, {args.threads} thread(s)")
    print(f"{'reader':18s} {'boxes from':10s} {'exact':>5s} {'glyphs':>6s} {'mean IoU':>8s} {'centre in':>9s}")
    for info in list_models():
        model = load_model(info.name)
        engine = SaliencyGenerator(model)
        found: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"gradient": [], "attention": []}
        exact = 0
        for sample in samples:
            reading = engine.read(sample.image)
            if reading.text != sample.text:
                continue
            exact += 1
            keep = np.array([ch != " " for ch in sample.text])
            explanations = {"gradient": engine.explain(sample.image, method="gradient", reading=reading),
                            "attention": None}
            for source, explanation in explanations.items():
                boxes = reading_glyph_boxes(model, sample.image, reading, explanation)
                found[source].append((boxes[keep], sample.boxes[keep]))
        for source, pairs in found.items():
            boxes = np.concatenate([p[0] for p in pairs]) if pairs else np.zeros((0, 4))
            truth = np.concatenate([p[1] for p in pairs]) if pairs else np.zeros((0, 4))
            print(f"{info.name:18s} {source:10s} {exact:5d} {len(boxes):6d} {iou(boxes, truth).mean():8.3f} "
                  f"{contains_centre(boxes, truth).mean():9.3f}")


if __name__ == "__main__":
    main()
