"""The copy of a recognizer the many-pass gradient methods run on: BatchNorm folded into
its convolutions.

Why: on CNN readers one character's input gradient costs about one forward pass, and
on the bundled readers BatchNorm's backward is a sixth of it (profiled on the
ctc-reader at 16 path points: `native_batch_norm_backward` 9% of the loop's backward
time, plus the tensors it touches). In eval mode, a BatchNorm right after a
convolution is a per-channel affine map, so it folds exactly into that convolution's
weight and bias: the folded network is the same function with one layer fewer to run
backwards, T times per chunk of integration points or noisy copies.

The user's module is never touched: the fold is done on a deep copy of the whole
recognizer (so its cached layers point into the copy), rebuilt whenever the module
or the recognizer changes (see `FoldedRecognizer`), so a model trained further
between two explanations is explained as it is now. Only convolutions followed by
their BatchNorm inside a plain `nn.Sequential` are folded, and a rebuilt copy is
used only after it has scored an input as the model does (`agreement.py`): in
float32 the two agree to about 1e-6 relative; in bfloat16 they do not, and the model
is used as it is.
"""

from __future__ import annotations

import copy
from itertools import chain

import torch
from torch import nn

from thulium_desktop.models.protocol import Recognizer
from thulium_desktop.xai.agreement import scores_agree

_NORM_OF = {nn.Conv1d: nn.BatchNorm1d, nn.Conv2d: nn.BatchNorm2d, nn.Conv3d: nn.BatchNorm3d}
_HOOK_TABLES = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")
#: Models whose tensors take more than this are not copied (the copy doubles memory).
MAX_FOLD_BYTES = 512 << 20


def foldable_pairs(module: nn.Module) -> list[tuple[nn.Sequential, int]]:
    """`(sequential, i)` for each `sequential[i]` convolution followed by its BatchNorm
    with running statistics (the eval-mode affine map that folds), neither of them
    hooked (a hook on either would see another tensor after the fold)."""
    pairs = []
    for seq in module.modules():
        if type(seq) is not nn.Sequential:  # a subclass may route outputs elsewhere
            continue
        children = list(seq)
        for i, (conv, norm) in enumerate(zip(children, children[1:])):
            if (
                type(conv) in _NORM_OF
                and type(norm) is _NORM_OF[type(conv)]
                and norm.running_mean is not None
                and norm.running_var is not None
                and not _hooked(conv)
                and not _hooked(norm)
            ):
                pairs.append((seq, i))
    return pairs


def _hooks(module: nn.Module) -> list:
    """Every hook registered on this one module (not its children)."""
    return [hook for table in _HOOK_TABLES for hook in getattr(module, table).values()]


def _hooked(module: nn.Module) -> bool:
    return bool(_hooks(module))


def fold_batchnorm(module: nn.Module) -> int:
    """Fold, in place, every foldable BatchNorm into its convolution (the BatchNorm
    becomes an `nn.Identity`, so module names are kept). Returns how many were folded.

    The folded weights are computed in float64 and cast back, so the fold adds no
    rounding of its own beyond the final cast."""
    pairs = foldable_pairs(module)
    for seq, i in pairs:
        seq[i] = _folded_conv(seq[i], seq[i + 1])
        seq[i + 1] = nn.Identity()
    return len(pairs)


def _folded_conv(conv: nn.Module, norm: nn.Module) -> nn.Module:
    def exact(t: torch.Tensor) -> torch.Tensor:  # float64 on the CPU (MPS has no float64)
        return t.detach().to("cpu", torch.float64)

    with torch.no_grad():
        mean, var = exact(norm.running_mean), exact(norm.running_var)
        gain = torch.ones_like(mean) if norm.weight is None else exact(norm.weight)
        shift = torch.zeros_like(mean) if norm.bias is None else exact(norm.bias)
        scale = gain / torch.sqrt(var + norm.eps)
        bias = torch.zeros_like(mean) if conv.bias is None else exact(conv.bias)
        weight = exact(conv.weight) * scale.reshape(-1, *[1] * (conv.weight.dim() - 1))
        like = dict(device=conv.weight.device, dtype=conv.weight.dtype)
        folded = copy.deepcopy(conv)
        folded.weight = nn.Parameter(weight.to(**like), conv.weight.requires_grad)
        folded.bias = nn.Parameter(((bias - mean) * scale + shift).to(**like), conv.weight.requires_grad)
    return folded


