"""`thulium-desktop explain`: maps and figures for every image of a corpus (or one shard of it).

The model is loaded once and the images run one after the other through the
same `SaliencyGenerator` the app uses; with `--batch-images N` (by default on CUDA) the
gradient maps of lines of the same width come from one forward pass per batch
(`xai/batched.py`), a window of images ahead of their turn. An image that cannot be
read or explained is reported with its path and reason and the run goes on; the exit
code says whether anything failed.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from thulium_desktop.cli import recognizers
from thulium_desktop.cli.contrast import contrast_record, explain_contrasts
from thulium_desktop.cli.document_outputs import DocumentOutputs
from thulium_desktop.cli.errors import INTERRUPTED, OK, SOME_FAILED, UsageError
from thulium_desktop.cli.interrupt import stop_after_current
from thulium_desktop.cli.listing import selected_items
from thulium_desktop.cli.outputs import OutputPlan, method_record, write_image_outputs
from thulium_desktop.cli.parser import requested_tokens
from thulium_desktop.io.atomic import remove_stale_temporaries, write_json
from thulium_desktop.io.corpus import CorpusItem, LoadedImage, collect_images, load_item
from thulium_desktop.io.image_quality import image_quality_notes, input_height
from thulium_desktop.io.images import ImageLoadError
from thulium_desktop.io.truths import TruthSource
from thulium_desktop.models.errors import exception_line
from thulium_desktop.models.protocol import Contrastable, model_device
from thulium_desktop.xai.batched import BATCHED_METHODS, BatchExplainer, Explained
from thulium_desktop.xai.fastest import remembered_verdicts
from thulium_desktop.xai.ground_truth import align, character_error_rate, edit_counts, truth_problem
from thulium_desktop.xai.methods import PARAMETERS, REGISTRY
from thulium_desktop.xai.saliency import NOISE_FAMILY, Explanation, MapNote, SaliencyConfig, SaliencyGenerator
from thulium_desktop.xai.trust import trust_report


def run_explain(args: argparse.Namespace) -> int:
    """Explain the selected shard of the corpus; returns the exit code."""
    plan = OutputPlan(Path(args.out), args.format, args.dpi)
    corpus = collect_images(args.paths, exclude=[plan.out_dir])
    if not corpus.items and not corpus.missing:
        raise UsageError(f"no images found in {', '.join(args.paths)}")
    index, count = args.shard
    selected = selected_items(corpus, args.shard, args.segment)
    items = selected.items
    _prepare_output_folder(plan.out_dir)
    opened = recognizers.prepared_recognizer(args.model, args.device, args.trust, args.decoding)
    generator = SaliencyGenerator(opened.recognizer, _config(args), model_label=opened.summary.caption())
    if args.contrast and not isinstance(opened.recognizer, Contrastable):
        raise UsageError(f"--contrast: {opened.summary.caption()} cannot score a character it did not read")
    methods = tuple(REGISTRY) if args.method == "all" else (args.method,)
    made_by = recognizers.provenance(opened)  # the model's digest: read once for the run
    # Arguments that name nothing are reported by shard 0 only, so a job array counts them once.
    missing = (corpus.missing if index == 0 else ()) + selected.missing  # segmenting: this shard's own pages
    records = [_failed(path, reason) | made_by for path, reason in missing]
    for record in records:
        _report(record)
    truths = TruthSource()  # reads each folder's ground_truth.tsv once for the run
    # each page's PAGE-XML/ALTO with its readings, and its page figure in the figure formats asked
    documents = DocumentOutputs(opened.recognizer, plan.out_dir, plan.figure_formats, plan.dpi)
    batcher = _batcher(args, generator, methods)
    started = time.perf_counter()
    interrupted = False
    stopped: str | None = None
    try:
        # the records carry each map's notes (`Explanation.notes`): not on stderr as well
        with stop_after_current(_say) as stop, warnings.catch_warnings(), remembered_verdicts(), \
                ChunkBar(args.quiet) as chunks, tqdm(total=len(items), unit="image", disable=args.quiet,
                                                     file=sys.stderr, dynamic_ncols=True) as bar:
            warnings.filterwarnings("ignore", category=MapNote)
            for item, ahead in _ahead_of_turn(batcher, items, args.token, generator.config, methods):
                try:
                    record = _explain_one(generator, methods, args.token, item, plan, truths, _checks(args),
                                          args.contrast, made_by, chunks, documents, ahead)
                except WritesRefused as exc:
                    record, stopped = exc.record, exc.reason
                records.append(record)
                _report(record)
                bar.update()
                if stopped or stop.requested:
                    interrupted = not stopped
                    break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        _finish_documents(documents)  # pages a failed line or an interruption left unwritten
        elapsed = time.perf_counter() - started
        summary = _summary(args, generator, methods, items, records, interrupted, elapsed, made_by) | {
            "stopped": stopped, "batching": _batching_record(batcher, records)}
        _write_summary(plan.out_dir / _summary_name(index, count), summary)
    if not args.quiet and summary["images_per_minute"] is not None:
        _say(f"{summary['counts']['done']} images in {elapsed:.1f} s: "
             f"{summary['images_per_minute']:.1f} images per minute")
    if interrupted:
        _say(f"interrupted: {summary['counts']['done']} of {len(items)} images done")
        return INTERRUPTED
    if stopped:
        _say(f"stopped after {summary['counts']['done']} of {len(items)} images: {stopped}")
    return SOME_FAILED if summary["counts"]["failed"] else OK


#: Write errors that every later image would meet too: the run stops instead of
#: computing maps it cannot save.
_FATAL_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


class WritesRefused(Exception):
    """The output folder refused an image's outputs for a reason every later image would
    meet too (full disk, read-only); carries that image's (failed) record."""

    def __init__(self, record: dict[str, Any], reason: str) -> None:
        super().__init__(reason)
        self.record = record
        self.reason = reason


