"""Batched greedy reading of padded batches and the error rates the model card reports.

The Recognizers read one image at a time (the app's case, and `evaluate`'s, so the card
reports what the app reads); training validates on hundreds between steps, so this
decodes whole padded batches, each image only up to its own positions (padded columns
are not characters).
"""

from __future__ import annotations

import torch
from torch import nn

from thulium_desktop.models.attention_reader import END, AttentionReader
from thulium_desktop.models.module_state import evaluating
from thulium_desktop.training.data import Batch


def read_batch(module: nn.Module, batch: Batch, alphabet: str) -> list[str]:
    """Greedy texts of a padded batch, for either bundled architecture."""
    with evaluating(module), torch.no_grad():
        if isinstance(module, AttentionReader):
            classes = module.greedy(batch.images, batch.positions)[0].tolist()
            texts = []
            for row in classes:
                row = row[: row.index(END)] if END in row else row
                texts.append("".join(alphabet[c - 1] for c in row))
            return texts
        best = module(batch.images, batch.positions).argmax(-1).tolist()
    texts = []
    for row, n in zip(best, batch.positions.tolist()):
        chars, prev = [], 0
        for c in row[:n]:
            if c != prev and c != 0:
                chars.append(alphabet[c - 1])
            prev = c
        texts.append("".join(chars))
    return texts


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def error_rates(predictions: list[str], truths: list[str]) -> dict[str, float]:
    """Character error rate (edits / reference characters) and word (whole-image) accuracy."""
    edits = sum(edit_distance(p, t) for p, t in zip(predictions, truths))
    chars = sum(len(t) for t in truths)
    exact = sum(p == t for p, t in zip(predictions, truths))
    return {"cer": edits / max(1, chars), "word_accuracy": exact / max(1, len(truths))}
