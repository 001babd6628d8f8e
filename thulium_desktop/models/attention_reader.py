"""The bundled attention reader: CNN columns, a BiLSTM, and a GRU decoder with additive
(Bahdanau) attention, plus `AttentionRecognizer`, its Recognizer face.

Classes: 0 is the end token, 1..n the alphabet. The decoder starts from a separate
start embedding. At step t it weighs the encoder columns (a distribution that sums
to 1: the attention the app shows), reads the weighted context and emits a character.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from thulium_desktop.io.images import unit_gray_at_height
from thulium_desktop.models.encoder import (
    INPUT_HEIGHT,
    WIDTH_STRIDE,
    ColumnContext,
    ConvEncoder,
    encoded_width,
)
from thulium_desktop.models.module_state import evaluating
from thulium_desktop.models.protocol import (
    SCORE_KINDS,
    Prepared,
    Reading,
    model_device,
    model_dtype,
    pad_width,
)

END = 0


class AttentionReader(nn.Module):
    """`[B, 1, 32, W]` -> per-step class logits and attention over the `W/4` columns."""

    def __init__(
        self,
        n_chars: int,
        channels: tuple[int, int, int, int] = (32, 64, 128, 192),
        dim: int = 256,
        hidden: int = 128,
        context_lstm: bool = True,
        embed: int = 64,
        decoder: int = 256,
        attend: int = 128,
        max_steps: int = 40,
    ):
        super().__init__()
        self.n_classes = n_chars + 1
        self.max_steps = max_steps
        self.encoder = ConvEncoder(tuple(channels), dim)
        self.context = ColumnContext(dim, hidden) if context_lstm else None
        mem = self.context.out_dim if context_lstm else dim
        self.embed = nn.Embedding(self.n_classes + 1, embed)  # the last index is "start"
        self.init_state = nn.Linear(mem, decoder)
        self.key = nn.Linear(mem, attend, bias=False)
        self.query = nn.Linear(decoder, attend)
        self.energy = nn.Linear(attend, 1, bias=False)
        self.cell = nn.GRUCell(embed + mem, decoder)
        self.out = nn.Sequential(nn.Linear(decoder + mem + embed, decoder), nn.Tanh(),
                                 nn.Linear(decoder, self.n_classes))

    def encode(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        """Memory `[B, W', D]`, attention keys `[B, W', A]` and a valid-position mask."""
        mem = self.encoder(x)
        if self.context is not None:
            mem = self.context(mem, lengths)
        positions = torch.arange(mem.shape[1], device=mem.device)
        if lengths is None:
            mask = torch.ones(mem.shape[:2], dtype=torch.bool, device=mem.device)
        else:
            mask = positions[None, :] < lengths.to(mem.device)[:, None]
        valid = mask.unsqueeze(-1).to(mem.dtype)
        first = (mem * valid).sum(1) / valid.sum(1).clamp_min(1)
        return mem, self.key(mem), mask, torch.tanh(self.init_state(first))

    def step(self, mem, keys, mask, prev: torch.Tensor, state: torch.Tensor):
        """One decoder step: logits `[B, K]`, new state, attention `[B, W']`."""
        scores = self.energy(torch.tanh(keys + self.query(state)[:, None, :])).squeeze(-1)
        scores = scores if scores.dtype == torch.float64 else scores.float()
        alpha = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        context = torch.bmm(alpha.to(mem.dtype)[:, None, :], mem).squeeze(1)
        emb = self.embed(prev)
        state = self.cell(torch.cat([emb, context], -1).to(state.dtype), state)
        logits = self.out(torch.cat([state, context, emb], -1))
        return logits, state, alpha

    def forward(self, x: torch.Tensor, targets: torch.Tensor,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: `targets [B, T]` (or `[1, T]` for every image) are the classes
        to emit (end token included); returns logits `[B, T, K]` and attention `[B, T, W']`."""
        mem, keys, mask, state = self.encode(x, lengths)
        # The batch is the memory's: an explanation may repeat the encoder's output per
        # character (`xai/batched_head.py`), so the decoder runs for every copy at once.
        prev = torch.full((mem.shape[0],), self.n_classes, dtype=torch.long, device=x.device)
        targets = targets.expand(mem.shape[0], -1)
        logits, alphas = [], []
        for t in range(targets.shape[1]):
            out, state, alpha = self.step(mem, keys, mask, prev, state)
            logits.append(out)
            alphas.append(alpha)
            prev = targets[:, t]
        return torch.stack(logits, 1), torch.stack(alphas, 1)

    @torch.no_grad()
    def greedy(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        """Greedy decoding of a batch: classes `[B, S]`, end token (0) after the text, and
        each emitted class's softmax probability `[B, S]`; stops early once every image has
        emitted the end token.

        S is at most `max_steps`, and at most one character per encoder column plus the
        end token: no character is narrower than a column (4 px at 32 px high), so weights
        that never emit the end token cannot make a reading outgrow the image."""
        mem, keys, mask, state = self.encode(x, lengths)
        prev = torch.full((x.shape[0],), self.n_classes, dtype=torch.long, device=x.device)
        done = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        classes, probs = [], []
        for _ in range(min(self.max_steps, mem.shape[1] + 1)):
            logits, state, _ = self.step(mem, keys, mask, prev, state)
            p, best = torch.softmax(logits.float(), -1).max(-1)
            prev = best.masked_fill(done, END)
            classes.append(prev)
            probs.append(p)
            done |= prev == END
            if done.all():
                break
        return torch.stack(classes, 1), torch.stack(probs, 1)


class AttentionRecognizer:
    """The Recognizer protocol over an `AttentionReader`.

    Every decoded character is one decoder step, so `Reading.spans[t] == (t, t + 1)`,
    and its score is the teacher-forced output of that step for the reading's own
    character, which holds the reading fixed while the input is perturbed.
    """

    def __init__(self, module: AttentionReader, alphabet: str, name: str = "attention-reader",
                 flatten_paper: bool = True):
        if module.n_classes != len(alphabet) + 1:
            raise ValueError(
                f"the model has {module.n_classes} classes, the alphabet needs {len(alphabet) + 1}"
            )
        self.module = module
        self.alphabet = alphabet
        self.name = name
        self.height = INPUT_HEIGHT
        #: Whether `prepare` flattens the paper (`io.paper.flatten_paper`); on, because
        #: this wraps the bundled reader only, which reads photographs that way.
        self.flatten_paper = bool(flatten_paper)

    def prepare(self, image: np.ndarray | torch.Tensor) -> Prepared:
        """Grayscale, scaled to 32 px high (aspect kept), flattened to dark ink on even
        white paper with `flatten_paper`, width padded with paper to a multiple of 4 so
        every image column belongs to an encoder position. The flattening moves no pixel
        (a per-pixel gain computed without gradients), so maps stay on the image's pixels."""
        device, dtype = model_device(self.module), model_dtype(self.module)
        if isinstance(image, torch.Tensor):
            if image.dim() != 4 or image.shape[:2] != (1, 1) or image.shape[2] != self.height:
                raise ValueError(
                    f"a tensor input must be [1, 1, {self.height}, W], got {tuple(image.shape)}"
                )
            size = (int(image.shape[-2]), int(image.shape[-1]))
            return Prepared(pad_width(image.to(device, dtype), WIDTH_STRIDE), size, (0, 0, *size))
        gray = unit_gray_at_height(image, self.height, flatten=self.flatten_paper)
        tensor = torch.from_numpy(np.ascontiguousarray(gray))[None, None].to(device, dtype)
        size = (int(np.shape(image)[0]), int(np.shape(image)[1]))
        return Prepared(pad_width(tensor, WIDTH_STRIDE), size, (0, 0, self.height, gray.shape[1]))

    def read(self, x: torch.Tensor) -> Reading:
        """Greedy decoding to the end token; confidence = softmax probability of each character."""
        with evaluating(self.module):
            classes, probs = self.module.greedy(x)
        row = classes[0].tolist()
        labels = tuple(row[: row.index(END)] if END in row else row)
        confidences = probs[0, : len(labels)].cpu().numpy().astype(np.float32)
        tokens = tuple(self.alphabet[c - 1] for c in labels)
        spans = tuple((t, t + 1) for t in range(len(labels)))
        return Reading(tokens, labels, confidences, spans, len(labels))

    def label_of(self, char: str) -> int:
        """The class index of one alphabet character (to score a character not read)."""
        if len(char) != 1 or char not in self.alphabet:
            raise ValueError(f"{char!r} is not in the model's alphabet")
        return self.alphabet.index(char) + 1  # class 0 is the end token

    def _forced(self, x: torch.Tensor, labels: tuple[int, ...]):
        """Teacher-forced logits `[B, T, K]` and attention `[B, T, W']` on `labels`."""
        targets = torch.tensor(labels, dtype=torch.long, device=x.device)
        return self.module(x, targets[None, :])  # one row, for every image (and copy)

    def token_scores(
        self, x: torch.Tensor, reading: Reading, score: str = "logprob"
    ) -> torch.Tensor:
        """`[B, T]`: each step's log-softmax (or logit, or probability) of the read character,
        teacher-forced on the reading, differentiable with respect to `x`."""
        if score not in SCORE_KINDS:
            raise ValueError(f"score must be one of {SCORE_KINDS}, got {score!r}")
        if len(reading) == 0:
            return x.new_zeros((x.shape[0], 0))
        with evaluating(self.module):
            logits, _ = self._forced(x, reading.labels)
        logits = logits.float() if logits.dtype != torch.float64 else logits
        values = {"logit": lambda v: v, "logprob": lambda v: F.log_softmax(v, -1),
                  "prob": lambda v: torch.softmax(v, -1)}[score](logits)
        index = torch.tensor(reading.labels, device=values.device)
        return values.gather(-1, index[None, :, None].expand(values.shape[0], -1, 1)).squeeze(-1)

    def attention(self, x: torch.Tensor, reading: Reading) -> torch.Tensor:
        """`[T, 1, W']`: the decoder's attention over the encoder columns for each character
        (each row sums to 1), laid out as a one-row map over the model input."""
        with evaluating(self.module), torch.no_grad():
            if len(reading) == 0:
                return x.new_zeros((0, 1, encoded_width(x.shape[-1])))
            _, alphas = self._forced(x, reading.labels)
        return alphas[0][:, None, :]

    def cam_layer(self) -> nn.Module:
        """The ReLU after the encoder's last convolution (`[B, C, 4, W/4]`)."""
        return self.module.encoder.features

    def get_attention(self, image: np.ndarray) -> np.ndarray:
        """Per-character attention maps `[T, H, W]` in the image's own pixels."""
        prepared = self.prepare(image)
        reading = self.read(prepared.tensor)
        maps = self.attention(prepared.tensor, reading)
        return prepared.to_image(maps.float()).cpu().numpy()
