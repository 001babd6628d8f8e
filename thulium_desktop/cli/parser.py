"""The argparse definition of the headless commands (explain, models, read, install-desktop-entry).

`explain`'s method options, their defaults and help texts come from the engine's
method registry (`xai/methods.py`), as the app's method panel does: both faces
start from the same parameters, and a registered method is a `--method` choice.
"""

from __future__ import annotations

import argparse
from typing import Any

from thulium_desktop.models.protocol import SCORE_KINDS
from thulium_desktop.models.trocr import DECODINGS
from thulium_desktop.xai.config import SaliencyConfig
from thulium_desktop.xai.methods import BASELINES, PARAMETERS, REGISTRY, methods_reading
from thulium_desktop.xai.precision import PRECISIONS
from thulium_desktop.xai.quadrature import RULES

#: `--format` choices: figures by extension, maps as .npz, the record of each image as .json.
OUTPUT_FORMATS = ("png", "svg", "pdf", "npz", "json")
DEFAULT_FORMATS = ("png", "json")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thulium-desktop",
        description="See why a handwriting-recognition model reads what it reads.",
        epilog=(
            "Without a command the desktop app starts: thulium-desktop [PATH...] "
            "[--model NAME|FILE] [--trust] [--method M] [--token N] [--screenshot PNG] "
            "(images or folders to open; see the README for each option)."
        ),
    )
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    _explain(commands)
    _models(commands)
    _read(commands)
    _install_desktop_entry(commands)
    return parser


