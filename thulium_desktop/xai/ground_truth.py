"""Reading against ground truth: edit-distance alignment and character error rate.

Terms, from the reading's point of view: a *substitution* reads one character for
another, an *insertion* reads a character that is not in the truth, a *deletion*
misses a character of the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from thulium_desktop.io.transcriptions import MAX_TRUTH_CHARS

MATCH, SUBSTITUTION, INSERTION, DELETION = "match", "substitution", "insertion", "deletion"


@dataclass(frozen=True)
class AlignOp:
    """One step of the alignment; an index is None where that side has no character."""

    kind: str
    read_index: int | None
    truth_index: int | None
    read: str = ""
    truth: str = ""


#: Rows of the cost table held at once where the alignment is traced back; a longer
#: span is halved and its rows recomputed instead of kept (see `align`).
_BLOCK_ROWS = 64


def align(read: str, truth: str) -> list[AlignOp]:
    """A minimum-edit alignment of `read` to `truth` (Levenshtein, unit costs).

    Ties prefer a match or substitution over an insertion/deletion pair, so a
    misread character shows as one substitution at its own position. Exactly: the
    alignment is the one traced back from the end of the whole cost table, preferring
    a diagonal step, then an insertion, then a deletion.

    The table is never held whole, so memory is linear in the truth's length (a few
    dozen rows plus one per halving) instead of quadratic: the traceback halves the
    reading's rows, recomputes the middle row from the top one, traces the lower half
    first and then the upper, and holds all rows only of spans of `_BLOCK_ROWS`.
    That costs about log2(len(read) / 64) extra passes over the table, each row
    computed at once with numpy.
    """
    codes = np.fromiter(map(ord, truth), dtype=np.int32, count=len(truth))
    first_row = np.arange(len(truth) + 1, dtype=np.int32)
    ops: list[AlignOp] = []
    j = _trace_back(read, truth, codes, 0, first_row, len(read), len(truth), ops)
    ops.extend(AlignOp(DELETION, None, k, "", truth[k]) for k in reversed(range(j)))
    return ops[::-1]


def _trace_back(read: str, truth: str, codes: np.ndarray, top: int, top_row: np.ndarray,
                bottom: int, j: int, ops: list[AlignOp]) -> int:
    """Append, last first, the steps from cell (`bottom`, `j`) until the path reaches
    row `top` (whose costs are `top_row`); return the column where it does.

    Only columns up to `j` matter: a cell's cost depends on none to its right.
    """
    if bottom - top <= _BLOCK_ROWS:
        rows = [top_row[: j + 1]]
        for i in range(top + 1, bottom + 1):
            rows.append(_next_row(rows[-1], i, read[i - 1], codes[:j]))
        return _trace_block(read, truth, rows, top, bottom, j, ops)
    middle = (top + bottom) // 2
    middle_row = top_row[: j + 1]
    for i in range(top + 1, middle + 1):
        middle_row = _next_row(middle_row, i, read[i - 1], codes[:j])
    j = _trace_back(read, truth, codes, middle, middle_row, bottom, j, ops)
    return _trace_back(read, truth, codes, top, top_row, middle, j, ops)


def _next_row(above: np.ndarray, i: int, char: str, codes: np.ndarray) -> np.ndarray:
    """Row `i` of the cost table from row i-1, in whole-row numpy steps.

    A cell is the least of a diagonal or vertical step (`best`, no left neighbour
    needed) and its left neighbour + 1; unrolled, cell j = min over k <= j of
    best[k] + (j - k), a running minimum of best[k] - k.
    """
    best = np.empty_like(above)
    best[0] = i
    np.minimum(above[:-1] + (codes != ord(char)), above[1:] + 1, out=best[1:])
    steps = np.arange(len(above), dtype=above.dtype)
    return np.minimum.accumulate(best - steps) + steps


def _trace_block(read: str, truth: str, rows: list[np.ndarray], top: int, i: int, j: int,
                 ops: list[AlignOp]) -> int:
    """The traceback through rows `top`..`i` (all held in `rows`), from cell (i, j)."""
    while i > top:
        here, above = rows[i - top], rows[i - top - 1]
        if j > 0 and here[j] == above[j - 1] + (read[i - 1] != truth[j - 1]):
            kind = MATCH if read[i - 1] == truth[j - 1] else SUBSTITUTION
            ops.append(AlignOp(kind, i - 1, j - 1, read[i - 1], truth[j - 1]))
            i, j = i - 1, j - 1
        elif here[j] == above[j] + 1:
            ops.append(AlignOp(INSERTION, i - 1, None, read[i - 1], ""))
            i -= 1
        else:
            ops.append(AlignOp(DELETION, None, j - 1, "", truth[j - 1]))
            j -= 1
    return j


def edit_counts(ops: list[AlignOp]) -> dict[str, int]:
    """How many of each kind of step an alignment has."""
    counts = {MATCH: 0, SUBSTITUTION: 0, INSERTION: 0, DELETION: 0}
    for op in ops:
        counts[op.kind] += 1
    return counts


def character_error_rate(read: str, truth: str) -> float:
    """Edits needed to turn the reading into the truth, per character of the truth."""
    return _error_rate(align(read, truth), truth)


#: A truth may be this many times longer than the reading (and always `MIN_TRUTH_LIMIT`
#: characters long): much longer, it is not this image's line but a page or a wrong file.
MAX_TRUTH_TO_READING = 10
MIN_TRUTH_LIMIT = 100


def truth_problem(reading: str, truth: str) -> str | None:
    """Why `truth` should not be compared with `reading` (one line for the user), or
    None when it may be. Callers check before `compare`: the alignment's time grows with
    both lengths, and a truth ten times the reading measures only the mismatch. The
    floor keeps a model that read almost nothing scored against its line."""
    limit = min(MAX_TRUTH_CHARS, max(MIN_TRUTH_LIMIT, MAX_TRUTH_TO_READING * len(reading)))
    if len(truth) <= limit:
        return None
    return (f"the truth is {len(truth):,} characters long, more than {limit:,} (up to {MAX_TRUTH_TO_READING}x "
            f"the reading's {len(reading):,}, at most {MAX_TRUTH_CHARS:,}); not compared")


def _error_rate(ops: list[AlignOp], truth: str) -> float:
    counts = edit_counts(ops)
    edits = counts[SUBSTITUTION] + counts[INSERTION] + counts[DELETION]
    return edits / max(1, len(truth))


@dataclass(frozen=True)
class Comparison:
    """A reading aligned with its truth, in the terms the timeline draws.

    `kinds[i]` is what happened to read character i (match, substitution or
    insertion); `missed[g]` are the truth characters the model skipped in gap g,
    where gap g lies just before read character g (gap len(read) is after the last).
    """

    truth: str
    ops: tuple[AlignOp, ...]
    cer: float
    kinds: tuple[str, ...]
    truth_chars: tuple[str, ...]  # the truth aligned with each token ('' for an insertion)
    missed: dict[int, str] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return edit_counts(list(self.ops))

    def substituted(self, index: int) -> str | None:
        """The true character where read character `index` was substituted, else None."""
        if 0 <= index < len(self.kinds) and self.kinds[index] == SUBSTITUTION:
            return self.truth_chars[index]
        return None

    @property
    def substitutions(self) -> list[tuple[int, str]]:
        """(read index, true character) of every substituted character: the positions a
        contrastive map can explain."""
        return [(i, self.truth_chars[i]) for i, kind in enumerate(self.kinds) if kind == SUBSTITUTION]


def compare(tokens: tuple[str, ...], truth: str) -> Comparison:
    """Align the reading with the truth character by character (`align`), then
    say per token what happened to it (a multi-character token, as a BPE model reads,
    takes the first error among its characters)."""
    read = "".join(tokens)
    owner = [i for i, token in enumerate(tokens) for _ in token]
    ops = tuple(align(read, truth))
    kinds = [MATCH] * len(tokens)
    truth_chars = [""] * len(tokens)
    missed: dict[int, str] = {}
    gap = 0
    for op in ops:
        if op.kind == DELETION:
            missed[gap] = missed.get(gap, "") + op.truth
            continue
        token = owner[op.read_index]
        if kinds[token] == MATCH:
            kinds[token] = op.kind
        truth_chars[token] += op.truth
        gap = token + 1
    return Comparison(truth, ops, _error_rate(list(ops), truth), tuple(kinds), tuple(truth_chars), missed)


def describe_edits(counts: dict[str, int]) -> str:
    """“1 substitution, 2 deletions” (the kinds that occur), or “no errors”."""
    parts = [f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in counts.items() if kind != MATCH and n]
    return ", ".join(parts) or "no errors"
