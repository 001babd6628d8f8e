"""Images per minute of `thulium-desktop explain`, with and without figures.

Runs the real command in-process on a folder of images (the bundled samples unless
--images) with `--format json,npz` (record and maps: no figure needs drawing) and
with `--format png,json,npz` (the same plus the figures), the two alternating in
each repeat so that a machine speeding up or slowing down during the run affects
both alike, and prints the median images per minute as a markdown table. The time
is the command's own loop over the images (`summary.json` "seconds"): loading the
model and importing are left out, as they are in a long batch job.

    PYTHONPATH=. python benchmarks/explain_throughput.py [--method gradient|all|...] [--images DIR]
        [--repeats 3] [--model NAME] [--device cpu] [--threads N]

To measure an earlier commit, run this script against that commit's code (the
header names the package it imported):

    git worktree add /tmp/before COMMIT && cp benchmarks/explain_throughput.py /tmp/before/benchmarks/
    cd /tmp/before && PYTHONPATH=. python benchmarks/explain_throughput.py --method all
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch

import thulium_desktop
from thulium_desktop import cli
from thulium_desktop.io.corpus import collect_images

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
FORMATS = ("json,npz", "png,json,npz")  # the last asks for every kind of output


def run_once(folder: Path, out: Path, formats: str, options: list[str]) -> dict:
    """One `explain` run of the whole folder; its summary (a failed image fails the benchmark,
    since a run that skips work would look faster)."""
    code = cli.main(["explain", str(folder), "--format", formats, "--out", str(out), "--quiet", *options])
    if code != 0:
        sys.exit(f"explain --format {formats} exited with {code}")
    return json.loads((out / "summary.json").read_text())


def warm_up(folder: Path, out: Path, options: list[str]) -> None:
    """One untimed run on the folder's first image with every kind of output: the first
    explanation and the first figure of a process pay one-off costs (allocator, kernels,
    fonts) that would otherwise all land on whichever format is timed first."""
    items = collect_images([folder]).items
    if not items:
        sys.exit(f"no images under {folder}")
    run_once(items[0].path, out, FORMATS[-1], options)


def images_per_minute(summary: dict) -> float:
    return 60.0 * summary["counts"]["done"] / summary["seconds"]


def table(rates: dict[str, list[float]], images: int) -> list[str]:
    """Markdown rows: per format the median images per minute, seconds per image and every run."""
    rows = ["| outputs | images | images/min (median) | s/image | runs (images/min) |",
            "|---|---:|---:|---:|---|"]
    for formats, runs in rates.items():
        median = statistics.median(runs)
        rows.append(f"| {formats} | {images} | {median:.1f} | {60.0 / median:.2f} | "
                    + ", ".join(f"{r:.1f}" for r in runs) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=SAMPLES, help="folder of images (default: the bundled samples)")
    parser.add_argument("--method", default="gradient", help="a method of `explain --method`, or all (default: gradient)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    options = ["--method", args.method, "--device", args.device] + (["--model", args.model] if args.model else [])
    rates: dict[str, list[float]] = {formats: [] for formats in FORMATS}
    with tempfile.TemporaryDirectory() as tmp:
        warm_up(args.images, Path(tmp) / "warm-up", options)
        for repeat in range(args.repeats):
            for formats in FORMATS:
                summary = run_once(args.images, Path(tmp) / f"{repeat}-{formats}", formats, options)
                rates[formats].append(images_per_minute(summary))
    print(f"model {summary['model']}, --method {args.method}, {args.images}, device {summary['device']}, "
          f"{torch.get_num_threads()} thread(s), median of {args.repeats}; "
          f"code: {Path(thulium_desktop.__file__).parent}\n")
    print("\n".join(table(rates, summary["counts"]["done"])))


if __name__ == "__main__":
    main()
