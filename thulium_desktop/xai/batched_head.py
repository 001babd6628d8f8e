"""Every character's gradient through a reader's head in one batched pass.

Why: after a reader's convolutions comes a head (a BiLSTM, an attention decoder) that
is cheap forwards but, for one image, costly backwards once per character: on the
ctc-reader's GradCAM the LSTM's backward took 63% of the time (44 calls of 0.55 ms
for 11 characters). Running the head once more on K copies of the split layer's
output, one copy per explained character, turns K small backward passes into one
batched pass whose matrix products load each weight once (measured on the attention
reader, 11 characters: GradCAM 79 -> 52 ms, gradient 103 -> 76 ms). With a batch of
inputs (integrated gradients, SmoothGrad at 16 copies) it gained nothing (597 against
633 ms), so only the one-image methods use it.

The head must take its batch from the split layer's output, not from the input. A
head that fails on the repeated batch, whose scores differ from the plain pass, or
whose split layer runs more than once per forward (a shared activation module) is run
the plain way from then on; so is one whose scores reach the input around the
split layer (a skip connection), for the input gradient, whose path around the split
the batched pass would miss.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from thulium_desktop.models.protocol import Recognizer
from thulium_desktop.xai.gradcam import as_batch_first

ScoreFn = Callable[[torch.Tensor], torch.Tensor]
#: At most this many values of copies per head pass (16 MB in float32): the head's saved
#: activations grow with the copies, and a long line has many characters.
COPY_ELEMENTS = 1 << 22


class BatchedHead:
    """Gradients of K weighted scores at a split layer's output, from one batched pass.

    Remembers, per generator, whether the model's head works this way (`ok`) and whether
    the input reaches the scores only through the split layer (`sealed`, checked once).
    """

    def __init__(self) -> None:
        self.ok = True
        self.sealed: bool | None = None

    def split_layer(self, model: Recognizer) -> nn.Module | None:
        """The recognizer's GradCAM layer as the split, or None where the head cannot be
        batched or that layer cannot be found (a model whose probe forward fails)."""
        if not self.ok:
            return None
        try:
            return model.cam_layer()
        except (ValueError, RuntimeError, TypeError):
            self.ok = False
            return None

    def layer_gradients(
        self,
        layer: nn.Module,
        x: torch.Tensor,
        activation: torch.Tensor,
        scores: torch.Tensor,
        cotangents: torch.Tensor,
        score_fn: ScoreFn,
        to_input: bool,
    ) -> torch.Tensor | None:
        """`[K, *activation.shape]`: the gradient of `cotangents[k] · scores` at the layer's
        output for each k, or None where the plain way must be taken.

        `activation` is the layer's output and `scores` `[1, T]` the scores of the plain
        pass on the single image `x`; `score_fn(x)` recomputes scores (its forward runs
        the layer, whose output is replaced by the copies); `cotangents` is `[K, 1, T]`.
        `to_input`: the caller continues to the input, so the head must be sealed.
        Copies go through the head in groups of at most `COPY_ELEMENTS` values.
        """
        k = cotangents.shape[0]
        if not self.ok or k < 2 or (to_input and self.sealed is False):
            return None
        if not _batch_first_single(activation, layer, x):
            return None
        group = max(2, COPY_ELEMENTS // activation.numel())
        parts = []
        for start in range(0, k, group):
            part = self._group(layer, x, activation, scores, cotangents[start:start + group],
                               score_fn, to_input)
            if part is None:
                return None
            parts.append(part)
        return torch.cat(parts)[:, None]

    def _group(self, layer, x, activation, scores, cotangents, score_fn, to_input):
        """`[k, *activation.shape[1:]]` for one group of cotangents, or None."""
        k = cotangents.shape[0]
        copies = activation.detach().repeat(k, *[1] * (activation.dim() - 1)).requires_grad_(True)
        probe = x.detach().requires_grad_(to_input and self.sealed is None)
        calls: list[bool] = []

        def replace(_module, _inputs, output) -> torch.Tensor | None:
            calls.append(isinstance(output, torch.Tensor))
            return copies if calls[-1] else None  # a tuple output stays (and fails below)

        handle = layer.register_forward_hook(replace)
        try:
            with torch.enable_grad():
                batched = score_fn(probe)
        except (RuntimeError, ValueError, TypeError):  # the head took its batch from the input
            self.ok = False
            return None
        finally:
            handle.remove()
        if calls != [True] or batched.shape != (k, scores.shape[1]) or not _same_rows(batched, scores):
            self.ok = False
            return None
        if probe.requires_grad:
            self.sealed = not _reaches(batched, probe)
        if to_input and not self.sealed:
            return None
        weights = cotangents[:, 0].to(batched.dtype)
        (grads,) = torch.autograd.grad((batched * weights).sum(), copies)
        return grads


def _batch_first_single(activation: torch.Tensor, layer: nn.Module, x: torch.Tensor) -> bool:
    """One image, and the layer's output has its batch first (so copies stack there)."""
    if x.shape[0] != 1 or activation.shape[0] != 1 or activation.dim() not in (3, 4):
        return False
    return as_batch_first(activation, layer, batch=1) is activation


def _same_rows(batched: torch.Tensor, scores: torch.Tensor) -> bool:
    """Every copy scores as the plain pass did (the copies are the same activation)."""
    plain = scores.detach().to(batched.dtype)
    scale = float(plain.abs().max()) if plain.numel() else 0.0
    return bool(torch.allclose(batched.detach(), plain.expand_as(batched), rtol=1e-4,
                               atol=1e-5 * max(scale, 1.0)))


def _reaches(output: torch.Tensor, leaf: torch.Tensor) -> bool:
    """Whether `output`'s autograd graph leads to `leaf` (a walk, no computation)."""
    seen: set[int] = set()
    stack = [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if getattr(node, "variable", None) is leaf:
            return True
        stack.extend(fn for fn, _ in node.next_functions)
    return False
