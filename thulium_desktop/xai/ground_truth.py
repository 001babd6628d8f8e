"""Reading against ground truth: edit-distance alignment and character error rate.

Terms, from the reading's point of view: a *substitution* reads one character for
another, an *insertion* reads a character that is not in the truth, a *deletion*
misses a character of the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MATCH, SUBSTITUTION, INSERTION, DELETION = "match", "substitution", "insertion", "deletion"


@dataclass(frozen=True)
class AlignOp:
    """One step of the alignment; an index is None where that side has no character."""

    kind: str
    read_index: int | None
    truth_index: int | None
    read: str = ""
    truth: str = ""


def align(read: str, truth: str) -> list[AlignOp]:
    """A minimum-edit alignment of `read` to `truth` (Levenshtein, unit costs).

    Ties prefer a match or substitution over an insertion/deletion pair, so a
    misread character shows as one substitution at its own position.
    """
    n, m = len(read), len(truth)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        cost[i][0] = i
    for j in range(m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            diag = cost[i - 1][j - 1] + (read[i - 1] != truth[j - 1])
            cost[i][j] = min(diag, cost[i - 1][j] + 1, cost[i][j - 1] + 1)
    ops: list[AlignOp] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (read[i - 1] != truth[j - 1]):
            kind = MATCH if read[i - 1] == truth[j - 1] else SUBSTITUTION
            ops.append(AlignOp(kind, i - 1, j - 1, read[i - 1], truth[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            ops.append(AlignOp(INSERTION, i - 1, None, read[i - 1], ""))
            i -= 1
        else:
            ops.append(AlignOp(DELETION, None, j - 1, "", truth[j - 1]))
            j -= 1
    return ops[::-1]


def edit_counts(ops: list[AlignOp]) -> dict[str, int]:
    """How many of each kind of step an alignment has."""
    counts = {MATCH: 0, SUBSTITUTION: 0, INSERTION: 0, DELETION: 0}
    for op in ops:
        counts[op.kind] += 1
    return counts


def character_error_rate(read: str, truth: str) -> float:
    """Edits needed to turn the reading into the truth, per character of the truth."""
    return _error_rate(align(read, truth), truth)


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
