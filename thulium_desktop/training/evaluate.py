"""Measure the bundled readers and write the numbers into their json and the model card.

`python -m thulium_desktop.training.evaluate [--models DIR] [--n N] [--seed S]` reports:

- held-out synthetic: training fonts but the training-only ones (and Hershey faces),
  evaluation words, new seeds;
- real digits: strings of scikit-learn digits 1400-1796 (never trained on);
- unseen styles: the held-out font packages, evaluation words;
- pointing game: over the held-out images a reader reads exactly right, the share of
  (non-space) characters whose attention peak, mapped to image pixels, falls on a
  column inside the character's box.

Each image is read as the app reads it: alone, through the model's Recognizer (`prepare`,
then `read`), not in the padded batches training validates on. A batch sees other paper
to the right of an image and, up to the eleventh run, dropped its last partial 4-pixel
strip: on the eleventh run's readers that moved 18 (ctc) and 21 (attention) of the
1,000 held-out readings.

`--degraded` adds the held-out images degraded as photographs and poor scans are
(`training/degrade.py`: vignette, uneven light, coloured or textured paper, JPEG
artefacts, inverted ink, mild blur; one each, in turn), with each degradation's CER:
the same words as the clean held-out CER, so the two sit side by side.

`--by-style` also prints each set's error rates per writing style (font or Hershey face),
worst first, and its most frequent confusions: where the errors come from, and what they are.

The images depend on OpenCV's major version: 4.x draws the two Hershey script faces as
cursive, 5.x as a plain italic, so the held-out set differs between the two (the shipped
ctc reader of the tenth run measured held-out CER 2.56% under 5.0.0, as its card says, and
2.65% under 4.14.0). The card line and the json record the version, so numbers from
different environments are not compared by mistake.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from thulium_desktop.io.atomic import write_text
from thulium_desktop.models.protocol import Reading, Recognizer
from thulium_desktop.models.registry import MODELS_DIR, list_models, load_model_files, read_card
from thulium_desktop.models.weights import save_json
from thulium_desktop.training.decode import edit_distance, error_rates
from thulium_desktop.training.degrade import DEGRADATIONS, degraded_set
from thulium_desktop.training.digits import digit_string
from thulium_desktop.training.fonts import (
    evaluation_training_fonts,
    held_out_fonts,
    missing_evaluation_fonts,
)
from thulium_desktop.training.synth import Sample, random_sample
from thulium_desktop.training.versions import library_versions, versions_phrase

CARD_START = "<!-- metrics:start -->"
CARD_END = "<!-- metrics:end -->"


DEFAULT_SEED = 2026


def _strength(rng: np.random.Generator) -> float:
    return rng.uniform(0.3, 1.0)


def held_out_samples(n: int, seed: int = DEFAULT_SEED) -> list[Sample]:
    """The held-out synthetic set (training fonts but the training-only ones, evaluation
    words), from its own stream, so other measurements (the trust table) can use exactly
    the images evaluated here."""
    missing = missing_evaluation_fonts()
    if missing:
        raise RuntimeError(
            f"the evaluation sets draw with {'; '.join(missing)}, not installed (or "
            "unreadable) here; without them they would be other images than the card's. "
            "Install them with the apt command in resources/models/README.md"
        )
    held, fonts = np.random.default_rng([seed, 0]), evaluation_training_fonts()
    return [random_sample(fonts, "eval", held, strength=_strength(held)) for _ in range(n)]


def evaluation_sets(n: int, seed: int) -> dict[str, list[Sample]]:
    """The three evaluation sets, each from its own seeded stream."""
    unseen, digits = (np.random.default_rng([seed, k]) for k in (1, 2))
    return {
        "held_out": held_out_samples(n, seed),
        "real_digits": [digit_string("eval", digits, strength=_strength(digits))
                        for _ in range(max(1, n // 2))],
        "unseen_styles": [random_sample(held_out_fonts(), "eval", unseen, hershey=False,
                                        strength=_strength(unseen)) for _ in range(max(1, n // 2))],
    }


def with_degraded(sets: dict[str, list[Sample]], seed: int) -> tuple[dict[str, list[Sample]], list[str]]:
    """`sets` and the degraded held-out set (key "degraded"), and each of its images'
    degradation, in order."""
    degraded = degraded_set(sets["held_out"], seed)
    return {**sets, "degraded": [d.sample for d in degraded]}, [d.degradation for d in degraded]


def cer_by_degradation(kinds: list[str], samples: list[Sample], predictions: list[str]) -> dict[str, float]:
    """The CER of the images each degradation made, in `DEGRADATIONS`' order."""
    out = {}
    for kind in DEGRADATIONS:
        idx = [i for i, k in enumerate(kinds) if k == kind]
        if idx:
            rates = error_rates([predictions[i] for i in idx], [samples[i].text for i in idx])
            out[kind] = round(rates["cer"], 4)
    return out