class ChunkBar:
    """The second progress bar, under the images': the backward chunks of the method
    running on the current image, so a long line that takes minutes shows it moving
    (the engine's `on_progress`). Gone when the run ends; nothing with --quiet."""

    def __init__(self, quiet: bool) -> None:
        self._bar = tqdm(total=0, unit="chunk", position=1, leave=False, disable=quiet,
                         file=sys.stderr, dynamic_ncols=True)

    def __enter__(self) -> ChunkBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._bar.close()

    def start(self, what: str) -> None:
        """A new method run (`what`: the image and its methods) begins at no chunks."""
        self._bar.reset(total=0)
        self._bar.set_description_str(what, refresh=False)

    def __call__(self, done: int, total: int) -> None:
        """The engine's `on_progress`: `done` chunks of the `total` planned so far."""
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()  # every chunk: a long line's chunks are seconds apart, a word's few


#: `--batch-images auto` on CUDA: lines of the same width explained per forward. Not yet
#: measured on a GPU (issue 25); small enough that a batch of 2000-pixel lines' gradients
#: stays in the hundreds of MB.
AUTO_CUDA_BATCH_IMAGES = 16
#: A batch is filled from the next (batch size x this) images of the corpus, grouped by
#: width: lines of the same width are found among many (a word corpus fills its batches;
#: page lines of widely spread widths meet fewer equals), and that many images' pixels and
#: maps wait for their turn in memory (a 2000x64 line of 60 characters: 30 MB of maps).
BATCH_WINDOW_FACTOR = 4


@dataclass
class Ahead:
    """What was done for an image before its turn: its pixels (or, in `error`, why it has
    none), what its batch gave it, by method (the explanation with the warnings raised
    for this image), or the note on why it is explained alone, its batch (`images`,
    `width`) and the seconds spent on it so far (decoding, and its share of its batch)."""

    loaded: LoadedImage | None = None
    error: str | None = None
    explained: dict[str, Explained] = field(default_factory=dict)
    alone_note: str | None = None
    batch: dict[str, int] | None = None
    seconds: float = 0.0


