"""The library versions every training, evaluation and trust record names.

One place, so the json records and the card lines always carry the same keys:
torch decides what the weights compute, and OpenCV decides what the synthetic
images look like (4.x draws the Hershey script faces cursive, 5.x a plain
italic), so a number measured under another OpenCV is measured on other images.
"""

from __future__ import annotations

import cv2
import torch


def library_versions() -> dict[str, str]:
    """The versions as json fields: ``{"torch": ..., "opencv": ...}``."""
    return {"torch": torch.__version__, "opencv": cv2.__version__}


def versions_phrase() -> str:
    """The versions as card prose: ``torch 2.13.0+cpu, OpenCV 5.0.0``."""
    versions = library_versions()
    return f"torch {versions['torch']}, OpenCV {versions['opencv']}"
