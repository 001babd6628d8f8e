"""All-characters explanation time against Captum looping over characters, and the floor.

For each method, on the same model and image, side by side in one run:
  ours     SaliencyGenerator.explain(image): every character's map, read included
  captum   Captum's attribution once per character (the read done once, as ours)
  floor    the bare passes the method needs, timed directly: the read plus, per chunk,
           one forward and one backward for all characters (vmapped or looped; for
           gradient and GradCAM also through one batched pass of the head), the
           fastest of these ways, on the network the engine runs
           (`SaliencyGenerator.network`: for integrated gradients and SmoothGrad a
           copy with BatchNorm folded into its convolutions)
and the largest difference between our maps and Captum's (raw maps: signed, unnormalised),
also as a share of Captum's largest value.

    python benchmarks/bench_engine.py [--model ctc-reader] [--threads 1] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Saliency

from thulium_desktop.io import load_image
from thulium_desktop.models import Recognizer, load_model
from thulium_desktop.xai.gradcam import capture_output
from thulium_desktop.xai.perturb import smoothgrad_noise
from thulium_desktop.xai.quadrature import integration_points
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = ROOT / "resources" / "samples" / "recognition.png"
WARM_UP_CALLS = 14


def captum_attributions(rec: Recognizer, x: torch.Tensor, reading, cfg: SaliencyConfig) -> list[torch.Tensor]:
    """Captum, one character at a time, as a user of Captum would write it: each
    character's `[1, C, H, W]` attribution (GradCAM's on its layer's grid), on the device."""
    out = []
    for t in range(len(reading)):
        def score(inp: torch.Tensor, t: int = t) -> torch.Tensor:
            return rec.token_scores(inp, reading, cfg.score)[:, t]

        if cfg.method == "gradient":
            attr = Saliency(score).attribute(x, abs=False)
        elif cfg.method == "integrated":
            attr = IntegratedGradients(score).attribute(
                x, baselines=torch.zeros_like(x), n_steps=cfg.num_steps, method=cfg.integration
            )
        elif cfg.method == "smoothgrad":
            noisy = x + smoothgrad_noise(x, cfg.num_samples, cfg.noise_level, cfg.seed)
            attr = Saliency(score).attribute(noisy, abs=False).mean(0, keepdim=True)
        else:
            attr = LayerGradCam(score, rec.cam_layer()).attribute(x, relu_attributions=True)
        out.append(attr)
    return out


def captum_maps(rec: Recognizer, image, cfg: SaliencyConfig) -> np.ndarray:
    """Captum's maps of every character on the image's pixels, as ours."""
    prepared = rec.prepare(image)
    x = prepared.tensor
    attrs = captum_attributions(rec, x, rec.read(x), cfg)
    if cfg.method == "gradcam":
        attrs = [LayerAttribution.interpolate(a, tuple(x.shape[-2:]), "bilinear") for a in attrs]
    return prepared.to_image(torch.stack([a.detach()[0].sum(0) for a in attrs])).numpy()


def floor_pass(rec: Recognizer, image, cfg: SaliencyConfig, batched: bool, chunk: int,
               head: bool = False) -> None:
    """The passes a method cannot do without. Gradient and GradCAM: one forward on the
    image (reading and scoring it) and the backward for all characters, or (`head`) a
    second pass of the head on one copy of the GradCAM layer's output per character,
    one backward to those copies and, for the gradient, the backward from the layer to
    the image. Integrated gradients and SmoothGrad: the read, then per chunk of `chunk`
    copies one forward and the backward for all characters. Each backward for all
    characters is one vmapped pass (`batched`) or a loop over the retained graph."""
    x = rec.prepare(image).tensor
    if cfg.method in ("gradient", "gradcam"):
        xg = x.detach().requires_grad_(True)
        layer = rec.cam_layer()
        with capture_output(layer) as seen:
            reading, scores = read_and_score(rec, xg, cfg.score)
        n = len(reading)
        target = seen[-1] if cfg.method == "gradcam" else xg
        if not head:
            backward(scores, target, torch.eye(n)[:, None, :], batched)
            return
        copies = seen[-1].detach().repeat(n, *[1] * (seen[-1].dim() - 1)).requires_grad_(True)
        handle = layer.register_forward_hook(lambda *_: copies)
        try:
            per_copy = rec.token_scores(x, reading, cfg.score)
        finally:
            handle.remove()
        (at_layer,) = torch.autograd.grad((per_copy * torch.eye(n)).sum(), copies)
        if cfg.method == "gradient":
            backward(seen[-1], xg, at_layer[:, None], batched)
        return
    reading = rec.read(x)
    n = len(reading)
    if cfg.method == "integrated":
        alphas, _ = integration_points(cfg.num_steps, cfg.integration)
        inputs = torch.as_tensor(alphas, dtype=x.dtype)[:, None, None, None] * x
    else:
        inputs = x + smoothgrad_noise(x, cfg.num_samples, cfg.noise_level, cfg.seed)
    for part in inputs.split(chunk):
        part = part.detach().requires_grad_(True)
        scores = rec.token_scores(part, reading, cfg.score)
        backward(scores, part, torch.eye(n)[:, None, :].expand(n, part.shape[0], n), batched)