def _batch_images(args: argparse.Namespace, generator: SaliencyGenerator) -> int:
    """How many images one forward explains: `--batch-images`, or by default a batch on
    CUDA and one by one elsewhere (a CPU is busy with one line already)."""
    if args.batch_images != "auto":
        return args.batch_images
    return AUTO_CUDA_BATCH_IMAGES if model_device(generator.model.module).type == "cuda" else 1


def _batcher(args: argparse.Namespace, generator: SaliencyGenerator, methods: tuple[str, ...]
             ) -> BatchExplainer | None:
    """The run's batch explainer, or None when images go one by one (a batch of one, or
    no method here is batched)."""
    size = _batch_images(args, generator)
    if size < 2 or not set(methods) & set(BATCHED_METHODS):
        return None
    return BatchExplainer(generator, size)


def _ahead_of_turn(batcher: BatchExplainer | None, items: list[CorpusItem], token, config: SaliencyConfig,
                   methods: tuple[str, ...]) -> Iterator[tuple[CorpusItem, Ahead | None]]:
    """`(item, ahead)` in the corpus's order: with a batcher, each window of images loaded
    and its batched methods explained together before the window's images take their
    turn (`ahead` None: the image is loaded and explained in its turn). Each window is
    sized by the batch size in effect (an out-of-memory shrinks it)."""
    if batcher is None:
        yield from ((item, None) for item in items)
        return
    start = 0
    while start < len(items):
        chunk = items[start : start + batcher.max_images * BATCH_WINDOW_FACTOR]
        start += len(chunk)
        yield from zip(chunk, _explained_ahead(batcher, chunk, token, config, methods))


def _loaded(item: CorpusItem) -> Ahead:
    """The item's pixels, or why it has none, and the seconds it took to decode."""
    started = time.perf_counter()
    try:
        loaded = load_item(item)
    except ImageLoadError as exc:
        return Ahead(error=exc.reason)
    return Ahead(loaded=loaded, seconds=time.perf_counter() - started)


def _noted(exp: Explanation, note: str) -> Explanation:
    """`exp` with one more note (where its records and captions name it)."""
    return replace(exp, notes=(*exp.notes, note))


def _explained_ahead(batcher: BatchExplainer, items: list[CorpusItem], token, config: SaliencyConfig,
                     methods: tuple[str, ...]) -> list[Ahead]:
    """The window's images loaded, and each batched method's explanations of them (each
    with the warnings raised for that image: the batcher records them per image)."""
    aheads = [_loaded(item) for item in items]
    readable = [a for a in aheads if a.loaded is not None]
    for method in (m for m in methods if m in BATCHED_METHODS):
        outcomes = batcher.explain([a.loaded.image for a in readable], requested_tokens(token),
                                   replace(config, method=method))
        for ahead, outcome in zip(readable, outcomes):
            if isinstance(outcome, Explained):
                ahead.explained[method] = outcome
                ahead.batch = {"images": outcome.images, "width": outcome.width}
                ahead.seconds += outcome.explanation.timings.total_s
            else:
                ahead.alone_note = outcome.note
    return aheads


def _batching_record(batcher: BatchExplainer | None, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary's account of batching: the batch size asked for (1: one by one, also
    where no method of the run is batched), the sizes of the batches that ran out of CUDA
    memory and the batch size they left in effect, how many images a batch explained, and
    the first batch's map check."""
    if batcher is None:
        return {"batch_images": 1}
    batched = sum(record.get("batch", {}).get("images", 1) > 1 for record in records)
    return {"batch_images": batcher.asked_images, "out_of_memory": batcher.out_of_memory,
            "batch_images_at_end": batcher.max_images, "max_padding_fraction": batcher.max_padding_fraction,
            "images_batched": batched, "parity": batcher.parity.record()}


