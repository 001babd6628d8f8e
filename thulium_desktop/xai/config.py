"""`SaliencyConfig`: every knob of the engine, validated when it is made."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from thulium_desktop.models.protocol import SCORE_KINDS
from thulium_desktop.xai.quadrature import RULES

#: Methods the engine computes. The three SmoothGrad variants share one pass.
METHODS = (
    "attention",
    "gradient",
    "integrated",
    "smoothgrad",
    "smoothgrad_sq",
    "vargrad",
    "gradcam",
)
#: Named baselines for integrated gradients (an array or tensor is accepted too).
BASELINES = ("zeros", "white", "blur")
#: The baseline the app and the model card's trust table start from. The library keeps
#: Captum's zeros (black: ink everywhere), where ink pixels equal the baseline and get
#: no attribution; on dark ink over light paper the "absent" image a user means is
#: blank paper (measured from zeros: the maps' mass lands on the paper, with stroke
#: focus below a map blind to the image).
PAPER_BASELINE = "white"


@dataclass(frozen=True)
class SaliencyConfig:
    """Parameters of an explanation; names follow Captum where the meaning is the same.

    `num_steps` are integration points (integrated), `num_samples` noisy copies
    (SmoothGrad family) with noise `noise_level * (max - min)` of the input.
    `batch_size` bounds how many copies go through the model at once (None: chosen
    from the input size). `layer` is the GradCAM layer (module or dotted name;
    None: the recognizer's `cam_layer()`). `score` is how a character is scored:
    "logprob", "logit" or "prob". `fold_batchnorm`: integrated gradients and the
    SmoothGrad family run on a copy of the model with each BatchNorm folded into the
    convolution before it (about a fifth less backward work on the bundled readers),
    once the copy has scored an input as the model does (in float32 they agree to
    about 1e-6); False runs them on the model exactly as given.
    """

    method: str = "gradient"
    num_steps: int = 50
    num_samples: int = 25
    noise_level: float = 0.1
    absolute: bool = True
    normalize: bool = True
    baseline: str | np.ndarray | torch.Tensor | None = None
    integration: str = "gausslegendre"
    batch_size: int | None = None
    seed: int = 0
    layer: str | nn.Module | None = None
    score: str = "logprob"
    fold_batchnorm: bool = True

    def __post_init__(self) -> None:
        _one_of("method", self.method, METHODS)
        _positive_int("num_steps", self.num_steps)
        _positive_int("num_samples", self.num_samples)
        if not isinstance(self.noise_level, (int, float)) or isinstance(self.noise_level, bool):
            raise ValueError(f"noise_level must be a number, got {self.noise_level!r}")
        if not math.isfinite(self.noise_level) or self.noise_level < 0:
            raise ValueError(f"noise_level must be finite and >= 0, got {self.noise_level}")
        for name in ("absolute", "normalize", "fold_batchnorm"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if isinstance(self.baseline, str):
            _one_of("baseline", self.baseline, BASELINES)
        elif self.baseline is not None and not isinstance(self.baseline, (np.ndarray, torch.Tensor)):
            raise ValueError(
                f"baseline must be None, one of {BASELINES}, an array or a tensor, "
                f"got {type(self.baseline).__name__}"
            )
        _one_of("integration", self.integration, RULES)
        if self.integration == "riemann_trapezoid" and self.num_steps < 2:
            raise ValueError("the riemann_trapezoid rule needs num_steps >= 2")
        if self.batch_size is not None:
            _positive_int("batch_size", self.batch_size)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        if self.layer is not None and not isinstance(self.layer, (str, nn.Module)):
            raise ValueError(f"layer must be a module or a dotted name, got {self.layer!r}")
        _one_of("score", self.score, SCORE_KINDS)

    def describe(self) -> dict:
        """The parameters that shape this method's maps, as plain JSON-able values."""
        relevant = {
            "integrated": ("num_steps", "baseline", "integration"),
            "smoothgrad": ("num_samples", "noise_level"),
            "smoothgrad_sq": ("num_samples", "noise_level"),
            "vargrad": ("num_samples", "noise_level"),
            "gradcam": ("layer",),
        }.get(self.method, ())
        out = {"method": self.method, "score": self.score, "absolute": self.absolute,
               "normalize": self.normalize}
        for name in relevant:
            out[name] = _plain(name, getattr(self, name))
        if self.method in ("smoothgrad", "smoothgrad_sq", "vargrad"):
            out["seed"] = self.seed
        return out


#: What a None parameter means, in words, for captions and records.
_NONE_MEANS = {"baseline": "zeros", "layer": "default"}


def _plain(name: str, value: object) -> object:
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return "array"
    if isinstance(value, nn.Module):
        return type(value).__name__
    return _NONE_MEANS.get(name) if value is None else value


def _one_of(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
