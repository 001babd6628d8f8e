"""TrOCR and other Hugging Face `VisionEncoderDecoderModel`s (ViT-style encoders) as Recognizers.

The decoder emits BPE tokens, the app and the engine work in characters: every
character is attributed to the decoder steps (tokens) that produced it, and inherits
their attention (the mean over those steps) and their score (the sum of their
log-probabilities, i.e. the joint log-probability; for the usual one-token case simply
that token's). Special tokens produce no characters and are dropped.

Only `open_trocr` imports `transformers` (an optional extra, slow to import); nothing
is ever downloaded and no code from the checkpoint folder is run.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from thulium_desktop.io.images import to_unit_gray
from thulium_desktop.models.module_state import evaluating
from thulium_desktop.models.protocol import (
    SCORE_KINDS,
    Prepared,
    Reading,
    model_device,
    model_dtype,
    span_mask,
)
from thulium_desktop.models.errors import ModelLoadError
from thulium_desktop.models.trocr_folder import (
    check_processor,
    checked_config,
    one_line,
    pair,
    require_patch_encoder,
)

_INCOMPLETE = "\ufffd"  # what decoding shows for a UTF-8 character split across tokens


class PatchGrid(nn.Module):
    """`[B, gh*gw, D]` patch tokens -> `[B, D, gh, gw]`: the ViT "reshape transform" as a layer.

    It sits in the path from encoder to decoder (the recognizer flattens its output
    back), so a GradCAM hook on it sees a spatial feature map, the last one the
    encoder makes, and its gradient.
    """

    def __init__(self, grid: tuple[int, int]) -> None:
        super().__init__()
        self.grid = grid

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return patches.transpose(1, 2).reshape(patches.shape[0], patches.shape[2], *self.grid)


class TrOCRModule(nn.Module):
    """A `VisionEncoderDecoderModel` whose encoder output passes through `patch_grid`.

    The encoder's leading special tokens (CLS, DeiT's distillation token) are whatever
    precedes the `gh * gw` patch tokens; they bypass the grid unchanged.
    """

    def __init__(self, model: nn.Module, grid: tuple[int, int]) -> None:
        super().__init__()
        self.model = model
        self.patch_grid = PatchGrid(grid)

    @property
    def n_patches(self) -> int:
        return self.patch_grid.grid[0] * self.patch_grid.grid[1]

    def forward(
        self, pixel_values: torch.Tensor, decoder_input_ids: torch.Tensor, output_attentions: bool = False
    ):
        """Teacher-forced decoding: the Hugging Face output (logits, cross_attentions)."""
        hidden = self.model.encoder(pixel_values=pixel_values).last_hidden_state
        n_special = hidden.shape[1] - self.n_patches
        grid = self.patch_grid(hidden[:, n_special:])
        hidden = torch.cat([hidden[:, :n_special], grid.flatten(2).transpose(1, 2)], dim=1)
        return self.model(
            encoder_outputs=(hidden,),
            decoder_input_ids=decoder_input_ids,
            output_attentions=output_attentions,
        )


class TrOCRRecognizer:
    """The Recognizer protocol over a `TrOCRModule`, its tokenizer and image processor.

    `attention_layer` picks the decoder layer whose cross-attention is shown (default:
    the last) and `heads` the heads averaged (default: all).
    """

    def __init__(
        self,
        module: TrOCRModule,
        tokenizer,
        image_processor,
        name: str = "trocr",
        attention_layer: int = -1,
        heads: Sequence[int] | None = None,
        max_new_tokens: int = 64,
    ) -> None:
        self.module = module
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.name = name
        self.attention_layer = attention_layer
        self.heads = None if heads is None else list(heads)
        self.max_new_tokens = max_new_tokens
        sources = (getattr(module.model, "generation_config", None), module.model.config,
                   module.model.config.decoder, tokenizer)
        self.start_id = _token_id(sources, "decoder_start_token_id", "bos_token_id")
        self.end_id = _token_id(sources, "eos_token_id")
        self.pad_id = _token_id(sources, "pad_token_id")
        if self.start_id is None or self.end_id is None:
            raise ValueError("neither the model's configs nor its tokenizer set a decoder start "
                             "(or bos) token id and an eos token id")

    # -- geometry -------------------------------------------------------------------
    def prepare(self, image: np.ndarray | torch.Tensor) -> Prepared:
        """Grayscale (as every model here reads it), copied to the encoder's channels and
        given to the checkpoint's own image processor (resize to its fixed size, normalise).
        The whole image fills the model input, so maps stretch back over all of it."""
        if isinstance(image, torch.Tensor):
            return Prepared.of_tensor(image, self.module)
        device, dtype = model_device(self.module), model_dtype(self.module)
        gray = np.round(to_unit_gray(image) * 255).astype(np.uint8)
        channels = self.module.model.config.encoder.num_channels
        pixels = self.image_processor(images=np.repeat(gray[..., None], channels, axis=-1),
                                      return_tensors="pt")["pixel_values"]
        tensor = pixels.to(device, dtype)
        return Prepared(tensor, gray.shape, (0, 0, *tensor.shape[-2:]))

    # -- reading --------------------------------------------------------------------
    def read(self, x: torch.Tensor) -> Reading:
        """Greedy generation (no beams, no repetition rules, so each token is the argmax of
        the teacher-forced distribution `token_scores` differentiates), then characters."""
        from transformers import GenerationConfig

        greedy = GenerationConfig(
            max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1,
            decoder_start_token_id=self.start_id, eos_token_id=self.end_id, pad_token_id=self.pad_id,
        )
        with evaluating(self.module), torch.no_grad():
            out = self.module.model.generate(pixel_values=x, generation_config=greedy)[0, 1:].tolist()
        return self.reading_for(x, out[: out.index(self.end_id)] if self.end_id in out else out)

    def reading_for(self, x: torch.Tensor, ids: Sequence[int]) -> Reading:
        """The Reading of a given token sequence (the model's own, or a tokenized ground
        truth to explain an error against): characters, their tokens, and confidences
        (the teacher-forced probability of each character's tokens)."""
        ids = tuple(int(i) for i in ids)
        chars = token_characters(self._decode, ids)
        spans = tuple((start, stop) for _, start, stop in chars)
        reading = Reading(
            tokens=tuple(c for c, _, _ in chars),
            labels=tuple(ids[start] for start, _ in spans),
            confidences=np.zeros(len(chars), np.float32),
            spans=spans,
            n_frames=len(ids),
            extra={"token_ids": ids},
        )
        if not chars:
            return reading
        with torch.no_grad():
            joint = self.token_scores(x, reading)[0]
        return replace(reading, confidences=joint.exp().cpu().numpy().astype(np.float32))

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True,
                                     clean_up_tokenization_spaces=False)

    def _forced(self, x: torch.Tensor, ids: Sequence[int], output_attentions: bool = False):
        """The model fed `[start] + ids[:-1]`, so output step i predicts `ids[i]`."""
        inputs = torch.tensor([self.start_id, *ids[:-1]], dtype=torch.long, device=x.device)
        return self.module(x, inputs[None].expand(x.shape[0], -1), output_attentions=output_attentions)

    def _token_values(self, x: torch.Tensor, ids: Sequence[int], score: str) -> torch.Tensor:
        """`[B, n]`: each token's teacher-forced log-probability (or logit, or probability)."""
        logits = self._forced(x, ids).logits
        logits = logits if logits.dtype == torch.float64 else logits.float()
        logp = F.log_softmax(logits, -1)
        values = {"logit": logits, "logprob": logp, "prob": logp.exp()}[score]
        index = torch.tensor(ids, dtype=torch.long, device=values.device)
        return values.gather(-1, index[None, :, None].expand(x.shape[0], -1, 1)).squeeze(-1)

    def token_scores(self, x: torch.Tensor, reading: Reading, score: str = "logprob") -> torch.Tensor:
        """`[B, T]`: per character, the sum of its tokens' teacher-forced scores on the
        reading's own token sequence, differentiable with respect to `x`."""
        if score not in SCORE_KINDS:
            raise ValueError(f"score must be one of {SCORE_KINDS}, got {score!r}")
        if len(reading) == 0:
            return x.new_zeros((x.shape[0], 0))
        with evaluating(self.module):
            values = self._token_values(x, _token_ids(reading), score)
        return values @ span_mask(reading, values.dtype, values.device).T

    def attention(self, x: torch.Tensor, reading: Reading) -> torch.Tensor:
        """`[T, gh, gw]`: the chosen layer's cross-attention over the patch grid per character
        (heads averaged, special positions dropped and the rest renormalised, then the
        mean over the character's tokens), so each map sums to 1."""
        grid = self.module.patch_grid.grid
        if len(reading) == 0:
            return x.new_zeros((0, *grid))
        with evaluating(self.module), torch.no_grad():
            layers = self._forced(x, _token_ids(reading), output_attentions=True).cross_attentions
        att = layers[self.attention_layer][0].float()  # [heads, n, src]
        att = (att if self.heads is None else att[self.heads]).mean(0)[:, -self.module.n_patches :]
        att = att / att.sum(-1, keepdim=True).clamp_min(1e-12)
        steps = span_mask(reading, att.dtype, att.device)
        per_char = (steps / steps.sum(-1, keepdim=True)) @ att
        return per_char.reshape(len(reading), *grid)

    def cam_layer(self) -> nn.Module:
        """The encoder's output laid out as a patch grid (`[B, D, gh, gw]`)."""
        return self.module.patch_grid


