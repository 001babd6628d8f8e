"""One training step of each bundled reader in float32 against bfloat16 autocast.

Why: the training issue expected bfloat16 autocast to train about 1.5x faster on this
CPU (the losses already take their log-softmax in float32 for it). Whether it does
decides how the readers are trained, so it is measured here rather than assumed: the
same batches and training step (`train.train_step`: forward, backward, gradient
clipping, AdamW step), each precision in turn on the shipped weights, and
the time to draw a batch of synthetic data beside them (the other half of a step).

    PYTHONPATH=. python benchmarks/bench_training_step.py [--threads 1] [--repeats 3]

Needs the training extras and the handwriting fonts (see resources/models/README.md).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from thulium_desktop.models.registry import build_module
from thulium_desktop.models.weights import load_into
from thulium_desktop.training.data import collate, draw_sample
from thulium_desktop.training.fonts import training_fonts
from thulium_desktop.training.text import ALPHABET
from thulium_desktop.training.train import KIND_TO_NAME, MODELS, attention_loss, ctc_loss, train_step

ROOT = Path(__file__).resolve().parents[1]
BATCHES = 6


def step_seconds(module: nn.Module, loss_fn, data, bf16: bool) -> float:
    """Median seconds of one training step (`train.train_step`) over `data`."""
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-6)
    times = []
    for batch in data:
        start = time.perf_counter()
        train_step(module, optimizer, loss_fn, batch, bf16=bf16)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    fonts, rng = training_fonts(), np.random.default_rng(0)
    draw_sample(fonts, "train", rng)  # the fonts opened once
    start = time.perf_counter()
    samples = [draw_sample(fonts, "train", rng) for _ in range(BATCHES * args.batch_size)]
    drawing = (time.perf_counter() - start) / BATCHES
    samples.sort(key=lambda s: s.image.shape[1])  # width-grouped, as training batches are
    data = [collate(samples[i : i + args.batch_size]) for i in range(0, len(samples), args.batch_size)]
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch_size}, "
          f"median step over {BATCHES} batches, best of {args.repeats} rounds (precisions interleaved)\n")
    header = f"{'reader':<18}{'float32 ms':>12}{'bf16 ms':>10}{'bf16 speed-up':>15}{'data ms':>10}"
    print(header)
    print("-" * len(header))
    for kind, loss_fn in (("attention", attention_loss), ("ctc", ctc_loss)):
        name = KIND_TO_NAME[kind]
        architecture, hparams, _ = MODELS[name]
        module = build_module(architecture, hparams, ALPHABET)
        load_into(ROOT / "resources" / "models" / f"{name}.safetensors", module)
        module.train()
        runs = {False: [], True: []}
        for _ in range(args.repeats):
            for bf16 in (False, True):
                runs[bf16].append(step_seconds(module, loss_fn, data, bf16))
        fp32_ms, bf16_ms = (1000 * min(runs[k]) for k in (False, True))
        print(f"{name:<18}{fp32_ms:>12.0f}{bf16_ms:>10.0f}{fp32_ms / bf16_ms:>14.2f}x{1000 * drawing:>10.0f}")


if __name__ == "__main__":
    main()
