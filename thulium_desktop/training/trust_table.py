"""Can these maps be trusted? Issue 7's measures per method, as a table for the model card.

`python -m thulium_desktop.training.trust_table [--model NAME] [--images N] [--threads T]
[--json OUT]` measures every bundled model (or one) on the first N images of the
evaluation's held-out set (`evaluate.held_out_samples`: the training fonts but the
training-only ones, evaluation words, the evaluation's seed) and prints a Markdown
table; see `trust_measures` for what is averaged over which characters. Seeded: a rerun
prints the same numbers.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import torch

from thulium_desktop.io.atomic import write_json
from thulium_desktop.models.registry import MODELS_DIR, list_models, load_model_files
from thulium_desktop.training.evaluate import DEFAULT_SEED, held_out_samples
from thulium_desktop.training.trust_measures import TrustSettings, measure_model
from thulium_desktop.training.versions import library_versions, versions_phrase
from thulium_desktop.xai.faithfulness import RANDOM_ORDERS
from thulium_desktop.xai.sanity import INSENSITIVE_CORRELATION

PROG = "python -m thulium_desktop.training.trust_table"
HEADER = (
    "| model | method | chars | stroke focus (ink share) | spread | background | localisation (char widths) "
    "| verdicts | deletion AUC (random) | deletion beats random "
    "| insertion AUC (random) | insertion beats random | sanity ρ, all layers random |"
)


def markdown_table(results: dict[str, dict[str, dict]]) -> str:
    """One row per model and method; `results[model][method]` as `measure_model` gives."""
    rows = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for model, methods in results.items():
        for method, m in methods.items():
            labels = _verdicts(m["labels"])
            rows.append(
                f"| {model} | {method} | {m['characters']} | {_num(m['stroke_focus'])} ({_num(m['ink_share'])}) "
                f"| {_num(m['spread'])} | {_num(m['background'])} | {_num(m['localisation_chars'])} "
                f"| {labels} | {_curve(m['deletion'])} | {_pct(m['deletion']['beats_random'])} "
                f"| {_curve(m['insertion'])} | {_pct(m['insertion']['beats_random'])} | {_sanity(m)} |"
            )
    return "\n".join(rows)


def notes(command: str, settings: TrustSettings, images: int, seconds: float) -> str:
    """What was measured and how, printed above the table so the card can quote it."""
    ig, sg = settings.config("integrated").describe(), settings.config("smoothgrad").describe()
    return (
        f"Measured by `{command}` ({seconds / 60:.1f} min; {versions_phrase()}, CPU) on the "
        f"first {images} held-out images (training fonts but the training-only ones, evaluation "
        f"words, seed {DEFAULT_SEED}). "
        f"Characters: up to {settings.chars_per_image} per image, evenly spaced, of those the "
        "reading gets right (edit-distance match with the truth), spaces excepted. Means over "
        "those characters; stroke focus is next to the ink's share of the text region, what a map "
        "blind to the strokes would score. Verdicts: the share of characters given each; gradient "
        "maps are judged against the ink (focused from 1.5 times its share), attention against "
        "its alignment (on its character: within half a character width, half its mass or more "
        f"in the character's columns). Integrated gradients: {ig['num_steps']} {ig['integration']} points, "
        f"{ig['baseline']} baseline; SmoothGrad: {sg['num_samples']} samples, noise "
        f"{sg['noise_level']}; maps absolute: {ig['absolute']}, scores: {ig['score']}. "
        f"Deletion/insertion: {settings.curve_steps} steps of the character's probability "
        f"(relative to the intact image), against {RANDOM_ORDERS} random pixel orders (seed "
        f"{settings.seed}); a map beats random when its AUC lies outside all {RANDOM_ORDERS} random "
        f"AUCs on the better side (by chance: 1 in {RANDOM_ORDERS + 1}); the random AUC shown is their mean. "
        f"Sanity: Spearman ρ of the signed maps after randomising every layer, on the characters "
        f"of the first {settings.sanity_images} image(s) only (n characters; it recomputes each map "
        f"once per layer); ⚑ = flagged (ρ ≥ {INSENSITIVE_CORRELATION}). Localisation is measured against "
        "the model's attention (CTC: its class posterior), so the attention rows are ~0 by "
        "construction."
    )


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _verdicts(shares: dict[str, float]) -> str:
    """Each verdict given to some of the characters, with its share (a row's method
    family decides which verdicts it can get)."""
    given = [f"{label} {share:.0%}" for label, share in shares.items() if share]
    return " · ".join(given) or "–"


def _curve(curve: dict) -> str:
    return f"{_num(curve['auc'])} ({_num(curve['random_auc'])})"


def _sanity(method: dict) -> str:
    check = method.get("sanity")
    if check is None:
        return "–"
    return f"{check['final']:.2f} (n={check['characters']})" + (" ⚑" if check["flagged"] else "")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = TrustSettings()
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=MODELS_DIR)
    parser.add_argument("--model", help="one model by name (default: every bundled model)")
    parser.add_argument("--images", type=int, default=20, help="held-out images per model")
    parser.add_argument("--chars", type=int, default=defaults.chars_per_image, help="characters per image")
    parser.add_argument("--sanity-images", type=int, default=defaults.sanity_images)
    parser.add_argument("--steps", type=int, default=defaults.num_steps, help="integrated-gradient points")
    parser.add_argument("--samples", type=int, default=defaults.num_samples, help="SmoothGrad samples")
    parser.add_argument("--curve-steps", type=int, default=defaults.curve_steps)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write every number here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = TrustSettings(num_steps=args.steps, num_samples=args.samples, curve_steps=args.curve_steps,
                             chars_per_image=args.chars, sanity_images=args.sanity_images)
    command = " ".join([PROG, shlex.join(argv if argv is not None else sys.argv[1:])]).strip()
    infos = [i for i in list_models(args.models) if args.model in (None, i.name)]
    if not infos:
        print(f"no model named {args.model!r} in {args.models}", file=sys.stderr)
        return 2
    samples = held_out_samples(args.images)
    started = time.perf_counter()
    results, seconds = {}, {}
    for info in infos:
        model = load_model_files(info.weights_path, info.json_path)
        t0 = time.perf_counter()
        results[info.name] = measure_model(model, samples, settings, _progress(info.name, t0))
        seconds[info.name] = round(time.perf_counter() - t0, 1)
    total = time.perf_counter() - started
    print(notes(command, settings, len(samples), total) + "\n\n" + markdown_table(results))
    if args.json is not None:
        record = {"command": command, "images": len(samples), "held_out_seed": DEFAULT_SEED,
                  "settings": settings.as_dict(), **library_versions(),
                  "seconds": seconds,
                  "models": results}
        write_json(args.json, record)
    return 0


def _progress(name: str, t0: float):
    def say(done: int, total: int) -> None:
        print(f"{name}: image {done}/{total} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    return say


if __name__ == "__main__":
    sys.exit(main())
