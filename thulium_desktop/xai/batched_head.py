"""Every character's gradient through a reader's head in one batched pass.

Why: after a reader's convolutions comes a head (a BiLSTM, an attention decoder) that
is cheap forwards but, for one image, costly backwards once per character: on the
ctc-reader's GradCAM the LSTM's backward took 63% of the time (44 calls of 0.55 ms
for 11 characters; vmap cannot batch the oneDNN LSTM kernel). One more forward of the
model, with the split layer's output replaced by K copies of it (one per explained
character), runs the head on a batch of K, so its backward is one batched pass
(measured on `recognition.png`, 11 characters: the ctc-reader's GradCAM 41 -> 30 ms).
The layers before the split run again in that forward, at batch 1.

It does not always pay: with a batch of inputs (integrated gradients, SmoothGrad at
16 copies: 597 against 633 ms), on a long line with many characters (2266 px, 93
characters: 2229 against 1785 ms), or where vmap already batches the head (the
attention reader's GRU decoder: 41 against 38 ms). So it serves only the one-image
methods while the copies hold at most `COPY_ELEMENTS` values, and each network and
layer times it against the plain way, per size class of the copies (the winner can flip
with the line's width), a few times each (`fastest.py`), and keeps the faster.

It must also be right. A head that takes its batch from the input, mixes its batch
(a BatchNorm on batch statistics, attention across the batch), or has a path around
the split layer would give other gradients. So the first call computes both ways (the
batched one on two copies) and returns the plain one; the batched way is used from then
on only if it agreed there, and its scores are checked against the plain pass's on
every call. What was learnt is kept per network (weakly: a network no longer used is
freed), split layer and destination (input or layer), and, where the face keeps
verdicts (`fastest.VerdictStore`), on disk per architecture: agreement is a matter of
structure (a path around the split, a batch-mixing layer), not of weights.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from thulium_desktop.xai.agreement import gradients_agree, scores_agree
from thulium_desktop.xai.gradcam import as_batch_first
from thulium_desktop.xai.fastest import FastestWay, module_signature, size_class, verdict_store, where
from thulium_desktop.xai.vjp import synced_now

ScoreFn = Callable[[torch.Tensor], torch.Tensor]
#: At most this many values in the copies (16 MB in float32; the head's saved
#: activations grow in proportion): beyond, the plain way is faster as well.
COPY_ELEMENTS = 1 << 22
_PLAIN, _BATCHED = "plain", "batched"
#: Copies the first call checks the batched way on (`BatchedHead._first`).
CHECK_COPIES = 2
_AGREED, _DIFFERED = "agreed", "differed"


@dataclass
class _Verdict:
    """What was learnt about one network, split layer and destination."""

    #: where the verdicts are stored: architecture, split layer, destination, device
    key: str
    checked: bool = False  # the first call compared both ways
    ok: bool = False  # ... and they agreed (later calls may still turn it off)
    #: the timings of each way per size class of the copies (`fastest.size_class`)
    ways: dict[int, FastestWay] = field(default_factory=dict)

    @classmethod
    def stored(cls, key: str) -> _Verdict:
        """The verdict kept for `key`, or a fresh one still to check both ways."""
        agreed = verdict_store().get(key)
        return cls(key, checked=agreed is not None, ok=agreed == _AGREED)

    def settle(self, ok: bool) -> None:
        self.checked, self.ok = True, ok
        verdict_store().put(self.key, _AGREED if ok else _DIFFERED)

    def fastest(self, size: int) -> FastestWay:
        if size not in self.ways:
            self.ways[size] = verdict_store().fastest(f"{self.key}/{size}", (_PLAIN, _BATCHED))
        return self.ways[size]


class BatchedHead:
    """Gradients of K weighted scores, through one batched pass of the head where that
    is right and faster, else the plain way."""

    def __init__(self) -> None:
        self._verdicts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._no_split: weakref.WeakSet = weakref.WeakSet()

    def split_layer(self, model, root: nn.Module) -> nn.Module | None:
        """The recognizer's GradCAM layer as the split, or None where it cannot be found
        (e.g. a model whose probe forward fails: it is not asked again)."""
        if root in self._no_split:
            return None
        try:
            return model.cam_layer()
        except Exception:  # noqa: BLE001 - the split is a shortcut; the plain way remains
            self._no_split.add(root)
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
        """The K gradients `plain()` gives, computed the plain way or the batched way.

        `root` is the recognizer's module, `activation` the layer's output and `scores`
        `[1, T]` the scores of the plain pass on the single image `x`; `score_fn(x)`
        recomputes scores (its forward runs the layer, whose output is replaced by the
        copies); `cotangents` is `[K, 1, T]`. The batched way gives gradients at the
        layer, which `onward` carries to the input (None: GradCAM stops at the layer).
        """
        eligible = (
            not torch.is_autocast_enabled(x.device.type)  # bf16 rounding is no verdict on the structure
            and cotangents.shape[0] >= 2
            and cotangents.shape[0] * activation.numel() <= COPY_ELEMENTS
            and _batch_first_single(activation, layer, x)
        )
        if not eligible:
            return plain()
        verdict = self._verdict(root, layer, onward is not None, x)
        if not verdict.checked:
            return self._first(verdict, root, layer, x, activation, scores, cotangents, score_fn, plain, onward)
        if not verdict.ok:
            return plain()
        ways = verdict.fastest(size_class(len(cotangents), activation))
        # Each way's backward is itself still choosing between vmap and a loop
        # (`BatchedVJP`) during these turns; as both alternate, each way's least time
        # is taken with its better backward.
        way = ways.next()
        timing = not ways.settled  # each timing waits for the device: only while choosing
        start = synced_now(x) if timing else 0.0
        if way == _PLAIN:
            out = plain()
        else:
            out = self._batched_to(root, layer, x, activation, scores, cotangents, score_fn, onward)
            if out is None:  # its scores differed on this input: not again
                verdict.settle(False)
                return plain()
        if timing:
            ways.record(way, synced_now(x) - start)
        return out

    def _verdict(self, root: nn.Module, layer: nn.Module, to_input: bool, x: torch.Tensor) -> _Verdict:
        table = self._verdicts.setdefault(root, {})
        if (id(layer), to_input) not in table:
            name = next((n for n, m in root.named_modules() if m is layer), "?")
            key = f"head/{module_signature(root)}/{name}/{to_input}/{where(x)}"
            table[(id(layer), to_input)] = _Verdict.stored(key)
        return table[(id(layer), to_input)]

    def _first(self, verdict, root, layer, x, activation, scores, cotangents, score_fn, plain, onward):
        """Both ways, untimed (each pays one-off set-ups here); the plain result is
        returned, and the batched way is trusted only if it gave the same.

        The batched way runs on `CHECK_COPIES` copies only, those of the characters with
        the largest plain gradients (rows of zeros would agree whatever the way did):
        whether it agrees is a matter of structure (a batch-mixing layer mixes two
        copies; a path around the split misses any number), and checking all K copies
        made a new model's first call cost twice the plain way."""
        expected = plain()
        chosen = expected.flatten(1).abs().amax(1).argsort(descending=True)[:CHECK_COPIES]
        got = self._batched_to(root, layer, x, activation, scores, cotangents[chosen], score_fn, onward)
        wanted = expected[chosen]
        verdict.settle(got is not None and got.shape == wanted.shape and gradients_agree(got, wanted))
        return expected

    def _batched_to(self, root, layer, x, activation, scores, cotangents, score_fn, onward):
        """The batched way, carried `onward`; None where it cannot be taken."""
        try:
            at_layer = _batched(root, layer, x, activation, scores, cotangents, score_fn)
            if at_layer is None or onward is None:
                return at_layer
            return onward(at_layer)
        except torch.OutOfMemoryError:
            raise  # too large a chunk, not a head that cannot be batched: the engine halves it
        except Exception:  # noqa: BLE001 - e.g. the head took its batch from the input
            return None


def _batched(root, layer, x, activation, scores, cotangents, score_fn) -> torch.Tensor | None:
    """`[K, *activation.shape]` gradients at the layer from one batched pass of the head,
    or None when that pass is not the plain pass repeated (scores differ, the layer ran
    more than once, a module was in training mode)."""
    k = cotangents.shape[0]
    copies = activation.detach().repeat(k, *[1] * (activation.dim() - 1)).requires_grad_(True)
    calls: list[bool] = []

    def replace(_module, _inputs, output) -> torch.Tensor | None:
        plain = isinstance(output, torch.Tensor) and not any(m.training for m in root.modules())
        calls.append(plain)
        return copies if plain else None  # otherwise the forward goes on as it is

    handle = layer.register_forward_hook(replace)
    try:
        with torch.enable_grad():
            batched = score_fn(x.detach())
    finally:
        handle.remove()
    if calls != [True] or batched.shape != (k, scores.shape[1]) or not scores_agree(batched, scores):
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
