"""The method registry: every fact about an explanation method, in one record each.

The engine, the app and the CLI all ask this registry what the methods are, which
parameters each reads and with which defaults, whether its maps are signed, whether
it streams partial maps, and what draws its contrast maps; none keeps a table of its
own. A new method is one `Method` record and one compute function, given together
to `register` (see `saliency.Run` for what a compute function receives).

Plain Python without torch: the app's GUI thread and the CLI's `--help` list the
methods, so the engine's compute functions are imported only when one first runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thulium_desktop.xai.saliency import Attribution, Run

#: What a method computes from one explanation run: its raw model-space attributions.
ComputeFn = Callable[["Run"], "Attribution"]

#: Named baselines for integrated gradients (an array or tensor is accepted too).
BASELINES = ("zeros", "white", "blur")
#: The default baseline, for the app, the CLI and the library alike: blank paper. Black
#: (zeros, Captum's default) is ink everywhere, so ink pixels equal the baseline and get
#: no attribution; on dark ink over light paper the "absent" image a user means is blank
#: paper (measured from zeros: the maps' mass lands on the paper, with stroke focus below
#: a map blind to the image). `baseline="zeros"` (or None, as Captum's `baselines=None`)
#: gives Captum's.
PAPER_BASELINE = "white"


@dataclass(frozen=True)
class Param:
    """A `SaliencyConfig` field that shapes a method's maps: its one default, and the words
    the app's panel (`label`, tooltip) and the CLI's option (help) show for it."""

    name: str
    default: Any
    label: str
    help: str


#: Every parameter a method may read, in the order the app's panel shows them.
PARAMETERS: Mapping[str, Param] = MappingProxyType({p.name: p for p in (
    Param("num_steps", 50, "Steps", "points on the path from the baseline to the image"),
    Param("integration", "gausslegendre", "Rule", "quadrature rule of the path integral"),
    Param("tolerance", 0.05, "Gap tolerance",
          "completeness gap allowed, as a share of |f(x) - f(baseline)|: above it the steps "
          "double, up to 8 times as many, and a gap still above it is reported; 0 keeps the "
          "steps as given"),
    Param("baseline", PAPER_BASELINE, "Baseline",
          "the 'absent' image the path starts from: white is blank paper, zeros black ink "
          "everywhere (Captum's default), blur the image without its strokes"),
    Param("num_samples", 25, "Samples", "noisy copies averaged"),
    Param("noise_level", 0.1, "Noise level", "noise sigma as a fraction of the image's value range"),
    Param("seed", 0, "Seed", "seed of the noise: same seed, same map"),
    Param("layer", None, "Layer",
          "layer whose feature maps GradCAM weighs, a dotted module name; unset, the model's own choice"),
    Param("absolute", True, "Absolute value",
          "map the attribution's magnitude; off keeps its sign (red raises the score, blue lowers it)"),
    Param("normalize", True, "Normalize each map", "scale each character's map to its own maximum"),
    Param("score", "logprob", "Score", "how a character is scored: its log-probability, logit or probability"),
)})


def default_params() -> dict[str, Any]:
    """Every parameter's default, by name."""
    return {name: param.default for name, param in PARAMETERS.items()}


class Passes(Enum):
    """How a method runs through the model, which decides what the engine runs it on."""

    #: One forward that reads the image and scores it (a recognizer's `read_scored`),
    #: then one backward: gradient, GradCAM.
    ONE = "one pass"
    #: Many backward passes over copies of the image (path points, noisy samples): on a
    #: copy with BatchNorm folded into its convolutions (`folding.py`) when
    #: `fold_batchnorm`, a fifth less backward work. Not for one pass: for the plain
    #: gradient the copy and its check cost more than they save (measured with a fresh
    #: generator: 55 against 29 ms), and GradCAM may name a convolution a fold would change.
    FOLDED = "folded copy"
    #: The model as given, after reading the image: attention.
    PLAIN = "model"


@dataclass(frozen=True)
class Method:
    """One explanation method, as every face of the product sees it.

    `params` are the `PARAMETERS` that shape its maps (a cached map survives a change of
    any other). `streams_over` names the parameter counting the copies it streams over
    in chunks, each chunk reporting a refining partial map (None: one pass, no partial
    maps). `contrast_fallback` is set for a method without gradients of the score: the
    gradient method that draws its contrast maps (score(read) - score(true)).
    `value_label` says what a value of its maps is, as colorbars (screen and figures)
    label it; `signed_value_label` says it for maps kept signed (`absolute` off).
    """

    name: str
    label: str
    about: str
    params: tuple[str, ...]
    passes: Passes = Passes.PLAIN
    streams_over: str | None = None
    in_compare: bool = False
    contrast_fallback: str | None = None
    value_label: str = "attribution"
    signed_value_label: str = "attribution, signed: > 0 raises the score"

    def __post_init__(self) -> None:
        unknown = [p for p in self.params if p not in PARAMETERS]
        if unknown:
            raise ValueError(f"method {self.name!r} reads unknown parameters {unknown}; choose from {', '.join(PARAMETERS)}")
        if self.streams_over is not None and self.streams_over not in self.params:
            raise ValueError(f"method {self.name!r} streams over {self.streams_over!r}, which it does not read")

    def signed(self, values: Mapping[str, Any]) -> bool:
        """Whether its maps keep their sign under parameter `values`: the one rule of the
        engine (`Explanation.signed`) and the app (`MethodSpec.signed`). A method that
        reads `absolute` has signed attributions, kept signed when `absolute` is off; the
        others (attention, GradCAM's ReLU, squared gradients) never have a sign to keep."""
        return "absolute" in self.params and not values["absolute"]

    @property
    def gradients(self) -> bool:
        """Whether it differentiates the score: one that does not has no contrast map of its
        own (its `contrast_fallback` draws it), and the trust check runs the
        model-randomisation test (Adebayo et al., a test of gradient maps) on these only."""
        return self.contrast_fallback is None

    @property
    def contrast_method(self) -> str:
        """The method that draws its contrast maps: itself, or its fallback."""
        return self.contrast_fallback or self.name


