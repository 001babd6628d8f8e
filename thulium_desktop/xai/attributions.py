"""The engine's own methods: one compute function each, registered in `methods.py`.

Each function takes the `Run` of one explanation and returns its raw model-space
`Attribution` for all targets at once; the run does the rest (magnitude or sign,
image pixels, normalization). Definitions as in REFERENCES.md.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn

from thulium_desktop.models.layers import resolve_layer
from thulium_desktop.models.notes import Note
from thulium_desktop.xai.gradcam import (
    as_batch_first,
    cam_maps,
    capture_output,
    sequence_head_note,
    sequence_modules_after,
    upsample,
)
from thulium_desktop.xai.perturb import make_baseline, smoothgrad_noise
from thulium_desktop.xai.quadrature import integration_points
from thulium_desktop.xai.saliency import Attribution, NoAttention, Run


def attention(run: Run) -> Attribution:
    """The model's own attention per character (or CTC frame posteriors): no gradients."""
    run.check_cancel()
    att = run.model.attention(run.x, run.reading)
    if att is None:
        raise NoAttention(f"{getattr(run.model, 'name', 'this model')} has no attention to show")
    maps = torch.einsum("kt,thw->khw", run.targets.weights.to(att.dtype), att.to(run.x.device))
    return Attribution(maps[:, None], run.scores(run.x)[0])


def gradient(run: Run) -> Attribution:
    """∂s_t/∂x at the image, from the forward that reads it."""
    run.check_cancel()
    x = run.x.detach().requires_grad_(True)
    split = run.split_layer()
    with _captured(split) as seen, torch.enable_grad():
        scores = run.scored(x)
    cot = run.targets.weights[:, None, :].to(scores.dtype)
    grads = run.backward(split, x, seen, scores, cot, to_input=True)
    return Attribution(grads[:, 0], run.target_scores(scores)[0])


#: Adaptive integrated gradients doubles its steps at most this many times over the
#: configured `num_steps` (50 -> 400 by default), streamed so the map refines on screen.
ADAPTIVE_STEPS_FACTOR = 8
#: ... and its whole work (characters x steps, the first pass included) is at most this
#: many times the fixed-step integral's: each doubling takes the largest gaps first, as
#: many characters as the rest of the budget allows. Without it, a long line whose gaps
#: all stay open cost up to 15 times the fixed steps (a random-stroke 2000-px line: 653 s,
#: `benchmarks/explain_memory.py --only 2000x100`); a word, with few open gaps, is not
#: touched by it.
ADAPTIVE_WORK_FACTOR = 4
#: |f(x) - f(baseline)| below this is taken as this, so a baseline scored like the
#: image does not make every gap look infinite (scores are log-probabilities or logits).
GAP_SCALE_FLOOR = 1e-3


