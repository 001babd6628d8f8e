"""The argparse definition of the headless commands (explain, models, read, install-desktop-entry)."""

from __future__ import annotations

import argparse

from thulium_desktop.xai.saliency import BASELINES, METHODS

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
    p.add_argument(
        "--method", default="gradient", choices=(*METHODS, "all"),
        help="the explanation method; 'all' runs every one and adds a comparison figure (default: gradient)",
    )
    p.add_argument("--steps", type=_positive, default=50, metavar="N", help="integration points for 'integrated' (default: 50)")
    p.add_argument("--samples", type=_positive, default=25, metavar="N", help="noisy copies for the SmoothGrad family (default: 25)")
    p.add_argument("--noise", type=_non_negative, default=0.1, metavar="F", help="SmoothGrad noise as a fraction of the input's range (default: 0.1)")
    p.add_argument("--baseline", choices=BASELINES, default=None, help="integrated-gradients baseline (default: zeros)")
    p.add_argument("--token", type=_token, default="all", metavar="all|N", help="explain every character, or only character N (0-based)")
    p.add_argument("--out", default="thulium-out", metavar="DIR", help="output folder (default: ./thulium-out)")
    p.add_argument(
        "--format", type=_formats, default=DEFAULT_FORMATS, metavar="LIST",
        help=f"comma-separated outputs among {','.join(OUTPUT_FORMATS)} (default: {','.join(DEFAULT_FORMATS)})",
    )
    p.add_argument("--dpi", type=_positive, default=300, help="resolution of PNG figures (default: 300)")
    _device_option(p)
    p.add_argument("--seed", type=int, default=0, help="seed of SmoothGrad's noise (default: 0)")
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
        "attention is contrasted with gradient)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _models(commands) -> None:
    commands.add_parser("models", help="list the bundled models with their measured accuracy")


def _read(commands) -> None:
    p = commands.add_parser(
        "read", help="print what the model reads in each image, with per-character confidences"
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
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


def _model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, metavar="NAME|PATH", help="a bundled model's name (see `models`), or a model of yours: a .safetensors or .pt/.pth/.bin/.ckpt state dict with its .json beside it, a Hugging Face TrOCR folder, an adapter plugin (.py), a TorchScript file (.ts) or a whole pickled model (these three need --trust); default: the default bundled model")
    p.add_argument("--trust", action="store_true", help="allow a --model file that runs code when loaded (adapter plugin, TorchScript, full pickle); only for files you trust")


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
