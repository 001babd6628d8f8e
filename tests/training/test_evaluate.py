"""The evaluation's per-style breakdown: it must point at the style the errors come from."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest


from thulium_desktop.training.evaluate import (
    confusions,
    held_out_samples,
    style_table,
)

pytestmark = pytest.mark.usefixtures("handwriting_fonts")


@pytest.fixture
def bundled_copy(tmp_path):
    """A copy of the bundled readers and their card, so no test can touch the shipped files."""
    from thulium_desktop.models.registry import MODELS_DIR

    for path in [*MODELS_DIR.glob("*.json"), *MODELS_DIR.glob("*.safetensors"), MODELS_DIR / "README.md"]:
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def _rows(table: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]


def test_style_table_ranks_the_style_that_makes_the_errors_first():
    samples = held_out_samples(40)
    styles = sorted({s.style for s in samples})
    assert len(styles) > 3
    bad = max(styles, key=lambda st: sum(s.style == st for s in samples))
    # every image of `bad` loses its first character; one other image gets one wrong letter
    readings = [s.text[1:] if s.style == bad else s.text for s in samples]
    other = next(i for i, s in enumerate(samples) if s.style != bad)
    readings[other] = "#" + samples[other].text[1:]
    rows = _rows(style_table(samples, readings))

    assert [r[0] for r in rows][:1] == [bad] and {r[0] for r in rows} == set(styles)
    assert sum(int(r[1]) for r in rows) == len(samples)
    n_bad = sum(s.style == bad for s in samples)
    bad_chars = sum(len(s.text) for s in samples if s.style == bad)
    assert rows[0][2] == f"{n_bad / bad_chars:.2%}" and rows[0][3] == "0.0%"
    assert rows[0][4] == f"{n_bad / (n_bad + 1):.1%}"
    second = next(r for r in rows if r[0] == samples[other].style)
    assert second[4] == f"{1 / (n_bad + 1):.1%}"
    clean = [r for r in rows if r[0] not in (bad, samples[other].style)]
    assert clean and all(r[2] == "0.00%" and r[3] == "100.0%" and r[4] == "0.0%" for r in clean)


def _confusion_counts(line: str) -> dict[str, int]:
    head = "confusions (truth->reading count): "
    assert line.startswith(head)
    return {pair.rsplit(" ", 1)[0]: int(pair.rsplit(" ", 1)[1]) for pair in line[len(head):].split(", ")}


def test_confusions_count_which_letters_are_read_as_which():
    """Equal-length replacements count letter by letter (`aa` read as `uu` is two `a`->`u`),
    a letter too many counts as an insertion, a run read as one letter as one chunk."""
    samples = held_out_samples(3)
    texts = ["banana", "aardvark", "corner"]
    readings = ["bununu", "uurdvurk#", "comer"]
    samples = [replace(s, text=t) for s, t in zip(samples, texts)]
    counts = _confusion_counts(confusions(samples, readings))
    assert counts == {"'a'->'u'": 6, "''->'#'": 1, "'rn'->'m'": 1}
    assert confusions(samples, texts).endswith(": none")
    assert list(_confusion_counts(confusions(samples, readings, top=1))) == ["'a'->'u'"]


def test_by_style_prints_a_breakdown_per_set_and_writes_nothing(capsys, bundled_copy):
    """Run on a copy of the bundled models, so a broken `--no-write` cannot touch the real
    cards; the per-style rows must add up to the set (every image counted once)."""
    from thulium_desktop.training.evaluate import main

    def files() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in bundled_copy.iterdir()}

    before = files()
    assert main(["--n", "8", "--no-write", "--by-style", "--models", str(bundled_copy)]) == 0
    out = capsys.readouterr().out
    for name in ("attention-reader", "ctc-reader"):
        for key, images in (("held_out", 8), ("real_digits", 4), ("unseen_styles", 4)):
            head = f"{name}, {key}:\n"
            assert head + "| style | images | CER |" in out
            table = out.split(head, 1)[1].split("\n\n", 1)[0]
            assert sum(int(row[1]) for row in _rows(table)) == images
            assert "confusions (truth->reading count): " in out.split(head, 1)[1].split("\n\n")[1]
    assert "| sklearn-digits | 4 |" in out
    assert files() == before


def test_writing_records_the_numbers_and_the_opencv_that_drew_the_images(bundled_copy):
    """The held-out images depend on OpenCV's major version (Hershey script faces), so the
    json and the card line must say which one drew them, next to the numbers."""
    import cv2
    import torch

    from thulium_desktop.training.evaluate import main

    assert main(["--n", "4", "--models", str(bundled_copy)]) == 0

    for name in ("attention-reader", "ctc-reader"):
        metrics = json.loads((bundled_copy / f"{name}.json").read_text())["metrics"]
        assert metrics["opencv"] == cv2.__version__ and metrics["torch"] == torch.__version__
        assert metrics["held_out"]["images"] == 4 and metrics["command"].endswith(f"--models {bundled_copy}")
    card = (bundled_copy / "README.md").read_text()
    block = card.split("<!-- metrics:start -->", 1)[1].split("<!-- metrics:end -->", 1)[0]
    assert f"OpenCV {cv2.__version__}, CPU" in block and "(4 held-out images" in block
    assert card.count("<!-- metrics:start -->") == 1


def test_the_numbers_are_the_readings_the_app_shows():
    """Each image is read as the app reads it (alone, through the Recognizer), not in
    padded batches, which read some of these images differently (checked here too, so
    the test keeps its power when the weights change)."""
    from thulium_desktop.models import load_model
    from thulium_desktop.models.registry import MODELS_DIR
    from thulium_desktop.training.data import collate
    from thulium_desktop.training.decode import read_batch
    from thulium_desktop.training.evaluate import evaluate_model

    samples = held_out_samples(64)
    batch_differs = 0
    for name in ("attention-reader", "ctc-reader"):
        model = load_model(name)
        metrics, texts = evaluate_model(MODELS_DIR / f"{name}.json", {"held_out": samples})
        shown = [model.read(model.prepare(s.image).tensor).text for s in samples]
        assert texts["held_out"] == shown, name
        exact = sum(a == s.text for a, s in zip(shown, samples)) / len(samples)
        assert metrics["held_out"]["word_accuracy"] == round(exact, 4)
        batched = read_batch(model.module, collate(samples), model.alphabet)
        batch_differs += sum(a != b for a, b in zip(batched, shown))
    assert batch_differs > 0, "batches read these images as the app does: pick images where they differ"


def test_a_model_that_fails_to_load_leaves_every_card_as_it_was(bundled_copy):
    """The readers are measured first, written after: a damaged second reader must not
    leave the first one's json with new numbers beside the card's old table."""
    from thulium_desktop.models import ModelLoadError
    from thulium_desktop.training.evaluate import main

    damaged = bundled_copy / "ctc-reader.safetensors"  # measured after the attention reader
    damaged.write_bytes(damaged.read_bytes()[:1000])
    before = {p.name: p.read_bytes() for p in bundled_copy.iterdir()}
    with pytest.raises(ModelLoadError, match="ctc-reader.safetensors"):
        main(["--n", "4", "--models", str(bundled_copy)])
    assert {p.name: p.read_bytes() for p in bundled_copy.iterdir()} == before


def test_degraded_puts_each_degradations_cer_beside_the_clean_one(bundled_copy):
    """`--degraded` reads the held-out images degraded (one degradation each, in turn),
    records each degradation's CER in the json, and tables them beside the clean CER."""
    from thulium_desktop.training.degrade import DEGRADATIONS
    from thulium_desktop.training.evaluate import main

    n = len(DEGRADATIONS)
    assert main(["--n", str(n), "--degraded", "--models", str(bundled_copy)]) == 0
    card = (bundled_copy / "README.md").read_text()
    block = card.split("<!-- metrics:start -->", 1)[1].split("<!-- metrics:end -->", 1)[0]
    header = "| model | held-out CER | degraded CER | " + " | ".join(DEGRADATIONS) + " |"
    assert header in block
    for name in ("attention-reader", "ctc-reader"):
        metrics = json.loads((bundled_copy / f"{name}.json").read_text())["metrics"]
        degraded = metrics["degraded"]
        assert degraded["images"] == n and list(degraded["by_degradation"]) == list(DEGRADATIONS)
        assert all(0 <= cer <= 5 for cer in degraded["by_degradation"].values())
        assert metrics["command"].startswith("python -m thulium_desktop.training.evaluate --n 7 --degraded")
        row = next(line for line in block.splitlines() if line.startswith(f"| {name} | ") and "%" in line
                   and line.count("|") == header.count("|"))
        assert f"| {degraded['cer']:.2%} |" in row