def _method_runs(methods: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The methods as they run, in order: the SmoothGrad family's together when more
    than one of it is asked for (one set of noisy copies and one backward per chunk
    for all of them), each other method alone."""
    family = tuple(m for m in methods if m in NOISE_FAMILY)
    runs: list[tuple[str, ...]] = []
    for method in methods:
        run = family if len(family) > 1 and method in family else (method,)
        if run not in runs:
            runs.append(run)
    return runs


def _explain_run(generator: SaliencyGenerator, image, run: tuple[str, ...], tokens, on_progress) -> dict[str, Explanation]:
    """The explanations of one of `_method_runs`, by method."""
    if len(run) > 1:
        return generator.explain_noise_family(image, run, tokens=tokens, on_progress=on_progress)
    return {run[0]: generator.explain(image, method=run[0], tokens=tokens, on_progress=on_progress)}


def _prepare_output_folder(folder: Path) -> None:
    """Create the output folder, prove it takes files before any image is computed, and
    remove the temporaries a killed earlier run left there."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write to the output folder {folder}: {exc.strerror or exc}") from exc
    removed = [path for sub, _, _ in os.walk(folder) for path in remove_stale_temporaries(sub)]
    if removed:
        _say(f"removed {len(removed)} unfinished file(s) left in {folder} by an earlier run")


def _write_summary(path: Path, summary: dict[str, Any]) -> None:
    """Write the run's summary; where the output folder refuses it (a full disk), into
    the temporary folder instead, named in the message, so no run loses its records."""
    try:
        write_json(path, summary)
        return
    except OSError as exc:
        reason = exc.strerror or str(exc)
    fd, fallback = tempfile.mkstemp(prefix="thulium-summary-", suffix=".json")
    os.close(fd)
    try:
        write_json(fallback, summary)
    except OSError as exc:
        _say(f"cannot write the summary to {path} ({reason}) nor to {fallback} ({exc.strerror or exc})")
        return
    _say(f"cannot write the summary to {path} ({reason}); it was written to {fallback}")


def _config(args: argparse.Namespace) -> SaliencyConfig:
    """Every method parameter as given (the parser stores each under its field name)."""
    try:
        return SaliencyConfig(**{name: getattr(args, name) for name in PARAMETERS}, precision=args.precision)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _checks(args: argparse.Namespace) -> dict[str, bool] | None:
    """Which trust measures to add to each method's record (None: none)."""
    if not (args.diagnostics or args.sanity):
        return None
    return {"curves": True, "sanity": args.sanity}


