"""`CTCRecognizer`: wraps anyone's CTC model as a Recognizer, without modifying it."""

from __future__ import annotations

import contextlib
import operator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from thulium_desktop.io.images import unit_gray_at_height
from thulium_desktop.models.layers import CamLayer, default_cam_layer, resolve_layer
from thulium_desktop.models.module_state import evaluating
from thulium_desktop.models.notes import Note
from thulium_desktop.models.protocol import (
    SCORE_KINDS,
    Prepared,
    Reading,
    model_device,
    model_dtype,
    pad_width,
    span_mask,
)


class CTCRecognizer:
    """A Recognizer over any `nn.Module` mapping `[B, 1, H, W]` in [0, 1] to CTC logits.

    The module returns `[B, T, K]` (or `[T, B, K]` with `time_major=True`); class
    `blank` is the CTC blank and the other classes, in order, are `alphabet`. With
    `width_stride` (the columns the model pools into one frame), `prepare` pads the
    width with paper to a multiple of it, so the last columns are read rather than
    dropped by the pooling and every frame covers exactly `width_stride` columns.

    Outputs that are already normalised are taken as they are, not log-softmaxed again
    (which would flatten every confidence towards 1/K): probabilities (non-negative rows
    summing to 1) by their log, log-probabilities (rows whose logsumexp is 0)
    unchanged. `output_kind` says which the last forward gave, and `notes` says so
    for every explanation.

    With `flatten_paper` (off unless asked for: a user's model gets the pixels it was
    trained on), `prepare` also turns the image into dark ink on even white paper
    (`io.paper.flatten_paper`): the bundled ctc reader reads photographs, coloured
    paper and light-on-dark ink that way. A user's description asks for it with
    `"flatten_paper": true`. Maps stay on the original image's pixels: the flattening
    is a per-pixel gain and offset (and, for light-on-dark ink, a sign) computed without
    gradients, and moves nothing.
    """

    def __init__(
        self,
        module: nn.Module,
        alphabet: str,
        height: int,
        blank: int = 0,
        time_major: bool = False,
        name: str | None = None,
        cam_layer: nn.Module | str | None = None,
        width_stride: int | None = None,
        flatten_paper: bool = False,
    ) -> None:
        if height < 1:
            raise ValueError(f"height must be positive, got {height}")
        if width_stride is not None:
            width_stride = _positive_whole(width_stride, "width_stride")
        if not 0 <= blank <= len(alphabet):
            raise ValueError(f"blank={blank} is outside 0..{len(alphabet)}")
        if len(set(alphabet)) != len(alphabet):
            raise ValueError("the alphabet repeats a character")
        self.module = module
        self.alphabet = alphabet
        self.height = int(height)
        self.blank = int(blank)
        self.time_major = bool(time_major)
        self.width_stride: int | None = width_stride
        #: Whether `prepare` flattens the paper (see the class docs).
        self.flatten_paper = bool(flatten_paper)
        self.name = name or type(module).__name__
        self._classes = [c for c in range(len(alphabet) + 1) if c != self.blank]
        self._cam_choice = cam_layer
        self._cam_default: CamLayer | None = None
        #: "probabilities" or "log-probabilities" when the last forward's outputs were
        #: already normalised (taken as they are); None for logits.
        self.output_kind: str | None = None

    # -- geometry -------------------------------------------------------------------
    def prepare(self, image: np.ndarray | torch.Tensor) -> Prepared:
        """Grayscale, scaled to `height` keeping the aspect ratio (untouched when it already
        has that height), divided by 255, flattened with `flatten_paper`, then padded to
        `width_stride` if set. A `[1, C, H, W]` tensor is taken as prepared (and padded
        the same way)."""
        if isinstance(image, torch.Tensor):
            prepared = Prepared.of_tensor(image, self.module)
            return Prepared(self._pad(prepared.tensor), prepared.image_size, prepared.content)
        device, dtype = model_device(self.module), model_dtype(self.module)
        gray = unit_gray_at_height(image, self.height, flatten=self.flatten_paper)
        tensor = torch.from_numpy(np.ascontiguousarray(gray))[None, None].to(device, dtype)
        size = (int(np.shape(image)[0]), int(np.shape(image)[1]))
        return Prepared(self._pad(tensor), size, (0, 0, self.height, tensor.shape[-1]))

    def _pad(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor if self.width_stride is None else pad_width(tensor, self.width_stride)

    # -- reading --------------------------------------------------------------------
    def _log_probs(self, x: torch.Tensor, reading: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and log-probabilities `[B, T, K]`; log-softmax never below float32.
        Outputs already normalised are taken as they are, both parts being their log
        (`normalised_kind`), and `output_kind` records that.

        A read checks that the batch comes back first (catching a time-major model not
        declared so). Scoring does not: an explanation may repeat a layer's output per
        character (`xai/batched_head.py`), so its batch is a multiple of the input's."""
        logits = self.module(x)
        if self.time_major:
            logits = logits.transpose(0, 1)
        batch_ok = logits.shape[0] == x.shape[0] if reading else logits.shape[0] % x.shape[0] == 0
        if logits.dim() != 3 or not batch_ok:
            raise ValueError(f"the model returned {tuple(logits.shape)}, expected [B, T, K]")
        if logits.shape[-1] != len(self.alphabet) + 1:
            raise ValueError(
                f"the model has {logits.shape[-1]} classes but the alphabet needs "
                f"{len(self.alphabet) + 1} (its {len(self.alphabet)} characters and the blank)"
            )
        work = logits if logits.dtype == torch.float64 else logits.float()
        self.output_kind = normalised_kind(work)
        if self.output_kind is None:
            return work, F.log_softmax(work, dim=-1)
        # the model's log-probabilities stand for its logits too (the same up to a constant)
        if self.output_kind == "probabilities":
            work = work.clamp_min(torch.finfo(work.dtype).tiny).log()
        return work, work

    @property
    def notes(self) -> tuple[Note, ...]:
        """What every explanation of this model must say about its scores: that outputs
        already normalised were taken as they are."""
        if self.output_kind is None:
            return ()
        return (Note(f"the model outputs {self.output_kind}: taken as they are, not re-normalised",
                     short=f"model outputs {self.output_kind}: not re-normalised"),)

    def read(self, x: torch.Tensor) -> Reading:
        """Greedy CTC decoding that keeps each character's frame run.

        Confidence is the highest probability the character's class reaches in its run.
        """
        with evaluating(self.module), torch.no_grad():
            _, logp = self._log_probs(x)
        return self._decode(logp[0])

    def read_scored(self, x: torch.Tensor, score: str = "logprob") -> tuple[Reading, torch.Tensor]:
        """Read `x` and score that reading `[1, T]` from the same forward pass.

        The scores keep their graph, so a gradient explanation of an image nobody has
        read yet needs one forward instead of two.
        """
        with evaluating(self.module):
            logits, logp = self._log_probs(x)
        reading = self._decode(logp[0].detach())
        return reading, self._scores(logits, logp, reading, score)

    def _decode(self, logp: torch.Tensor) -> Reading:
        """Collapse the frame-wise best classes `[F, K]` into characters with their runs."""
        best = logp.argmax(dim=-1).cpu().numpy()
        probs = logp.exp().cpu().numpy()
        tokens, labels, confs, spans = [], [], [], []
        start = 0
        for f in range(1, len(best) + 1):
            if f == len(best) or best[f] != best[start]:
                cls = int(best[start])
                if cls != self.blank:
                    tokens.append(self.alphabet[self._classes.index(cls)])
                    labels.append(cls)
                    confs.append(float(probs[start:f, cls].max()))
                    spans.append((start, f))
                start = f
        return Reading(
            tuple(tokens), tuple(labels), np.asarray(confs, np.float32), tuple(spans), len(best),
            ctc_alignment=True,
        )

    def token_scores(
        self, x: torch.Tensor, reading: Reading, score: str = "logprob"
    ) -> torch.Tensor:
        """`[B, T]`: for each character, the sum over its frame run of the chosen quantity
        (log-softmax by default, or the raw logit, or the probability) of its class."""
        with evaluating(self.module):
            logits, logp = self._log_probs(x, reading=False)
        return self._scores(logits, logp, reading, score)

    @staticmethod
    def _scores(
        logits: torch.Tensor, logp: torch.Tensor, reading: Reading, score: str
    ) -> torch.Tensor:
        """Sum the chosen quantity of each character's class over its frame run: `[B, T]`."""
        if score not in SCORE_KINDS:
            raise ValueError(f"score must be one of {SCORE_KINDS}, got {score!r}")
        values = {"logprob": logp, "logit": logits, "prob": logp.exp()}[score]
        if values.shape[1] != reading.n_frames:
            raise ValueError(
                f"the input gives {values.shape[1]} frames, the reading has {reading.n_frames}"
            )
        labels = torch.tensor(reading.labels, device=values.device, dtype=torch.long)
        per_class = values.index_select(-1, labels)  # [B, F, T]
        runs = span_mask(reading, values.dtype, values.device)  # [T, F]
        return torch.einsum("bft,tf->bt", per_class, runs)

    def label_of(self, char: str) -> int:
        """The class index of one alphabet character (to score a character not read)."""
        if len(char) != 1 or char not in self.alphabet:
            raise ValueError(f"{char!r} is not in the model's alphabet")
        return self._classes[self.alphabet.index(char)]

    def attention(self, x: torch.Tensor, reading: Reading) -> torch.Tensor:
        """`[T, 1, frames]`: each character's class posterior per frame, as a column profile.

        Only the frames between the neighbouring characters' runs count, so the two
        l's of "hello" each get their own peak instead of sharing both.
        """
        with evaluating(self.module), torch.no_grad():
            _, logp = self._log_probs(x)
        probs = logp[0].exp()
        labels = torch.tensor(reading.labels, device=probs.device, dtype=torch.long)
        profile = probs.index_select(-1, labels).T.clone()  # [T, F]
        for t in range(len(reading)):
            lo = reading.spans[t - 1][1] if t > 0 else 0
            hi = reading.spans[t + 1][0] if t + 1 < len(reading) else reading.n_frames
            profile[t, :lo] = 0
            profile[t, hi:] = 0
        return profile[:, None, :]

    def cam_layer(self) -> nn.Module | None:
        """The layer given at construction, else `default_cam`'s."""
        if self._cam_choice is not None:
            return resolve_layer(self.module, self._cam_choice)
        default = self.default_cam()
        return None if default is None else default.module

    def default_cam(self) -> CamLayer | None:
        """The last feature map before the model's recurrent or attention head
        (`models.layers.default_cam_layer`), found once."""
        if self._cam_default is None:
            self._cam_default = default_cam_layer(self.module, self.height)
        return self._cam_default


#: How far a row's sum (probabilities) or logsumexp (log-probabilities) may be from 1 or
#: 0 and still count as normalised: float32 softmax rows sum to 1 within about 1e-6,
#: half precision within about 1e-3; logits match neither but by a rare accident.
NORMALISED_TOLERANCE = 2e-3


def normalised_kind(outputs: torch.Tensor) -> str | None:
    """"probabilities" when every row of `outputs` `[B, T, K]` is non-negative and sums
    to 1, "log-probabilities" when every row's logsumexp is 0, else None (logits)."""
    if outputs.numel() == 0:
        return None
    with torch.no_grad():
        if outputs.min() >= 0 and (outputs.sum(dim=-1) - 1).abs().max() <= NORMALISED_TOLERANCE:
            return "probabilities"
        log_sums = torch.logsumexp(outputs, dim=-1)
        if outputs.max() <= NORMALISED_TOLERANCE and log_sums.abs().max() <= NORMALISED_TOLERANCE:
            return "log-probabilities"
    return None


def _positive_whole(value: object, what: str) -> int:
    """`value` as a positive int: numpy integers pass, `True` and 2.5 do not (a json
    `true` must not read as a stride of 1)."""
    if not isinstance(value, bool):
        with contextlib.suppress(TypeError):
            if (whole := operator.index(value)) >= 1:
                return whole
    raise ValueError(f"{what} must be a positive whole number, got {value!r}")