def read_and_score(rec: Recognizer, x: torch.Tensor, score: str):
    """One forward where the recognizer can read and score together (as the engine
    does), else the read and the scoring forward."""
    if hasattr(rec, "read_scored"):
        return rec.read_scored(x, score)
    reading = rec.read(x)
    return reading, rec.token_scores(x, reading, score)


def backward(scores: torch.Tensor, inputs: torch.Tensor, cot: torch.Tensor, batched: bool) -> None:
    if batched:
        torch.autograd.grad(scores, inputs, cot, is_grads_batched=True)
        return
    for k in range(cot.shape[0]):
        torch.autograd.grad(scores, inputs, cot[k], retain_graph=k < cot.shape[0] - 1)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ctc-reader")
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--samples", type=int, default=25)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rec = load_model(args.model)
    image = load_image(args.image)
    n_chars = len(rec.read(rec.prepare(image).tensor))
    print(f"model {rec.name}, image {args.image.name} {image.shape[1]}x{image.shape[0]}, "
          f"{n_chars} characters, torch {torch.__version__}, {args.threads} thread(s), "
          f"median of {args.repeats}\n")
    header = f"{'method':<12}{'ours ms':>10}{'captum ms':>11}{'speed-up':>10}{'floor ms':>10}{'ours/floor':>12}{'max |diff|':>12}{'of max |map|':>14}"
    print(header)
    print("-" * len(header))
    for method in ("gradient", "integrated", "smoothgrad", "gradcam"):
        cfg = SaliencyConfig(method=method, num_steps=args.steps, num_samples=args.samples,
                             baseline="zeros", absolute=False, normalize=False)  # Captum's baseline
        gen = SaliencyGenerator(rec, cfg)
        # The engine's timed choices (vmap or loop, batched head or not: each way timed
        # three times in turns, the head's and the backward's one after the other) are
        # all made within these calls, so the timed runs below see its settled speed.
        for _ in range(WARM_UP_CALLS):
            explanation = gen.explain(image)
        ours_maps, chunk = explanation.maps, explanation.batch_size
        network = gen.network(cfg)
        heads = (False, True) if method in ("gradient", "gradcam") else (False,)
        theirs = captum_maps(rec, image, cfg)
        runs = {"ours": [], "captum": [], "floor": []}
        for _ in range(args.repeats):  # interleaved, so load changes hit all three alike
            runs["ours"].append(timed(lambda: gen.explain(image)))
            runs["captum"].append(timed(lambda: captum_maps(rec, image, cfg)))
            runs["floor"].append(min(timed(lambda b=b, h=h: floor_pass(network, image, cfg, b, chunk, h))
                                     for b in (True, False) for h in heads))
        ours, captum, floor = (1000 * statistics.median(runs[k]) for k in ("ours", "captum", "floor"))
        diff = float(np.abs(ours_maps - theirs).max())
        relative = diff / max(float(np.abs(theirs).max()), 1e-30)
        print(f"{method:<12}{ours:>10.1f}{captum:>11.1f}{captum / ours:>9.2f}x{floor:>10.1f}"
              f"{ours / floor:>11.2f}x{diff:>12.1e}{relative:>14.1e}")


if __name__ == "__main__":
    main()