class FoldedRecognizer:
    """Hands out the recognizer to compute input gradients with: a folded copy when its
    module has BatchNorms to fold, else the recognizer itself.

    The copy is rebuilt when the module's structure (submodules, their settings, hooks),
    the recognizer's attributes or any tensor changes, and is used only once it has
    scored an input as the recognizer does: a network that taps a convolution's output
    outside its `nn.Sequential`, or runs its BatchNorm on batch statistics, fails that
    check and is explained as it is. A module with hooks is never copied (a hook would
    run on the copy, reporting to copies of its owner).
    """

    def __init__(self, recognizer: Recognizer) -> None:
        self.recognizer = recognizer
        self._structure: tuple | None = None
        self._tensors: bytes | None = None
        self._foldable = False
        self._copy: Recognizer = recognizer
        self._verified = False
        self.folded = 0  # BatchNorms folded into the current copy

    def get(self, x: torch.Tensor | None = None) -> Recognizer:
        """The folded copy, checked on the model input `x` after each rebuild (without
        `x`, only a copy checked before is handed out). Anything unexpected on the way
        (a recognizer that cannot be copied or compared) gives the recognizer itself."""
        try:
            return self._current(x)
        except Exception:  # noqa: BLE001 - the copy is a shortcut; the model itself remains
            self._foldable = False  # until the structure changes
            self._drop()
            return self.recognizer

    def _current(self, x: torch.Tensor | None) -> Recognizer:
        module = getattr(self.recognizer, "module", None)
        if not isinstance(module, nn.Module):
            return self.recognizer
        structure = _structure_key(self.recognizer, module)
        if structure != self._structure:
            self._structure, self._tensors = structure, None
            self._foldable = _worth_folding(module)
        if not self._foldable:
            self._drop()
            return self.recognizer
        tensors = _tensor_key(module)
        if tensors != self._tensors:
            self._tensors = tensors
            self._copy, self.folded = _fold_copy(self.recognizer)
            self._verified = False
        if not self._verified:
            agree = None if x is None else _scores_agree_on(self.recognizer, self._copy, x)
            if agree is None:  # nothing to compare on (no input, or nothing read)
                return self.recognizer
            self._verified = self._foldable = agree
            if not agree:
                self._drop()
                return self.recognizer
        return self._copy

    def _drop(self) -> None:
        """Let go of a copy that will not be used (it may hold hundreds of MB)."""
        self._copy, self.folded, self._verified = self.recognizer, 0, False


def _scores_agree_on(original: Recognizer, twin: Recognizer, x: torch.Tensor) -> bool | None:
    with torch.no_grad():
        reading = original.read(x)
        if len(reading) == 0:
            return None
        return scores_agree(twin.token_scores(x, reading), original.token_scores(x, reading))


def _worth_folding(module: nn.Module) -> bool:
    """BatchNorms to fold, no hooks anywhere, and small enough to hold twice."""
    if not foldable_pairs(module) or any(_hooked(m) for m in module.modules()):
        return False
    size = sum(t.numel() * t.element_size() for t in chain(module.parameters(), module.buffers()))
    return size <= MAX_FOLD_BYTES


#: What every nn.Module keeps in its `__dict__` (tensors, children, hooks, flags).
_MODULE_INTERNALS = frozenset(vars(nn.Module())) | {"training"}


def _structure_key(recognizer: Recognizer, module: nn.Module) -> tuple:
    """Changes when a submodule is swapped, a setting is changed (a BatchNorm's `eps`,
    a custom module's `temperature`: every module attribute that is not a tensor, a
    child or a hook), a hook is added or removed, or the recognizer is given another
    attribute value (e.g. an alphabet)."""
    modules = list(module.modules())
    hooks = tuple(id(hook) for m in modules for hook in _hooks(m))
    settings = tuple((id(m), _settings(m)) for m in modules)
    return hooks, settings, _settings(recognizer, skip=frozenset())


def _settings(owner: object, skip: frozenset = _MODULE_INTERNALS) -> tuple:
    """`owner`'s own attributes: plain values by value, other objects by identity."""
    plain = (bool, int, float, complex, str, bytes, type(None))
    return tuple(
        (name, value if isinstance(value, plain) else id(value))
        for name, value in getattr(owner, "__dict__", {}).items()
        if name not in skip
    )


def _tensor_key(module: nn.Module) -> bytes:
    """Changes when any parameter or buffer is replaced, moved or modified. In-place
    operations bump a tensor's version, but writes through `.data` do not, so each
    tensor's sum is part of the key too (0.4 ms for the bundled ctc-reader's 1.5 M
    values, one device sync); only a write below a float32 sum's rounding would go
    unseen. Compared as bytes, so a NaN equals itself."""
    tensors = list(chain(module.parameters(), module.buffers()))
    where = repr([(id(t), t._version, t.data_ptr(), str(t.device), str(t.dtype)) for t in tensors])
    with torch.no_grad():
        sums = [t.detach().float().sum() for t in tensors]
        total = torch.stack([v.to(sums[0].device) for v in sums]).cpu() if sums else torch.zeros(0)
    return where.encode() + total.numpy().tobytes()


def _fold_copy(recognizer: Recognizer) -> tuple[Recognizer, int]:
    """A deep copy of the recognizer with its module folded (raises if it cannot be copied)."""
    twin = copy.deepcopy(recognizer)
    return twin, fold_batchnorm(twin.module)
