"""Reading-vs-truth alignment: hand-worked examples, the whole-table traceback it must
equal, and memory that stays linear for long pairs."""

from __future__ import annotations

import random
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from thulium_desktop.io.transcriptions import MAX_TRUTH_CHARS
from thulium_desktop.xai.ground_truth import (
    DELETION,
    INSERTION,
    MATCH,
    SUBSTITUTION,
    AlignOp,
    align,
    character_error_rate,
    edit_counts,
    truth_problem,
)


def whole_table_alignment(read: str, truth: str) -> list[AlignOp]:
    """The reference: the full Levenshtein table, traced back from its end preferring a
    diagonal step, then an insertion, then a deletion (quadratic memory; short pairs only)."""
    n, m = len(read), len(truth)
    cost = [[i + j if i == 0 or j == 0 else 0 for j in range(m + 1)] for i in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            diag = cost[i - 1][j - 1] + (read[i - 1] != truth[j - 1])
            cost[i][j] = min(diag, cost[i - 1][j] + 1, cost[i][j - 1] + 1)
    ops, i, j = [], n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (read[i - 1] != truth[j - 1]):
            ops.append(AlignOp(MATCH if read[i - 1] == truth[j - 1] else SUBSTITUTION, i - 1, j - 1,
                               read[i - 1], truth[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            ops.append(AlignOp(INSERTION, i - 1, None, read[i - 1], ""))
            i -= 1
        else:
            ops.append(AlignOp(DELETION, None, j - 1, "", truth[j - 1]))
            j -= 1
    return ops[::-1]


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



# A small alphabet makes ties (equal-cost alignments) common, which is where the two could differ;
# lengths past 64 rows exercise the halving of the table.
short_text = st.text(alphabet="ab c", max_size=150)


@settings(max_examples=150)
@given(read=short_text, truth=short_text)
def test_the_alignment_equals_the_whole_table_traceback(read, truth):
    assert align(read, truth) == whole_table_alignment(read, truth)


def test_a_long_pair_aligns_in_linear_memory():
    rng = random.Random(7)
    truth = "".join(rng.choice("abcdefgh ") for _ in range(5000))
    read = "".join(c if rng.random() > 0.1 else rng.choice("xyz") for c in truth)
    tracemalloc.start()
    try:
        ops = align(read, truth)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The whole table would hold 25 million costs (>= 100 MB even as int32); the ops
    # themselves (about 5,000) take a few MB.
    assert peak < 16 * 2**20
    counts = edit_counts(ops)
    assert counts[MATCH] + counts[SUBSTITUTION] + counts[DELETION] == len(truth)
    assert counts[MATCH] > 4000


def test_a_truth_far_longer_than_the_reading_is_not_compared():
    assert truth_problem("hello", "hello world") is None
    assert truth_problem("", "a line the model missed entirely") is None  # short truths always compare
    assert truth_problem("x" * 50, "y" * 500) is None
    assert truth_problem("x" * 50, "y" * 501) == (
        "the truth is 501 characters long, more than 500 (up to 10x the reading's 50, at most 10,000); not compared")
    assert f"more than {MAX_TRUTH_CHARS:,}" in truth_problem("x" * 5000, "y" * (MAX_TRUTH_CHARS + 1))
