"""Lines explained in batches: the grouping rule, the padding, parity with one-by-one maps
on the bundled readers' sample lines, and images that must go alone."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from thulium_desktop.io.images import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai.batched import (
    MAP_TOLERANCE,
    PAPER,
    TF32_MAP_TOLERANCE,
    Alone,
    BatchExplainer,
    Explained,
    group_by_width,
    map_tolerance,
    padded_batch,
)
from thulium_desktop.xai.precision import map_difference
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
#: Sample lines the bundled readers read at the same model width (84 and 120 px).
SAME_WIDTH = ("price", "unseen-breip", "real-digits", "recognition")


def sample(name: str) -> np.ndarray:
    return load_image(SAMPLES / f"{name}.png")


@pytest.fixture(scope="module")
def ctc_reader():
    return load_model("ctc-reader")


def with_paper_after(image: np.ndarray, columns: int) -> np.ndarray:
    """The image with `columns` more columns of white paper on its right."""
    paper = np.full((image.shape[0], columns, *image.shape[2:]), 255, image.dtype)
    return np.concatenate([image, paper], axis=1)


def test_batches_take_the_widest_first_and_stop_at_the_padding_or_the_size():
    widths = [100, 96, 100, 50, 100, 100, 97]
    assert group_by_width(widths, max_images=2, max_padding_fraction=0) == [[0, 2], [4, 5], [6], [1], [3]]
    assert group_by_width(widths, max_images=3, max_padding_fraction=0.03) == [[0, 2, 4], [5, 6], [1], [3]]
    assert group_by_width(widths, max_images=8, max_padding_fraction=0.5) == [[0, 2, 4, 5, 6, 1, 3]]
    assert group_by_width([], max_images=4) == []
    with pytest.raises(ValueError, match="at least one image"):
        group_by_width(widths, max_images=0)


def test_a_batch_pads_each_line_with_paper_on_the_right_only():
    narrow, wide = torch.rand(1, 1, 32, 8), torch.rand(1, 1, 32, 12)
    batch = padded_batch([narrow, wide])
    assert batch.shape == (2, 1, 32, 12)
    assert torch.equal(batch[0, ..., :8], narrow[0]) and torch.equal(batch[1], wide[0])
    assert torch.all(batch[0, ..., 8:] == PAPER)


@pytest.mark.parametrize("tokens", ["all", [2, 0], None])
def test_batched_maps_of_same_width_lines_are_their_own_maps(ctc_reader, tokens):
    generator = SaliencyGenerator(ctc_reader)
    images = [sample(name) for name in SAME_WIDTH]
    batcher = BatchExplainer(generator, max_images=4)
    outcomes = batcher.explain(images, tokens=tokens)
    assert [o.images for o in outcomes] == [2, 2, 2, 2]  # two widths: two batches of two
    assert batcher.parity.passed and batcher.parity.checked == 2
    for image, outcome in zip(images, outcomes):
        own = generator.explain(image, tokens=tokens)
        batched = outcome.explanation
        assert (batched.reading.labels, batched.reading.spans) == (own.reading.labels, own.reading.spans)
        assert batched.tokens == own.tokens and batched.token_indices == own.token_indices
        assert batched.maps.shape == own.maps.shape == (len(own.tokens), *image.shape[:2])
        assert map_difference(batched.maps, own.maps) <= MAP_TOLERANCE
        np.testing.assert_allclose(batched.scores, own.scores, rtol=1e-4, atol=1e-5)


def test_the_attention_reader_explains_each_line_alone():
    """A decoder scores one reading for every row: its lines are never batched."""
    batcher = BatchExplainer(SaliencyGenerator(load_model("attention-reader")), max_images=4)
    outcomes = batcher.explain([sample(name) for name in SAME_WIDTH])
    assert outcomes == [Alone(None)] * 4 and batcher.parity.checked == 0


def test_padding_the_bundled_ctc_reader_sees_fails_the_parity_check_and_stops_batching(ctc_reader):
    """Two frames of paper after a line move its BiLSTM's last characters' maps: the first
    batch is caught by its map check, the padded line keeps its own maps with a note, and
    later batches are not formed."""
    generator = SaliencyGenerator(ctc_reader)
    line = sample("short-line")
    wider = with_paper_after(line, 16)  # 8 model pixels: two frames
    batcher = BatchExplainer(generator, max_images=2, max_padding_fraction=0.5)
    padded, widest = batcher.explain([line, wider])
    assert batcher.parity.passed is False and batcher.parity.max_difference > MAP_TOLERANCE
    own = generator.explain(line)
    assert padded.images == 1 and map_difference(padded.explanation.maps, own.maps) <= MAP_TOLERANCE
    assert any("batching is off for this run" in note for note in padded.explanation.notes)
    assert widest.images == 2 and widest.explanation.maps.shape[-1] == wider.shape[1]
    assert batcher.explain([line, line]) == [Alone(None)] * 2


def test_one_image_that_cannot_be_batched_leaves_the_others_batched(ctc_reader):
    generator = SaliencyGenerator(ctc_reader)
    strip = np.full((1, 50_000, 3), 255, np.uint8)  # wider than any line a model reads
    batcher = BatchExplainer(generator, max_images=4)
    first, too_wide, second = batcher.explain([sample("price"), strip, sample("unseen-breip")])
    assert too_wide == Alone(None)
    assert isinstance(first, Explained) and isinstance(second, Explained) and first.images == 2


def test_a_batch_that_fails_sends_its_images_alone_with_the_reason(ctc_reader, monkeypatch):
    generator = SaliencyGenerator(ctc_reader)

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory\nTried to allocate 2 GiB")

    monkeypatch.setattr(ctc_reader, "token_scores", out_of_memory)
    outcomes = BatchExplainer(generator, max_images=4).explain([sample("price"), sample("unseen-breip")])
    assert [o.note for o in outcomes] == ["explained alone: its batch failed (RuntimeError: CUDA out of memory)"] * 2


@pytest.mark.parametrize("config", [SaliencyConfig(method="integrated"), SaliencyConfig(precision="bf16")])
def test_methods_and_precisions_not_batched_go_alone(ctc_reader, config):
    outcomes = BatchExplainer(SaliencyGenerator(ctc_reader), 4).explain([sample("price")] * 2, config=config)
    assert outcomes == [Alone(None)] * 2


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: torch.cuda.is_available() is False")
def test_batched_maps_on_cuda_are_the_lines_own_maps_on_cuda():
    """On the GPU, under the engine's TF32 policy, batches of the same-width sample lines
    give each line's own CUDA maps within the tolerance the run's map check applies."""
    model = load_model("ctc-reader")
    model.module.to("cuda")
    generator = SaliencyGenerator(model)
    images = [sample(name) for name in SAME_WIDTH]
    batcher = BatchExplainer(generator, max_images=4)
    outcomes = batcher.explain(images)
    assert batcher.parity.passed and all(isinstance(o, Explained) and o.images == 2 for o in outcomes)
    for image, outcome in zip(images, outcomes):
        assert outcome.explanation.device.startswith("cuda")
        assert map_difference(outcome.explanation.maps, generator.explain(image).maps) <= MAP_TOLERANCE


def test_once_a_map_check_fails_the_later_widths_of_the_same_call_go_alone(ctc_reader):
    """The first batch (the widest) fails its map check: the same-width pair after it in
    the same call is not batched unchecked, it is explained alone."""
    line = sample("short-line")
    batcher = BatchExplainer(SaliencyGenerator(ctc_reader), max_images=2, max_padding_fraction=0.5)
    padded, widest, digits, word = batcher.explain(
        [line, with_paper_after(line, 16), sample("real-digits"), sample("recognition")])
    assert batcher.parity.passed is False and (padded.images, widest.images) == (1, 2)
    assert (digits, word) == (Alone(None), Alone(None)) and batcher.parity.checked == 2


def test_a_line_its_batch_reads_differently_keeps_that_note_when_the_batch_fails(ctc_reader, monkeypatch):
    """Padded to its batch's width, "question" reads differently (the reading note); when
    the others' batch then fails, they say so and it still says why it went alone."""

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(ctc_reader, "token_scores", out_of_memory)
    batcher = BatchExplainer(SaliencyGenerator(ctc_reader), max_images=3, max_padding_fraction=0.5)
    first, second, question = batcher.explain([sample("price"), sample("unseen-breip"), sample("question")])
    assert first.note == second.note == "explained alone: its batch failed (RuntimeError: CUDA out of memory)"
    assert question.note.short == "explained alone: batch read it differently"


