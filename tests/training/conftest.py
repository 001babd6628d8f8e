"""Training tests draw with Debian's handwriting fonts and word list (`.ci/run` installs them).

Where they are missing the tests that need them skip and say what to install, except on
CI with apt at hand: there `.ci/run` was meant to install them, so a missing one is a
failure, never a silent skip.
"""

from __future__ import annotations

import os
import shutil

import pytest

from thulium_desktop.training.apt import apt_packages
from thulium_desktop.training.fonts import missing_evaluation_fonts
from thulium_desktop.training.text import WORD_LIST


def missing_system_files() -> list[str]:
    """The evaluation fonts and the word list that are not installed here."""
    missing = missing_evaluation_fonts()
    return missing + ([f"wamerican: {WORD_LIST}"] if not WORD_LIST.exists() else [])


@pytest.fixture
def handwriting_fonts() -> None:
    """Skip (or, on CI with apt, fail) a test that needs the Debian fonts and word list."""
    missing = missing_system_files()
    if not missing:
        return
    install = "apt-get install " + " ".join(apt_packages())
    message = f"the Debian handwriting fonts or word list are not installed ({', '.join(missing)}); run: {install}"
    if os.environ.get("CI") and shutil.which("apt-get"):
        pytest.fail(f".ci/run should have installed them: {message}")
    pytest.skip(message)
