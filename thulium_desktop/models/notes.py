"""`Note`: something a user must know about a map (a model's scores taken as they are, a
GradCAM layer before a recurrent head, an integral that did not converge).

A note is its full sentence, for records and the app's details, and carries a `short`
form for figure captions, where a line must stay short. It is a `str`, so records,
JSON and comparisons take it as the sentence it is; anything that only knows strings
(a plain `str` from a user's recognizer) still works, its short form being itself.
"""

from __future__ import annotations


class Note(str):
    """A note's full sentence, with its caption-sized `short` form."""

    short: str

    def __new__(cls, text: str, short: str | None = None) -> Note:
        note = super().__new__(cls, text)
        note.short = text if short is None else short
        return note

    def __reduce__(self):
        """Pickled (e.g. by a cache or a process pool) with its short form."""
        return (Note, (str(self), self.short))


def short_form(note: str) -> str:
    """The caption form of any note: a `Note`'s `short`, else the text itself."""
    return getattr(note, "short", note)
