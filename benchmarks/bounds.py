"""How bounded the inputs are: each decompression bomb's refusal, the largest accepted
image, and a long truth's alignment, with time and memory.

    python benchmarks/bounds.py [--keep DIR]

Each case runs in a fresh interpreter (spawned), so its peak RSS is its own: the
baseline of an interpreter with numpy, OpenCV and Pillow loaded is printed first.
The issue's targets: every bomb refused in under a second and under 500 MB.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "io"))  # the bomb builders
from image_bombs import BOMBS  # noqa: E402

from thulium_desktop.io.images import ImageLoadError, max_pixels, read_image  # noqa: E402
from thulium_desktop.xai.ground_truth import align  # noqa: E402


def load(path: str) -> str:
    try:
        shape = read_image(path).image.shape
    except ImageLoadError as exc:
        return f"refused: {exc.reason}"
    return f"loaded {shape[1]}x{shape[0]}"


def align_pair(length: str) -> str:
    rng = random.Random(0)
    truth = "".join(rng.choice("abcdefgh ") for _ in range(int(length)))
    read = "".join(c if rng.random() > 0.1 else "x" for c in truth)
    return f"{len(align(read, truth)):,} steps"


def nothing(_: str) -> str:
    return "-"


def measured(job: Callable[[str], str], argument: str) -> tuple[str, float, int, int]:
    """(outcome, seconds, Python/numpy peak bytes, peak RSS bytes) of one job, in this process."""
    tracemalloc.start()
    started = time.perf_counter()
    outcome = job(argument)
    seconds = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, seconds, traced, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def in_fresh_process(job: Callable[[str], str], argument: str) -> tuple[str, float, int, int]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(measured, (job, argument))


def largest_accepted(folder: Path) -> Path:
    """A white grayscale PNG just within the pixel limit (square)."""
    side = int(max_pixels() ** 0.5)
    path = folder / f"largest-{side}x{side}.png"
    assert cv2.imwrite(str(path), np.full((side, side), 255, np.uint8))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the test files here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        cases: list[tuple[str, Callable[[str], str], str]] = [("interpreter baseline", nothing, "")]
        for name, (file_name, make, _, _) in BOMBS.items():
            path = folder / f"{name.split()[0].lower()}-{file_name}"
            path.write_bytes(make())
            cases.append((f"{name} bomb ({path.stat().st_size / 1024:.1f} KB)", load, str(path)))
        cases.append((f"largest accepted image ({max_pixels():,} px limit)", load, str(largest_accepted(folder))))
        cases.append(("align a 5,000-character pair", align_pair, "5000"))
        print(f"{'case':<44} {'seconds':>8} {'traced MB':>10} {'peak RSS MB':>12}  outcome")
        for label, job, argument in cases:
            outcome, seconds, traced, rss = in_fresh_process(job, argument)
            print(f"{label:<44} {seconds:>8.3f} {traced / 2**20:>10.1f} {rss / 2**20:>12.1f}  {outcome[:90]}")


if __name__ == "__main__":
    main()