_METHODS: dict[str, Method] = {}
_COMPUTE: dict[str, ComputeFn] = {}

#: The registered methods by name, in the order they are offered (a live, read-only view).
REGISTRY: Mapping[str, Method] = MappingProxyType(_METHODS)
#: Their names (a live view: a method registered later is in it too).
METHODS = REGISTRY.keys()


def register(method: Method, compute: ComputeFn) -> None:
    """Make `method` known to the engine, the app and the CLI; `compute(run)` computes its
    raw attributions (see `saliency.Run`). A name is registered once."""
    if method.name in _METHODS:
        raise ValueError(f"a method named {method.name!r} is already registered")
    _METHODS[method.name] = method
    _COMPUTE[method.name] = compute


def unregister(name: str) -> None:
    """Forget a registered method (a plugin unloading, a test cleaning up)."""
    lookup(name)
    del _METHODS[name], _COMPUTE[name]


def lookup(name: str) -> Method:
    """The record of the method called `name`; ValueError naming the choices if none is."""
    method = _METHODS.get(name)
    if method is None:
        raise ValueError(f"unknown method {name!r}: method must be one of {', '.join(_METHODS)}")
    return method


def compute_function(name: str) -> ComputeFn:
    """What computes the method called `name`."""
    lookup(name)
    return _COMPUTE[name]


def compare_methods() -> tuple[str, ...]:
    """The methods the app's Compare view shows side by side, in registry order."""
    return tuple(name for name, method in _METHODS.items() if method.in_compare)


def methods_reading(param: str) -> tuple[str, ...]:
    """The methods that read parameter `param` (for help texts)."""
    return tuple(name for name, method in _METHODS.items() if param in method.params)


def _engine(function: str) -> ComputeFn:
    """The engine's compute function `function` in `attributions.py`, imported at its first
    call: declaring the built-in methods here must not import torch."""

    def compute(run: Run) -> Attribution:
        from thulium_desktop.xai import attributions

        return getattr(attributions, function)(run)

    return compute


_SCORED = ("absolute", "normalize", "score")


def _signable(quantity: str) -> dict[str, str]:
    """The colorbar labels of a method whose maps keep their sign when `absolute` is off."""
    return {"value_label": f"|{quantity}|", "signed_value_label": f"{quantity}, signed: > 0 raises the score"}


_SMOOTH = ("num_samples", "noise_level", "seed")
#: The engine's own methods, in the order they are offered.
BUILT_IN: tuple[Method, ...] = (
    Method("attention", "Attention", "Where the model looked for the character (no gradients).",
           ("normalize",), in_compare=True, contrast_fallback="gradient", value_label="attention weight"),
    Method("gradient", "Gradient", "Which pixels change the character's score most, locally.",
           _SCORED, Passes.ONE, in_compare=True, **_signable("∂ score/∂ pixel")),
    Method("integrated", "Integrated gradients",
           "Gradients summed along a path from blank paper (or another baseline) to the image.",
           ("num_steps", "tolerance", "baseline", "integration", *_SCORED), Passes.FOLDED, "num_steps",
           in_compare=True, **_signable("integrated gradient × (image − baseline)")),
    Method("smoothgrad", "SmoothGrad", "Gradient averaged over noisy copies of the image.",
           (*_SMOOTH, *_SCORED), Passes.FOLDED, "num_samples", in_compare=True,
           **_signable("mean ∂ score/∂ pixel over noisy copies")),
    Method("smoothgrad_sq", "SmoothGrad²", "Mean squared gradient over noisy copies.",
           (*_SMOOTH, "normalize", "score"), Passes.FOLDED, "num_samples",
           value_label="mean (∂ score/∂ pixel)² over noisy copies"),
    Method("vargrad", "VarGrad", "Variance of the gradient over noisy copies.",
           (*_SMOOTH, "normalize", "score"), Passes.FOLDED, "num_samples",
           value_label="variance of ∂ score/∂ pixel over noisy copies"),
    Method("gradcam", "GradCAM", "Feature-map evidence at a convolutional layer, upsampled.",
           ("layer", "normalize", "score"), Passes.ONE, in_compare=True, value_label="GradCAM, ReLU"),
)
for _built_in in BUILT_IN:
    register(_built_in, _engine(_built_in.name))
