"""One list of Debian packages: the code's, the one .ci/run installs, the model card's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.training.apt import WORD_LIST_PACKAGE, apt_packages
from thulium_desktop.training.fonts import FONT_FILES, HELD_OUT_PACKAGES, TRAINING_ONLY_FILES

ROOT = Path(__file__).resolve().parents[2]


def test_the_list_holds_every_font_package_and_the_word_list_once():
    packages = apt_packages()
    assert packages == sorted(set(packages))
    assert {p for p, _, _ in FONT_FILES + TRAINING_ONLY_FILES} | {WORD_LIST_PACKAGE} == set(packages)
    assert set(HELD_OUT_PACKAGES) <= set(packages)


def test_the_model_cards_apt_command_is_the_list():
    card = (bundled_path("models") / "README.md").read_text(encoding="utf-8")
    command = re.search(r"apt-get install ((?:[^\n]*\\\n)*[^\n]*)", card)
    assert command, "the model card has no apt-get install command"
    assert command.group(1).replace("\\\n", " ").split() == apt_packages()


def test_ci_installs_what_the_module_prints_before_anything_else_is_installed():
    """.ci/run asks the module for the list; it must answer with no third-party package
    importable (python -S: no site-packages), as on a fresh machine."""
    assert "python -S -m thulium_desktop.training.apt" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    printed = subprocess.run(
        [sys.executable, "-S", "-m", "thulium_desktop.training.apt"], cwd=ROOT,
        capture_output=True, text=True, check=True,
    ).stdout
    assert printed.split() == apt_packages()
