"""Train a bundled reader on the CPU for a fixed number of minutes, from a seed.

The learning rate follows the elapsed share of the time budget (warm-up, then a
cosine), so a run of N minutes always ends annealed. A checkpoint is written every
few minutes (a stop loses little; `--resume` continues it) and at the end the
weights and their json description land in `--out`. `--init` fine-tunes from
shipped weights instead of a random start (the checkpoints are not committed), and
the json keeps the earlier run's record under `training.started_from`.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from thulium_desktop.models.attention_reader import END, AttentionReader
from thulium_desktop.models.registry import build_module
from thulium_desktop.models.registry import read_card
from thulium_desktop.models.weights import ModelLoadError, load_into, save_model_files
from thulium_desktop.training.data import DIGIT_SHARE, EMPHASIS, Batch, batches, collate, draw_sample
from thulium_desktop.training.decode import error_rates, read_batch
from thulium_desktop.training.fonts import HELD_OUT_PACKAGES, evaluation_training_fonts, training_fonts
from thulium_desktop.training.synth import HERSHEY_FONTS
from thulium_desktop.training.text import ALPHABET
from thulium_desktop.training.versions import library_versions

#: The bundled models: file name -> (architecture, hyper-parameters, description).
MODELS: dict[str, tuple[str, dict, str]] = {
    "attention-reader": (
        "attention-gru-bahdanau",
        {"channels": [32, 64, 96, 160], "dim": 256, "hidden": 128, "context_lstm": True,
         "embed": 64, "decoder": 256, "attend": 128, "max_steps": 40},
        "CNN columns + BiLSTM + GRU decoder with additive (Bahdanau) attention; "
        "shows where it looked for each character.",
    ),
    "ctc-reader": (
        "crnn-ctc",
        {"channels": [32, 64, 96, 160], "dim": 256, "hidden": 128, "layers": 2},
        "CNN columns + 2-layer BiLSTM + CTC; per-character frame posteriors as attention.",
    ),
}
KIND_TO_NAME = {"attention": "attention-reader", "ctc": "ctc-reader"}
TRAINING_DATA = (
    "Synthetic handwriting: words from Debian's wamerican list (90% split by word hash; "
    "mixed case), short lines, numbers, punctuation and random strings drawn in the Debian "
    "handwriting fonts (one package as often as another, but for the hard writers in "
    "package_emphasis) except the held-out packages {held_out} and in OpenCV Hershey "
    "faces, with random stroke width, letters of varied size, rise and spacing (half the "
    "font texts), pen gaps (40% of the font texts), wandering baseline, slant, rotation, "
    "stretch, elastic distortion, paper/ink tone, lighting, blur and noise; plus {digits:.0%} "
    "strings of real handwritten digits from scikit-learn's digits samples 0-1399."
)
CHECKPOINT_EVERY_S = 300
VALIDATE_EVERY_S = 600

log = logging.getLogger("thulium_desktop.training")


def _targets(texts: list[str]) -> list[list[int]]:
    return [[ALPHABET.index(c) + 1 for c in t] for t in texts]


def attention_loss(module: AttentionReader, images, positions, texts) -> torch.Tensor:
    labels = _targets(texts)
    steps = max(len(t) for t in labels) + 1
    targets = torch.full((len(labels), steps), -100, dtype=torch.long)
    for i, t in enumerate(labels):
        targets[i, : len(t) + 1] = torch.tensor(t + [END])
    logits, _ = module(images, targets.clamp_min(END), positions)
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=-100, label_smoothing=0.05)


def ctc_loss(module: nn.Module, images, positions, texts) -> torch.Tensor:
    labels = _targets(texts)
    logp = F.log_softmax(module(images, positions).float(), -1).transpose(0, 1)
    flat = torch.tensor([c for t in labels for c in t], dtype=torch.long)
    lengths = torch.tensor([len(t) for t in labels])
    return F.ctc_loss(logp, flat, positions, lengths, blank=0, zero_infinity=True)


def learning_rate(base: float, step: int, share: float, warmup: int = 300) -> float:
    warm = min(1.0, (step + 1) / warmup)
    return base * warm * (0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * min(1.0, share))))


def validation_set(seed: int, n: int = 256):
    """Fixed held-out batches (training fonts but the training-only ones, evaluation words)
    for progress logging."""
    rng, fonts = np.random.default_rng(seed + 1_000_003), evaluation_training_fonts()
    samples = [draw_sample(fonts, "eval", rng) for _ in range(n)]
    samples.sort(key=lambda s: s.image.shape[1])
    return [collate(samples[i : i + 32]) for i in range(0, n, 32)]


def validate(module: nn.Module, val) -> dict[str, float]:
    preds, truths = [], []
    for batch in val:
        preds += read_batch(module, batch, ALPHABET)
        truths += batch.texts
    return error_rates(preds, truths)


def train_step(module: nn.Module, optimizer: torch.optim.Optimizer, loss_fn, batch: Batch,
               bf16: bool = False) -> torch.Tensor:
    """One optimiser step on `batch`; returns the loss. `bf16` runs the forward under
    bfloat16 autocast (the losses keep their log-softmax in float32): slower than float32
    for these readers on this CPU (`benchmarks/bench_training_step.py`), so training
    leaves it off."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = loss_fn(module, batch.images, batch.positions, batch.texts)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(module.parameters(), 5.0)
    optimizer.step()
    return loss


