"""TrOCR and other Hugging Face `VisionEncoderDecoderModel`s (ViT-style encoders) as Recognizers.

The decoder emits BPE tokens, the app and the engine work in characters: every
character is attributed to the decoder steps (tokens) that produced it, and inherits
their attention (the mean over those steps) and their score (the sum of their
log-probabilities, i.e. the joint log-probability; for the usual one-token case simply
that token's). Special tokens produce no characters and are dropped.

The reading is the model's plain greedy argmax (`decoding="greedy"`), whatever the
folder's generation settings say: the tokens explained are then the very argmax whose
scores are differentiated. `decoding="folder"` reads with the folder's own settings
(beam search, repetition rules), as the user's pipeline does, and explains the tokens
of that fixed reading by their teacher-forced scores; the notes say which was used.

Only `open_trocr` imports `transformers` (an optional extra, slow to import); nothing
is ever downloaded and no code from the checkpoint folder is run.
"""

from __future__ import annotations

import copy
import inspect
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
from thulium_desktop.models.notes import Note
from thulium_desktop.models.trocr_folder import (
    check_processor,
    checked_config,
    one_line,
    pair,
    require_patch_encoder,
)

_INCOMPLETE = "\ufffd"  # what decoding shows for a UTF-8 character split across tokens
#: How a TrOCRRecognizer reads: the plain argmax, or the folder's generation settings.
DECODINGS = ("greedy", "folder")
#: What a generation config holds that does not change which tokens are read: the token
#: ids (greedy reading uses them too), what generate returns besides the tokens, how
#: it caches and compiles, and transformers' bookkeeping.
_NOT_SETTINGS = frozenset({
    "pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id",
    "output_attentions", "output_hidden_states", "output_scores", "output_logits",
    "return_dict_in_generate", "use_cache", "cache_implementation", "cache_config",
    "compile_config", "disable_compile", "transformers_version", "_from_model_config",
})


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
    the last) and `heads` the heads averaged (default: all). `decoding` is how `read`
    reads: "greedy" (the argmax at each step, up to `max_new_tokens`) or "folder" (the
    model's `generation_config`, with its own length limit, else `max_new_tokens`).
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
        decoding: str = "greedy",
    ) -> None:
        self.decoding = decoding
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
    @property
    def decoding(self) -> str:
        """How `read` reads: "greedy" or "folder" (the model's generation config). It may
        change after loading (the command line's `--decoding`); the folder's settings
        were checked when it was opened either way."""
        return self._decoding

    @decoding.setter
    def decoding(self, decoding: str) -> None:
        _check_decoding(decoding)
        self._decoding = decoding

    @property
    def generation_settings(self) -> dict[str, object]:
        """The model's generation config where it differs from transformers' defaults and
        changes the tokens read (`num_beams`, `no_repeat_ngram_size`...): what the
        folder's own pipeline reads with instead of the plain argmax."""
        config = getattr(self.module.model, "generation_config", None)
        diff = config.to_diff_dict() if config is not None else {}
        return {k: v for k, v in diff.items() if k not in _NOT_SETTINGS}

    @property
    def decoding_description(self) -> str:
        """Which reading is shown, for records: "greedy" or the folder's settings."""
        if self.decoding == "greedy":
            return "greedy"
        unbounded = "" if self._folder_sets_a_length() else (
            f"; at most {self.max_new_tokens} new tokens, as the folder sets no length")
        return f"the folder's generation settings: {_settings_text(self.generation_settings)}{unbounded}"

    def _folder_sets_a_length(self) -> bool:
        config = self.module.model.generation_config
        return config.max_length is not None or config.max_new_tokens is not None

    @property
    def notes(self) -> tuple[Note, ...]:
        """What an explanation must say about the reading: the folder's settings when it
        was read with them, or that they were set aside for the argmax."""
        settings = _settings_text(self.generation_settings)
        if self.decoding == "folder":
            return (Note(f"read with {self.decoding_description}; each token is explained by its "
                         "teacher-forced score on that fixed reading, which need not be the "
                         "model's first choice at its step",
                         short=f"read with the folder's settings ({settings})"),)
        if self.generation_settings:
            return (Note(f"read greedily, not with the folder's generation settings ({settings}): "
                         "the reading may differ from the folder's own pipeline's (the 'folder' "
                         "decoding reads with them)",
                         short="read greedily, not with the folder's settings"),)
        return ()

    def read(self, x: torch.Tensor) -> Reading:
        """The token ids `decoding` chooses, then characters (see `reading_for`)."""
        with evaluating(self.module), torch.no_grad():
            ids = self._greedy_ids(x) if self.decoding == "greedy" else self._generated_ids(x)
        reading = self.reading_for(x, ids)
        return replace(reading, extra=reading.extra | {"decoding": self.decoding_description})

    def _greedy_ids(self, x: torch.Tensor) -> list[int]:
        """The argmax at each step until the end token or `max_new_tokens`. Written out, not
        `generate`, which fills every setting left unset from the model's generation
        config (beams, `no_repeat_ngram_size`...): each token here is the argmax of the
        teacher-forced distribution that `token_scores` differentiates."""
        from transformers import DynamicCache, EncoderDecoderCache

        model = self.module.model
        encoded = model.encoder(pixel_values=x)
        cache = {_cache_keyword(model): EncoderDecoderCache(DynamicCache(), DynamicCache())}
        step = torch.tensor([[self.start_id]], dtype=torch.long, device=x.device)
        ids: list[int] = []
        for _ in range(self.max_new_tokens):
            logits = model(encoder_outputs=encoded, decoder_input_ids=step, use_cache=True, **cache).logits
            token = int(logits[0, -1].argmax())
            if token == self.end_id:
                break
            ids.append(token)
            step = step.new_tensor([[token]])
        return ids

    def _generated_ids(self, x: torch.Tensor) -> list[int]:
        """What `generate` reads with the model's own generation config (its best sequence),
        the token ids it leaves unset filled in as `read` finds them, and `max_new_tokens`
        where it sets no length (transformers would stop at 20 tokens, and warn)."""
        config = copy.deepcopy(self.module.model.generation_config)
        for name, value in (("decoder_start_token_id", self.start_id), ("eos_token_id", self.end_id),
                            ("pad_token_id", self.pad_id)):
            if getattr(config, name, None) is None:
                setattr(config, name, value)
        if not self._folder_sets_a_length():
            config.max_new_tokens = self.max_new_tokens
        out = self.module.model.generate(pixel_values=x, generation_config=config)[0, 1:].tolist()
        return out[: out.index(self.end_id)] if self.end_id in out else out

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