def read_all(recognizer: Recognizer, samples: list[Sample]) -> list[Reading]:
    """Each image's reading, read alone as the app reads it."""
    with torch.inference_mode():
        return [recognizer.read(recognizer.prepare(s.image).tensor) for s in samples]


def pointing_game(recognizer: Recognizer, samples: list[Sample], readings: list[Reading]) -> float:
    """Share of characters (of exactly-read images) whose attention peak is inside their box."""
    hits = total = 0
    for sample, reading in zip(samples, readings):
        if reading.text != sample.text:
            continue
        prepared = recognizer.prepare(sample.image)
        maps = prepared.to_image(recognizer.attention(prepared.tensor, reading).float())
        columns = maps.amax(dim=1).cpu().numpy()  # [T, W]: the peak over rows, per column
        for t, ch in enumerate(reading.tokens):
            if ch == " ":
                continue
            x0, _, x1, _ = sample.boxes[t]
            peak = int(np.argmax(columns[t]))
            hits += int(np.floor(x0) <= peak < np.ceil(x1))
            total += 1
    return hits / max(1, total)


def evaluate_model(json_path: Path, sets: dict[str, list[Sample]], kinds: list[str] | None = None
                   ) -> tuple[dict, dict[str, list[str]]]:
    """The model's metrics on every set, and its reading of every image (by set); with
    the degraded set, `kinds` are its images' degradations, and each one's CER is kept."""
    recognizer = load_model_files(json_path.with_suffix(".safetensors"), json_path)
    metrics: dict = {}
    texts: dict[str, list[str]] = {}
    for key, samples in sets.items():
        readings = read_all(recognizer, samples)
        texts[key] = [r.text for r in readings]
        rates = error_rates(texts[key], [s.text for s in samples])
        metrics[key] = {"cer": round(rates["cer"], 4),
                        "word_accuracy": round(rates["word_accuracy"], 4),
                        "images": len(samples)}
        if key == "held_out":
            metrics["pointing_game"] = round(pointing_game(recognizer, samples, readings), 4)
        if key == "degraded" and kinds is not None:
            metrics[key]["by_degradation"] = cer_by_degradation(kinds, samples, texts[key])
    return metrics, texts


def style_table(samples: list[Sample], predictions: list[str]) -> str:
    """Error rates per writing style, worst share of the set's character errors first:
    where a reader's errors come from, which the set's one CER hides."""
    groups: dict[str, list[int]] = {}
    for i, sample in enumerate(samples):
        groups.setdefault(sample.style, []).append(i)
    edits = {style: sum(edit_distance(predictions[i], samples[i].text) for i in idx)
             for style, idx in groups.items()}
    total = max(1, sum(edits.values()))
    rows = ["| style | images | CER | word acc. | share of errors |", "|---|---|---|---|---|"]
    for style in sorted(groups, key=lambda s: (-edits[s], s)):
        idx = groups[style]
        rates = error_rates([predictions[i] for i in idx], [samples[i].text for i in idx])
        rows.append(f"| {style} | {len(idx)} | {rates['cer']:.2%} | {rates['word_accuracy']:.1%} "
                    f"| {edits[style] / total:.1%} |")
    return "\n".join(rows)


