"""How the app writes a read or true character into its text: visibly, even a space.

Apart from the timeline's widget code so that the Qt-free view model and details
line can name characters the same way.
"""

from __future__ import annotations


def shown_char(token: str) -> str:
    """A space as ␣: a blank cell or empty quotes would read as nothing read at all."""
    return "␣" if token.isspace() else token