def _cache_keyword(model: nn.Module) -> str:
    """The name `model.forward` takes its key/value cache under: transformers 5 renamed
    `past_key_values` to `cache` (the old name warns, then goes)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _check_decoding(decoding: str) -> None:
    """A mistyped decoding is named before a checkpoint is loaded for it."""
    if decoding not in DECODINGS:
        raise ValueError(f"decoding must be one of {', '.join(DECODINGS)}, got {decoding!r}")


def _settings_text(settings: dict[str, object]) -> str:
    """`num_beams=4, no_repeat_ngram_size=3`, or "none" (then generation is greedy)."""
    return ", ".join(f"{name}={value!r}" for name, value in settings.items()) or "none"


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
               heads: Sequence[int] | None = None, decoding: str = "greedy") -> TrOCRRecognizer:
    """A TrOCR-style checkpoint folder (config.json, weights, tokenizer and image processor
    files) as a Recognizer. Local files only, no code from the folder (`trust_remote_code`
    off), weights only through safetensors or the weights-only unpickler, and every
    config checked before transformers reads it (`trocr_folder`), the generation
    settings included. `decoding` is the recognizer's (`TrOCRRecognizer`)."""
    _check_decoding(decoding)
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
                           heads=heads, decoding=decoding)


def _patch_grid(path: Path, encoder_config) -> tuple[int, int]:
    """`(rows, cols)` of patches, from the encoder's image and patch sizes, for an encoder
    that has such a grid (`require_patch_encoder`)."""
    require_patch_encoder(path, encoder_config.model_type)
    (h, w), (ph, pw) = pair(encoder_config.image_size), pair(encoder_config.patch_size)
    return h // ph, w // pw
