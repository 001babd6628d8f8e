"""A Hugging Face checkpoint folder checked before transformers reads it.

transformers trusts a folder's configs: a zero patch size divides by zero, an image
size of 20000 builds gigabytes of position embeddings, a quantization config imports
bitsandbytes, a truncated weight file surfaces as a Rust error, and a folder that asks
for its own code is answered with advice to turn `trust_remote_code` on, which this
app never does. Here the folder is read as data first: only regular files, no custom
code, the encoder's geometry in range, the network's size matched against the bytes of
its weights before anything is allocated, and the image processor producing exactly
the input the encoder reads. Every refusal is one `ModelLoadError` line.

A folder's generation settings (`generation_config.json`, or the legacy ones at the top
of `config.json`) are checked too, though only the "folder" decoding reads with them:
transformers silently skips an unreadable file, fails deep inside on a setting of the
wrong type, and would search with a million beams if asked to.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from thulium_desktop.models.descriptions import Field, Kind, check_fields
from thulium_desktop.models.errors import ModelLoadError, first_line, short_repr
from thulium_desktop.models.files import read_json, regular_file
from thulium_desktop.models.weights import tensor_specs

#: Encoder model types whose output is its special tokens, then one token per patch.
PATCH_ENCODERS = ("vit", "deit")
#: The largest side of the encoder's input, in pixels (TrOCR reads 384 x 384).
MAX_IMAGE_SIDE = 4096
#: The most beams (or sequences returned) a folder's generation settings may ask for.
MAX_BEAMS = 64
#: The longest reading, in tokens, a folder's generation settings may ask for.
MAX_TOKENS = 1024
#: The configs that may name code to import (`auto_map`).
_CONFIG_FILES = ("config.json", "tokenizer_config.json", "preprocessor_config.json")
#: What the app opens instead of a folder's own code.
SUPPORTED = (
    "Thulium never runs code from a model folder; it opens VisionEncoderDecoderModel "
    f"checkpoints with a {' or '.join(PATCH_ENCODERS)} encoder as transformers saves them "
    "(model.save_pretrained), and any other network through an adapter plugin (.py, opened "
    "with --trust or after confirming in the app)"
)
_ENCODER_FIELDS = (
    Field("hidden_size", Kind.INT, 1, 8192),
    Field("num_hidden_layers", Kind.INT, 1, 128),
    Field("num_attention_heads", Kind.INT, 1, 256),
    Field("intermediate_size", Kind.INT, 1, 65536),
    Field("num_channels", Kind.INT, 1, 4),
)
#: The generation settings that size the work of reading (the others only steer the choice of tokens).
_GENERATION_FIELDS = (
    *(Field(name, Kind.INT, 1, MAX_BEAMS, nullable=True)
      for name in ("num_beams", "num_beam_groups", "num_return_sequences")),
    *(Field(name, Kind.INT, 1, MAX_TOKENS, nullable=True) for name in ("max_length", "max_new_tokens")),
    *(Field(name, Kind.INT, 0, MAX_TOKENS, nullable=True)
      for name in ("min_length", "min_new_tokens", "no_repeat_ngram_size")),
    Field("do_sample", Kind.BOOL, nullable=True),
)
#: How much larger than its weight files a network may be in memory (float16 files
#: are read as float32), plus a little for what a file needs not hold (tied weights).
_SIZE_SLACK, _SIZE_MARGIN = 2, 16 * 1024 * 1024


def checked_config(folder: Path):
    """The folder's `VisionEncoderDecoderConfig`, built only once its json has passed
    every check, and matched against the size of the weight files."""
    _only_regular_files(folder)
    raw = read_json(folder / "config.json", "config.json")
    if not isinstance(raw, dict):
        raise ModelLoadError(folder / "config.json", "config.json is not an object")
    _refuse_custom_code(folder, raw)
    _check_generation(folder, raw)
    if any(isinstance(part, dict) and part.get("quantization_config") is not None
           for part in (raw, raw.get("encoder"), raw.get("decoder"))):
        raise ModelLoadError(folder, "quantized checkpoints (quantization_config in config.json) "
                             "are not supported; save the model unquantized")
    for part in ("encoder", "decoder"):
        if not isinstance(raw.get(part), dict):
            raise ModelLoadError(folder, f"config.json's {part!r} must be an object, got "
                                 f"{short_repr(raw.get(part))}")
    _check_encoder(folder, raw["encoder"])
    config = _config_from(folder, raw)
    _check_size(folder, config)
    return config


def check_processor(folder: Path, processor, encoder_config) -> None:
    """The image processor must resize every image to exactly the encoder's input: any
    other size is refused by the encoder when reading, and a huge one (20000 x 20000)
    fills memory before that."""
    want = pair(encoder_config.image_size)
    if getattr(processor, "do_resize", True) is False:
        does = "does not resize images"
    else:
        cropping = bool(getattr(processor, "do_center_crop", False))
        got = _height_width(getattr(processor, "crop_size" if cropping else "size", None))
        if got == want:
            return
        does = (f"{'crops' if cropping else 'resizes'} to {got[0]}x{got[1]}" if got
                else "does not resize to a fixed height and width")
    raise ModelLoadError(folder / "preprocessor_config.json",
                         f"the image processor {does}, but the encoder reads {want[0]}x{want[1]} images")


def pair(value: object) -> tuple[int, int]:
    """An HF size (one int, or two) as `(height, width)`."""
    return (value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


def _only_regular_files(folder: Path) -> None:
    """Every entry transformers might open is a regular file (a named pipe would block it)."""
    for entry in sorted(folder.iterdir()):
        if not entry.is_dir():
            regular_file(entry)


def _refuse_custom_code(folder: Path, config: dict) -> None:
    """A config naming classes to import from the folder (`auto_map`, at its top or in
    its encoder or decoder) is refused, saying what the app opens instead."""
    for name in _CONFIG_FILES:
        if name == "config.json":
            data = config
        elif os.path.lexists(folder / name):
            data = read_json(folder / name, name)
        else:
            continue
        parts = [data, data.get("encoder"), data.get("decoder")] if isinstance(data, dict) else []
        if any(isinstance(part, dict) and part.get("auto_map") is not None for part in parts):
            raise ModelLoadError(folder, f"{name} asks to run code of its own (auto_map). {SUPPORTED}")


def require_patch_encoder(folder: Path, model_type: object) -> None:
    """Only encoders whose output is one token per patch after their special tokens have
    a patch grid to show maps on (a Swin encoder, say, merges patches on the way)."""
    if model_type not in PATCH_ENCODERS:
        raise ModelLoadError(folder, f"encoder type {short_repr(model_type)} is not supported; "
                             f"supported: {', '.join(PATCH_ENCODERS)} (one token per image patch). "
                             f"{SUPPORTED}")


def _check_generation(folder: Path, config: dict) -> None:
    """The settings that size the work of reading with the folder's generation config,
    typed and in range wherever the folder keeps them, and its file readable."""
    check_fields(folder / "config.json", config, _GENERATION_FIELDS,
                 where="config.json's generation settings")
    path = folder / "generation_config.json"
    if not os.path.lexists(path):
        return
    data = read_json(path, "generation_config.json")
    if not isinstance(data, dict):
        raise ModelLoadError(path, f"generation_config.json must be an object, got {short_repr(data)}")
    check_fields(path, data, _GENERATION_FIELDS, where="generation_config.json")


def _check_encoder(folder: Path, encoder: dict) -> None:
    """Encoder type and geometry: one token per patch, patches that fit the image."""
    require_patch_encoder(folder, encoder.get("model_type"))
    check_fields(folder / "config.json", encoder, _ENCODER_FIELDS, where="config.json's encoder")
    size = _side_pair(folder, "image_size", encoder.get("image_size", 224))
    patch = _side_pair(folder, "patch_size", encoder.get("patch_size", 16))
    if patch[0] > size[0] or patch[1] > size[1]:
        raise ModelLoadError(folder, f"config.json's encoder has patches of {patch[0]}x{patch[1]} "
                             f"in images of {size[0]}x{size[1]}")


def _side_pair(folder: Path, name: str, value: object) -> tuple[int, int]:
    """An encoder size as json gives it (one whole number, or two) in range, as a pair."""
    sides = [value] * 2 if type(value) is int else value
    if not (isinstance(sides, list) and len(sides) == 2
            and all(type(s) is int and 1 <= s <= MAX_IMAGE_SIDE for s in sides)):
        raise ModelLoadError(folder, f"config.json's encoder {name} must be a whole number (or two) "
                             f"from 1 to {MAX_IMAGE_SIDE}, got {short_repr(value)}")
    return sides[0], sides[1]


def _config_from(folder: Path, raw: dict):
    """The config object transformers builds from the checked json."""
    from transformers import VisionEncoderDecoderConfig

    try:
        return VisionEncoderDecoderConfig.from_dict(raw)
    except Exception as exc:  # noqa: BLE001 - parsing runs no code of the folder's: the json is wrong
        raise ModelLoadError(folder, f"config.json does not describe a model: {one_line(exc)}") from exc


def _check_size(folder: Path, config) -> None:
    """Build the network on the meta device (no memory) and compare its bytes with the
    weight files': a config far larger than its weights would be allocated in full by
    transformers before it reported the mismatch."""
    import torch
    from transformers import VisionEncoderDecoderModel

    try:
        with torch.device("meta"):
            network = VisionEncoderDecoderModel(config=config)
    except Exception as exc:  # noqa: BLE001 - building from a checked config runs no code of the folder's
        raise ModelLoadError(folder, f"config.json does not build a model: {one_line(exc)}") from exc
    needed = sum(p.numel() * p.element_size() for p in network.parameters())
    stored = _weight_bytes(folder)
    if not stored:
        raise ModelLoadError(folder, "holds no weights (model.safetensors)")
    if needed > _SIZE_SLACK * stored + _SIZE_MARGIN:
        raise ModelLoadError(folder, f"config.json describes a network of {needed / 1e6:,.1f} MB "
                             f"but its weight files hold {stored / 1e6:,.1f} MB")


def _weight_bytes(folder: Path) -> int:
    """Bytes of the folder's weight files; each safetensors header is read and checked
    (a truncated file is refused here, by name)."""
    total = 0
    for file in sorted(folder.glob("*.safetensors")):
        tensor_specs(file)
        total += file.stat().st_size
    return total + sum(f.stat().st_size for f in folder.glob("*.bin"))


def _height_width(size: object) -> tuple[int, int] | None:
    """An image processor's fixed output size (a dict, a `SizeDict` or an int), or None."""
    if isinstance(size, int):
        return size, size
    get = size.get if isinstance(size, Mapping) else lambda key: getattr(size, key, None)
    h, w = get("height"), get("width")
    return (h, w) if isinstance(h, int) and isinstance(w, int) else None


def one_line(exc: BaseException) -> str:
    """An exception as `Type: first line`, without transformers' advice to trust code."""
    if "trust_remote_code" in str(exc):
        return SUPPORTED
    line = first_line(exc)
    return line if line == type(exc).__name__ else f"{type(exc).__name__}: {line}"
