"""A labelled trust test set: bundled samples made into the images real users bring.

Each case is built deterministically (seeded numpy, OpenCV) from a committed sample in
resources/samples, so the strokes' true place is known: the sample's own ink, found
on the clean sample, moved to where the case put it. The cases are those that misled
the old ink mask (issue 23): a photograph with a dark vignette and uneven light, white
ink on black, textured coloured paper; and maps whose honest label is known (on the
strokes, on the paper, on a dark margin).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from thulium_desktop.io import load_image
from thulium_desktop.xai.diagnostics import find_ink

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
#: Word samples of different inks and papers (gray, and colour on tinted paper).
WORDS = ("recognition.png", "hello.png", "thulium.png", "short-line.png")
#: Margin around the word in the photo-like cases, as a multiple of its height.
MARGIN = 0.75


@dataclass(frozen=True)
class Case:
    """An image, where its strokes really are, and a name for test ids."""

    name: str
    image: np.ndarray  # uint8, gray or BGR
    strokes: np.ndarray  # bool, the true ink pixels

    def map_on(self, where: np.ndarray) -> np.ndarray:
        """A map with its mass spread evenly over `where` (a bool mask)."""
        return where.astype(np.float32)


def clean(name: str) -> Case:
    """The bundled sample as it is, its strokes those found on it."""
    image = load_image(SAMPLES / name)
    return Case(f"clean {name}", image, find_ink(image).mask)


def _on_page(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The sample in gray on a larger sheet of its own paper, and its strokes there:
    a photo frames a word with paper around it."""
    sample = clean(name)
    gray = cv2.cvtColor(sample.image, cv2.COLOR_BGR2GRAY) if sample.image.ndim == 3 else sample.image
    h, w = gray.shape
    pad = int(MARGIN * h)
    paper = float(np.median(gray[~sample.strokes]))
    page = np.full((h + 2 * pad, w + 2 * pad), paper, np.float32)
    page[pad : pad + h, pad : pad + w] = gray
    strokes = np.zeros(page.shape, bool)
    strokes[pad : pad + h, pad : pad + w] = sample.strokes
    return page, strokes


def vignette_photo(name: str, seed: int = 0, strength: float = 0.75) -> Case:
    """A photograph of the word: light falling off from one side, corners darkened by
    `strength` (a lens vignette), sensor noise."""
    page, strokes = _on_page(name)
    h, w = page.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)) / np.sqrt(2)  # 0 centre, 1 corner
    vignette = 1.0 - strength * np.clip(r - 0.3, 0, None) / 0.7
    light = 0.75 + 0.25 * xx / w  # uneven: dimmer on the left
    noise = np.random.default_rng(seed).normal(0, 4, page.shape)
    photo = np.clip(page * vignette * light + noise, 0, 255).astype(np.uint8)
    return Case(f"vignette photo {name}", photo, strokes)


def inverted(name: str) -> Case:
    """White ink on black: a slide, a chalkboard, an inverted scan."""
    page, strokes = _on_page(name)
    return Case(f"inverted {name}", (255 - page).astype(np.uint8), strokes)


def textured_paper(name: str, seed: int = 0) -> Case:
    """Coloured paper with a visible grain and fibres, in BGR."""
    page, strokes = _on_page(name)
    rng = np.random.default_rng(seed)
    grain = cv2.GaussianBlur(rng.normal(0, 1, page.shape).astype(np.float32), (0, 0), 1.5)
    fibres = cv2.GaussianBlur(rng.normal(0, 1, page.shape).astype(np.float32), (0, 0), 6)
    shade = page / 255.0 * (0.92 + 0.10 * grain / grain.std() * 0.5 + 0.06 * fibres / fibres.std())
    tint = np.array([0.62, 0.83, 0.95], np.float32)  # BGR: a warm buff paper
    colour = np.clip(shade[..., None] * tint * 255, 0, 255).astype(np.uint8)
    return Case(f"textured paper {name}", colour, strokes)


def degraded_cases() -> list[Case]:
    """Every degraded image of the set, each word under each degradation."""
    return [make(name) for name in WORDS for make in (vignette_photo, inverted, textured_paper)]


def dark_margin(case: Case) -> np.ndarray:
    """The case's darkest region away from the strokes (the vignette's corner, the
    black of an inverted image): where a misleading map of issue 23 lay."""
    gray = cv2.cvtColor(case.image, cv2.COLOR_BGR2GRAY) if case.image.ndim == 3 else case.image
    far = cv2.dilate(case.strokes.astype(np.uint8), np.ones((15, 15), np.uint8)) == 0
    threshold = np.percentile(gray[far], 10)
    return far & (gray <= threshold)


def paper_patch(case: Case) -> np.ndarray:
    """A block of paper (or background) left of the word, clear of every stroke."""
    cols = np.flatnonzero(case.strokes.any(axis=0))
    rows = np.flatnonzero(case.strokes.any(axis=1))
    patch = np.zeros(case.strokes.shape, bool)
    right = max(2, cols[0] - 4)
    patch[rows[0] : rows[-1] + 1, max(0, right - 20) : right] = True
    return patch
