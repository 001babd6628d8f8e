"""The first explanation on a model the engine has never seen against the steady one,
before and after the face warms a newly loaded model up (`xai/warm.py`), side by side.

Each session runs in its own process, as a user's would, and does what the app does:
  launch  the app's default model (attention-reader) explains the image (gradient),
          so torch's process-wide one-offs (the first vmapped backward imports sympy:
          seconds) are paid, as they are before a user opens a model of their own;
  load    the model under test is built and its default GradCAM layer found (the
          app's layer chooser does that at load); strategy verdicts are kept as the
          app keeps them, in a store of their own (empty: the model is unseen);
  warm    after only: `warm_up(engine)` on the bundled probe line (timed on its own);
  calls   the first `explain` of the image (every character), then `CALLS - 1` more;
          the steady call is the median of the last `STEADY`, once the strategies
          have been timed.
"before" and "after" sessions alternate, `--runs` of each (default 3): the table shows
the medians of their first and steady calls, and the median of their ratios. Times are
the thread's CPU time (one torch thread: the work is on this thread), which load from
other processes on a shared machine barely moves, and wall time. The image is not the
probe line, so the after sessions have not seen its shape either. The models: a small
CRNN built here (seeded, a fresh instance each session: an architecture nothing has
run) and the bundled ctc-reader. Methods: gradient and integrated gradients.

    python benchmarks/first_call.py [--threads 1] [--runs 3] [--image resources/samples/question.png]
                                    [--models small-crnn ctc-reader]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = ROOT / "resources" / "samples" / "question.png"
MODELS = ("small-crnn", "ctc-reader")
METHODS = ("gradient", "integrated")
SESSIONS = ("before", "after")
#: Explanations of the image per session, and how many of the last make the steady call.
CALLS, STEADY = 8, 3


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


def session(model: str, method: str, image_path: Path, warm: bool, threads: int) -> dict:
    """One process's life, as described in the module docs: CPU and wall seconds of the
    first and the steady call, and of the warm-up (0 without)."""
    import torch

    from thulium_desktop.io import load_image
    from thulium_desktop.models import load_model
    from thulium_desktop.xai.fastest import remembered_verdicts
    from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator
    from thulium_desktop.xai.warm import warm_up

    torch.set_num_threads(threads)
    image = load_image(image_path)
    config = SaliencyConfig(method=method)
    SaliencyGenerator(load_model("attention-reader")).explain(image, method="gradient", tokens="all")  # the launch
    with tempfile.TemporaryDirectory() as folder, remembered_verdicts(Path(folder) / "fastest.json"):
        recognizer = small_crnn() if model == "small-crnn" else load_model(model)
        recognizer.cam_layer()  # the app's layer chooser finds it at load
        engine = SaliencyGenerator(recognizer, config)
        warm_up_s = _timed(lambda: warm_up(engine)) if warm else (0.0, 0.0)
        calls = [_timed(lambda: engine.explain(image, tokens="all")) for _ in range(CALLS)]
    out = {"warm_cpu": warm_up_s[0], "warm_wall": warm_up_s[1]}
    for kind, index in (("cpu", 0), ("wall", 1)):
        out[f"first_{kind}"] = calls[0][index]
        out[f"steady_{kind}"] = statistics.median(c[index] for c in calls[-STEADY:])
    return out


def _timed(work) -> tuple[float, float]:
    """(thread CPU seconds, wall seconds) of `work()`."""
    cpu, wall = time.thread_time(), time.perf_counter()
    work()
    return time.thread_time() - cpu, time.perf_counter() - wall


def run_session(model: str, method: str, image: Path, warm: bool, threads: int) -> dict:
    command = [sys.executable, __file__, "--session", model, method, "--image", str(image), "--threads", str(threads)]
    if warm:
        command.append("--warm")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def summary(sessions: list[dict]) -> dict:
    """Medians over sessions of each time and of the first/steady ratios."""
    keys = sessions[0].keys()
    out = {key: statistics.median(s[key] for s in sessions) for key in keys}
    for kind in ("cpu", "wall"):
        out[f"ratio_{kind}"] = statistics.median(s[f"first_{kind}"] / s[f"steady_{kind}"] for s in sessions)
    return out


def table(image: Path, threads: int, runs: int, models: list[str]) -> None:
    print(f"image {image.name}, {threads} thread(s), {runs} sessions each; medians; times in ms of thread CPU; "
          "ratio = first/steady (CPU, and wall)")
    print(f"{'model':<12}{'method':<12}{'before: first':>14}{'steady':>8}{'ratio':>7}{'wall':>6}"
          f"{'after: first':>14}{'steady':>8}{'ratio':>7}{'wall':>6}{'warm-up':>9}")
    for model in models:
        for method in METHODS:
            done = {name: [] for name in SESSIONS}
            for _ in range(runs):  # alternating, so a burst of load falls on both alike
                for name in SESSIONS:
                    done[name].append(run_session(model, method, image, name == "after", threads))
            before, after = (summary(done[name]) for name in SESSIONS)
            cells = [f"{1000 * s['first_cpu']:>14.0f}{1000 * s['steady_cpu']:>8.0f}{s['ratio_cpu']:>7.2f}"
                     f"{s['ratio_wall']:>6.2f}" for s in (before, after)]
            print(f"{model:<12}{method:<12}{cells[0]}{cells[1]}{1000 * after['warm_cpu']:>9.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3, help="sessions of each kind per row (medians are shown)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--session", nargs=2, metavar=("MODEL", "METHOD"), help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.session:
        print(json.dumps(session(*args.session, args.image, args.warm, args.threads)))
    else:
        table(args.image, args.threads, args.runs, args.models)


if __name__ == "__main__":
    main()
