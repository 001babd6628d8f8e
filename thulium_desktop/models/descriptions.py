"""Model description files (`.json`) checked field by field before anything is built.

A description decides how big a network is, so a typo (`"hidden": 4000`) or a hostile
file (`"hidden": 1e400`, a million-character alphabet) must be refused while it is
still text: every field the code reads has a type and a range in a small table here,
and anything outside is one `ModelLoadError` line naming the field. The ranges are
generous for real handwriting models; the weights must then match the shapes exactly
(`weights.check_tensors`), so nothing larger than the weight file is ever allocated.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from thulium_desktop.models.errors import ModelLoadError, short_repr

#: The most characters an alphabet may have (Unicode assigns about 150,000 in all,
#: and no handwriting model reads more than a few thousand of them).
MAX_ALPHABET = 100_000
#: The tallest input a described network may ask for, in pixels.
MAX_INPUT_HEIGHT = 1024
#: The widest layer (channels, hidden units) a bundled architecture may be built with.
MAX_WIDTH = 4096
#: The longest free text (a name, a description) shown in menus and captions.
MAX_TEXT = 10_000


class Kind(Enum):
    """What a json value must be; the value is how messages say it."""

    INT = "a whole number"
    BOOL = "true or false"
    TEXT = "text"
    OBJECT = "an object"
    INTS = "a list of whole numbers"


@dataclass(frozen=True)
class Field:
    """One json field: its kind, the range of its values (a number's value, a text's
    length, a list's items) and, for a list, how many items it has. A `nullable` field
    set to null counts as absent (its reader falls back on a default)."""

    name: str
    kind: Kind
    low: int = 1
    high: int = MAX_WIDTH
    count: int = 0
    required: bool = False
    nullable: bool = False

    def problem(self, value: object) -> str | None:
        """What is wrong with `value` for this field, or None."""
        if self.kind is Kind.INTS:
            if not isinstance(value, list) or len(value) != self.count:
                return f"{self.name!r} must be a list of {self.count} whole numbers, got {short_repr(value)}"
            return next(filter(None, (self._number_problem(v) for v in value)), None)
        if self.kind is Kind.INT:
            return self._number_problem(value)
        if not isinstance(value, _PYTHON_TYPES[self.kind]):
            return f"{self.name!r} must be {self.kind.value}, got {short_repr(value)}"
        if self.kind is Kind.TEXT:
            return self._text_problem(value)
        return None

    def _number_problem(self, value: object) -> str | None:
        if type(value) is not int or not self.low <= value <= self.high:  # a json true is no 1
            return (f"{self.name!r} must be a whole number from {self.low:,} to {self.high:,}, "
                    f"got {short_repr(value)}")
        return None

    def _text_problem(self, text: str) -> str | None:
        if not self.low <= len(text) <= self.high:
            return f"{self.name!r} has {len(text):,} characters; it may have {self.low:,} to {self.high:,}"
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800") breaks every file it is written to
            return f"{self.name!r} holds a character that is not valid Unicode (a lone surrogate)"
        return None


_PYTHON_TYPES = {Kind.BOOL: bool, Kind.TEXT: str, Kind.OBJECT: dict}


def _width(name: str) -> Field:
    return Field(name, Kind.INT, 1, MAX_WIDTH)


CHANNELS = Field("channels", Kind.INTS, 1, MAX_WIDTH, count=4)

#: The json of a bundled architecture (`registry.read_card`); `hparams` has its own table.
CARD_FIELDS = (
    Field("architecture", Kind.TEXT, 1, 200, required=True),
    Field("hparams", Kind.OBJECT, required=True),
    Field("alphabet", Kind.TEXT, 1, MAX_ALPHABET, required=True),
    Field("input_height", Kind.INT, 1, MAX_INPUT_HEIGHT, required=True),
    Field("name", Kind.TEXT, 0, 200, nullable=True),
    Field("description", Kind.TEXT, 0, MAX_TEXT),
    Field("metrics", Kind.OBJECT),
    Field("flatten_paper", Kind.BOOL, nullable=True),
)
#: `CRNN`'s hyper-parameters.
CRNN_HPARAMS = (CHANNELS, _width("dim"), _width("hidden"), Field("layers", Kind.INT, 1, 8))
#: `AttentionReader`'s hyper-parameters; `max_steps` is further bounded by the image's
#: width when reading (`AttentionReader.greedy`).
ATTENTION_HPARAMS = (
    CHANNELS, _width("dim"), _width("hidden"), Field("context_lstm", Kind.BOOL), _width("embed"),
    _width("decoder"), _width("attend"), Field("max_steps", Kind.INT, 1, 1000),
)
#: The json beside a whole network (TorchScript or a pickle) read as a CTC model.
CTC_FIELDS = (
    Field("decoder", Kind.TEXT, 1, 200, required=True),
    Field("alphabet", Kind.TEXT, 1, MAX_ALPHABET, required=True),
    Field("input_height", Kind.INT, 1, MAX_INPUT_HEIGHT, required=True),
    Field("blank", Kind.INT, 0, MAX_ALPHABET, nullable=True),
    Field("time_major", Kind.BOOL, nullable=True),
    Field("name", Kind.TEXT, 0, 200, nullable=True),
    Field("cam_layer", Kind.TEXT, 1, 1000, nullable=True),
    Field("width_stride", Kind.INT, 1, MAX_INPUT_HEIGHT, nullable=True),
    #: `CTCRecognizer(flatten_paper=...)`: off unless the description asks for it.
    Field("flatten_paper", Kind.BOOL, nullable=True),
)


def check_fields(path: str | os.PathLike, data: Mapping, fields: Sequence[Field],
                 where: str = "the json description", closed: bool = False) -> None:
    """Raise `ModelLoadError` naming every field of `data` outside its table row (a
    missing required one included); `closed`: a key with no row is an error too."""
    problems = []
    for field in fields:
        value = data.get(field.name)
        if field.name not in data or (value is None and field.nullable):
            if field.required:
                problems.append(f"needs {field.kind.value} {field.name!r}")
        elif problem := field.problem(value):
            problems.append(problem)
    if closed:
        known = {field.name for field in fields}
        unknown = [key for key in data if key not in known]
        if unknown:
            problems.append(f"unknown {short_repr(unknown[0])} (known: {', '.join(f.name for f in fields)})")
    if problems:
        raise ModelLoadError(path, f"{where}: {'; '.join(problems)}")


def check_alphabet(path: str | os.PathLike, alphabet: str) -> None:
    """Two classes for one character make a reading ambiguous; found in one pass."""
    repeated = sorted(c for c, n in Counter(alphabet).items() if n > 1)
    if repeated:
        shown = "".join(repeated[:20]) + ("..." if len(repeated) > 20 else "")
        raise ModelLoadError(path, f"the alphabet repeats {shown!r}")
