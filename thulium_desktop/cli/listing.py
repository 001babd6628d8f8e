"""`thulium-desktop models` and `thulium-desktop read`: what is installed, and what it reads."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from thulium_desktop import models
from thulium_desktop.cli import recognizers
from thulium_desktop.cli.document_outputs import DocumentOutputs
from thulium_desktop.cli.errors import OK, SOME_FAILED, UsageError
from thulium_desktop.io.corpus import Corpus, CorpusItem, collect_images, load_item, segment_images, shard
from thulium_desktop.io.image_quality import image_quality_notes, input_height
from thulium_desktop.io.images import ImageLoadError
from thulium_desktop.io.kraken_lines import KrakenMissing
from thulium_desktop.io.truths import Truth, TruthSource
from thulium_desktop.models.registry import ModelInfo, read_card
from thulium_desktop.xai.saliency import SaliencyGenerator
from thulium_desktop.xai.ground_truth import character_error_rate, truth_problem

#: An alphabet longer than this is shown by its ends, joined by "…".
ALPHABET_SHOWN = 60

#: `read`'s columns, and those added when the images have truths.
READ_COLUMNS = ("path", "reading", "confidences")
TRUTH_COLUMNS = ("truth", "cer")


def run_models(args: argparse.Namespace) -> int:
    """Each bundled model: name, architecture and description, then its measured metrics,
    one line per evaluation set (the cards nest them: `held_out: cer=0.0412 ...`)."""
    infos = models.list_models()
    if not infos:
        print("no bundled models are installed")
        return OK
    for info in infos:
        print(f"{info.name}  ({info.architecture})" + (f"  {info.description}" if info.description else ""))
        print(f"    {_input_line(info)}")
        for line in _metric_lines(info.metrics):
            print(f"    {line}")
    return OK


def _input_line(info: ModelInfo) -> str:
    """What the model reads: its input height and alphabet (from its json description),
    the alphabet shortened in the middle when long, a space shown as "␣"."""
    card = read_card(info.json_path)
    alphabet = card["alphabet"]
    shown = alphabet if len(alphabet) <= ALPHABET_SHOWN else (
        alphabet[: ALPHABET_SHOWN - 10] + "…" + alphabet[-10:])
    shown = shown.replace(" ", "␣")
    return f"input height {card['input_height']} px;  alphabet of {len(alphabet)} characters: {shown}"


def _metric_lines(metrics: dict) -> list[str]:
    """Nested groups on a line each; loose scalars together on the first line."""
    scalars = [f"{k}={_number(v)}" for k, v in metrics.items() if not isinstance(v, dict)]
    groups = [
        f"{k}: " + "  ".join(f"{kk}={_number(vv)}" for kk, vv in v.items())
        for k, v in metrics.items()
        if isinstance(v, dict)
    ]
    return (["  ".join(scalars)] if scalars else []) + groups


def run_read(args: argparse.Namespace) -> int:
    """Tab-separated `path, reading, confidences` per image under a header line, with
    `truth, cer` columns when any image has a truth (found as `explain` finds it);
    failures on stderr with exit code 1, and notes (how an image was loaded, why the model
    cannot read it well (`image_quality_notes`: it is read anyway), where its truth came
    from, a truth that was not compared) on stderr as `note: PATH: ...`."""
    corpus = collect_images(args.paths)
    if not corpus.items and not corpus.missing:
        raise UsageError(f"no images found in {', '.join(args.paths)}")
    selected = selected_items(corpus, (0, 1), args.segment)
    # read through the engine, which refuses inputs no model reads as the app and explain do
    recognizer = recognizers.prepared_recognizer(args.model, args.device, args.trust, args.decoding).recognizer
    engine = SaliencyGenerator(recognizer)
    height = input_height(recognizer)
    source = TruthSource()
    truths = {item: source.lookup(item) for item in selected.items}
    with_truths = any(t.text is not None or t.problem is not None for t in truths.values())
    print("\t".join(READ_COLUMNS + (TRUTH_COLUMNS if with_truths else ())))
    failures = [f"{path}: {reason}" for path, reason in corpus.missing + selected.missing]
    documents = DocumentOutputs(recognizer, Path(args.layouts_out)) if args.layouts_out else None
    for item in selected.items:
        try:
            loaded = load_item(item)
            reading = engine.read(loaded.image)
        except ImageLoadError as exc:
            failures.append(f"{item.label}: {exc.reason}")
            continue
        except Exception as exc:  # a model that cannot read one image must not end the run
            failures.append(f"{item.label}: {type(exc).__name__}: {exc}")
            continue
        confidences = " ".join(f"{c:.3f}" for c in reading.confidences)
        cells = [item.label, reading.text, confidences]
        notes = [*loaded.notes, *image_quality_notes(loaded.image, height)]
        if with_truths:
            truth_cells, truth_notes = _truth_cells(reading.text, truths[item])
            cells += truth_cells
            notes += truth_notes
        print("\t".join(cells))
        _print_notes(item, notes)
        if documents is not None:
            failures += _layout_failures(lambda: documents.add(item, reading), documents.out_dir)
    if documents is not None:
        failures += _layout_failures(documents.finish, documents.out_dir)
    for line in failures:
        print(f"failed: {line}", file=sys.stderr)
    return SOME_FAILED if failures else OK


def selected_items(corpus: Corpus, part: tuple[int, int], segment: bool) -> Corpus:
    """The items of shard `part` (index, count) of `corpus`, with `--segment` each image
    taken whole replaced by its lines (`segment_images`), and what segmenting could not
    use. Raises `UsageError` (kraken's install command) when segmenting needs kraken and
    it is not installed: every page would fail the same way."""
    items = shard(corpus.items, *part)
    if not segment:
        return Corpus(tuple(items), ())
    try:
        return segment_images(items, corpus.items)
    except KrakenMissing as exc:
        raise UsageError(str(exc)) from None


def _layout_failures(write: Callable[[], object], out_dir: Path) -> list[str]:
    """One step of writing the enriched layouts (`--layouts-out`); the failure to report
    when it cannot be done (as for an image the model cannot read, the run goes on)."""
    try:
        write()
    except Exception as exc:
        return [f"{out_dir}: cannot write an enriched layout: {type(exc).__name__}: {exc}"]
    return []


def _truth_cells(reading: str, truth: Truth) -> tuple[list[str], list[str]]:
    """The truth and CER cells of one row (empty when there is no usable truth), and the
    notes on the truth: where it came from, and why it was not compared."""
    notes = list(truth.notes)
    problem = truth.problem
    if problem is None and truth.text is not None:
        problem = truth_problem(reading, truth.text)
    if problem is not None:
        return ["", ""], notes + [f"truth not used: {problem}"]
    if truth.text is None:
        return ["", ""], notes
    return [truth.text, f"{character_error_rate(reading, truth.text):.4f}"], notes


def _print_notes(item: CorpusItem, notes: list[str]) -> None:
    for note in notes:
        print(f"note: {item.label}: {note}", file=sys.stderr)


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
