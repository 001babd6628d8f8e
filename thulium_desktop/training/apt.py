"""The Debian packages that training, evaluation and their tests draw with: one list.

`.ci/run` installs exactly what `python -m thulium_desktop.training.apt` prints, and a
test checks the model card's apt command against `apt_packages()`, so the three cannot
drift. It runs before the project is installed (no third-party import on this path).
"""

from __future__ import annotations

from thulium_desktop.training.fonts import FONT_FILES, TRAINING_ONLY_FILES

#: Debian's English word list (/usr/share/dict/american-english), the synthetic texts' words.
WORD_LIST_PACKAGE = "wamerican"


def apt_packages() -> list[str]:
    """Every font package the fonts module lists, and the word list's, sorted, each once."""
    fonts = {package for package, _, _ in FONT_FILES + TRAINING_ONLY_FILES}
    return sorted(fonts | {WORD_LIST_PACKAGE})


if __name__ == "__main__":
    print(" ".join(apt_packages()))
