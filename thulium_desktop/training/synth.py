"""Synthetic handwriting: a text drawn in a handwriting font, distorted like a real scan.

Every sample keeps one box per character (in the output image's pixels) so the
evaluation can check whether a reader's attention points at the character it reads
(the pointing game). Everything is drawn from one `numpy` Generator, so a seed fixes
the whole stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from thulium_desktop.training.fonts import Font
from thulium_desktop.training.text import random_text

#: Font size the text is drawn at before distortion and scaling to the output height.
_DRAW_SIZE = 40
#: OpenCV's vector fonts (drawn as a plain italic by opencv 5.x, cursive by 4.x).
HERSHEY_FONTS = (
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
    cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC,
    cv2.FONT_HERSHEY_COMPLEX | cv2.FONT_ITALIC,
)


@dataclass(frozen=True)
class Sample:
    """`image` uint8 `[H, W]` (255 = paper); `boxes[i] = (x0, y0, x1, y1)` of `text[i]`."""

    image: np.ndarray
    text: str
    boxes: np.ndarray
    style: str


@lru_cache(maxsize=1024)
def _pil_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _draw_truetype(text: str, font: Font, stroke: int) -> tuple[np.ndarray, np.ndarray]:
    """Ink map (float32, 1 = ink) and per-character boxes of `text` drawn in `font`."""
    pil = _pil_font(str(font.path), _DRAW_SIZE)
    pad = _DRAW_SIZE // 2
    width = int(pil.getlength(text)) + 2 * pad + _DRAW_SIZE
    ascent, descent = pil.getmetrics()
    height = ascent + descent + 2 * pad
    canvas = Image.new("L", (width, height), 0)
    ImageDraw.Draw(canvas).text((pad, pad), text, font=pil, fill=255, stroke_width=stroke)
    boxes = np.zeros((len(text), 4), np.float32)
    for i, ch in enumerate(text):
        x = pad + pil.getlength(text[:i])
        advance = pil.getlength(ch)
        left, top, right, bottom = pil.getbbox(ch) if ch != " " else (0, 0, advance, ascent)
        if right <= left:  # an empty glyph: take its advance
            left, right, top, bottom = 0, advance, 0, ascent
        boxes[i] = (x + left, pad + top, x + right, pad + bottom)
    return np.asarray(canvas, np.float32) / 255.0, boxes


def _letter_layout(count: int, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Each letter's size factor, baseline rise and extra spacing (the last two in font
    sizes), `[count, 3]`: a hand never sizes, seats and spaces two letters alike; a font does."""
    layout = np.empty((count, 3), np.float64)
    layout[:, 0] = np.exp(rng.normal(0, 0.1 * strength, count))
    layout[:, 1] = rng.normal(0, 0.04 * strength, count)
    layout[:, 2] = rng.normal(0, 0.06 * strength, count) + rng.uniform(-0.05, 0.15) * strength
    return layout


