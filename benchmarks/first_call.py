"""The first explanation on a fresh model against the steady one, before and after
the engine kept its strategy verdicts on disk (`xai/fastest.py`).

Each session runs in its own process, as a user's would. The app explains the samples
on its default model at launch, so a new model's first click comes after torch's
one-off costs are paid (the first vmapped backward imports sympy: seconds): each
session likewise first explains the image with another architecture, then times a
fresh model's first `explain` and the median of 5 more (the steady call). Each session
runs `--runs` times (default 3) and the medians are shown, as the machine is shared.
Three sessions per model:
  before   no verdicts kept (the old behaviour: the strategies are timed on the calls)
  (fill)   an empty store: the same old behaviour, which leaves the verdicts on disk
  after    a new process on the filled store: a model of an architecture seen before
The models: the bundled ctc-reader and a small CRNN built here (seeded; a fresh
instance each session). Methods: gradient and integrated gradients (app defaults).

    python benchmarks/first_call.py [--threads 1] [--runs 3] [--image resources/samples/recognition.png]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = ROOT / "resources" / "samples" / "recognition.png"
MODELS = ("ctc-reader", "small-crnn")
METHODS = ("gradient", "integrated")
STEADY_CALLS = 5


def small_crnn(hidden: int = 48):
    """A CNN + BiLSTM CTC reader on random (seeded) weights, 32 px high."""
    import torch
    from torch import nn

    from thulium_desktop.models import CTCRecognizer

    class SmallCRNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
            )
            self.rnn = nn.LSTM(32 * 8, hidden, batch_first=True, bidirectional=True)
            self.head = nn.Linear(2 * hidden, 27)

        def forward(self, x):
            f = self.features(x)
            b, c, h, w = f.shape
            seq, _ = self.rnn(f.permute(0, 3, 1, 2).reshape(b, w, c * h))
            return self.head(seq)

    torch.manual_seed(0)
    module = SmallCRNN().eval()
    with torch.no_grad():
        module.head.weight.mul_(12.0)  # so a random model reads many characters
    return CTCRecognizer(module, "abcdefghijklmnopqrstuvwxyz", 32, name="small-crnn")


def session(model: str, method: str, image_path: Path, cache: str | None, threads: int) -> dict:
    """One process's life: (first call, steady median) in seconds."""
    import torch

    from thulium_desktop.io import load_image
    from thulium_desktop.models import load_model
    from thulium_desktop.xai.fastest import remembered_verdicts
    from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator

    torch.set_num_threads(threads)
    image = load_image(image_path)
    SaliencyGenerator(small_crnn(hidden=16), SaliencyConfig(method=method)).explain(image)  # the app's launch
    recognizer = small_crnn() if model == "small-crnn" else load_model(model)
    engine = SaliencyGenerator(recognizer, SaliencyConfig(method=method))
    with remembered_verdicts(Path(cache)) if cache else nullcontext():
        times = []
        for _ in range(1 + STEADY_CALLS):
            start = time.perf_counter()
            engine.explain(image)
            times.append(time.perf_counter() - start)
    return {"first": times[0], "steady": statistics.median(times[1:])}


def run_sessions(model: str, method: str, image: Path, cache: str | None, threads: int, runs: int) -> dict:
    """The median first and steady times of `runs` sessions."""
    times = [run_session(model, method, image, cache, threads) for _ in range(runs)]
    return {key: statistics.median(t[key] for t in times) for key in ("first", "steady")}


def run_session(model: str, method: str, image: Path, cache: str | None, threads: int) -> dict:
    command = [sys.executable, __file__, "--session", model, method, "--image", str(image), "--threads", str(threads)]
    if cache:
        command += ["--cache", cache]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def table(image: Path, threads: int, runs: int) -> None:
    print(f"image {image.name}, {threads} thread(s), median of {runs} sessions; times in ms; ratio = first/steady")
    print(f"{'model':<12}{'method':<12}{'before first':>13}{'steady':>9}{'ratio':>7}"
          f"{'after first':>13}{'steady':>9}{'ratio':>7}")
    for model in MODELS:
        for method in METHODS:
            with tempfile.TemporaryDirectory() as folder:
                cache = str(Path(folder) / "fastest.json")
                before = run_sessions(model, method, image, None, threads, runs)
                run_session(model, method, image, cache, threads)  # fills the store
                after = run_sessions(model, method, image, cache, threads, runs)
            cells = [f"{1000 * s['first']:>13.0f}{1000 * s['steady']:>9.0f}{s['first'] / s['steady']:>7.2f}"
                     for s in (before, after)]
            print(f"{model:<12}{method:<12}{cells[0]}{cells[1]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3, help="sessions per cell (their medians are shown)")
    parser.add_argument("--session", nargs=2, metavar=("MODEL", "METHOD"), help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.session:
        print(json.dumps(session(*args.session, args.image, args.cache, args.threads)))
    else:
        table(args.image, args.threads, args.runs)


if __name__ == "__main__":
    main()
