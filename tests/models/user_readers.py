"""A user's own recognizers, written as the Recognizer protocol asks, with and without
each optional ability (`Contrastable`, `ScoredReader`).

They run the bundled ctc-reader's network, so their maps can be checked against the
bundled reader's, and record which of their methods the engine called. Importable by
a plugin file (`load_recognizer`), as the tests of `--model PLUGIN.py` need.
"""

from __future__ import annotations

from thulium_desktop.models import CTCRecognizer, load_model


class UserReader:
    """Only what every recognizer has: `name`, `module` and the five methods."""

    def __init__(self, inner: CTCRecognizer | None = None, name: str = "user-reader") -> None:
        self.inner = inner or load_model("ctc-reader")
        self.name = name
        self.module = self.inner.module
        self.calls: list[str] = []

    def prepare(self, image):
        return self.inner.prepare(image)

    def read(self, x):
        self.calls.append("read")
        return self.inner.read(x)

    def token_scores(self, x, reading, score="logprob"):
        self.calls.append("token_scores")
        return self.inner.token_scores(x, reading, score)

    def attention(self, x, reading):
        return self.inner.attention(x, reading)

    def cam_layer(self):
        return self.inner.cam_layer()


class ContrastableReader(UserReader):
    """Can score a character it did not read."""

    @property
    def alphabet(self) -> str:
        return self.inner.alphabet

    def label_of(self, char: str) -> int:
        return self.inner.label_of(char)


class ScoredUserReader(UserReader):
    """Reads and scores in one forward pass."""

    def read_scored(self, x, score="logprob"):
        self.calls.append("read_scored")
        return self.inner.read_scored(x, score)


def load_recognizer() -> UserReader:
    """The plugin entry point: a reader without optional abilities."""
    return UserReader(name="plain-user-reader")