def _explain_one(
    generator: SaliencyGenerator,
    methods: tuple[str, ...],
    token: str | int | tuple[int, ...],
    item: CorpusItem,
    plan: OutputPlan,
    truths: TruthSource,
    checks: dict[str, bool] | None = None,
    contrast: bool = False,
    made_by: dict[str, Any] | None = None,
    chunks: ChunkBar | None = None,
    documents: DocumentOutputs | None = None,
    ahead: Ahead | None = None,
) -> dict[str, Any]:
    """Every method on one image (and, with `contrast`, each substituted character's
    contrast with its truth), its outputs written; the image's record for the summary,
    with `made_by` (the tool's and the model's `recognizers.provenance`). An image the
    model cannot read well (`image_quality_notes`) is read anyway, and its notes say so.
    `chunks` shows each method's progress within the image. `ahead`: the image as its
    batch loaded and explained it (None: loaded here)."""
    made_by = made_by or {}
    ahead = ahead or _loaded(item)
    started = time.perf_counter() - ahead.seconds  # its seconds count its decoding and its batch's share
    if ahead.loaded is None:
        return _failed(item.label, ahead.error, item.name) | made_by
    loaded = ahead.loaded
    image = loaded.image
    image_notes = [*loaded.notes, *image_quality_notes(image, input_height(generator.model))]
    for note in image_notes:
        _say(f"note: {item.label}: {note}")
    explanations: dict[str, Explanation] = {}
    records: dict[str, Any] = {}
    errors: dict[str, str] = {}
    tokens = requested_tokens(token)
    for run in _method_runs(methods):
        if run[0] in ahead.explained:  # its batch explained it
            batched = ahead.explained[run[0]]
            made, messages = {run[0]: batched.explanation}, list(batched.warnings)
        else:
            if chunks is not None:
                chunks.start(f"{item.name}: {', '.join(run)}")
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    warnings.filterwarnings("ignore", category=MapNote)  # `exp.notes` carries those
                    made = _explain_run(generator, image, run, tokens, chunks)
            except Exception as exc:  # one method failing on one image must not end the run
                errors.update(dict.fromkeys(run, exception_line(exc)))
                continue
            messages = [str(w.message) for w in caught]
            if ahead.alone_note is not None:  # why a batched method was explained alone
                made = {m: _noted(exp, ahead.alone_note) if m in BATCHED_METHODS else exp for m, exp in made.items()}
        for method, exp in made.items():
            explanations[method] = exp
            records[method] = method_record(exp, messages)
            if checks is not None:
                config = replace(generator.config, method=method)
                records[method]["trust"] = trust_report(generator.model, image, exp, config, **checks).as_dict()
    # Seconds to decode and explain (and check), set before writing so the image's own .json has it too.
    record = _record(item, explanations, records, errors) | {"seconds": time.perf_counter() - started,
                                                              "image_notes": image_notes} | made_by
    if ahead.batch is not None:
        record["batch"] = ahead.batch
    record.update(_truth_record(truths, item, record["reading"]))
    contrasts: dict[str, Explanation] = {}
    if contrast and explanations:
        try:
            contrasts = _contrasts(generator, image, methods, explanations, record)
        except Exception as exc:  # as for a method: this image fails, the run goes on
            errors["contrast"] = exception_line(exc)
            record |= _record(item, explanations, records, errors)
    try:
        record["outputs"] = write_image_outputs(plan, item, image, explanations, record, contrasts)
    except Exception as exc:
        errors["outputs"] = f"cannot write the outputs: {exception_line(exc)}"
        record |= _record(item, explanations, records, errors)
        if isinstance(exc, OSError) and exc.errno in _FATAL_WRITE_ERRORS:
            raise WritesRefused(record, f"cannot write to {plan.out_dir}: {exc.strerror}") from exc
    if documents is not None and explanations:
        record |= _document_record(documents, item, explanations)
    return record


def _document_record(documents: DocumentOutputs, item: CorpusItem, explanations: dict[str, Explanation]
                     ) -> dict[str, Any]:
    """The page's enriched layout, written once its last line is in: `document` (its
    path in the output folder), or `document_error` saying why it could not be written."""
    try:
        written = documents.add(item, next(iter(explanations.values())).reading, explanations)
    except Exception as exc:  # as for a method: the run goes on without this page's layout
        return {"document_error": f"cannot write the enriched layout: {exception_line(exc)}"}
    return {} if written is None else {"document": written.relative_to(documents.out_dir).as_posix()}


def _finish_documents(documents: DocumentOutputs) -> None:
    """Write the pages some line never reached (it failed, or the run was interrupted)."""
    try:
        documents.finish()
    except Exception as exc:  # the summary must still be written
        _say(f"cannot write an enriched layout: {exception_line(exc)}")


def _contrasts(
    generator: SaliencyGenerator,
    image,
    methods: tuple[str, ...],
    explanations: dict[str, Explanation],
    record: dict[str, Any],
) -> dict[str, Explanation]:
    """Each substituted character's contrast with the record's truth, for the reading the
    other maps explain; the record gains their entries and the notes on what has none."""
    reading = next(iter(explanations.values())).reading
    contrasts, notes = explain_contrasts(generator, image, methods, reading, record.get("truth"))
    if "truth_error" in record:  # say why the truth is missing, not that there is none
        notes = [f"no contrast: the truth file could not be used ({record['truth_error']})"]
    record["contrasts"] = [contrast_record(exp) for exp in contrasts.values()]
    record["contrast_notes"] = notes
    return contrasts


