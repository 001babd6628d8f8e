"""The Recognizer protocol: the one abstraction every model is seen through.

The engine and the app only need five things of a model (see docs/ARCHITECTURE.md):
prepare an image, read it, score each read character differentiably for a batch
of perturbed inputs, say where it looked (attention), and name a GradCAM layer.

Two abilities are optional, each a protocol of its own so that every face asks for it
the same way, `isinstance(model, Contrastable)`, and a model states it by having the
members (no base class to inherit):

- `Contrastable`: an `alphabet` and `label_of(char)`, to score a character the model did
  not read (contrast maps; the app offers them for the characters of the alphabet);
- `ScoredReader`: `read_scored(x, score)`, reading and scoring in one forward pass (the
  one-pass methods, gradient and GradCAM, then need no separate read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: Ways to turn a character's frames (or decoder step) into one differentiable score.
SCORE_KINDS = ("logprob", "logit", "prob")


def pad_width(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Pad `[..., W]` on the right with paper (1.0) to a multiple of `stride`, at least one.

    A model that pools the width by `stride` drops a last partial strip of columns;
    padded, every image column belongs to a position, as in the padded training batches
    of the bundled readers."""
    w = x.shape[-1]
    target = max(stride, -(-w // stride) * stride)
    if target == w:
        return x
    return F.pad(x, (0, target - w), value=1.0)


@dataclass(frozen=True)
class Prepared:
    """A model-space input and the geometry that maps model-space maps back to the image.

    `tensor` is `[1, C, Hm, Wm]`. The image content occupies the model-space box
    `content = (top, left, height, width)`; anything outside it is padding.
    """

    tensor: torch.Tensor
    image_size: tuple[int, int]
    content: tuple[int, int, int, int]

    @classmethod
    def of_tensor(cls, tensor: torch.Tensor, module: nn.Module) -> Prepared:
        """A `[1, C, H, W]` tensor taken as model input as it is (moved to the module's
        device and dtype): it is its own image, so maps come back onto it unchanged."""
        if tensor.dim() != 4 or tensor.shape[0] != 1:
            raise ValueError(f"a tensor input must be [1, C, H, W], got {tuple(tensor.shape)}")
        size = (int(tensor.shape[-2]), int(tensor.shape[-1]))
        return cls(tensor.to(model_device(module), model_dtype(module)), size, (0, 0, *size))

    @property
    def model_size(self) -> tuple[int, int]:
        return int(self.tensor.shape[-2]), int(self.tensor.shape[-1])

    def to_image(self, maps: torch.Tensor | np.ndarray, grid: tuple[int, int] | None = None) -> torch.Tensor:
        """Resample maps `[..., h, w]` that cover the whole model input onto image pixels,
        or onto a coarser `grid` `(rows, columns)` laid over the whole image (where maps
        on every pixel would not fit in memory: issue 26).

        The map is first resized to the model input (bilinear, align_corners=False),
        the padding is cropped, and the content box is resized to the image (the grid).
        When the map already has the model's size and the model saw the image unscaled,
        the values pass through untouched, so pixel-exact comparisons stay exact.
        """
        size = self.image_size if grid is None else tuple(grid)
        t = torch.as_tensor(maps)
        lead = t.shape[:-2]
        flat = t.reshape(-1, 1, *t.shape[-2:])
        if not flat.is_floating_point():
            flat = flat.float()
        if tuple(flat.shape[-2:]) != self.model_size:
            flat = F.interpolate(flat, size=self.model_size, mode="bilinear", align_corners=False)
        top, left, height, width = self.content
        flat = flat[..., top : top + height, left : left + width]
        if (height, width) != size:
            flat = F.interpolate(flat, size=size, mode="bilinear", align_corners=False)
        return flat.reshape(*lead, *size)

    def from_image(self, maps: torch.Tensor | np.ndarray) -> torch.Tensor:
        """The inverse of `to_image`: maps `[..., H, W]` on image pixels (or on any grid
        over the whole image) laid onto the model input `[..., Hm, Wm]` (bilinear; zero
        over the padding)."""
        t = torch.as_tensor(maps, device=self.tensor.device)
        lead = t.shape[:-2]
        flat = t.reshape(-1, 1, *t.shape[-2:]).to(self.tensor.dtype)
        top, left, height, width = self.content
        if (height, width) != tuple(flat.shape[-2:]):
            flat = F.interpolate(flat, size=(height, width), mode="bilinear", align_corners=False)
        out = flat.new_zeros(flat.shape[0], 1, *self.model_size)
        out[..., top : top + height, left : left + width] = flat
        return out.reshape(*lead, *self.model_size)


@dataclass(frozen=True)
class Reading:
    """What the model read: one entry per decoded character.

    `spans[t] = (start, stop)` is the alignment of character t: its CTC frame run
    (stop exclusive) or its decoder step `(t, t + 1)`. `labels` are class indices
    the recognizer uses to hold the reading fixed when it re-scores inputs.

    `ctc_alignment` says the spans are the frame runs of a CTC alignment, where a run
    is only the spike that opens its character (a glyph's left edge on the bundled
    ctc-reader) and the blanks up to the next run belong to it too: the timeline and the
    Trust panel then place a character at the middle of that whole extent
    (`xai.centres.frame_extents`). Any CTC reader sets it on its readings, a user's own
    as well as `CTCRecognizer`; the engine never guesses it from the model's class.
    """

    tokens: tuple[str, ...]
    labels: tuple[int, ...]
    confidences: np.ndarray
    spans: tuple[tuple[int, int], ...]
    n_frames: int
    extra: dict = field(default_factory=dict, compare=False)
    ctc_alignment: bool = False

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    def __len__(self) -> int:
        return len(self.tokens)


@runtime_checkable
class Recognizer(Protocol):
    """What the engine, the app and the CLI need of a handwriting recognizer."""

    name: str
    module: nn.Module

    def prepare(self, image: np.ndarray | torch.Tensor) -> Prepared:
        """Turn an image array (or an already prepared `[1, C, H, W]` tensor) into model input."""

    def read(self, x: torch.Tensor) -> Reading:
        """Decode one prepared input `[1, C, H, W]`."""

    def token_scores(
        self, x: torch.Tensor, reading: Reading, score: str = "logprob"
    ) -> torch.Tensor:
        """One differentiable score per character `[B, T]` with the reading held fixed."""

    def attention(self, x: torch.Tensor, reading: Reading) -> torch.Tensor | None:
        """Where the model looked for each character: `[T, h, w]` over the model input."""

    def cam_layer(self) -> nn.Module | None:
        """The default GradCAM layer: the last spatial feature map after its nonlinearity."""


@runtime_checkable
class Contrastable(Protocol):
    """A recognizer that can score a character it did not read: what contrast maps
    (why this character rather than that one) need. Without it they are refused."""

    #: The characters `label_of` accepts (the app offers contrasts with these only).
    alphabet: str

    def label_of(self, char: str) -> int:
        """The class index of `char`, to put into a `Reading.labels`; ValueError naming
        the character when the model cannot score it."""


@runtime_checkable
class ScoredReader(Protocol):
    """A recognizer that reads an input and scores its reading in the same forward pass:
    a one-pass method (gradient, GradCAM) of an image not read yet then costs one
    forward instead of two. Without it the engine reads first, then scores."""

    def read_scored(self, x: torch.Tensor, score: str = "logprob") -> tuple[Reading, torch.Tensor]:
        """`read(x)` and that reading's `token_scores(x, reading, score)` `[1, T]`, the
        scores keeping their graph to `x`."""


def span_mask(reading: Reading, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """`[T, n_frames]`: row t is 1 on character t's span (its CTC frame run or decoder
    steps), so `scores @ mask.T` sums each character's per-frame scores."""
    mask = torch.zeros(len(reading), reading.n_frames, dtype=dtype, device=device)
    for t, (start, stop) in enumerate(reading.spans):
        mask[t, start:stop] = 1
    return mask


def model_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (CPU for a parameterless one)."""
    for tensor in _tensors(module):
        return tensor.device
    return torch.device("cpu")


def model_dtype(module: nn.Module) -> torch.dtype:
    """The floating dtype of a module's parameters (float32 for a parameterless one)."""
    for tensor in _tensors(module):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _tensors(module: nn.Module):
    yield from module.parameters()
    yield from module.buffers()
