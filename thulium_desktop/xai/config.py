"""`SaliencyConfig`: every knob of the engine, validated when it is made."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from thulium_desktop.models.protocol import SCORE_KINDS
from thulium_desktop.xai.methods import BASELINES, PARAMETERS, REGISTRY, lookup
from thulium_desktop.xai.precision import PRECISIONS
from thulium_desktop.xai.quadrature import RULES


#: A streaming method run with `SaliencyConfig.streamed` goes in about this many chunks:
#: enough partial maps to watch the map refine, and a cancel is noticed within one chunk.
STREAM_CHUNKS = 8


def _finite_non_negative(name: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value}")


def _default(name: str):
    """A method parameter's one default (the registry's, which the app and CLI show)."""
    return PARAMETERS[name].default


@dataclass(frozen=True)
class SaliencyConfig:
    """Parameters of an explanation, with the registry's defaults (`methods.PARAMETERS`).

    Names follow Captum where Captum has the same thing under one name: `layer`
    (LayerGradCam's), the `integration` rules ("gausslegendre", "riemann_*": Captum's
    `method` of IntegratedGradients, a word that names the explanation method here)
    and the SmoothGrad family's method names (NoiseTunnel's `nt_type`). They differ
    where the meaning does: `num_steps` is Captum's `n_steps` (the name of this
    library's seed API, `compute_integrated_gradients(num_steps=...)`); `baseline`
    also takes a name ("white", "zeros", "blur") where Captum's `baselines` takes
    values only; `num_samples` is NoiseTunnel's `nt_samples` and `noise_level` a
    fraction of the input's (max - min), where Captum's `stdevs` is an absolute sigma;
    `batch_size` bounds both Captum's `internal_batch_size` and `nt_samples_batch_size`;
    `absolute` is Saliency's `abs`; `tolerance` has none (Captum's steps are fixed: 0 here). None as `baseline` means zeros, as Captum's None.

    `num_steps` are integration points (integrated), doubled up to
    `ADAPTIVE_STEPS_FACTOR` times while a completeness gap exceeds `tolerance` of
    |f(x) - f(baseline)| (0: fixed); `num_samples` noisy copies
    (SmoothGrad family) with noise `noise_level * (max - min)` of the input.
    `batch_size` bounds how many copies go through the model at once (None: chosen
    from the input size). `layer` is the GradCAM layer (module or dotted name;
    None: the recognizer's `cam_layer()`). `score` is how a character is scored:
    "logprob", "logit" or "prob". `fold_batchnorm`: integrated gradients and the
    SmoothGrad family run on a copy of the model with each BatchNorm folded into the
    convolution before it (about a fifth less backward work on the bundled readers),
    once the copy has scored an input as the model does (in float32 they agree to
    about 1e-6); False runs them on the model exactly as given. `precision`: "float32",
    or "bf16" to run the method's passes under bfloat16 autocast where, on the image
    being explained, that moves its gradient maps by no more than
    `precision.BF16_TOLERANCE` (else float32, with a note saying so).
    """

    method: str = "gradient"
    num_steps: int = _default("num_steps")
    tolerance: float = _default("tolerance")
    num_samples: int = _default("num_samples")
    noise_level: float = _default("noise_level")
    absolute: bool = _default("absolute")
    normalize: bool = _default("normalize")
    baseline: str | np.ndarray | torch.Tensor | None = _default("baseline")
    integration: str = _default("integration")
    batch_size: int | None = None
    seed: int = _default("seed")
    layer: str | nn.Module | None = _default("layer")
    score: str = _default("score")
    fold_batchnorm: bool = True
    precision: str = "float32"

    def __post_init__(self) -> None:
        lookup(self.method)
        _positive_int("num_steps", self.num_steps)
        _positive_int("num_samples", self.num_samples)
        _finite_non_negative("noise_level", self.noise_level)
        _finite_non_negative("tolerance", self.tolerance)
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
        _one_of("precision", self.precision, PRECISIONS)

    def streamed(self, chunks: int = STREAM_CHUNKS) -> SaliencyConfig:
        """This config with its copies split into about `chunks` chunks when its method
        streams (`Method.streams_over`) and no `batch_size` is fixed: each chunk then
        reports a partial map, which a viewer shows refining. Other configs are returned
        as they are (a fixed batch size is the caller's choice)."""
        _positive_int("chunks", chunks)
        streams_over = REGISTRY[self.method].streams_over
        if self.batch_size is not None or streams_over is None:
            return self
        count = getattr(self, streams_over)
        return replace(self, batch_size=max(1, math.ceil(count / chunks)))

    def describe(self) -> dict:
        """The parameters that shape this method's maps (the registry's `params`, and always
        the score, absolute and normalize), as plain JSON-able values."""
        shown = dict.fromkeys(("score", "absolute", "normalize", *REGISTRY[self.method].params))
        return {"method": self.method, **{name: _plain(name, getattr(self, name)) for name in shown}}


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
