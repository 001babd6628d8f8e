"""Several line images explained by one forward pass: the batched gradient maps of a corpus.

On a GPU one line leaves most of the chip idle: its forward and its per-character
backward passes are a few small kernels each. `BatchExplainer` puts lines of the same
model width into one batch (`group_by_width`; of similar widths, padded on the right with
paper to the widest, where a caller allows padding), runs one forward for the whole
batch and one backward per character slot for all its images together, and crops each
image's gradients back to its own width before the engine's own finishing
(`Run.complete`) turns them into maps.

Why image i's maps come from batch row i alone: in eval mode (which `token_scores`
switches to) nothing mixes rows (BatchNorm uses its stored statistics), so a cotangent
that weighs row i's character j and every other row's character j at once gives each
row exactly its own character's gradient. The scores of different readings come from
one forward because a CTC reading's scores are sums over its frame runs: the readings
of a batch laid end to end (`combined_reading`) are scored on every row, and each row
keeps its own columns. A decoder's scores are teacher-forced on one reading for all
rows, so an attention reader's images are explained one by one.

Why parity is checked rather than assumed: padding is something the model sees. A
convolution sees paper where the image alone ended in its zero padding, and a
bidirectional LSTM reads on past the line, so padded rows are not their images' own
maps (measured: `MAX_PADDING_FRACTION`); batches therefore hold lines of the same model
width unless a caller allows padding. A padded image's row must read as the image alone
or it is explained alone, and the first batch of a run is also explained one by one and
its maps compared (`parity`): beyond `MAP_TOLERANCE` those images keep their own maps
and batching stops for the run (a model whose rows are not independent fails there).
A batch that runs out of CUDA memory sends its images alone and halves the batches
after it (`out_of_memory`), so a corpus does not meet the same error batch after batch.

Why each image carries its own warnings (`Explained.warnings`): one call explains many
images, so the warnings it raises are recorded per image, as a one-by-one run records
them: those raised while the image was prepared, read, finished or checked, and those of
its batch's shared passes (its rows' equally).
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from thulium_desktop.models.errors import exception_line
from thulium_desktop.models.notes import Note
from thulium_desktop.models.protocol import Prepared, Reading, model_device
from thulium_desktop.xai.config import SaliencyConfig
from thulium_desktop.xai.precision import map_difference
from thulium_desktop.xai.saliency import Attribution, Explanation, MapNote, Run, SaliencyGenerator, Timings
from thulium_desktop.xai import tf32
from thulium_desktop.xai.vjp import BatchedVJP

#: The value a batch is padded with: the paper of a prepared image (`protocol.pad_width`
#: pads to the model's stride with it; the bundled readers flatten their paper to it).
PAPER = 1.0
#: The most padding a batch may give its narrowest line, as a share of the widest: none.
#: Padding is never invisible to a convolution with zero padding of its own (it sees paper
#: where the image alone ends) nor to a BiLSTM (it reads on past the line): one 4-px frame
#: of paper after a bundled ctc-reader sample line moved its last characters' gradient
#: maps by 10-27% of their peak, 64 px by up to 66% or changed the reading
#: (`benchmarks/batched_explain.py --padding`). So batches hold lines of the same model
#: width (widths are multiples of the stride: a corpus of thousands of lines fills them).
MAX_PADDING_FRACTION = 0.0
#: The largest difference between a batched and a one-by-one map (a share of each own
#: map's peak: `map_difference`) that counts as the same map in float32: summation orders
#: (measured at most 5e-6 on the bundled samples on CPU).
MAP_TOLERANCE = 1e-3
#: The same on CUDA with TF32 allowed: a batch may take other cuDNN kernels than one
#: image, each rounding to TF32's 10-bit mantissa (about 1e-3 alone, `xai/agreement.py`).
#: Not measured on a GPU yet: the first batch's check says, and turns batching off beyond it.
TF32_MAP_TOLERANCE = 5e-3
#: The methods explained in batches: one forward and one backward per character slot.
#: The path methods (integrated gradients, the SmoothGrad family) would batch their copies
#: of several images the same way, but are not batched yet.
BATCHED_METHODS = ("gradient",)

#: Which characters to explain, as `SaliencyGenerator.explain` takes them.
Tokens = str | Sequence[int] | None


def group_by_width(widths: Sequence[int], max_images: int,
                   max_padding_fraction: float = MAX_PADDING_FRACTION) -> list[list[int]]:
    """Indices of `widths` in batches of at most `max_images`, widest first, each batch
    taking the next narrower widths while its narrowest would be padded by at most
    `max_padding_fraction` of the batch's widest (a batch costs its widest width for
    every row: similar widths waste little)."""
    if max_images < 1:
        raise ValueError(f"a batch holds at least one image, got {max_images}")
    if not 0 <= max_padding_fraction < 1:
        raise ValueError(f"the padding fraction must be in [0, 1), got {max_padding_fraction}")
    order = sorted(range(len(widths)), key=lambda i: (-widths[i], i))
    groups: list[list[int]] = []
    for i in order:
        group = groups[-1] if groups else None
        if (group is None or len(group) == max_images
                or widths[group[0]] - widths[i] > max_padding_fraction * widths[group[0]]):
            groups.append([i])
        else:
            group.append(i)
    return groups


def padded_batch(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """`[1, C, H, W_i]` model inputs as one `[B, C, H, max W_i]` batch, padded on the right
    with paper."""
    width = max(t.shape[-1] for t in tensors)
    return torch.cat([F.pad(t, (0, width - t.shape[-1]), value=PAPER) for t in tensors])


def combined_reading(readings: Sequence[Reading]) -> Reading:
    """The readings of a batch's rows laid end to end, as one CTC reading over the batch's
    frames: `token_scores` of it on the batch gives every row every character's score,
    and row i's own are its columns `offsets[i]:offsets[i + 1]`. Needs CTC readings of
    the same frame count (`batchable`)."""
    return Reading(
        tokens=tuple(t for r in readings for t in r.tokens),
        labels=tuple(label for r in readings for label in r.labels),
        confidences=np.concatenate([r.confidences for r in readings]).astype(np.float32),
        spans=tuple(s for r in readings for s in r.spans),
        n_frames=readings[0].n_frames,
        ctc_alignment=True,
    )


def batchable(reading: Reading) -> bool:
    """Whether a reading's scores can come from a combined reading: a CTC frame alignment
    with nothing beside its spans (a reading with `extra` runs, such as kraken's, scores
    them too, and a decoder's scores depend on the characters before)."""
    return reading.ctc_alignment and not reading.extra


def same_reading(own: Reading, padded: Reading) -> bool:
    """Whether the reading of an image's padded row is its own: the same characters on
    the same frames (the padded row has more frames, past the image's end)."""
    return own.tokens == padded.tokens and own.labels == padded.labels and own.spans == padded.spans


@dataclass(frozen=True)
class Alone:
    """An image to explain on its own, and why (`note`: None when nothing in it is worth
    telling a user, e.g. a method that is never batched)."""

    note: str | None


@dataclass(frozen=True)
class Explained:
    """An image's explanation from a batch of `images` rows padded to `width` model pixels
    (`images` 1: its own, kept where its batched maps failed the parity check), and the
    warnings raised for it (kept here, not raised to the caller; the engine's `MapNote`s
    are its explanation's notes)."""

    explanation: Explanation
    images: int
    width: int
    warnings: tuple[str, ...] = ()


@dataclass
class Parity:
    """The map check of a run's first batch: the largest difference found (as a share of
    each image's own peak), over how many images, and whether batching stays on."""

    checked: int = 0
    max_difference: float = 0.0
    tolerance: float = MAP_TOLERANCE
    passed: bool | None = None

    def record(self) -> dict[str, object]:
        """The check as JSON-ready values (the CLI's summary.json "batching")."""
        return {"images_checked": self.checked, "max_map_difference": self.max_difference,
                "tolerance": self.tolerance, "passed": self.passed}


class _Heard:
    """The warnings of one `explain` call, by the index of the image they concern."""

    def __init__(self) -> None:
        self._messages: defaultdict[int, list[str]] = defaultdict(list)

    @contextmanager
    def about(self, *indices: int) -> Iterator[None]:
        """Record the warnings raised inside as each of `indices`' (leaving out the
        engine's `MapNote`s: the explanations carry those as notes)."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.filterwarnings("ignore", category=MapNote)
            yield
        for index in indices:
            self._messages[index].extend(str(w.message) for w in caught)

    def of(self, index: int) -> tuple[str, ...]:
        """The image's warnings, each once (its parity check may raise them again)."""
        return tuple(dict.fromkeys(self._messages[index]))


@dataclass(frozen=True)
class _Member:
    """One image of a batch: its input, its own reading, the engine's run that finishes
    its maps and the seconds it took to read."""

    index: int
    prepared: Prepared
    reading: Reading
    run: Run
    read_s: float


class BatchExplainer:
    """Explains images of a corpus in width-grouped batches with one generator's model.

    `explain(images, tokens)` gives each image an `Explained` outcome or an `Alone`
    verdict (the caller explains those one by one, with the note). The run's first batch
    is checked map by map against the one-by-one explanation (`parity`); `max_images`
    shrinks after a batch runs out of CUDA memory (`out_of_memory`: those batches' sizes;
    `asked_images`: the size asked for).
    """

    def __init__(self, generator: SaliencyGenerator, max_images: int,
                 max_padding_fraction: float = MAX_PADDING_FRACTION) -> None:
        self.generator = generator
        self.asked_images = self.max_images = max_images
        self.max_padding_fraction = max_padding_fraction
        self.parity = Parity(tolerance=map_tolerance(model_device(generator.model.module)))
        self.out_of_memory: list[int] = []
        self._vjp = BatchedVJP()

    @property
    def batching(self) -> bool:
        """Whether batches are still formed: no map check failed and a batch holds two or
        more images."""
        return self.parity.passed is not False and self.max_images > 1

    def explain(self, images: Sequence[np.ndarray], tokens: Tokens = "all",
                config: SaliencyConfig | None = None) -> list[Explained | Alone]:
        """Each image's outcome, in the order given (the config's method must be batched:
        `BATCHED_METHODS`, in float32). Images are grouped by their prepared width before
        any is read, so an image of a width no other has costs no reading here."""
        cfg = config or self.generator.config
        results: list[Explained | Alone] = [Alone(None)] * len(images)
        if not self.batching or cfg.method not in BATCHED_METHODS or cfg.precision != "float32":
            return results
        heard = _Heard()
        inputs = self._inputs(images, heard)
        indices = list(inputs)
        widths = [inputs[i].tensor.shape[-1] for i in indices]
        for group in self._batches(group_by_width(widths, self.max_images, self.max_padding_fraction)):
            if not self.batching:
                break  # a map check failed, or out-of-memory left batches of one: the rest go alone
            if len(group) < 2:
                continue  # a width no other image has: explained alone
            batch = self._members([indices[g] for g in group], inputs, tokens, cfg, heard)
            if len(batch) > 1:
                for member, outcome in zip(batch, self._explain_group(batch, images, tokens, cfg, heard)):
                    results[member.index] = outcome
        return [replace(r, warnings=heard.of(i)) if isinstance(r, Explained) else r for i, r in enumerate(results)]

    def _batches(self, groups: Iterable[list[int]]) -> Iterator[list[int]]:
        """The width groups in batches of at most `max_images` as it is when each batch is
        formed: after an out-of-memory, the rest of a group is split smaller too."""
        for group in groups:
            while group:
                batch, group = group[: self.max_images], group[self.max_images :]
                yield batch

    def _inputs(self, images: Sequence[np.ndarray], heard: _Heard) -> dict[int, Prepared]:
        """The model input of each image that can be prepared, by its index (one that
        cannot is explained alone, and fails with its own message)."""
        inputs = {}
        for index, image in enumerate(images):
            with heard.about(index):
                try:
                    inputs[index] = self.generator.prepare(image)
                except Exception:  # noqa: BLE001 - its own explanation reports it
                    continue
        return inputs

    def _members(self, indices: list[int], inputs: dict[int, Prepared], tokens: Tokens, cfg: SaliencyConfig,
                 heard: _Heard) -> list[_Member]:
        """The images of a batch read and ready (`_member`), those that cannot be left out."""
        members = []
        for index in indices:
            with heard.about(index):
                member = self._member(index, inputs[index], tokens, cfg)
            if member is not None:
                members.append(member)
        return members

    def _member(self, index: int, prepared: Prepared, tokens: Tokens, cfg: SaliencyConfig) -> _Member | None:
        """The image read and ready to batch; None where it cannot be: it cannot be read
        or its characters chosen (explained alone, it fails with its own message), it
        reads nothing (the engine says so alone), or its reading is not `batchable`."""
        t0 = time.perf_counter()
        generator = self.generator
        try:
            reading = generator.model.read(prepared.tensor)
            run = Run(generator, generator.model, cfg, prepared, reading, tokens, None, None)
        except Exception:  # noqa: BLE001 - its own explanation reports it
            return None
        if not len(reading) or not batchable(reading):
            return None
        return _Member(index, prepared, reading, run, time.perf_counter() - t0)

    def _explain_group(self, batch: list[_Member], images: Sequence[np.ndarray], tokens: Tokens,
                       cfg: SaliencyConfig, heard: _Heard) -> list[Explained | Alone]:
        """One batch's outcomes: the images whose padded row reads as the image alone are
        explained together (a lone one gains nothing from a batch), the others alone."""
        x = padded_batch([m.prepared.tensor for m in batch])
        padded = []
        for row, member in enumerate(batch):
            with heard.about(member.index):
                padded.append(self._padded_reading(x, row, member))
        kept = [row for row, m in enumerate(batch) if same_reading(m.reading, padded[row])]
        outcomes: list[Explained | Alone] = [
            Alone(None if row in kept else _reading_note(int(x.shape[-1]))) for row in range(len(batch))]
        if len(kept) > 1:
            try:
                made = self._gradients(x[kept], [batch[r] for r in kept], [padded[r] for r in kept], cfg.score, heard)
            except Exception as exc:  # noqa: BLE001 - e.g. out of memory: each image alone says its own
                if isinstance(exc, torch.cuda.OutOfMemoryError):
                    self._shrink_after_out_of_memory(len(kept))
                return [Alone(_failed_note(exc)) if row in kept else outcome for row, outcome in enumerate(outcomes)]
            for row, explanation in zip(kept, made):
                outcomes[row] = Explained(explanation, len(kept), int(x.shape[-1]))
            if self.parity.passed is None:
                outcomes = self._check_parity(outcomes, images, batch, tokens, cfg, heard)
        return outcomes

    def _shrink_after_out_of_memory(self, images: int) -> None:
        """Later batches hold at most half the `images` that ran out of CUDA memory (at
        most half `max_images`; 1: batching off), so they are not tried at that size again."""
        self.out_of_memory.append(images)
        self.max_images = max(1, min(images, self.max_images) // 2)

    def _padded_reading(self, x: torch.Tensor, row: int, member: _Member) -> Reading:
        """What the model reads in the batch's row of `member`: its own reading where the
        row is not padded (the same input)."""
        if x.shape[-1] == member.prepared.tensor.shape[-1]:
            return member.reading
        return self.generator.model.read(x[row : row + 1])

    def _gradients(self, x: torch.Tensor, batch: list[_Member], padded: list[Reading], score: str,
                   heard: _Heard) -> list[Explanation]:
        """Every image's gradient maps from one forward of the batch and one backward per
        character slot (slot k: every row's k-th target at once)."""
        t0 = time.perf_counter()
        generator, model = self.generator, self.generator.model
        runs = [m.run for m in batch]
        counts = [len(m.reading) for m in batch]
        offsets = np.concatenate([[0], np.cumsum(counts)])
        x = x.detach().requires_grad_(True)
        with heard.about(*(m.index for m in batch)):
            with torch.enable_grad():
                scores = model.token_scores(x, combined_reading(padded), score)  # [B, sum T]
            slots = max(run.targets.weights.shape[0] for run in runs)
            cot = scores.new_zeros(slots, *scores.shape)
            for row, run in enumerate(runs):
                weights = run.targets.weights
                cot[: weights.shape[0], row, offsets[row] : offsets[row + 1]] = weights.to(cot.dtype)
            grads = self._vjp(scores, x, cot)  # [slots, B, C, H, W]
        share = (time.perf_counter() - t0) / len(batch)
        made = []
        for row, (run, member) in enumerate(zip(runs, batch)):
            t_finish = time.perf_counter()
            k, width = run.targets.weights.shape[0], member.prepared.tensor.shape[-1]
            own = scores[row, offsets[row] : offsets[row + 1]].detach()
            with heard.about(member.index):
                computed = run.complete(Attribution(grads[:k, row, ..., :width], run.target_scores(own[None])[0]))
                explanation = generator.explanation(run, computed, model, member.prepared, t_finish, 0.0)
            # its seconds: its own reading and finishing, and its share of the batch's passes
            explain_s = share + explanation.timings.total_s
            made.append(replace(explanation, timings=Timings(member.read_s, explain_s, member.read_s + explain_s)))
        return made

    def _check_parity(self, outcomes: list[Explained | Alone], images: Sequence[np.ndarray],
                      batch: list[_Member], tokens: Tokens, cfg: SaliencyConfig, heard: _Heard
                      ) -> list[Explained | Alone]:
        """The run's first batch against each image's own explanation: an image whose maps
        differ beyond the tolerance keeps its own maps, with a note, and batching stops."""
        checked = []
        for outcome, member in zip(outcomes, batch):
            if not isinstance(outcome, Explained):
                checked.append(outcome)
                continue
            try:
                with heard.about(member.index):
                    own = self.generator.explain(images[member.index], tokens=tokens, config=cfg,
                                                 reading=member.reading)
            except Exception as exc:  # noqa: BLE001 - e.g. out of memory: alone, it reports its own failure
                checked.append(Alone(_failed_note(exc, "the run that checks its batched maps")))
                continue
            difference = map_difference(outcome.explanation.maps, own.maps)
            self.parity.checked += 1
            self.parity.max_difference = max(self.parity.max_difference, difference)
            if difference > self.parity.tolerance:
                note = Note(f"explained alone: its batched maps differed from its own by {difference:.2%} of their "
                            f"peak (tolerance {self.parity.tolerance:.1%}), so batching is off for this run",
                            short="explained alone: batched maps differed")
                checked.append(Explained(replace(own, notes=(*own.notes, note)), 1, member.prepared.tensor.shape[-1]))
            else:
                checked.append(outcome)
        if self.parity.checked:  # else the next batch is checked instead
            self.parity.passed = self.parity.max_difference <= self.parity.tolerance
        return checked


def map_tolerance(device: torch.device) -> float:
    """How far a batched map may differ from its own on `device` (`MAP_TOLERANCE`, or
    `TF32_MAP_TOLERANCE` on CUDA with TF32 allowed)."""
    return TF32_MAP_TOLERANCE if tf32.allowed_on(device) else MAP_TOLERANCE


def _failed_note(exc: Exception, what: str = "its batch") -> Note:
    """Why an image is explained alone: `what` failed with `exc` (its first line)."""
    return Note(f"explained alone: {what} failed ({exception_line(exc)})",
                short=f"explained alone: {what} failed")


def _reading_note(width: int) -> Note:
    return Note(f"explained alone: padded to {width} px in a batch, the model read it differently "
                "from the image alone", short="explained alone: batch read it differently")
