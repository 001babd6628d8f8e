"""What the synthetic images say: words, short lines, numbers, punctuation, random strings.

Words come from Debian's `wamerican` list. A fixed tenth of them (by a hash of the
lower-cased word, so the split never depends on a seed) is kept for evaluation: the
held-out set then measures reading new words, not remembering training words.
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from thulium_desktop.training.apt import WORD_LIST_PACKAGE

#: Every character the bundled readers know (the space included).
ALPHABET = (
    " !\"#$%&'()*+,-./0123456789:;?@"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
WORD_LIST = Path("/usr/share/dict/american-english")
MAX_TEXT_LENGTH = 24
_PUNCT_AFTER = ".,;:!?"
_WRAPS = (("(", ")"), ('"', '"'), ("'", "'"))


def is_eval_word(word: str) -> bool:
    return zlib.crc32(word.lower().encode()) % 10 == 0


@lru_cache(maxsize=2)
def words(split: str) -> tuple[str, ...]:
    """The `train` or `eval` words of the list that use only alphabet letters."""
    if not WORD_LIST.exists():
        raise RuntimeError(f"{WORD_LIST} is missing; install the Debian package {WORD_LIST_PACKAGE}")
    letters = set(ALPHABET)
    out = []
    for line in WORD_LIST.read_text(encoding="utf-8", errors="ignore").splitlines():
        w = line.strip()
        if w and len(w) <= 16 and set(w) <= letters and (is_eval_word(w) == (split == "eval")):
            out.append(w)
    return tuple(out)


def _cased(word: str, rng: np.random.Generator) -> str:
    r = rng.random()
    if r < 0.55:
        return word.lower()
    if r < 0.85:
        return word[:1].upper() + word[1:].lower()
    return word.upper()


def _number(rng: np.random.Generator) -> str:
    kind = rng.integers(6)
    if kind == 0:
        return str(int(rng.integers(0, 10 ** rng.integers(1, 7))))
    if kind == 1:
        return f"{rng.integers(0, 1000)}.{rng.integers(0, 100):02d}"
    if kind == 2:
        return f"{rng.integers(1, 32)}/{rng.integers(1, 13)}/{rng.integers(1900, 2040)}"
    if kind == 3:
        return f"{rng.integers(0, 24)}:{rng.integers(0, 60):02d}"
    if kind == 4:
        return f"${rng.integers(0, 500)}.{rng.integers(0, 100):02d}"
    return f"{rng.integers(0, 101)}%"


def random_text(split: str, rng: np.random.Generator, upper_only: bool = False) -> str:
    """One text of the mix: mostly single words, some lines, numbers and symbols."""
    vocab = words(split)
    kind = rng.random()
    if kind < 0.55:
        text = _cased(vocab[rng.integers(len(vocab))], rng)
    elif kind < 0.70:
        text = _cased(vocab[rng.integers(len(vocab))], rng)
        for _ in range(rng.integers(1, 3)):
            more = f"{text} {_cased(vocab[rng.integers(len(vocab))], rng)}"
            if len(more) <= MAX_TEXT_LENGTH:
                text = more
    elif kind < 0.80:
        text = _number(rng)
    elif kind < 0.93:
        word = _cased(vocab[rng.integers(len(vocab))], rng)
        if rng.random() < 0.6:
            text = word + _PUNCT_AFTER[rng.integers(len(_PUNCT_AFTER))]
        else:
            left, right = _WRAPS[rng.integers(len(_WRAPS))]
            text = left + word + right
    else:
        pool = ALPHABET.strip()
        text = "".join(pool[i] for i in rng.integers(len(pool), size=rng.integers(3, 11)))
    text = text[:MAX_TEXT_LENGTH].strip() or "a"
    return text.upper() if upper_only else text
