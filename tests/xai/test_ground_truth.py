"""Reading-vs-truth alignment on hand-worked examples."""

from __future__ import annotations

from thulium_desktop.xai.ground_truth import (
    DELETION,
    INSERTION,
    MATCH,
    SUBSTITUTION,
    align,
    character_error_rate,
    edit_counts,
)


def test_hand_worked_alignment():
    # truth "handwriting", read "hamdwritng": n->m substituted at 2, 'i' (truth index 8) missed
    ops = align("hamdwritng", "handwriting")
    assert edit_counts(ops) == {MATCH: 9, SUBSTITUTION: 1, INSERTION: 0, DELETION: 1}
    sub = next(op for op in ops if op.kind == SUBSTITUTION)
    assert (sub.read_index, sub.truth_index, sub.read, sub.truth) == (2, 2, "m", "n")
    missed = next(op for op in ops if op.kind == DELETION)
    assert missed.truth == "i" and missed.read_index is None
    assert abs(character_error_rate("hamdwritng", "handwriting") - 2 / 11) < 1e-12


def test_insertion_and_edge_cases():
    ops = align("catt", "cat")
    assert edit_counts(ops)[INSERTION] == 1 and ops[-1].read_index == 3
    assert character_error_rate("", "abc") == 1.0
    assert character_error_rate("abc", "") == 3.0
    assert align("", "") == []
    assert character_error_rate("same", "same") == 0.0