def integrated(run: Run) -> Attribution:
    """(x − x′) ⊙ ∫ ∂s_t/∂x along the straight path from the baseline x′, by the chosen
    quadrature rule, with the completeness gap of each target as its delta.

    With a `tolerance`, the characters whose gap exceeds that share of |f(x) − f(x′)|
    are integrated again with twice the steps, up to `ADAPTIVE_STEPS_FACTOR` times
    `num_steps` and within `ADAPTIVE_WORK_FACTOR` times the fixed-step work (largest
    gaps first); a gap still above it is reported with a note. Only those characters
    are recomputed (backward work grows with their number), on a fresh path:
    Gauss-Legendre nodes do not nest, and it converges fastest of the rules here.
    Every result carries each target's relative gap and the steps its integral used.
    """
    cfg, x = run.cfg, run.x
    baseline = make_baseline(x, cfg.baseline, run.model)
    ends = run.scores(torch.cat([x, baseline]))
    change = ends[0] - ends[1]
    scale = change.abs().clamp_min(GAP_SCALE_FLOOR)
    attributions = _path_integral(run, baseline, cfg.num_steps, None)
    deltas = attributions.flatten(1).sum(dim=1) - change
    used = torch.full_like(deltas, cfg.num_steps, dtype=torch.long)
    steps = cfg.num_steps
    budget = ADAPTIVE_WORK_FACTOR * len(deltas) * cfg.num_steps - len(deltas) * cfg.num_steps
    notes: tuple[str, ...] = ()
    while cfg.tolerance > 0:
        gaps = deltas.abs() / scale
        open_rows = _largest_first(gaps, cfg.tolerance, budget // (2 * steps))
        if open_rows is None:
            break
        if not len(open_rows) or steps * 2 > cfg.num_steps * ADAPTIVE_STEPS_FACTOR:
            worst = int(gaps.argmax())
            notes = (_unconverged_note(float(gaps[worst]), int(used[worst]), cfg.tolerance),)
            break
        run.report(attributions, steps, 2 * steps)  # the map so far, while the finer path runs
        steps *= 2
        budget -= len(open_rows) * steps
        attributions[open_rows] = _path_integral(run, baseline, steps, open_rows)
        deltas[open_rows] = attributions[open_rows].flatten(1).sum(dim=1) - change[open_rows]
        used[open_rows] = steps
    return Attribution(attributions, ends[0], deltas, deltas.abs() / scale, used, notes)


def _largest_first(gaps: torch.Tensor, tolerance: float, affordable: int) -> torch.Tensor | None:
    """The rows whose gap exceeds `tolerance`, largest gap first, at most `affordable` of
    them (empty: none is affordable); None when every gap is within tolerance."""
    open_rows = torch.nonzero(gaps > tolerance).flatten()
    if not len(open_rows):
        return None
    order = gaps[open_rows].argsort(descending=True)
    return open_rows[order[: max(0, affordable)]]


def _unconverged_note(gap: float, steps: int, tolerance: float) -> Note:
    """What a user must know of an integral whose largest relative gap stayed open."""
    return Note(
        f"integrated gradients did not converge: a completeness gap of {gap:.0%} "
        f"of |f(x) - f(baseline)| remains after {steps} steps (tolerance {tolerance:.0%})",
        short=f"IG gap {gap:.0%} after {steps} steps",
    )


def _path_integral(run: Run, baseline: torch.Tensor, steps: int, rows: torch.Tensor | None) -> torch.Tensor:
    """(x − x′) ⊙ the `steps`-point quadrature of the gradients along the path, for every
    target or only `rows`. Every target's first path is streamed chunk by chunk as a
    refining partial map; a finer path of some rows is not (its first chunks would draw
    a coarser map than the one already shown)."""
    x = run.x
    alphas, weights = integration_points(steps, run.cfg.integration)
    alphas_t = torch.as_tensor(alphas, dtype=x.dtype, device=x.device)
    weights_t = torch.as_tensor(weights, dtype=x.dtype, device=x.device)
    diff = x - baseline
    count = run.targets.weights.shape[0] if rows is None else len(rows)
    total_grad = torch.zeros((count, *x.shape[1:]), dtype=x.dtype, device=x.device)

    def chunk_sum(sl: slice) -> torch.Tensor:  # may be re-run at half length: adds to nothing
        path = baseline + alphas_t[sl, None, None, None] * diff
        return run.grads(path, weights_t[sl], rows).sum(dim=1)

    def add(sl: slice, grads: torch.Tensor) -> None:
        total_grad.add_(grads)
        if rows is None:
            run.report(diff * total_grad / weights_t[: sl.stop].sum(), sl.stop, steps)  # no read-back: no device wait

    run.in_chunks(steps, chunk_sum, add, targets=count)
    return diff * total_grad


#: How the SmoothGrad family turns the sums of gradients and of their squares over n
#: noisy copies into its estimate.
Estimate = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


def smoothgrad(run: Run) -> Attribution:
    """The mean gradient over noisy copies."""
    return _over_noise(run, lambda g_sum, g_sq, n: g_sum / n, second_moment=False)


def smoothgrad_sq(run: Run) -> Attribution:
    """The mean squared gradient over noisy copies."""
    return _over_noise(run, lambda g_sum, g_sq, n: g_sq / n)


def vargrad(run: Run) -> Attribution:
    """The variance of the gradient over noisy copies."""
    return _over_noise(run, _variance)


def _variance(g_sum: torch.Tensor, g_sq: torch.Tensor, n: int) -> torch.Tensor:
    mean = g_sum / n
    return g_sq / n - mean * mean


def _over_noise(run: Run, estimate: Estimate, second_moment: bool = True) -> Attribution:
    """The SmoothGrad family's one pass over the same seeded noisy copies; plain
    SmoothGrad needs no `second_moment`."""
    cfg, x = run.cfg, run.x
    notes: tuple[str, ...] = ()
    if float(x.max() - x.min()) == 0.0 and cfg.noise_level > 0:
        notes = (Note("the input is constant: SmoothGrad's noise (relative to its range) is zero",
                      short="constant input: no SmoothGrad noise"),)
    noise = smoothgrad_noise(x, cfg.num_samples, cfg.noise_level, cfg.seed)
    k = run.targets.weights.shape[0]
    g_sum = torch.zeros((k, *x.shape[1:]), dtype=x.dtype, device=x.device)
    g_sq = torch.zeros_like(g_sum)

    def chunk_sums(sl: slice) -> tuple[torch.Tensor, torch.Tensor | None]:  # may be re-run: adds to nothing
        ones = torch.ones(sl.stop - sl.start, dtype=x.dtype, device=x.device)
        grads = run.grads(x + noise[sl], ones)
        return grads.sum(dim=1), (grads * grads).sum(dim=1) if second_moment else None

    def add(sl: slice, sums: tuple[torch.Tensor, torch.Tensor | None]) -> None:
        g_sum.add_(sums[0])
        if second_moment:
            g_sq.add_(sums[1])
        run.report(estimate(g_sum, g_sq, sl.stop), sl.stop, cfg.num_samples)

    run.in_chunks(cfg.num_samples, chunk_sums, add)
    return Attribution(estimate(g_sum, g_sq, cfg.num_samples), run.scores(x)[0], notes=notes)


def gradcam(run: Run) -> Attribution:
    """ReLU(Σ_k α_k A_k) at the GradCAM layer (the config's, else the recognizer's own),
    α_k the mean gradient over positions, upsampled to the model's input."""
    run.check_cancel()
    module = run.model.module
    layer = resolve_layer(module, run.cfg.layer) if run.cfg.layer is not None else run.model.cam_layer()
    if layer is None:
        raise ValueError("the model has no spatial layer for GradCAM; choose one with layer=")
    x = run.x.detach().requires_grad_(True)  # so the layer output is in the graph
    with capture_output(layer) as seen, sequence_modules_after(module, seen) as heads, torch.enable_grad():
        scores = run.scored(x)
    if not seen:
        raise ValueError(f"GradCAM layer {type(layer).__name__} did not run in the forward pass")
    notes: tuple[str, ...] = ()
    if heads:
        names = {id(m): name for name, m in module.named_modules()}
        notes = (sequence_head_note(names.get(id(layer), type(layer).__name__)),)
    activation = as_batch_first(seen[-1], layer, batch=1)
    cot = run.targets.weights[:, None, :].to(scores.dtype)
    grads = run.backward(layer, x, seen, scores, cot, to_input=False)
    grads = torch.stack([as_batch_first(g, layer, batch=1) for g in grads])
    cams = upsample(cam_maps(activation.detach(), grads), run.prepared.model_size)
    return Attribution(cams[:, None], run.target_scores(scores)[0], notes=notes)


def _captured(layer: nn.Module | None) -> AbstractContextManager[list[torch.Tensor]]:
    """`capture_output(layer)`, or an empty list when there is no layer to watch."""
    return nullcontext([]) if layer is None else capture_output(layer)
