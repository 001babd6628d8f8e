"""The held-out set as photographs and poor scans: how the readers fare off clean paper.

The readers were trained on synthetic scans; a user's image is as often a phone photo
(vignette, uneven light), coloured or grainy paper, a heavily compressed JPEG, a slide
(light ink on dark) or slightly out of focus (issue 23). Each degradation below is one
small function of a clean image (uint8, 255 = paper) and a random generator, and
`degraded_set` gives every held-out image one of them in turn, each image with its own
stream of a seed, so the set is the same on every run and the degraded CER sits beside
the clean CER of exactly the same words (`training/evaluate.py --degraded`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from thulium_desktop.training.synth import Sample

def _unit(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0


def _bytes(unit: np.ndarray) -> np.ndarray:
    return np.clip(unit * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _grid(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Column and row coordinates in [-1, 1] over the image."""
    h, w = shape[:2]
    return np.meshgrid(np.linspace(-1.0, 1.0, w, dtype=np.float32), np.linspace(-1.0, 1.0, h, dtype=np.float32))


def vignette(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A lens's fall-off: light dropping by 45-65% from an off-centre point to the corners."""
    x, y = _grid(image.shape)
    cx, cy = rng.uniform(-0.3, 0.3, 2)
    falloff = ((x - cx) ** 2 + (y - cy) ** 2) / 2.0
    return _bytes(_unit(image) * (1.0 - rng.uniform(0.45, 0.65) * np.clip(falloff, 0.0, 1.0)))


def uneven_light(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light from one side: brightness falling by 40-60% across the image in a random direction."""
    x, y = _grid(image.shape)
    angle = rng.uniform(0.0, 2 * np.pi)
    ramp = (np.cos(angle) * x + np.sin(angle) * y + 1.0) / 2.0  # 0 on the lit side, about 1 on the other
    return _bytes(_unit(image) * (1.0 - rng.uniform(0.4, 0.6) * np.clip(ramp, 0.0, 1.0)))


def coloured_paper(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour (BGR): ink of a dark colour on paper of a light one (yellow, pink, blue, grey...)."""
    ink_share = 1.0 - _unit(image)[..., None]
    paper = rng.uniform(0.55, 1.0, 3).astype(np.float32)
    ink = rng.uniform(0.0, 0.35, 3).astype(np.float32)
    return _bytes(ink_share * ink + (1.0 - ink_share) * paper)


def textured_paper(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grainy, fibrous paper: blotches a few pixels wide and fine grain, darkening paper
    by up to about a third, under the ink."""
    h, w = image.shape[:2]
    blotches = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), rng.uniform(2.0, 4.0))
    blotches /= max(float(np.abs(blotches).max()), 1e-6)
    grain = rng.standard_normal((h, w)).astype(np.float32)
    texture = 1.0 - rng.uniform(0.15, 0.25) * (blotches + 1.0) / 2.0 - 0.05 * np.abs(grain)
    return _bytes(_unit(image) * texture)


def jpeg_artefacts(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The image saved as a JPEG of quality 10-25: blocks and ringing round the strokes."""
    quality = int(rng.integers(10, 26))
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def inverted_ink(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light ink on dark paper (a slide, a blackboard): the image's negative."""
    return 255 - image


def mild_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Slightly out of focus: a Gaussian blur of 0.7-1.1 pixels at the readers' 32-pixel height."""
    return cv2.GaussianBlur(image, (0, 0), rng.uniform(0.7, 1.1))


#: Each degradation by name, in the order `degraded_set` deals them out.
DEGRADATIONS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "vignette": vignette,
    "uneven light": uneven_light,
    "coloured paper": coloured_paper,
    "textured paper": textured_paper,
    "JPEG artefacts": jpeg_artefacts,
    "inverted ink": inverted_ink,
    "mild blur": mild_blur,
}


@dataclass(frozen=True)
class DegradedSample:
    """A held-out sample with a degraded image, and which degradation made it."""

    sample: Sample
    degradation: str


def degraded_set(samples: Sequence[Sample], seed: int) -> list[DegradedSample]:
    """`samples` with the degradations dealt out in turn (the i-th image gets the
    (i mod 7)-th), each drawn from the image's own stream `[seed, i]`: the same set on
    every run, and an image's degradation does not depend on how many came before."""
    kinds = list(DEGRADATIONS)
    out = []
    for i, sample in enumerate(samples):
        kind = kinds[i % len(kinds)]
        image = DEGRADATIONS[kind](sample.image, np.random.default_rng([seed, i]))
        out.append(DegradedSample(replace(sample, image=image), kind))
    return out
