"""Inference latency of the bundled readers at batch 1 on the sample images.

`python benchmarks/bench_models.py [--repeats N] [--threads T]` (after `pip install -e .`,
or with `PYTHONPATH=.`) prints, per model and
image, the median time of `prepare` + `read` (target: under 30 ms for a word image),
and of one `token_scores` forward + backward over all characters (what a gradient
map costs per input copy).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from thulium_desktop.io.images import load_image
from thulium_desktop.models import list_models, load_model

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up: first calls allocate and pick kernels
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    files = sorted(SAMPLES.glob("*.png"))
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats}")
    print(f"{'model':18s} {'image':26s} {'size':>9s} {'chars':>5s} {'read ms':>8s} {'grad ms':>8s}")
    for info in list_models():
        model = load_model(info.name)
        for path in files:
            image = load_image(path)

            def read():
                return model.read(model.prepare(image).tensor)

            reading = read()
            x = model.prepare(image).tensor

            def grad():
                xg = x.clone().requires_grad_()
                model.token_scores(xg, reading).sum().backward()

            size = f"{image.shape[1]}x{image.shape[0]}"
            print(f"{info.name:18s} {path.name:26s} {size:>9s} {len(reading):5d} "
                  f"{median_ms(read, args.repeats):8.1f} {median_ms(grad, args.repeats):8.1f}")


if __name__ == "__main__":
    main()