def token_characters(decode: Callable[[Sequence[int]], str], ids: Sequence[int]) -> list[tuple[str, int, int]]:
    """`(character, first_step, stop_step)` for each character of the decoded text.

    Decodes growing prefixes: the characters a token adds belong to it. A token that
    ends inside a multi-byte character (decoding shows U+FFFD) waits for the next one,
    and both own the character; when a tokenizer rewrites earlier text, the rewritten
    characters belong to every token since the first one they came from. Whitespace at
    either end is dropped.
    """
    chars: list[tuple[str, int, int]] = []
    text, first = "", 0
    for k in range(len(ids)):
        new = decode(ids[: k + 1])
        if new.endswith(_INCOMPLETE) and k + 1 < len(ids):
            continue
        keep = len(os.path.commonprefix([text, new]))
        while len(chars) > keep:
            first = min(first, chars.pop()[1])
        chars += [(ch, first, k + 1) for ch in new[keep:]]
        text, first = new, k + 1
    lo = next((i for i, c in enumerate(chars) if not c[0].isspace()), len(chars))
    hi = next((i for i in range(len(chars), lo, -1) if not chars[i - 1][0].isspace()), lo)
    return chars[lo:hi]


def _token_ids(reading: Reading) -> tuple[int, ...]:
    ids = reading.extra.get("token_ids")
    if ids is None:
        raise ValueError("this reading was not made by a TrOCRRecognizer (no token ids in it)")
    return ids