def _draw_letters(text: str, font: Font, stroke: int,
                  layout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Like `_draw_truetype`, but each letter drawn on its own at the size, rise and spacing
    `_letter_layout` gave it (the font's kerning is lost, as a hand never had it)."""
    faces = [_pil_font(str(font.path), max(8, round(_DRAW_SIZE * f))) for f in layout[:, 0]]
    rise = layout[:, 1] * _DRAW_SIZE
    advances = np.array([f.getlength(ch) for f, ch in zip(faces, text)]) + layout[:, 2] * _DRAW_SIZE
    pad = _DRAW_SIZE // 2
    xs = np.concatenate([[0.0], np.cumsum(advances)[:-1]])
    xs += pad - min(0.0, xs.min())
    ascent = max(f.getmetrics()[0] for f in faces)
    descent = max(f.getmetrics()[1] for f in faces)
    baseline = pad + ascent + max(0.0, rise.max())
    width = int(max(xs.max(), xs[-1] + advances[-1])) + 2 * pad + _DRAW_SIZE
    height = int(np.ceil(baseline + descent + max(0.0, -rise.min()))) + pad
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    boxes = np.zeros((len(text), 4), np.float32)
    for i, (ch, face) in enumerate(zip(text, faces)):
        x, y = xs[i], baseline - rise[i]
        draw.text((x, y), ch, font=face, fill=255, stroke_width=stroke, anchor="ls")
        left, top, right, bottom = face.getbbox(ch, anchor="ls") if ch != " " else (0, 0, 0, 0)
        if right <= left:  # a space or an empty glyph: its advance, up to the ascender
            left, top, right, bottom = 0, -face.getmetrics()[0], face.getlength(ch), 0
        boxes[i] = (x + left, y + top, x + right, y + bottom)
    return np.asarray(canvas, np.float32) / 255.0, boxes


def _draw_hershey(text: str, face: int, stroke: int) -> tuple[np.ndarray, np.ndarray]:
    scale = _DRAW_SIZE / 30.0
    thickness = 1 + stroke
    (w, h), base = cv2.getTextSize(text, face, scale, thickness)
    pad = _DRAW_SIZE // 2
    canvas = np.zeros((h + base + 2 * pad, w + 2 * pad + _DRAW_SIZE // 2), np.uint8)
    cv2.putText(canvas, text, (pad, pad + h), face, scale, 255, thickness, cv2.LINE_AA)
    boxes = np.zeros((len(text), 4), np.float32)
    for i in range(len(text)):
        x0 = cv2.getTextSize(text[:i], face, scale, thickness)[0][0] if i else 0
        x1 = cv2.getTextSize(text[: i + 1], face, scale, thickness)[0][0]
        boxes[i] = (pad + x0, pad, pad + x1, pad + h + base)
    return canvas.astype(np.float32) / 255.0, boxes


def _tight_boxes(ink: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Shrink each box to the ink inside it, so boxes hug the strokes, not the font metrics."""
    out = boxes.copy()
    h, w = ink.shape
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        xa, ya = max(0, int(x0)), max(0, int(y0))
        xb, yb = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
        patch = ink[ya:yb, xa:xb] > 0.3
        if patch.any():
            ys, xs = np.nonzero(patch)
            out[i] = (xa + xs.min(), ya + ys.min(), xa + xs.max() + 1, ya + ys.max() + 1)
    return out


def _affine(ink: np.ndarray, boxes: np.ndarray, rng: np.random.Generator, strength: float):
    """Slant (shear), a small rotation and a horizontal stretch; boxes follow the corners."""
    h, w = ink.shape
    shear = rng.uniform(-0.35, 0.35) * strength
    angle = np.deg2rad(rng.uniform(-4, 4) * strength)
    stretch = np.exp(rng.uniform(-0.25, 0.25) * strength)
    c, s = np.cos(angle), np.sin(angle)
    linear = np.array([[c, -s], [s, c]]) @ np.array([[stretch, shear], [0, 1]])
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64) @ linear.T
    lo = corners.min(0)
    size = np.ceil(corners.max(0) - lo).astype(int) + 1
    matrix = np.hstack([linear, -lo[:, None]]).astype(np.float32)
    warped = cv2.warpAffine(ink, matrix, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR)
    pts = np.stack(
        [boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [0, 3]], boxes[:, [2, 3]]], axis=1
    )  # [N, 4, 2]
    moved = pts @ linear.T.astype(np.float32) - lo.astype(np.float32)
    return warped, np.concatenate([moved.min(1), moved.max(1)], axis=1).astype(np.float32)


def _elastic(ink: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Smooth random displacement (a few pixels): wobbly strokes no font draws twice alike."""
    h, w = ink.shape
    alpha = rng.uniform(0, 2.5) * strength
    if alpha < 0.2:
        return ink
    sigma = rng.uniform(4, 8)
    grid = [cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigma)
            for _ in range(2)]
    dx, dy = (g / (np.abs(g).max() + 1e-6) * alpha for g in grid)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(ink, xs + dx, ys + dy, cv2.INTER_LINEAR, borderValue=0)


def _pen_skips(ink: np.ndarray, text: str, rng: np.random.Generator) -> np.ndarray:
    """Cut a few short gaps in the strokes, as a dry or lifted pen leaves them.

    Why: the readers' most frequent misreadings of the unseen styles (mostly Breip, whose
    loops are often left open) are `a` read as `u`, `o` or `n` and `o` as `u`, `e` or `c`
    (`python -m thulium_desktop.training.evaluate --by-style`); fonts close every loop, so
    the readers learn that an open loop is another letter. 1 + Poisson(len(text) / 4)
    gaps, each a disc of radius 2-3 px at the 40 px drawing size centred on an ink pixel:
    it cuts a thin stroke through but only notches a thick one, and it can erase a full
    stop or an i's dot whole (its label kept) now and then.
    """
    ys, xs = np.nonzero(ink > 0.5)
    if len(ys) == 0:
        return ink
    ink = ink.copy()
    for k in rng.choice(len(ys), size=1 + rng.poisson(len(text) / 4)):
        cv2.circle(ink, (int(xs[k]), int(ys[k])), int(rng.integers(2, 4)), 0.0, -1)
    return ink


def _wandering_baseline(ink: np.ndarray, boxes: np.ndarray, rng: np.random.Generator,
                        strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Columns move up and down along a slow wave, as a hand drifts off the line: fonts keep
    every letter on one baseline, writers do not. Boxes grow to cover their columns' moves."""
    amplitude = rng.uniform(0, 0.12) * _DRAW_SIZE * strength
    if amplitude < 1:
        return ink, boxes
    h, w = ink.shape
    period = rng.uniform(1.5, 5) * _DRAW_SIZE
    pad = int(np.ceil(amplitude)) + 1
    cols = np.arange(w, dtype=np.float32)
    phase = rng.uniform(0, 2 * np.pi)
    shift = (amplitude * np.sin(2 * np.pi * cols / period + phase)).astype(np.float32)
    xs, ys = np.meshgrid(cols, np.arange(h + 2 * pad, dtype=np.float32))
    moved = cv2.remap(ink, xs, ys - pad - shift[None, :], cv2.INTER_LINEAR, borderValue=0)
    out = boxes.copy()
    for i, (x0, _, x1, _) in enumerate(boxes):
        span = shift[max(0, int(x0)) : max(int(x0) + 1, min(w, int(np.ceil(x1))))]
        out[i, 1] += pad + span.min()
        out[i, 3] += pad + span.max()
    return moved, out


def _crop_and_scale(ink, boxes, height, rng, strength):
    """Crop to the ink with random margins and scale to `height` (aspect kept)."""
    ys, xs = np.nonzero(ink > 0.05)
    if len(xs) == 0:
        ys, xs = np.array([0, ink.shape[0] - 1]), np.array([0, ink.shape[1] - 1])
    text_h = ys.max() - ys.min() + 1
    m = lambda lo, hi: int(rng.uniform(lo, hi) * text_h)  # noqa: E731
    top = max(0, ys.min() - m(0.02, 0.25 * strength + 0.03))
    bottom = min(ink.shape[0], ys.max() + 1 + m(0.02, 0.25 * strength + 0.03))
    left = max(0, xs.min() - m(0.02, 0.4 * strength + 0.03))
    right = min(ink.shape[1], xs.max() + 1 + m(0.02, 0.4 * strength + 0.03))
    crop = ink[top:bottom, left:right]
    scale = height / crop.shape[0]
    new_w = max(8, round(crop.shape[1] * scale))
    out = cv2.resize(crop, (new_w, height), interpolation=cv2.INTER_AREA)
    boxes = (boxes - np.array([left, top, left, top], np.float32)) * np.float32(scale)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, new_w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    return out, boxes


def ink_to_paper(ink: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Ink map to a uint8 scan: paper and ink tone, uneven lighting, blur and noise."""
    h, w = ink.shape
    paper = rng.uniform(0.7, 1.0) if rng.random() < strength else 1.0
    ink_tone = rng.uniform(0.0, 0.35 * strength)
    img = paper - (paper - ink_tone) * np.clip(ink, 0, 1)
    if rng.random() < 0.5 * strength:  # lighting gradient across the image
        ramp = np.linspace(0, rng.uniform(-0.15, 0.15), w, dtype=np.float32)
        img = img + ramp[None, :]
    if rng.random() < 0.5 * strength:
        img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), rng.uniform(0.3, 0.8))
    if rng.random() < 0.7 * strength:
        img = img + rng.normal(0, rng.uniform(0.01, 0.08), img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def render(
    text: str,
    style: Font | int,
    rng: np.random.Generator,
    height: int = 32,
    strength: float = 1.0,
    vary_letters: bool = False,
    pen_skips: bool = False,
) -> Sample:
    """Draw `text` in a TrueType font or a Hershey face (an int) and distort it.

    `strength` in [0, 1] scales every augmentation (0 gives a clean rendering).
    `vary_letters` (training only) draws half the TrueType texts letter by letter with
    their own size, rise and spacing; `pen_skips` (training only) cuts gaps in the
    strokes of 40% of the texts. When off they draw nothing from `rng`, so the evaluation
    sets stay the images they were.
    """
    stroke = 1 if rng.random() < 0.3 * strength else 0
    if isinstance(style, Font):
        if vary_letters and rng.random() < 0.5:
            layout = _letter_layout(len(text), rng, strength)
            ink, boxes = _draw_letters(text, style, stroke, layout)
        else:
            ink, boxes = _draw_truetype(text, style, stroke)
        name = style.name
    else:
        ink, boxes = _draw_hershey(text, style, stroke)
        name = f"hershey-{style}"
    if rng.random() < 0.3 * strength:  # thinner strokes than the font draws
        ink = cv2.erode(ink, np.ones((2, 2), np.uint8))
    if pen_skips and rng.random() < 0.4:
        ink = _pen_skips(ink, text, rng)
    boxes = _tight_boxes(ink, boxes)
    ink, boxes = _wandering_baseline(ink, boxes, rng, strength)
    ink, boxes = _affine(ink, boxes, rng, strength)
    ink = _elastic(ink, rng, strength)
    ink, boxes = _crop_and_scale(ink, boxes, height, rng, strength)
    return Sample(ink_to_paper(ink, rng, strength), text, boxes, name)


def random_sample(
    fonts: tuple[Font, ...],
    split: str,
    rng: np.random.Generator,
    height: int = 32,
    hershey: bool = True,
    strength: float = 1.0,
    vary_letters: bool = False,
    pen_skips: bool = False,
    package_weights: Mapping[str, float] | None = None,
) -> Sample:
    """A random text in a random style of `fonts` (chosen per Debian package, so a package
    with five weights does not outweigh one with a single font), plus Hershey faces.

    `package_weights` (training only) draws the named packages that many times as often
    as the others; without it the draw is uniform and takes from `rng` exactly what it
    always took, so the evaluation sets stay the images they were.
    """
    packages = sorted({f.package for f in fonts}) + (["hershey"] if hershey else [])
    if package_weights:
        weights = np.array([package_weights.get(p, 1.0) for p in packages])
        package = packages[rng.choice(len(packages), p=weights / weights.sum())]
    else:
        package = packages[rng.integers(len(packages))]
    if package == "hershey":
        return render(
            random_text(split, rng), HERSHEY_FONTS[rng.integers(len(HERSHEY_FONTS))],
            rng, height, strength,
        )
    choices = [f for f in fonts if f.package == package]
    font = choices[rng.integers(len(choices))]
    for _ in range(20):
        text = random_text(split, rng, upper_only=font.upper_only)
        if set(text) <= font.charset:
            break
    else:
        text = "".join(c for c in text if c in font.charset) or "A"
    return render(text, font, rng, height, strength, vary_letters, pen_skips)
