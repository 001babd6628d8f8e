"""Every character's gradient through a reader's head in one batched pass.

Why: after a reader's convolutions comes a head (a BiLSTM, an attention decoder) that
is cheap forwards but, for one image, costly backwards once per character: on the
ctc-reader's GradCAM the LSTM's backward took 63% of the time (44 calls of 0.55 ms
for 11 characters). One more forward of the model, with the split layer's output
replaced by K copies of it (one per explained character), runs the head on a batch of
K, so its backward is one batched pass whose matrix products load each weight once
(measured on `recognition.png`, 11 characters: the ctc-reader's GradCAM 41 -> 28 ms).
The layers before the split run again in that forward, at batch 1. With a batch of
inputs (integrated gradients, SmoothGrad at 16 copies) it gained nothing (597 against
633 ms), and on a long line with many characters the copies cost more than they save
(measured on a 2266-px line, 93 characters: 2229 against 1785 ms), so it serves only
the one-image methods, and only while the copies hold at most `COPY_ELEMENTS` values.
Where the head's backward already batches well (the attention reader's GRU decoder
under vmap: 41 against 38 ms), it does not pay either, so each network times both
ways on its first calls and keeps the faster, as `BatchedVJP` does.

The head must take its batch from the split layer's output, not from the input. A
head that fails on the repeated batch, whose scores differ from the plain pass, whose
split layer runs more than once per forward (a shared activation module), or that
runs with any module in training mode (BatchNorm would couple the copies) is run the
plain way; so is one whose scores reach the input around the split layer (a skip
connection), for the input gradient, whose path around the split the batched pass
would miss. These verdicts are kept per network and layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from thulium_desktop.models.protocol import Recognizer
from thulium_desktop.xai.folding import scores_agree
from thulium_desktop.xai.gradcam import as_batch_first
from thulium_desktop.xai.vjp import synced_now

ScoreFn = Callable[[torch.Tensor], torch.Tensor]
#: At most this many values in the copies (16 MB in float32; the head's saved
#: activations grow in proportion): beyond, the plain way is faster as well.
COPY_ELEMENTS = 1 << 22
#: Verdicts kept (networks and layers seen lately).
_REMEMBERED = 8
_BATCHED, _PLAIN = "batched", "plain"


@dataclass
class _Verdict:
    """What was learnt about one network (and layer); `owners` keeps them alive, so
    their ids, the verdict's key, stay theirs."""

    owners: tuple
    ok: bool = True
    sealed: bool | None = None  # whether the input reaches the scores only through the layer
    warm: bool = False  # the batched way has run once (its checks paid, untimed)
    seconds: dict[str, float] = field(default_factory=dict)

    def next_way(self) -> str:
        """Batched first (untimed), then each way once timed, then the faster."""
        if not self.warm:
            return _BATCHED
        for way in (_PLAIN, _BATCHED):
            if way not in self.seconds:
                return way
        return min(self.seconds, key=self.seconds.__getitem__)


class BatchedHead:
    """Gradients of K weighted scores at a split layer's output, from one batched pass."""

    def __init__(self) -> None:
        self._verdicts: dict[tuple[int, ...], _Verdict] = {}

    def _verdict(self, *owners: object) -> _Verdict:
        key = tuple(id(o) for o in owners)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdicts[key] = _Verdict(owners)
            while len(self._verdicts) > _REMEMBERED:
                del self._verdicts[next(iter(self._verdicts))]
        return verdict

    def split_layer(self, model: Recognizer) -> nn.Module | None:
        """The recognizer's GradCAM layer as the split, or None where it cannot be found
        (e.g. a model whose probe forward fails: it is not asked again)."""
        verdict = self._verdict(model)
        if not verdict.ok:
            return None
        try:
            return model.cam_layer()
        except Exception:  # noqa: BLE001 - the split is a shortcut; the plain way remains
            verdict.ok = False
            return None

    def gradients(
        self,
        root: nn.Module,
        layer: nn.Module,
        x: torch.Tensor,
        activation: torch.Tensor,
        scores: torch.Tensor,
        cotangents: torch.Tensor,
        score_fn: ScoreFn,
        plain: Callable[[], torch.Tensor],
        onward: Callable[[torch.Tensor], torch.Tensor] | None,
    ) -> torch.Tensor:
        """The K gradients, the batched way or `plain()`, whichever measured faster for
        this network and layer (the first eligible call goes batched, untimed; then each
        way is timed once). The batched way gives `[K, *activation.shape]` gradients at
        the layer, which `onward` carries to the input (None: GradCAM stops there).

        `root` is the recognizer's module, `activation` the layer's output and `scores`
        `[1, T]` the scores of the plain pass on the single image `x`; `score_fn(x)`
        recomputes scores (its forward runs the layer, whose output is replaced by the
        copies); `cotangents` is `[K, 1, T]`.
        """
        to_input = onward is not None
        verdict = self._verdict(root, layer)
        usable = verdict.ok and cotangents.shape[0] >= 2 and not (to_input and verdict.sealed is False)
        if not usable or cotangents.shape[0] * activation.numel() > COPY_ELEMENTS:
            return plain()
        if not _batch_first_single(activation, layer, x):
            return plain()
        way = verdict.next_way()
        start = synced_now(x)
        if way == _PLAIN:
            out = plain()
        else:
            at_layer = self._batched(verdict, root, layer, x, activation, scores, cotangents, score_fn, to_input)
            if at_layer is None:
                return plain()
            out = at_layer if onward is None else onward(at_layer)
        if way == _BATCHED and not verdict.warm:
            verdict.warm = True
        else:
            verdict.seconds.setdefault(way, synced_now(x) - start)
        return out

    def _batched(self, verdict, root, layer, x, activation, scores, cotangents, score_fn, to_input):
        """`[K, *activation.shape]` from one batched pass of the head, or None (the
        verdict then says why not, for next time)."""
        k = cotangents.shape[0]
        copies = activation.detach().repeat(k, *[1] * (activation.dim() - 1)).requires_grad_(True)
        probe = x.detach().requires_grad_(to_input and verdict.sealed is None)
        calls: list[bool] = []

        def replace(_module, _inputs, output) -> torch.Tensor | None:
            plain = isinstance(output, torch.Tensor) and not any(m.training for m in root.modules())
            calls.append(plain)
            return copies if plain else None  # otherwise the forward goes on as it is

        handle = layer.register_forward_hook(replace)
        try:
            with torch.enable_grad():
                batched = score_fn(probe)
        except Exception:  # noqa: BLE001 - e.g. the head took its batch from the input
            verdict.ok = False
            return None
        finally:
            handle.remove()
        if calls != [True] or batched.shape != (k, scores.shape[1]) or not scores_agree(batched, scores):
            verdict.ok = False
            return None
        if probe.requires_grad:
            verdict.sealed = not _reaches(batched, probe)
        if to_input and not verdict.sealed:
            return None
        with torch.enable_grad():
            weighted = (batched * cotangents[:, 0].to(batched.dtype)).sum()
            (grads,) = torch.autograd.grad(weighted, copies)
        return grads[:, None]


def _batch_first_single(activation: torch.Tensor, layer: nn.Module, x: torch.Tensor) -> bool:
    """One image, and the layer's output has its batch first (so copies stack there)."""
    if x.shape[0] != 1 or activation.shape[0] != 1 or activation.dim() not in (3, 4):
        return False
    return as_batch_first(activation, layer, batch=1) is activation


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