def _explain(commands) -> None:
    p = commands.add_parser(
        "explain",
        help="write attention/saliency maps and figures for images or whole folders",
        description=(
            "Explain every character the model reads in each image. Writes one output set "
            "per image into --out, named after it, and a summary.json of all of them."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
    _model_option(p)
    _method_options(p)
    chosen = p.add_mutually_exclusive_group()
    chosen.add_argument(
        "--token", type=_token, default="all", metavar="all|N",
        help="explain every character (each method's figure: a panel per character), or only character N "
        "(0-based; each method's figure: that character's map, as the app exports its view)",
    )
    chosen.add_argument(
        "--tokens", dest="token", type=_tokens, default=argparse.SUPPRESS, metavar="LIST",
        help="explain and draw only these characters: 0-based indices and ranges such as 0,3,5-8 "
        "(a long line's figures draw as many as fit a page, and their captions say which)",
    )
    _segment_option(p)
    p.add_argument("--out", default="thulium-out", metavar="DIR", help="output folder (default: ./thulium-out)")
    p.add_argument(
        "--format", type=_formats, default=DEFAULT_FORMATS, metavar="LIST",
        help=f"comma-separated outputs among {','.join(OUTPUT_FORMATS)} (default: {','.join(DEFAULT_FORMATS)})",
    )
    p.add_argument("--dpi", type=_positive, default=300, help="resolution of PNG figures (default: 300)")
    _device_option(p)
    p.add_argument(
        "--precision", choices=PRECISIONS, default="float32",
        help="arithmetic of the methods' passes: float32, or bf16 (autocast) where on each image it moves "
        "the gradient maps by at most 5%% of their peak, else float32 with a note (default: float32)",
    )
    p.add_argument(
        "--batch-images", type=_batch_images, default="auto", metavar="N|auto",
        help="explain up to N lines of the same width in one forward pass (gradient maps of CTC readers; "
        "the first batch's maps are checked against one-by-one maps) (default: auto, batches on CUDA, "
        "one by one on CPU)",
    )
    p.add_argument(
        "--shard", type=_shard, default=(0, 1), metavar="I/N",
        help="process only shard I of N (0-based, e.g. $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)",
    )
    p.add_argument(
        "--diagnostics", action="store_true",
        help="add to each method's record the interpretation measures (stroke focus, spread, "
        "background, localisation and their label) and deletion/insertion curves against a random order",
    )
    p.add_argument(
        "--sanity", action="store_true",
        help="also run the model-randomisation sanity check (recomputes the maps once per layer: slow)",
    )
    p.add_argument(
        "--contrast", action="store_true",
        help="for each character the reading substitutes (against IMAGE.gt.txt, or the folder's ground_truth.tsv), also write the "
        "map of score(read) - score(true) as <name>.<method>.contrast-<N>.* (N 0-based, as --token; "
        f"{_fallbacks()})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _method_options(p: argparse.ArgumentParser) -> None:
    """`--method` and one option per method parameter, each stored under its
    `SaliencyConfig` field name (`args.num_steps`, ...) with the registry's default."""
    p.add_argument(
        "--method", default=SaliencyConfig.method, choices=(*REGISTRY, "all"),
        help=f"the explanation method; 'all' runs every one and adds a comparison figure "
        f"(default: {SaliencyConfig.method})",
    )
    _parameter(p, "--steps", "num_steps", type=_positive, metavar="N")
    _parameter(p, "--tolerance", "tolerance", type=_non_negative, metavar="F")
    _parameter(p, "--integration", "integration", choices=RULES)
    _parameter(p, "--baseline", "baseline", choices=BASELINES)
    _parameter(p, "--samples", "num_samples", type=_positive, metavar="N")
    _parameter(p, "--noise", "noise_level", type=_non_negative, metavar="F")
    _parameter(p, "--seed", "seed", type=int)
    _parameter(p, "--layer", "layer", metavar="NAME")
    _parameter(p, "--score", "score", choices=SCORE_KINDS)
    _switch_off(p, "--signed", "absolute", "signed maps")
    _switch_off(p, "--no-normalize", "normalize", "raw maps")


def _parameter(p: argparse.ArgumentParser, flag: str, name: str, **kwargs: Any) -> None:
    param = PARAMETERS[name]
    default = "" if param.default is None else f"; default: {param.default}"
    p.add_argument(flag, dest=name, default=param.default, help=f"{param.help} ({_readers(name)}{default})", **kwargs)


def _switch_off(p: argparse.ArgumentParser, flag: str, name: str, what: str) -> None:
    """A flag that sets the boolean parameter `name` to False (its default otherwise)."""
    param = PARAMETERS[name]
    p.add_argument(flag, dest=name, action="store_const", const=False, default=param.default,
                   help=f"{what}: turns {name} off ({name}: {param.help}; {_readers(name)})")


def _fallbacks() -> str:
    """`attention is contrasted with gradient`: what draws the contrast of a method without gradients."""
    return "; ".join(f"{name} is contrasted with {m.contrast_method}" for name, m in REGISTRY.items() if not m.gradients)


def _readers(name: str) -> str:
    """Which methods read a parameter, for its help."""
    return ", ".join(methods_reading(name))


def _models(commands) -> None:
    commands.add_parser("models", help="list the bundled models with their measured accuracy")


def _read(commands) -> None:
    p = commands.add_parser(
        "read", help="print what the model reads in each image, with per-character confidences"
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
    p.add_argument("--layouts-out", metavar="DIR",
                   help="write each page's PAGE-XML or ALTO, with every line's reading, words and glyphs, "
                        "into DIR as <page>.page.xml or <page>.alto.xml (a --segment page: a fresh PAGE-XML)")
    _segment_option(p)
    _model_option(p)
    _device_option(p)


def _install_desktop_entry(commands) -> None:
    p = commands.add_parser(
        "install-desktop-entry",
        help="add the app to the Linux applications menu (a .desktop entry and its icons)",
        description=(
            "Write the freedesktop menu entry and icons, pointing at this installation, so "
            "launchers list Thulium Desktop and offer it for PNG, JPEG, TIFF and BMP files. "
            "System-wide under /usr/local/share unless --user is given."
        ),
    )
    p.add_argument(
        "--user", action="store_true",
        help="install for the current user only, under $XDG_DATA_HOME (default: ~/.local/share)",
    )


def _segment_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--segment", action="store_true",
        help="an image with no PAGE-XML or ALTO beside it is a page: find its lines with kraken's baseline "
        "segmenter and take each line as <image>/line_NNNN (needs pip install 'thulium-desktop[kraken]'); "
        "its lines and readings are written as a fresh PAGE-XML, <image>.page.xml",
    )


def _model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, metavar="NAME|PATH", help="a bundled model's name (see `models`), or a model of yours: a .safetensors or .pt/.pth/.bin/.ckpt state dict with its .json beside it, a Hugging Face TrOCR folder, an adapter plugin (.py), a TorchScript file (.ts) or a whole pickled model (these three need --trust); default: the default bundled model")
    p.add_argument("--trust", action="store_true", help="allow a --model file that runs code when loaded (adapter plugin, TorchScript, full pickle); only for files you trust")
    p.add_argument("--decoding", choices=DECODINGS, default="greedy", help="how a Hugging Face TrOCR folder reads: greedy (the argmax at each step, whose scores are the ones explained) or folder (its generation settings, e.g. beam search, as its own pipeline reads; that fixed reading's tokens are explained by their teacher-forced scores); default: greedy")


def _device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where the model runs (default: auto, CUDA when available)")


def _positive(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _batch_images(text: str) -> str | int:
    """`auto`, or a positive number of images per batch."""
    if text == "auto":
        return text
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or auto, got {text!r}")
    return int(text)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _token(text: str) -> str | int:
    if text == "all":
        return text
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a character index is 0 or more, got {text!r}")
    return value


#: No reading has more characters; a larger index is a typing mistake, not a request.
_MAX_TOKEN = 9999


def _tokens(text: str) -> tuple[int, ...]:
    """`0,3,5-8` -> (0, 3, 5, 6, 7, 8): character indices and inclusive ranges, 0-based."""
    chosen: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        first, dash, last = part.partition("-")
        try:
            low, high = int(first), int(last if dash else first)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a character index or range: {part!r} in {text!r} (e.g. 0,3,5-8)") from None
        if not 0 <= low <= high <= _MAX_TOKEN:
            raise argparse.ArgumentTypeError(
                f"{part!r}: indices run from 0 to {_MAX_TOKEN}, a range from the lower to the higher")
        chosen.update(range(low, high + 1))
    return tuple(sorted(chosen))


def requested_tokens(token: str | int | tuple[int, ...]) -> str | list[int]:
    """What `--token`/`--tokens` ask the engine for (`SaliencyGenerator.explain`'s
    `tokens`): "all", or the list of character indices."""
    if token == "all":
        return "all"
    return [token] if isinstance(token, int) else list(token)


def _formats(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(f.strip().lower().lstrip(".") for f in text.split(",") if f.strip()))
    unknown = [f for f in chosen if f not in OUTPUT_FORMATS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown format {', '.join(unknown) or '(none)'}; choose among {','.join(OUTPUT_FORMATS)}"
        )
    return chosen


def _shard(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected I/N such as 0/4, got {text!r}")
    i, n = _int(index), _int(count)
    if n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"shard {text}: need N >= 1 and 0 <= I < N")
    return i, n
