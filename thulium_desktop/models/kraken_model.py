"""kraken's own recognition models (CoreML `.mlmodel`, kraken's safetensors) as Recognizers
that read a line as `kraken.rpred` reads it.

kraken (`pip install 'thulium-desktop[kraken]'`) is optional, as for page segmentation
(`io/kraken_lines.py`): a kraken file opened without it is one line saying what to
install. The file is opened by kraken's own loader (`kraken.models.load_models`), so
whatever kraken 7 reads is read the same way, and its `TorchVGSLModel` is an `nn.Module`
through which gradients flow. What kraken does around the network is done as kraken
does it, because a reading that differs from the user's `kraken` command would explain
a reading nobody gets:

- the input: kraken's own `ImageInputTransforms` (its height, its centre-line
  normalisation that dewarps a grayscale line into a band around its middle, its 16
  columns of paper on each side), built as `rpred` builds them for a line given by its
  box. kraken's last step, turning the line into light ink on black, is undone in the
  prepared tensor and redone as the module's first step: the engine takes model inputs
  as paper near 1 (its "white" baseline, its deletion to paper), and the gradients
  pass through the inversion as a sign;
- the decoding: kraken's greedy decoder, then kraken's codec, where one label may stand
  for several characters and several labels for one. A token of the reading is one
  codec entry: the characters one label stands for (scored together: the model cannot
  score them apart), or the one character several labels stand for (scored as the sum
  over all its labels' frame runs);
- the direction: the network reads left to right in display order; like `rpred`, the
  reading is put into logical order by kraken's bidi algorithm, so a right-to-left
  line's first token is its rightmost. `Reading.extra["right_to_left"]` says the line's
  base direction is right to left, and each token keeps its own frames in `spans`, so
  the timeline places tokens by their spans, never by their index.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from thulium_desktop.io.kraken_lines import KRAKEN_INSTALL
from thulium_desktop.models.errors import ModelLoadError, first_line
from thulium_desktop.models.files import SAFETENSORS, read_head, regular_file, sniff
from thulium_desktop.models.layers import CamLayer, default_cam_layer
from thulium_desktop.models.module_state import evaluating
from thulium_desktop.models.notes import Note
from thulium_desktop.models.protocol import SCORE_KINDS, Prepared, Reading, model_device, model_dtype

#: Suffixes that are kraken files whatever their content (kraken's safetensors files share
#: `.safetensors` with plain weights: `is_kraken_safetensors` tells them apart).
KRAKEN_SUFFIXES = (".mlmodel",)
#: Columns of paper `rpred` adds on each side of a line before reading it (its default).
KRAKEN_PADDING = 16
#: What every explanation of a kraken model says about where its maps sit.
DEWARP_NOTE = Note(
    "kraken straightens each line around its centre before reading it (centre-line "
    "normalisation); the maps are laid back along that centre line, so a map's rows follow "
    "the writing's curve rather than the image's rows",
    "maps follow kraken's straightened centre line",
)


class KrakenMissing(ModelLoadError):
    """kraken is not installed; `str()` says what to install."""


def is_kraken_safetensors(path: str | os.PathLike) -> bool:
    """Whether a `.safetensors` file is kraken's own (its header metadata carries kraken's
    `kraken_meta`), read from the header alone: no kraken needed to route it."""
    if sniff(path) != SAFETENSORS:
        return False
    size = int.from_bytes(read_head(path, 8), "little")
    try:
        header = json.loads(read_head(path, 8 + size)[8:].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return isinstance(metadata, dict) and "kraken_meta" in metadata


def open_kraken_model(path: str | os.PathLike) -> KrakenRecognizer:
    """The recognition model in a kraken file, read by kraken's own loader. Raises
    `KrakenMissing` without kraken, and `ModelLoadError` (one line) for a file kraken
    cannot read or that holds no recognition model."""
    path = regular_file(path)
    models = _kraken_models(path)
    try:
        loaded = models.load_models(path, tasks=["recognition"])
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelLoadError(path, f"kraken cannot read it: {first_line(exc)}") from None
    network = next((m for m in loaded if getattr(m, "codec", None) is not None), None)
    if network is None:
        raise ModelLoadError(path, "it holds no kraken recognition model (a segmentation or "
                                   "reading-order model is not read here)")
    try:
        return KrakenRecognizer(network, name=path.stem)
    except ValueError as exc:
        raise ModelLoadError(path, str(exc)) from None


def _kraken_models(path: Path) -> Any:
    try:
        return importlib.import_module("kraken.models")
    except ImportError as exc:
        raise KrakenMissing(path, f"a kraken model needs kraken, which is not installed: "
                                  f"{KRAKEN_INSTALL}") from exc


class KrakenLineNet(nn.Module):
    """kraken's layer stack as a module from a `[B, C, H, W]` line to CTC logits `[B, T, K]`.

    kraken's layers pass `(tensor, lengths)` pairs and put the classes on the channel
    axis; the engine (GradCAM's probes, the Trust measures) calls `module(x)`. `x` has
    paper near 1 and dark ink, as the engine's inputs do; kraken's layers get it the
    way kraken feeds them, inverted. The layers are kraken's own objects, not copies:
    named `net.<kraken's layer name>`."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits, _ = self.net(1 - x, None)
        return logits.squeeze(2).transpose(1, 2)


@dataclass(frozen=True)
class KrakenPrepared(Prepared):
    """A line as kraken feeds it to its network, with the map between the two.

    kraken's centre-line normalisation takes, from each image column `x`, the band of
    rows `band_top[x] .. band_top[x] + band_height` (rows outside the image are paper)
    and scales the band to the model's height; the `content` box gives the columns.
    A model that does not dewarp (colour, or a fixed size) has one band: the whole
    image height."""

    band_top: np.ndarray  # [image width]: the first row taken from each column
    band_height: float

    def to_image(self, maps: torch.Tensor | np.ndarray, grid: tuple[int, int] | None = None) -> torch.Tensor:
        """Maps over the model input laid onto image pixels (or a coarser `grid` over the
        whole image) along the centre line; zero outside each column's band."""
        rows, cols = self.image_size if grid is None else tuple(grid)
        height, width = self.image_size
        t = torch.as_tensor(maps)
        lead = t.shape[:-2]
        flat = t.reshape(-1, 1, *t.shape[-2:]).float()
        x = (torch.arange(cols, dtype=torch.float64) + 0.5) * width / cols
        y = (torch.arange(rows, dtype=torch.float64) + 0.5) * height / rows
        x_model, y_model = self._model_point(x[None, :], y[:, None])
        out = _sample(flat, x_model, y_model, self.model_size)
        return out.reshape(*lead, rows, cols).to(t.dtype if t.is_floating_point() else torch.float32)

    def from_image(self, maps: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Maps on image pixels (or any grid over the whole image) sampled at the image
        point each model-input pixel was taken from; zero over kraken's padding."""
        height, width = self.image_size
        model_rows, model_cols = self.model_size
        t = torch.as_tensor(maps, device=self.tensor.device)
        lead = t.shape[:-2]
        flat = t.reshape(-1, 1, *t.shape[-2:]).to(self.tensor.dtype)
        _, left, _, content_width = self.content
        xm = torch.arange(model_cols, dtype=torch.float64) + 0.5
        x = (xm - left) * width / content_width
        top = torch.as_tensor(self.band_top, dtype=torch.float64)[_column(x, width)]
        y = top[None, :] + (torch.arange(model_rows, dtype=torch.float64)[:, None] + 0.5) * (
            self.band_height / model_rows)
        out = _sample(flat, x[None, :].expand_as(y), y, (height, width))
        return out.reshape(*lead, model_rows, model_cols)

    def _model_point(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Where image point (x, y) (pixel-edge coordinates) lies on the model input."""
        _, left, model_height, content_width = self.content
        top = torch.as_tensor(self.band_top, dtype=torch.float64)[_column(x, self.image_size[1])]
        x_model = left + x * content_width / self.image_size[1]
        y_model = (y - top) * model_height / self.band_height
        return x_model.expand(y_model.shape), y_model


def _column(x: torch.Tensor, width: int) -> torch.Tensor:
    """The image column holding each x (pixel-edge coordinates), clamped to the image."""
    return x.floor().long().clamp(0, width - 1)


def _sample(maps: torch.Tensor, x: torch.Tensor, y: torch.Tensor, frame: tuple[int, int]) -> torch.Tensor:
    """`maps` `[N, 1, h, w]`, covering the whole of a `frame` (rows, columns) at any
    resolution, sampled bilinearly at the points `(x, y)` given in the frame's
    pixel-edge coordinates; zero outside it."""
    grid = torch.stack((2 * x / frame[1] - 1, 2 * y / frame[0] - 1), dim=-1).to(maps.device, maps.dtype)
    grid = grid[None].expand(maps.shape[0], *grid.shape)
    return F.grid_sample(maps, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@dataclass(frozen=True)
class _Token:
    """One codec entry read: its characters and each of its labels' frame run."""

    text: str
    runs: tuple[tuple[int, int, int], ...]  # (label, start, stop exclusive)
    confidence: float


class KrakenRecognizer:
    """A kraken `TorchVGSLModel` recognition network as a Recognizer (see the module docs).

    `read` gives the reading `rpred` gives for a line whose box is the whole image (with
    `rpred`'s defaults: 16 columns of padding, greedy decoding, bidi reordering).
    """

    def __init__(self, network: nn.Module, name: str | None = None) -> None:
        batch, channels, height, width = network.input
        if height < 2 or width != 0 or channels not in (1, 3):
            raise ValueError(
                f"kraken input spec [{batch},{height},{width},{channels}] is not supported: only "
                "line models of a fixed height and any width, grayscale or colour, are read"
            )
        self.network = network
        self.module = KrakenLineNet(network.nn)
        self.height = int(height)
        self.channels = int(channels)
        self.codec = network.codec
        self.name = name or "kraken model"
        #: What every explanation says about this model.
        self.notes: tuple[Note, ...] = (DEWARP_NOTE,) if channels == 1 else ()
        singles = {label[0]: char for char, label in self.codec.c2l.items() if len(label) == 1 and len(char) == 1}
        #: The characters one label stands for each (what contrasts can score).
        self.alphabet = "".join(sorted(singles.values()))
        self._label_of = {char: label for label, char in singles.items()}
        self._cam_default: CamLayer | None = None

    # -- geometry -------------------------------------------------------------------
    def prepare(self, image: np.ndarray | torch.Tensor) -> Prepared:
        """The line as `rpred` feeds it to the network (kraken's own transforms), with
        the geometry back to the image's pixels. A `[1, C, H, W]` tensor is taken as
        already prepared."""
        if isinstance(image, torch.Tensor):
            return Prepared.of_tensor(image, self.module)
        transforms = self._transforms()
        tensor = 1 - transforms(_pil_line(image, self.channels))  # paper back to 1: see KrakenLineNet
        height, width = int(np.shape(image)[0]), int(np.shape(image)[1])
        band_top, band_height = _band(transforms, height, width)
        tensor = tensor[None].to(model_device(self.module), model_dtype(self.module))
        content = (0, KRAKEN_PADDING, self.height, int(tensor.shape[-1]) - 2 * KRAKEN_PADDING)
        return KrakenPrepared(tensor, (height, width), content, band_top, band_height)

    def _transforms(self) -> Any:
        dataset = importlib.import_module("kraken.lib.dataset")
        batch, channels, height, width = self.network.input
        return dataset.ImageInputTransforms(batch, height, width, channels, (KRAKEN_PADDING, 0), True)

    # -- reading --------------------------------------------------------------------
    def _logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and log-probabilities `[B, T, K]` (log-softmax never below float32)."""
        logits = self.module(x)
        return logits, torch.log_softmax(logits.float(), dim=-1)

    def read(self, x: torch.Tensor) -> Reading:
        """kraken's greedy reading of one prepared line, in logical order."""
        with evaluating(self.module), torch.no_grad():
            logits, _ = self._logits(x)
        return self._decode(x, logits[0])

    def read_scored(self, x: torch.Tensor, score: str = "logprob") -> tuple[Reading, torch.Tensor]:
        """`read` and the reading's `token_scores` from one forward."""
        with evaluating(self.module):
            logits, logp = self._logits(x)
        reading = self._decode(x, logits[0].detach())
        return reading, self._scores(logits, logp, reading, score)

    def _decode(self, x: torch.Tensor, logits: torch.Tensor) -> Reading:
        """Greedy labels (kraken's decoder on kraken's softmax), grouped by the codec into
        tokens, put into logical order. A line of one flat colour reads as nothing, as in
        `rpred`."""
        frames = int(logits.shape[0])
        if x.max() == x.min():
            return Reading((), (), np.zeros(0, np.float32), (), frames, {"right_to_left": False}, True)
        decoder = importlib.import_module("kraken.lib.ctc_decoder")
        probs = logits.float().softmax(-1).T[None].cpu()
        runs = [(label, start, end + 1, conf) for label, start, end, conf in decoder.greedy_decoder(probs)[0]]
        tokens, right_to_left = _logical_order(_codec_tokens(self.codec, runs))
        return Reading(
            tuple(t.text for t in tokens),
            tuple(t.runs[0][0] for t in tokens),
            np.asarray([t.confidence for t in tokens], np.float32),
            tuple((t.runs[0][1], t.runs[-1][2]) for t in tokens),
            frames,
            {"right_to_left": right_to_left, "runs": tuple(t.runs for t in tokens)},
            ctc_alignment=True,
        )

    def token_scores(self, x: torch.Tensor, reading: Reading, score: str = "logprob") -> torch.Tensor:
        """`[B, T]`: each token's chosen quantity summed over the frame runs of its labels
        (one run for most tokens; a character several labels stand for sums them all)."""
        with evaluating(self.module):
            logits, logp = self._logits(x)
        return self._scores(logits, logp, reading, score)

    @staticmethod
    def _scores(logits: torch.Tensor, logp: torch.Tensor, reading: Reading, score: str) -> torch.Tensor:
        if score not in SCORE_KINDS:
            raise ValueError(f"score must be one of {SCORE_KINDS}, got {score!r}")
        values = {"logprob": logp, "logit": logits.float(), "prob": logp.exp()}[score]
        if values.shape[1] != reading.n_frames:
            raise ValueError(f"the input gives {values.shape[1]} frames, the reading has {reading.n_frames}")
        weights = torch.zeros(len(reading), *values.shape[1:], dtype=values.dtype, device=values.device)
        for t, runs in enumerate(_runs_of(reading)):
            for label, start, stop in runs:
                weights[t, start:stop, label] = 1
        return torch.einsum("bfk,tfk->bt", values, weights)

    def label_of(self, char: str) -> int:
        """The label of a character that one label stands for (to score one not read)."""
        if char not in self._label_of:
            raise ValueError(f"{char!r} is not one of the model's single-label characters")
        return self._label_of[char]

    def attention(self, x: torch.Tensor, reading: Reading) -> torch.Tensor:
        """`[T, 1, frames]`: each token's posterior over its labels' frames, zero outside
        the frames between its neighbours on the line (by position, not by index: a
        right-to-left reading's neighbours are mirrored)."""
        with evaluating(self.module), torch.no_grad():
            _, logp = self._logits(x)
        probs = logp[0].exp()
        order = sorted(range(len(reading)), key=lambda t: reading.spans[t][0])
        profile = torch.zeros(len(reading), reading.n_frames, dtype=probs.dtype, device=probs.device)
        for rank, t in enumerate(order):
            lo = reading.spans[order[rank - 1]][1] if rank > 0 else 0
            hi = reading.spans[order[rank + 1]][0] if rank + 1 < len(order) else reading.n_frames
            for label, _, _ in _runs_of(reading)[t]:
                profile[t, lo:hi] = torch.maximum(profile[t, lo:hi], probs[lo:hi, label])
        return profile[:, None, :]

    def cam_layer(self) -> nn.Module | None:
        default = self.default_cam()
        return None if default is None else default.module

    def default_cam(self) -> CamLayer | None:
        """The last feature map before kraken's recurrent layers, found once."""
        if self._cam_default is None:
            self._cam_default = default_cam_layer(self.module, self.height, self.channels)
        return self._cam_default


def _runs_of(reading: Reading) -> tuple[tuple[tuple[int, int, int], ...], ...]:
    """Each token's (label, start, stop) runs. The token's own label stands for its first
    run, so a contrast that replaced it is scored; a reading `read` did not make has one
    run per token, its span."""
    stored = reading.extra.get("runs")
    if stored is None:
        return tuple(((label, *span),) for label, span in zip(reading.labels, reading.spans, strict=True))
    return tuple(((label, *runs[0][1:]), *runs[1:]) for label, runs in zip(reading.labels, stored, strict=True))


def _codec_tokens(codec: Any, runs: list[tuple[int, int, int, float]]) -> list[_Token]:
    """kraken's `PytorchCodec.decode`, keeping what it flattens: which labels made which
    characters. A label standing for characters is one token; a run of labels standing
    for characters together is one token, its confidence their mean; labels that decode
    to nothing are skipped, as kraken skips them."""
    labels = tuple(label for label, *_ in runs)
    tokens: list[_Token] = []
    i = 0
    while i < len(labels):
        if labels[i] in codec.l2c_single:
            tokens.append(_Token(codec.l2c_single[labels[i]], (runs[i][:3],), runs[i][3]))
            i += 1
            continue
        code = next((c for c in codec.l2c if c == labels[i:i + len(c)]), None)
        if code is None:
            i += 1
            continue
        part = runs[i:i + len(code)]
        tokens.append(_Token(codec.l2c[code], tuple(r[:3] for r in part), float(np.mean([r[3] for r in part]))))
        i += len(code)
    return tokens


def _logical_order(tokens: list[_Token]) -> tuple[list[_Token], bool]:
    """The tokens (read left to right, in display order) in logical order by kraken's bidi
    algorithm, as `rpred` reorders its records, and whether the line's base direction is
    right to left. A token's characters keep the order (and the mirroring) the algorithm
    gives them; one whose characters the algorithm drops (formatting marks) is dropped."""
    text = "".join(t.text for t in tokens)
    if not text:
        return tokens, False
    bidi = importlib.import_module("kraken.lib.bidi")
    logical, order = bidi.get_display_map(text, None)
    owner = [n for n, t in enumerate(tokens) for _ in t.text]
    chars: dict[int, list[str]] = {}  # in the logical order of each token's first character
    for char, source in zip(logical, order, strict=True):
        chars.setdefault(owner[source], []).append(char)
    return [replace(tokens[n], text="".join(c)) for n, c in chars.items()], _base_is_rtl(bidi, text)


def _base_is_rtl(bidi: Any, text: str) -> bool:
    """Whether the first strong character (the base direction the bidi algorithm resolves
    when none is given) is right to left."""
    strong = (bidi.bidi_class(ord(c)) for c in text)
    return next((kind != "L" for kind in strong if kind in ("L", "R", "AL")), False)


def _band(transforms: Any, height: int, width: int) -> tuple[np.ndarray, float]:
    """The rows kraken took from each image column: its centre normaliser's band when
    it dewarped the line, else the whole height."""
    keywords = (getattr(t, "keywords", {}) for t in transforms.transforms)  # kraken's partials
    normaliser = next((k["lnorm"] for k in keywords if "lnorm" in k), None)
    if normaliser is None:
        return np.zeros(width, np.float64), float(height)
    return normaliser.center.astype(np.float64) - normaliser.r, 2.0 * normaliser.r


def _pil_line(image: np.ndarray, channels: int) -> Image.Image:
    """The line as the PIL image `rpred` cuts from a page: 8 bits, grayscale kept
    grayscale, OpenCV's BGR(A) turned to RGB."""
    pixels = np.asarray(image)
    pixels = pixels if pixels.dtype == np.uint8 else (pixels // 257).astype(np.uint8)
    if pixels.ndim == 2:
        return Image.fromarray(pixels, "L")
    code = cv2.COLOR_BGRA2RGB if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return Image.fromarray(cv2.cvtColor(pixels, code), "RGB")