def confusions(samples: list[Sample], predictions: list[str], top: int = 12) -> str:
    """The most frequent misreadings (truth -> reading, counted over the set): a style's
    CER says how often a reader errs; this says which letters it takes for which, which is
    what a data or augmentation change can aim at.

    The alignment is difflib's (longest matching blocks, not a minimal edit script, so
    the counts need not add up to the CER's edits). A replaced run of equal length counts
    letter by letter (`aa`->`uu` is two `a`->`u`); runs of unequal length count as one
    chunk (`rn`->`m`), as do insertions and deletions (`''`->`l`)."""
    counts: Counter[tuple[str, str]] = Counter()
    for sample, reading in zip(samples, predictions, strict=True):
        matcher = difflib.SequenceMatcher(None, sample.text, reading, autojunk=False)
        for op, a0, a1, b0, b1 in matcher.get_opcodes():
            truth, read = sample.text[a0:a1], reading[b0:b1]
            if op == "replace" and len(truth) == len(read):
                counts.update(zip(truth, read))
            elif op != "equal":
                counts[(truth, read)] += 1
    pairs = [f"{truth!r}->{read!r} {n}" for (truth, read), n in counts.most_common(top)]
    return "confusions (truth->reading count): " + (", ".join(pairs) or "none")


def card_table(results: dict[str, dict], command: str, n: int) -> str:
    rows = [
        f"Measured by `{command}` ({n} held-out images, {max(1, n // 2)} digit strings, "
        f"{max(1, n // 2)} unseen-style images; {versions_phrase()}, CPU).",
        "",
        "| model | held-out CER | held-out word acc. | real digits CER | unseen styles CER "
        "| unseen styles word acc. | pointing game |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in results.items():
        rows.append(
            f"| {name} | {m['held_out']['cer']:.2%} | {m['held_out']['word_accuracy']:.1%} "
            f"| {m['real_digits']['cer']:.2%} | {m['unseen_styles']['cer']:.2%} "
            f"| {m['unseen_styles']['word_accuracy']:.1%} | {m['pointing_game']:.1%} |"
        )
    if all("degraded" in m for m in results.values()):
        rows += ["", degraded_table(results)]
    return "\n".join(rows)


def degraded_table(results: dict[str, dict]) -> str:
    """Clean and degraded held-out CER side by side, and each degradation's CER ("–"
    for one no image got: fewer images than degradations)."""
    kinds = list(DEGRADATIONS)
    rows = ["| model | held-out CER | degraded CER | " + " | ".join(kinds) + " |",
            "|---|---|---|" + "---|" * len(kinds)]
    for name, m in results.items():
        by = m["degraded"]["by_degradation"]
        rows.append(f"| {name} | {m['held_out']['cer']:.2%} | {m['degraded']['cer']:.2%} | "
                    + " | ".join(f"{by[k]:.2%}" if k in by else "–" for k in kinds) + " |")
    return "\n".join(rows)


def write_card(readme: Path, table: str) -> None:
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    block = f"{CARD_START}\n{table}\n{CARD_END}"
    if CARD_START in text and CARD_END in text:
        head, rest = text.split(CARD_START, 1)
        text = head + block + rest.split(CARD_END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Measured metrics\n\n" + block + "\n"
    write_text(readme, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m thulium_desktop.training.evaluate",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=MODELS_DIR)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--by-style", action="store_true",
                        help="also print each set's error rates per writing style "
                             "and its most frequent confusions")
    parser.add_argument("--degraded", action="store_true",
                        help="also read the held-out images degraded as photographs and poor "
                             "scans are, and report each degradation's CER")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = "python -m thulium_desktop.training.evaluate " + shlex.join(
        argv if argv is not None else sys.argv[1:])
    sets, kinds = evaluation_sets(args.n, args.seed), None
    if args.degraded:
        sets, kinds = with_degraded(sets, args.seed)
    infos = list_models(args.models)
    results = {}
    for info in infos:
        results[info.name], readings = evaluate_model(info.json_path, sets, kinds)
        print(info.name, results[info.name], flush=True)
        if args.by_style:
            for key, samples in sets.items():
                print(f"\n{info.name}, {key}:\n{style_table(samples, readings[key])}\n\n"
                      f"{confusions(samples, readings[key])}\n", flush=True)
    table = card_table(results, command, args.n)
    print(table)
    if not args.no_write:  # only once every model is measured and every json read
        cards = {info.name: read_card(info.json_path) for info in infos}
        for info in infos:
            cards[info.name]["metrics"] = {**results[info.name], "command": command,
                                           "seed": args.seed, **library_versions()}
            save_json(cards[info.name], info.json_path)
        write_card(args.models / "README.md", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