def _record(item: CorpusItem, explanations: dict[str, Explanation], methods: dict, errors: dict) -> dict[str, Any]:
    reading = next(iter(explanations.values())).reading if explanations else None
    return {
        "path": str(item.path),
        "line": None if item.line is None else item.line.line.id,
        "name": item.name,
        "status": "failed" if errors else "ok",
        "error": "; ".join(f"{k}: {v}" for k, v in errors.items()) or None,
        "reading": None if reading is None else reading.text,
        "tokens": None if reading is None else list(reading.tokens),
        "confidences": None if reading is None else reading.confidences,
        "methods": methods,
        "outputs": [],
    }


def _truth_record(truths: TruthSource, item: CorpusItem, reading: str | None) -> dict[str, Any]:
    """The character error rate and edit counts against the image's truth, found as the
    app finds it (a page line's layout, `IMAGE.gt.txt`, else its folder's `ground_truth.tsv`),
    when it has one,
    and the notes on where it came from. A truth that cannot be used, or is too long to
    compare with this reading (`truth_problem`), is the record's `truth_error` instead."""
    found = truths.lookup(item)
    for note in found.notes:
        _say(f"note: {item.label}: {note}")
    notes = {"truth_notes": list(found.notes)}
    truth = found.text
    problem = found.problem
    if problem is None and truth is not None and reading is not None:
        problem = truth_problem(reading, truth)
    if problem is not None:
        return notes | {"truth_error": problem}
    if truth is None or reading is None:
        return notes
    return notes | {
        "truth": truth,
        "cer": character_error_rate(reading, truth),
        "edits": edit_counts(align(reading, truth)),
    }


def _failed(path: str, reason: str, name: str | None = None) -> dict[str, Any]:
    return {"path": path, "name": name, "status": "failed", "error": reason, "outputs": []}


def _report(record: dict[str, Any]) -> None:
    """Failures always go to stderr (even with --quiet); successes only move the progress bar."""
    if record["status"] == "failed":
        _say(f"failed: {record['path']}: {record['error']}")


def _say(message: str) -> None:
    """A line on stderr that does not tear the progress bar."""
    tqdm.write(message, file=sys.stderr)


def _summary_name(index: int, count: int) -> str:
    return "summary.json" if count == 1 else f"summary.shard-{index}-of-{count}.json"


def _summary(args, generator, methods, items, records, interrupted, elapsed, made_by) -> dict[str, Any]:
    """The run's record: what made it (`made_by`: versions, the model's digest), how, and each image's."""
    done = [r for r in records if r.get("name") is not None]
    failed = sum(r["status"] == "failed" for r in records)
    return made_by | {
        "model": getattr(generator.model, "name", type(generator.model).__name__),
        "model_description": generator.model_label,
        "methods": list(methods),
        "contrast": args.contrast,
        "token": args.token,
        "config": {k: v for k, v in asdict(generator.config).items() if k != "method"},
        "device": str(model_device(generator.model.module)),
        "shard": {"index": args.shard[0], "count": args.shard[1]},
        "interrupted": interrupted,
        "counts": {"images": len(items), "done": len(done), "ok": len(records) - failed, "failed": failed},
        "seconds": elapsed,
        "images_per_second": len(done) / elapsed if elapsed > 0 else None,
        "images_per_minute": 60 * len(done) / elapsed if elapsed > 0 else None,
        "pages": page_summaries(records),
        "images": records,
    }


def page_summaries(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per page whose lines were explained: its name and scan, how many of its
    lines this run reached and read, and its CER (the lines' edits over their truths'
    characters, i.e. each line's CER weighted by its truth's length; None without truths)."""
    pages: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record.get("line") is not None and record.get("name"):
            pages.setdefault(record["name"].rpartition("/")[0], []).append(record)
    summaries = []
    for name, lines in pages.items():
        scored = [(r["cer"], len(r["truth"])) for r in lines if r.get("cer") is not None and r.get("truth")]
        characters = sum(length for _, length in scored)
        summaries.append({
            "page": name,
            "path": lines[0]["path"],
            "lines": len(lines),
            "read": sum(r["status"] == "ok" for r in lines),
            "cer": sum(cer * length for cer, length in scored) / characters if characters else None,
        })
    return summaries