def test_each_batched_line_keeps_the_warnings_of_its_own_reading_and_of_its_batch(ctc_reader, monkeypatch):
    """A warning raised while one line is read is that line's; one raised by the batch's
    forward is every line's of that batch (and the first batch's lines, checked alone,
    also have their own forward's); the engine's notes stay notes."""
    read, token_scores = ctc_reader.read, ctc_reader.token_scores

    def read_and_warn(x):
        warnings.warn(f"read {x.shape[-1]} px wide, {float(x.mean()):.4f} ink")
        return read(x)

    def score_and_warn(x, reading, score):
        warnings.warn(f"scored {x.shape[0]} rows")
        return token_scores(x, reading, score)

    monkeypatch.setattr(ctc_reader, "read", read_and_warn)
    monkeypatch.setattr(ctc_reader, "token_scores", score_and_warn)
    images = [sample(name) for name in SAME_WIDTH]
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        outcomes = BatchExplainer(SaliencyGenerator(ctc_reader), max_images=4).explain(images)
    assert raised == []  # each is its outcome's
    widest = max(ctc_reader.prepare(image).tensor.shape[-1] for image in images)  # the batch checked
    for image, outcome in zip(images, outcomes):
        x = ctc_reader.prepare(image).tensor
        own = f"read {x.shape[-1]} px wide, {float(x.mean()):.4f} ink"
        checked = ("scored 1 rows",) if x.shape[-1] == widest else ()
        assert outcome.warnings == (own, "scored 2 rows", *checked)


