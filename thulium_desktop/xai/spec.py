"""`MethodSpec`: one explanation request, hashable, holding only what shapes its maps.

A spec keeps only the parameters its method reads (`methods.Method.params`), so it
can key a cache: changing the SmoothGrad noise level must not invalidate a cached
gradient map. Plain Python, no torch: the app builds specs on its GUI thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from thulium_desktop.xai.methods import REGISTRY, default_params, lookup


@dataclass(frozen=True)
class MethodSpec:
    """One explanation request: a method, the parameters it uses, and which maps.

    `whole_reading=True` asks for a single map of the whole reading (the timeline's
    "all" cell) instead of one map per character. `contrast=(t, c)` asks for the one
    signed map of score(read character t) − score(c) at that position: why the model
    read its character rather than the true one.
    """

    method: str
    params: tuple[tuple[str, Any], ...]
    whole_reading: bool = False
    contrast: tuple[int, str] | None = None

    @classmethod
    def build(
        cls,
        method: str,
        params: Mapping[str, Any],
        whole_reading: bool = False,
        contrast: tuple[int, str] | None = None,
    ) -> MethodSpec:
        """The request for `method` under `params` (the registry's defaults fill the rest).

        A contrast is a difference of gradients, so it takes the method's contrast
        method where the method has no gradients (attention), and keeps its sign:
        which pixels favour which character."""
        record = lookup(method)
        merged = {**default_params(), **params}
        if contrast is not None:
            record = lookup(record.contrast_method)
            merged["absolute"] = False
        kept = tuple((name, merged[name]) for name in record.params)
        return cls(record.name, kept, whole_reading and contrast is None, contrast)

    @property
    def signed(self) -> bool:
        """Whether the maps keep their sign, known before any arrive (the engine's rule)."""
        return REGISTRY[self.method].signed(dict(self.params))

    def config_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `SaliencyConfig`, method included."""
        return {"method": self.method, **dict(self.params)}