def _token_id(sources: Sequence[object], *names: str) -> int | None:
    """The first of `names` that any source sets, sources in order (generation config,
    model config, decoder config, tokenizer): Transformers 5 keeps these ids in the
    generation config, older checkpoints in the model config."""
    for name in names:
        for source in sources:
            value = getattr(source, name, None)
            value = value[0] if isinstance(value, (list, tuple)) and value else value
            if isinstance(value, int):
                return value
    return None


def open_trocr(folder: str | os.PathLike, attention_layer: int = -1,
               heads: Sequence[int] | None = None) -> TrOCRRecognizer:
    """A TrOCR-style checkpoint folder (config.json, weights, tokenizer and image processor
    files) as a Recognizer. Local files only, no code from the folder (`trust_remote_code`
    off), weights only through safetensors or the weights-only unpickler, and every
    config checked before transformers reads it (`trocr_folder`)."""
    path = Path(folder)
    try:
        from transformers import AutoImageProcessor, AutoTokenizer, VisionEncoderDecoderModel
    except ImportError as exc:
        raise ModelLoadError(path, "Hugging Face models need the optional transformers package: "
                             f"pip install 'thulium-desktop[hf]' ({exc})") from exc
    config = checked_config(path)
    safe = {"local_files_only": True, "trust_remote_code": False}
    try:
        processor = AutoImageProcessor.from_pretrained(path, **safe)
        check_processor(path, processor, config.encoder)
        tokenizer = AutoTokenizer.from_pretrained(path, **safe)
        model = VisionEncoderDecoderModel.from_pretrained(
            path, config=config, attn_implementation="eager", weights_only=True, **safe)
    except ModelLoadError:
        raise
    except pickle.UnpicklingError:
        raise ModelLoadError(path, "its weights file is a pickle holding more than tensors, which "
                             "could run code when loaded, so it was not; save the model with "
                             "safetensors weights (`model.save_pretrained(folder)`)") from None
    except Exception as exc:  # noqa: BLE001 - transformers runs no code of the folder's here,
        # so whatever it raises on the folder's files describes them
        raise ModelLoadError(path, f"not a complete VisionEncoderDecoderModel folder: {one_line(exc)}") from exc
    return TrOCRRecognizer(TrOCRModule(model.eval(), _patch_grid(path, model.config.encoder)),
                           tokenizer, processor, name=path.name, attention_layer=attention_layer,
                           heads=heads)


def _patch_grid(path: Path, encoder_config) -> tuple[int, int]:
    """`(rows, cols)` of patches, from the encoder's image and patch sizes, for an encoder
    that has such a grid (`require_patch_encoder`)."""
    require_patch_encoder(path, encoder_config.model_type)
    (h, w), (ph, pw) = pair(encoder_config.image_size), pair(encoder_config.patch_size)
    return h // ph, w // pw