def raise_out_of_memory(*args, **kwargs):
    raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_a_batch_out_of_memory_halves_the_batches_after_it(ctc_reader, monkeypatch):
    """Eight lines of one width in batches of four: the first runs out of memory, so the
    rest of the call (and later calls) batch two at a time."""
    token_scores = ctc_reader.token_scores
    failures = iter([raise_out_of_memory])
    monkeypatch.setattr(ctc_reader, "token_scores",
                        lambda *args: next(failures, token_scores)(*args))
    batcher = BatchExplainer(SaliencyGenerator(ctc_reader), max_images=4)
    outcomes = batcher.explain([sample("price")] * 8)
    assert [o.note.short for o in outcomes[:4]] == ["explained alone: its batch failed"] * 4
    assert [o.images for o in outcomes[4:]] == [2] * 4 and batcher.parity.passed
    assert (batcher.max_images, batcher.out_of_memory) == (2, [4])
    assert [o.images for o in batcher.explain([sample("price")] * 4)] == [2] * 4


def test_batches_that_keep_running_out_of_memory_turn_batching_off(ctc_reader, monkeypatch):
    calls = []
    monkeypatch.setattr(ctc_reader, "token_scores", lambda *args: calls.append(1) or raise_out_of_memory())
    batcher = BatchExplainer(SaliencyGenerator(ctc_reader), max_images=4)
    outcomes = batcher.explain([sample("price")] * 8)
    assert (batcher.max_images, batcher.out_of_memory, len(calls)) == (1, [4, 2], 2)
    assert all(isinstance(o, Alone) for o in outcomes) and outcomes[6:] == [Alone(None)] * 2
    assert batcher.explain([sample("price")] * 2) == [Alone(None)] * 2 and len(calls) == 2


def test_a_line_whose_checking_run_fails_goes_alone_and_the_run_goes_on(ctc_reader, monkeypatch):
    """The first batch's map check runs each image on its own: where that run fails (on
    a GPU, out of memory), the image is explained alone, where it reports its own
    failure, the others keep their batched maps, and with nothing compared the next
    batch is checked instead."""
    generator = SaliencyGenerator(ctc_reader)
    explain = generator.explain

    def out_of_memory_alone(image, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")

    monkeypatch.setattr(generator, "explain", out_of_memory_alone)
    batcher = BatchExplainer(generator, max_images=4)
    outcomes = batcher.explain([sample("price"), sample("unseen-breip")])
    assert [o.note for o in outcomes] == [
        "explained alone: the run that checks its batched maps failed (OutOfMemoryError: CUDA out of memory. "
        "Tried to allocate 2 GiB)"] * 2
    assert batcher.parity.passed is None and batcher.parity.checked == 0
    monkeypatch.setattr(generator, "explain", explain)
    again = batcher.explain([sample("price"), sample("unseen-breip")])
    assert all(isinstance(o, Explained) and o.images == 2 for o in again)
    assert batcher.parity.passed is True and batcher.parity.checked == 2


def test_with_tf32_on_cuda_a_batched_map_may_differ_by_tf32_rounding(monkeypatch):
    from thulium_desktop.xai import tf32

    assert map_tolerance(torch.device("cpu")) == MAP_TOLERANCE
    monkeypatch.setattr(tf32, "conv_tf32", lambda: True)
    assert map_tolerance(torch.device("cuda", 0)) == TF32_MAP_TOLERANCE > MAP_TOLERANCE
    monkeypatch.setattr(tf32, "conv_tf32", lambda: False)
    monkeypatch.setattr(tf32, "matmul_tf32", lambda: False)
    assert map_tolerance(torch.device("cuda", 0)) == MAP_TOLERANCE
