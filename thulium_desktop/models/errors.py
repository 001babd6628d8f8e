"""The one error every model-loading failure becomes, so each face can print it as one line."""

from __future__ import annotations

import os


class ModelLoadError(ValueError):
    """A model file could not be loaded; `str()` names the file and the problem."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot load model {self.path}: {reason}")


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message, cut to `limit` characters (its type's
    name when it has none): a library's long report becomes part of a one-line refusal."""
    lines = str(exc).strip().splitlines()
    line = lines[0] if lines else type(exc).__name__
    return line if len(line) <= limit else f"{line[: limit - 3]}..."


def exception_line(exc: BaseException) -> str:
    """An unexpected failure in one line, for a message or a record: its type and the
    first line of its message ("no message" when it has none)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'no message'}"


def short_repr(value: object, limit: int = 40) -> str:
    """`repr(value)`, cut to `limit` characters, so a hostile value keeps a message short."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
