"""Peak memory and time of one explanation of large inputs, each in a fresh process.

Cases: integrated gradients on a 2000-pixel line (target: under 2 GB), and gradient on
an 8900x8900 blank page and on a 30000x300 line (the largest images accepted, and
lines as wide as a panorama; target: under 4 GB). Peak RSS is the child process's
own `ru_maxrss`, so the interpreter, torch and the model are included. The outcome
names the maps' grid: beyond `xai.saliency.MAP_BUDGET_ELEMENTS` it is coarser than the
image (issue 26).

    PYTHONPATH=. python benchmarks/explain_memory.py [--model ctc-reader] [--only 2000x100]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CASES = {
    "integrated, 2000x100 line": ("integrated", (100, 2000)),
    "gradient, 8900x8900 blank page": ("gradient", (8900, 8900)),
    "gradient, 30000x300 line": ("gradient", (300, 30000)),
}

CHILD = """
import json, resource, sys, time, warnings
import numpy as np
from thulium_desktop.models import load_model
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator
method, (height, width), model = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(0)
image = np.full((height, width), 235, np.uint8)
if height < 1000:  # a line: strokes along it
    image[height // 4 : 3 * height // 4] = np.where(rng.random((height // 2, width)) < 0.2, 40, 235)
warnings.simplefilter("ignore")
started = time.perf_counter()
try:
    exp = SaliencyGenerator(load_model(model)).explain(image, config=SaliencyConfig(method=method), tokens="all")
    outcome = f"{len(exp.maps)} maps {exp.maps.shape[1]}x{exp.maps.shape[2]}"
except ValueError as exc:
    outcome = f"refused: {exc}"
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": time.perf_counter() - started, "outcome": outcome, "peak_mb": peak_mb}))
"""


def run_case(method: str, size: tuple[int, int], model: str) -> dict:
    """The child's report: seconds, outcome and its own peak RSS in MB."""
    done = subprocess.run([sys.executable, "-c", CHILD, method, json.dumps(size), model],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ctc-reader")
    parser.add_argument("--only", default="", help="run only the cases whose name contains this")
    args = parser.parse_args()
    print("| case | seconds | peak RSS (MB) | outcome |\n|---|---|---|---|")
    for name, (method, size) in CASES.items():
        if args.only not in name:
            continue
        started = time.perf_counter()
        report = run_case(method, size, args.model)
        print(f"| {name} | {report['seconds']:.1f} (process {time.perf_counter() - started:.1f}) "
              f"| {report['peak_mb']:.0f} | {report['outcome']} |")


if __name__ == "__main__":
    main()
