"""Adaptive integrated gradients (issue 24): the characters whose completeness gap exceeds
the tolerance are integrated again with twice the steps, the others keep their map, every
result says each character's relative gap and steps, and a gap still open at the limit is
a note of the explanation."""

import warnings

import numpy as np
import pytest
from random_lines import random_stroke_line
from tiny_models import ALPHABET, tiny_crnn

from thulium_desktop.models import CTCRecognizer
from thulium_desktop.xai import attributions
from thulium_desktop.xai.attributions import ADAPTIVE_STEPS_FACTOR, ADAPTIVE_WORK_FACTOR, GAP_SCALE_FLOOR
from thulium_desktop.xai.saliency import MapNote, SaliencyConfig, SaliencyGenerator

STEPS = 2  # two steps on a smooth model: three characters' gaps exceed the tolerance
TOLERANCE = 0.004


@pytest.fixture(scope="module")
def engine():
    return SaliencyGenerator(CTCRecognizer(tiny_crnn(seed=3, smooth=True), ALPHABET, height=32))


@pytest.fixture(scope="module")
def image():
    return random_stroke_line()


def _explain(engine, image, **params):
    """The explanation and its notes, having checked each note was warned exactly once
    (for code that sees only bare maps) and is the only such warning."""
    config = SaliencyConfig(method="integrated", num_steps=params.pop("num_steps", STEPS), normalize=False,
                            absolute=False, baseline="white", **params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exp = engine.explain(image, config=config, tokens="all")
    assert [str(w.message) for w in caught if w.category is MapNote] == list(exp.notes)
    return exp, list(exp.notes)


def _relative_gaps(exp):
    """|gap| / |f(x) - f(baseline)|, the latter recovered as sum(attributions) - gap."""
    change = exp.maps.reshape(len(exp.maps), -1).sum(axis=1) - exp.deltas
    return np.abs(exp.deltas) / np.maximum(np.abs(change), GAP_SCALE_FLOOR)


def test_tolerance_zero_is_the_fixed_step_rule(engine, image):
    fixed, notes = _explain(engine, image, tolerance=0.0)
    assert notes == []
    gaps = _relative_gaps(fixed)
    assert gaps.min() < TOLERANCE < gaps.max()  # the premise: some gaps open, some closed
    np.testing.assert_allclose(fixed.relative_gaps, gaps, rtol=1e-3, atol=1e-7)
    assert fixed.steps.tolist() == [STEPS] * len(fixed.maps)


def test_each_character_is_refined_until_its_gap_is_within_tolerance(engine, image):
    adaptive, notes = _explain(engine, image, tolerance=TOLERANCE)
    assert not [n for n in notes if "did not converge" in n]
    assert _relative_gaps(adaptive).max() <= TOLERANCE
    np.testing.assert_allclose(adaptive.relative_gaps, _relative_gaps(adaptive), rtol=1e-3, atol=1e-7)
    record = adaptive.record()
    assert record["relative_gaps"] == adaptive.relative_gaps.tolist() and record["steps"] == adaptive.steps.tolist()


def test_only_the_characters_with_open_gaps_are_recomputed(engine, image):
    adaptive, _ = _explain(engine, image, tolerance=TOLERANCE)
    by_steps = {n: _explain(engine, image, num_steps=n, tolerance=0.0)[0].maps
                for n in (STEPS * 2**k for k in range(4))}
    used = []
    for k, row in enumerate(adaptive.maps):
        matches = [n for n, maps in by_steps.items() if np.allclose(row, maps[k], rtol=1e-4, atol=1e-6)]
        assert matches, f"character {k}'s map is no fixed-step map"
        used.append(min(matches))
    assert min(used) == STEPS and max(used) > STEPS  # some kept their first map, some were refined
    assert adaptive.steps.tolist() == used  # the steps it reports are the steps its maps took


def test_a_gap_still_open_at_the_limit_is_reported_and_the_steps_stay_bounded(engine, image, monkeypatch):
    monkeypatch.setattr(attributions, "ADAPTIVE_WORK_FACTOR", 1000)  # the steps' limit comes first
    exp, notes = _explain(engine, image, tolerance=1e-9)
    [note] = [n for n in notes if "did not converge" in n]
    assert f"after {STEPS * ADAPTIVE_STEPS_FACTOR} steps" in note and "tolerance 0%" in note
    assert note.short == f"IG gap {exp.relative_gaps.max():.0%} after {STEPS * ADAPTIVE_STEPS_FACTOR} steps"
    assert exp.steps.max() == STEPS * ADAPTIVE_STEPS_FACTOR
    assert exp.params["tolerance"] == 1e-9 and exp.record()["notes"] == [note]


def test_the_refinement_spends_its_work_budget_on_the_largest_gaps_first(engine, image):
    """A line whose gaps all stay open (a tolerance nothing meets): the whole integral
    costs at most ADAPTIVE_WORK_FACTOR times the fixed steps' work, the characters
    refined furthest are those whose gaps were largest, and the open gap is a note."""
    fixed, _ = _explain(engine, image, tolerance=0.0)
    exp, notes = _explain(engine, image, tolerance=1e-9)
    k = len(exp.maps)
    assert exp.steps.sum() <= ADAPTIVE_WORK_FACTOR * k * STEPS
    assert exp.steps.max() < STEPS * ADAPTIVE_STEPS_FACTOR  # the budget, not the steps' limit, stopped it
    furthest = exp.steps == exp.steps.max()
    assert 0 < furthest.sum() < k
    assert fixed.relative_gaps[furthest].min() >= np.median(fixed.relative_gaps)
    [note] = [n for n in notes if "did not converge" in n]
    worst = int(np.argmax(exp.relative_gaps))
    assert f"after {exp.steps[worst]} steps" in note


def test_a_negative_or_non_numeric_tolerance_is_refused():
    for bad in (-0.1, float("nan"), "5%", True):
        with pytest.raises(ValueError, match="tolerance"):
            SaliencyConfig(method="integrated", tolerance=bad)