def _init_card(init: Path, architecture: str, hparams: dict) -> dict:
    """The json beside `--init` weights, refused unless it describes the network about to be
    trained: equal shapes do not make equal meaning (an alphabet in another order maps
    every class to another character)."""
    card = read_card(init.with_suffix(".json"))
    for key, want in (("architecture", architecture), ("hparams", hparams), ("alphabet", ALPHABET)):
        if card[key] != want:
            raise ModelLoadError(init.with_suffix(".json"), f"its {key} is not the one this "
                                 f"command trains ({card[key]!r} against {want!r})")
    return card


def train(kind: str, minutes: float, seed: int, out: Path, batch_size: int, lr: float,
          resume: bool, command: str, init: Path | None = None) -> Path:
    name = KIND_TO_NAME[kind]
    architecture, hparams, description = MODELS[name]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    module = build_module(architecture, hparams, ALPHABET)
    optimizer = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=1e-4)
    loss_fn = attention_loss if kind == "attention" else ctc_loss
    ckpt_path = out / "checkpoints" / f"{name}.ckpt.pt"
    step, elapsed, samples = 0, 0.0, 0
    started_from = None
    if init is not None:
        started_from = _init_card(init, architecture, hparams).get("training")
        load_into(init, module)
        log.info("starting %s from the weights in %s", name, init)
    if resume and ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=True)
        module.load_state_dict(state["module"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed, samples = int(state["step"]), float(state["elapsed"]), int(state["samples"])
        rng.bit_generator.state = json.loads(state["rng"])
        log.info("resumed %s at step %d (%.0f s)", name, step, elapsed)
    val = validation_set(seed)
    stream = batches(training_fonts(), rng, batch_size)
    budget = minutes * 60.0
    start = time.monotonic() - elapsed
    last_ckpt = last_val = time.monotonic()
    running = None
    module.train()
    while (elapsed := time.monotonic() - start) < budget:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(lr, step, elapsed / budget)
        batch = next(stream)
        loss = train_step(module, optimizer, loss_fn, batch)
        step += 1
        samples += len(batch.texts)
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 50 == 0:
            log.info("step %d  %.0f s  loss %.4f  lr %.2e  %.1f samples/s", step, elapsed,
                     running, optimizer.param_groups[0]["lr"], samples / max(elapsed, 1e-6))
        now = time.monotonic()
        if now - last_val > VALIDATE_EVERY_S:
            log.info("validation at step %d: %s", step, validate(module, val))
            module.train()
            last_val = time.monotonic()
        if now - last_ckpt > CHECKPOINT_EVERY_S:
            _checkpoint(ckpt_path, module, optimizer, step, elapsed, samples, rng)
            last_ckpt = time.monotonic()
    _checkpoint(ckpt_path, module, optimizer, step, elapsed, samples, rng)
    final = validate(module, val)
    log.info("finished %s: %d steps, %d samples, validation %s", name, step, samples, final)
    module.eval()
    fonts = training_fonts()
    card = {
        "name": name,
        "architecture": architecture,
        "description": description,
        "hparams": hparams,
        "alphabet": ALPHABET,
        "input_height": 32,
        "parameters": sum(p.numel() for p in module.parameters()),
        "training": {
            "data": TRAINING_DATA.format(held_out=", ".join(HELD_OUT_PACKAGES),
                                         digits=DIGIT_SHARE),
            "fonts": sorted({f.name for f in fonts}),
            "hershey_faces": len(HERSHEY_FONTS),
            "held_out_font_packages": list(HELD_OUT_PACKAGES),
            "package_emphasis": EMPHASIS,
            "command": command,
            "seed": seed,
            "minutes": minutes,
            "steps": step,
            "samples": samples,
            "batch_size": batch_size,
            "final_loss": running,
            **library_versions(),
            "started_from": started_from,
        },
        "metrics": {},
    }
    save_model_files(module, card, out / f"{name}.safetensors", out / f"{name}.json")
    return out / f"{name}.safetensors"


def _checkpoint(path: Path, module, optimizer, step, elapsed, samples, rng) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"module": module.state_dict(), "optimizer": optimizer.state_dict(),
                "step": step, "elapsed": elapsed, "samples": samples,
                "rng": json.dumps(rng.bit_generator.state)}, tmp)
    tmp.replace(path)
    log.info("checkpoint at step %d -> %s", step, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m thulium_desktop.training",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(KIND_TO_NAME), required=True)
    parser.add_argument("--minutes", type=float, default=55.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("resources/models"))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resume", action="store_true",
                        help="continue from the checkpoint in OUT/checkpoints")
    parser.add_argument("--init", type=Path, default=None,
                        help="fine-tune from these .safetensors weights (json beside them)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    log_path = args.out / "logs" / f"{KIND_TO_NAME[args.model]}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.FileHandler(log_path), logging.StreamHandler()])
    command = "python -m thulium_desktop.training " + shlex.join(
        argv if argv is not None else sys.argv[1:])
    train(args.model, args.minutes, args.seed, args.out, args.batch_size, args.lr,
          args.resume, command, args.init)
    return 0
