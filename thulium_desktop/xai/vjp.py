"""Many vector-Jacobian products from one forward pass.

Explaining T characters needs T gradients of the same graph. Two ways compute them
without another forward: one vmapped backward (`is_grads_batched=True`), or a loop
of backwards over the retained graph. Which is faster depends on the model, the
batch and the device (measured here: vmap wins for a single input on a small CRNN,
the loop wins for batches of 10-50 copies, where vmap's batching rules for
convolutions copy a lot), so `BatchedVJP` times both on real calls (`fastest.py`) and
keeps the faster one per batch and size class of the input (remembered per network,
where the face keeps verdicts: `fastest.VerdictStore`). vmap's first call pays a
one-off set-up (measured on the attention reader: 366 ms, then 60 ms; a new image shape
afterwards costs no set-up), so that call is not timed: timing it made the loop win
where vmap is faster.
Gradients are taken with `inputs=` only, so no `.grad` is ever written onto the
user's parameters.
"""

from __future__ import annotations

import time
import warnings

import torch

from thulium_desktop.xai.fastest import FastestWay, graph_signature, size_class, verdict_store, where

_BATCHED, _LOOP = "batched", "loop"
#: The vmapped backward holds one copy of the graph's activation gradients per
#: cotangent: it takes at most this many input-gradient elements (cotangents x input
#: elements) at a time, over the retained graph. Measured on a 30000x300 line (288
#: characters on a 48x4827 input, gradient, ctc-reader): all cotangents at once
#: peaked at 11.4 GB (`benchmarks/explain_memory.py`).
BATCHED_GRADIENT_ELEMENTS = 1 << 22


class BatchedVJP:
    """Computes `[K, *input.shape]` gradients of `outputs` for K cotangents.

    The first calls for an input size take the vmapped backward and the loop in turns
    (the very first vmapped call of this object's life, its warm-up, untimed), each
    timed `fastest.SAMPLES` times; later calls use whichever took least time. A verdict
    stored for the same graph, size and device (`fastest.verdict_store`) skips the turns.
    Where vmap has no batching rule for an operator, the loop is used from then on.
    """

    def __init__(self) -> None:
        self.batched_ok = True
        self._ways: dict[tuple, FastestWay] = {}
        self._warm = False  # whether the vmapped backward has run once (its set-up paid)

    def __call__(
        self, outputs: torch.Tensor, inputs: torch.Tensor, cotangents: torch.Tensor
    ) -> torch.Tensor:
        """`cotangents` is `[K, *outputs.shape]`; returns `[K, *inputs.shape]`."""
        if cotangents.shape[0] == 1:
            (grad,) = torch.autograd.grad(outputs, inputs, cotangents[0], allow_unused=True)
            return _zeros_if_none(grad, inputs)[None]
        # The batch of inputs (one image, or the copies of integrated gradients) decides
        # most (vmap wins for one, the loop for many); the rest goes by size class.
        key = (inputs.shape[0], inputs.dim(), size_class(len(cotangents), inputs), inputs.device.type)
        ways = self._ways.get(key)
        if ways is None:
            stored = f"vjp/{graph_signature(outputs)}/{key[:3]}/{where(inputs)}"
            ways = self._ways[key] = verdict_store().fastest(stored, (_BATCHED, _LOOP))
        mode = ways.next() if self.batched_ok else _LOOP
        timing = not ways.settled  # each timing waits for the device: only while choosing
        start = synced_now(inputs) if timing else 0.0
        if mode == _BATCHED:
            grads = self._batched(outputs, inputs, cotangents)
            if grads is None:
                return self._loop(outputs, inputs, cotangents)
        else:
            grads = self._loop(outputs, inputs, cotangents)
        if mode == _BATCHED and not self._warm:
            self._warm = True  # the one-off vmap set-up: not a fair time
        elif timing:
            ways.record(mode, synced_now(inputs) - start)
        return grads

    def _batched(self, outputs, inputs, cotangents) -> torch.Tensor | None:
        """The vmapped backward, over blocks of cotangents of bounded memory
        (`BATCHED_GRADIENT_ELEMENTS`); None where vmap cannot batch an operator."""
        block = max(1, BATCHED_GRADIENT_ELEMENTS // max(1, inputs.numel()))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                grads = [
                    self._batched_block(outputs, inputs, cotangents[i : i + block])
                    for i in range(0, cotangents.shape[0], block)
                ]
        except torch.OutOfMemoryError:
            raise  # a chunk too large for the device: the engine halves it; vmap stays usable
        except (RuntimeError, NotImplementedError):
            self.batched_ok = False
            return None
        return grads[0] if len(grads) == 1 else torch.cat(grads)

    @staticmethod
    def _batched_block(outputs, inputs, cotangents) -> torch.Tensor:
        (grads,) = torch.autograd.grad(
            outputs, inputs, cotangents, retain_graph=True, is_grads_batched=True, allow_unused=True
        )
        return _zeros_if_none(grads, inputs, batch=cotangents.shape[0])

    @staticmethod
    def _loop(outputs: torch.Tensor, inputs: torch.Tensor, cotangents: torch.Tensor) -> torch.Tensor:
        grads = []
        last = cotangents.shape[0] - 1
        for k, cot in enumerate(cotangents):
            (g,) = torch.autograd.grad(
                outputs, inputs, cot, retain_graph=k < last, allow_unused=True
            )
            grads.append(_zeros_if_none(g, inputs))
        return torch.stack(grads)


def synced_now(like: torch.Tensor) -> float:
    """Wall time after the device has finished queued work (CUDA runs asynchronously)."""
    if like.is_cuda:
        torch.cuda.synchronize(like.device)
    return time.perf_counter()


def _zeros_if_none(grad: torch.Tensor | None, like: torch.Tensor, batch: int | None = None) -> torch.Tensor:
    """A character whose score does not depend on the input has a zero gradient, not None."""
    if grad is not None:
        return grad
    shape = like.shape if batch is None else (batch, *like.shape)
    return torch.zeros(shape, dtype=like.dtype, device=like.device)
