"""Many vector-Jacobian products from one forward pass.

Explaining T characters needs T gradients of the same graph. `torch.autograd.grad`
with `is_grads_batched=True` computes them in one vmapped backward; where an
operator has no batching rule, a loop of retained-graph backwards gives the same
numbers. Gradients are taken with `inputs=` only, so no `.grad` is ever written
onto the user's parameters.
"""

from __future__ import annotations

import warnings

import torch


class BatchedVJP:
    """Computes `[K, *input.shape]` gradients of `outputs` for K cotangents.

    Remembers when batching failed so later calls go straight to the loop.
    """

    def __init__(self) -> None:
        self.batched_ok = True

    def __call__(
        self, outputs: torch.Tensor, inputs: torch.Tensor, cotangents: torch.Tensor
    ) -> torch.Tensor:
        """`cotangents` is `[K, *outputs.shape]`; returns `[K, *inputs.shape]`."""
        if cotangents.shape[0] == 1:
            (grad,) = torch.autograd.grad(outputs, inputs, cotangents[0], allow_unused=True)
            return _zeros_if_none(grad, inputs)[None]
        if self.batched_ok:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    (grads,) = torch.autograd.grad(
                        outputs,
                        inputs,
                        cotangents,
                        retain_graph=True,
                        is_grads_batched=True,
                        allow_unused=True,
                    )
                return _zeros_if_none(grads, inputs, batch=cotangents.shape[0])
            except (RuntimeError, NotImplementedError):
                self.batched_ok = False
        return self._loop(outputs, inputs, cotangents)

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


def _zeros_if_none(grad: torch.Tensor | None, like: torch.Tensor, batch: int | None = None) -> torch.Tensor:
    """A character whose score does not depend on the input has a zero gradient, not None."""
    if grad is not None:
        return grad
    shape = like.shape if batch is None else (batch, *like.shape)
    return torch.zeros(shape, dtype=like.dtype, device=like.device)
