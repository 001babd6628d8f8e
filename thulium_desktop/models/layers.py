"""Finding layers inside a module: by dotted name, or the last spatial feature map."""

from __future__ import annotations

import torch
from torch import nn

from thulium_desktop.models.module_state import evaluating


def resolve_layer(module: nn.Module, layer: nn.Module | str) -> nn.Module:
    """The submodule named by a dotted path (e.g. ``"encoder.conv.5"``), or `layer` itself.

    Raises ValueError naming the missing part and listing valid names nearby.
    """
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in module.modules()):
            raise ValueError("the GradCAM layer is not a submodule of the model")
        return layer
    try:
        return module.get_submodule(layer)
    except AttributeError as exc:
        names = [n for n, _ in module.named_modules() if n][:12]
        raise ValueError(
            f"the model has no layer named {layer!r}; some valid names: {', '.join(names)}"
        ) from exc


def layer_names(module: nn.Module) -> list[str]:
    """Dotted names of every submodule, for a layer chooser."""
    return [name for name, _ in module.named_modules() if name]


def last_spatial_layer(module: nn.Module, example: torch.Tensor) -> nn.Module | None:
    """The leaf module that runs last and still outputs a 4-D map `[B, C, h, w]`.

    Found by one forward of `example` with temporary hooks (always removed): in a
    CNN encoder that is the activation (or pooling) that follows the last conv,
    which is where GradCAM should look.
    """
    last: list[nn.Module] = []

    def record(mod: nn.Module, _inputs, output) -> None:
        if isinstance(output, torch.Tensor) and output.dim() == 4:
            last.append(mod)

    leaves = [m for m in module.modules() if not list(m.children())]
    handles = [m.register_forward_hook(record) for m in leaves]
    try:
        with evaluating(module), torch.no_grad():
            module(example)
    finally:
        for h in handles:
            h.remove()
    return last[-1] if last else None
