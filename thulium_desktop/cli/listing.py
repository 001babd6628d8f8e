"""`thulium-desktop models` and `thulium-desktop read`: what is installed, and what it reads."""

from __future__ import annotations

import argparse
import sys

from thulium_desktop import models
from thulium_desktop.cli import recognizers
from thulium_desktop.cli.errors import OK, SOME_FAILED, UsageError
from thulium_desktop.io.corpus import collect_images
from thulium_desktop.io.images import ImageLoadError, load_image


def run_models(args: argparse.Namespace) -> int:
    """Each bundled model: name, architecture and description, then its measured metrics,
    one line per evaluation set (the cards nest them: `held_out: cer=0.0412 ...`)."""
    infos = models.list_models()
    if not infos:
        print("no bundled models are installed")
        return OK
    for info in infos:
        print(f"{info.name}  ({info.architecture})" + (f"  {info.description}" if info.description else ""))
        for line in _metric_lines(info.metrics):
            print(f"    {line}")
    return OK


def _metric_lines(metrics: dict) -> list[str]:
    """Nested groups on a line each; loose scalars together on the first line."""
    scalars = [f"{k}={_number(v)}" for k, v in metrics.items() if not isinstance(v, dict)]
    groups = [
        f"{k}: " + "  ".join(f"{kk}={_number(vv)}" for kk, vv in v.items())
        for k, v in metrics.items()
        if isinstance(v, dict)
    ]
    return (["  ".join(scalars)] if scalars else []) + groups


def run_read(args: argparse.Namespace) -> int:
    """Tab-separated `path, reading, confidences` per image; failures on stderr, exit code 1."""
    corpus = collect_images(args.paths)
    if not corpus.items and not corpus.missing:
        raise UsageError(f"no images found in {', '.join(args.paths)}")
    recognizer = recognizers.prepared_recognizer(args.model, args.device, args.trust).recognizer
    failures = [f"{path}: {reason}" for path, reason in corpus.missing]
    for item in corpus.items:
        try:
            image = load_image(item.path)
            reading = recognizer.read(recognizer.prepare(image).tensor)
        except ImageLoadError as exc:
            failures.append(f"{item.path}: {exc.reason}")
            continue
        except Exception as exc:  # a model that cannot read one image must not end the run
            failures.append(f"{item.path}: {type(exc).__name__}: {exc}")
            continue
        confidences = " ".join(f"{c:.3f}" for c in reading.confidences)
        print(f"{item.path}\t{reading.text}\t{confidences}")
    for line in failures:
        print(f"failed: {line}", file=sys.stderr)
    return SOME_FAILED if failures else OK


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
