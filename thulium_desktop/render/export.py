"""Saving figures and overlays to files, by extension, atomically."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import matplotlib
import numpy as np
from matplotlib.figure import Figure

from thulium_desktop.io.atomic import atomic_write, write_bytes

FIGURE_FORMATS = ("png", "svg", "pdf")

#: Metadata that would make two runs' files differ for no reason (creation dates).
_STABLE_METADATA = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}

#: Text stays text that journals accept: TrueType (Type 42) fonts embedded in PDF, not
#: Type 3 (bitmap-like procedures many submission systems reject), and real `<text>`
#: in SVG, editable and searchable, rather than glyph outlines.
_FONT_EMBEDDING = {"pdf.fonttype": 42, "svg.fonttype": "none"}


def figure_format(path: str | os.PathLike) -> str:
    """The figure format a path asks for by its extension; ValueError for others."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FIGURE_FORMATS:
        raise ValueError(
            f"cannot save a figure as {Path(path).name!r}: use one of "
            + ", ".join(f".{f}" for f in FIGURE_FORMATS)
        )
    return ext


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 300) -> Path:
    """Write `fig` as PNG (at `dpi`), SVG or PDF, chosen by the extension of `path`.

    Margins are trimmed to the drawn content. No creation date is written, so
    rerunning an export gives byte-identical PNG and PDF files (SVG element ids
    stay random unless the caller sets matplotlib's global `svg.hashsalt`). Fonts are
    embedded as TrueType in PDF and kept as text in SVG, for this save only.
    """
    fmt = figure_format(path)
    with matplotlib.rc_context(_FONT_EMBEDDING), atomic_write(path, "wb") as handle:
        fig.savefig(
            handle,
            format=fmt,
            dpi=dpi,
            bbox_inches="tight",
            pad_inches=0.03,
            metadata=_STABLE_METADATA[fmt],
        )
    return Path(path)


def save_image(image_bgr: np.ndarray, path: str | os.PathLike) -> Path:
    """Write an OpenCV-ordered image (e.g. an overlay) by its extension, atomically."""
    ext = Path(path).suffix.lower()
    try:
        ok, encoded = cv2.imencode(ext, image_bgr)
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f"OpenCV cannot encode {ext!r} images")
    write_bytes(path, encoded.tobytes())
    return Path(path)


def explanation_arrays(explanations: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The `.npz` content of explanations keyed by method: `<method>` maps `[T, h, w]`,
    `<method>_map_size` their grid `(h, w)` and `<method>_scores`, plus the explained
    characters, their indices and confidences and the image's `image_size` `(H, W)`
    (shared by all methods): maps of a large image are kept on a coarser grid over it
    (`Explanation.maps`), and the file says so. A contrastive map adds
    `<method>_contrast_with`, the true character its score was subtracted, so the file
    alone says what the map is of.
    Values are `xai.saliency.Explanation`s (duck-typed: the render layer sits below
    the engine)."""
    first = next(iter(explanations.values()))
    arrays = {
        "tokens": np.asarray(first.tokens, dtype=str),
        "token_indices": np.asarray(first.token_indices, dtype=np.int64),
        "confidences": np.asarray(first.confidences, dtype=np.float32),
        "image_size": np.asarray(first.image_size or first.maps.shape[-2:], dtype=np.int64),
    }
    for method, exp in explanations.items():
        arrays[method] = exp.maps
        arrays[f"{method}_map_size"] = np.asarray(exp.maps.shape[-2:], dtype=np.int64)
        arrays[f"{method}_scores"] = np.asarray(exp.scores)
        if exp.contrast is not None:
            arrays[f"{method}_contrast_with"] = np.asarray(exp.contrast.alternative, dtype=str)
    return arrays
