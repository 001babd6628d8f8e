"""Throughput of `thulium-desktop explain --method gradient` over a folder of images.

Runs the real command in-process (the model is loaded once per run, as in a
batch job) on a folder of N images made from the bundled samples (or from the
images in --images), once writing only the JSON record (engine cost) and once
also drawing the PNG figure (engine + rendering), and prints images per second.

    python benchmarks/explain_throughput.py [--count 200] [--model NAME] [--images DIR] [--threads N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from thulium_desktop import cli
from thulium_desktop.io.corpus import collect_images

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"


def make_corpus(source: Path, count: int, folder: Path) -> None:
    """`count` image files in `folder`, cycling through the images found under `source`."""
    items = collect_images([source]).items
    if not items:
        sys.exit(f"no images under {source}")
    for i, item in zip(range(count), itertools.cycle(items)):
        shutil.copyfile(item.path, folder / f"{i:04d}{item.path.suffix.lower()}")


def run(folder: Path, out: Path, formats: str, extra: list[str]) -> dict:
    code = cli.main(["explain", str(folder), "--method", "gradient", "--format", formats,
                     "--out", str(out), "--quiet", *extra])
    if code != 0:
        sys.exit(f"explain exited with {code}")
    return json.loads((out / "summary.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--images", type=Path, default=SAMPLES)
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    extra = ["--device", args.device] + (["--model", args.model] if args.model else [])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        make_corpus(args.images, args.count, folder)
        print(f"{'outputs':<10} {'images':>6} {'seconds':>8} {'images/s':>9} {'model':<20} device, threads={torch.get_num_threads()}")
        for formats in ("json", "png,json"):
            s = run(folder, Path(tmp) / formats.replace(",", "_"), formats, extra)
            print(f"{formats:<10} {s['counts']['done']:>6} {s['seconds']:>8.1f} "
                  f"{s['images_per_second']:>9.2f} {s['model']:<20} {s['device']}")


if __name__ == "__main__":
    main()
